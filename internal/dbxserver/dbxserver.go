// Package dbxserver is a loopback server for tests that answers the parts of
// the Databricks workspace REST API that Dagster's Databricks clients and
// the databrickspipes package call, following Databricks' public REST API
// reference. It keeps files in a temporary directory:
//
//   - DBFS API 2.0: create, add-block, close, put, read, get-status, list,
//     mkdirs, delete, move (/api/2.0/dbfs/…);
//   - Files API: upload, download, metadata and delete of files, create,
//     list, metadata and delete of directories (/api/2.0/fs/…);
//   - Clusters API get (/api/2.0 and /api/2.1/clusters/get);
//   - Jobs API runs/submit, runs/get and runs/cancel (/api/2.1 and 2.2).
//
// On runs/submit it runs the task on this machine: the file named by
// spark_python_task.python_file (a "dbfs:/" path is looked up in the DBFS
// tree) with the task's parameters as command-line arguments and the new
// cluster's spark_env_vars in its environment, as a Databricks cluster
// would; runs/get reports PENDING, RUNNING, then TERMINATED with
// result_state SUCCESS or FAILED, as Databricks does. When the cluster
// delivers its logs to DBFS (cluster_log_conf.dbfs), the task's stdout and
// stderr go to "<destination>/<cluster id>/driver/stdout" and "…/stderr".
//
// DBFS paths and Unity Catalog volume paths (/Volumes/…) share one tree,
// rooted at [Server.Root]; a test can use Root as the /dbfs mount.
//
// Every /api/ call needs an "Authorization: Bearer …" header (any token).
// Traps of the real service that the server keeps: request bodies may be
// chunked; read answers at most 0.5 MB unless a length (≤ 1 MB) is asked
// for; a missing path is 404 with error_code RESOURCE_DOES_NOT_EXIST (DBFS)
// or NOT_FOUND (Files API); paths in list answers carry no "dbfs:" prefix
// (requests may). [Server.Fail] makes requests fail (5xx, 429) for fault
// tests.
//
// The package uses only the standard library.
package dbxserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limits of the real service.
const (
	// DefaultReadLength is how much dbfs/read returns when no length is
	// given.
	DefaultReadLength = 512 << 10
	// MaxReadLength is the largest length dbfs/read accepts.
	MaxReadLength = 1 << 20
	// MaxBlockSize bounds the decoded data of add-block and put.
	MaxBlockSize = 1 << 20
)

// WorkspaceID is the id of the workspace the server stands for.
const WorkspaceID = "1234567890123456"

// Options configure a [Server].
type Options struct {
	// Python runs a task's python_file that ends in ".py"; "" means
	// "python3". Other files are executed directly.
	Python string
	// Env is added to every task's environment, after DATABRICKS_HOST and
	// DATABRICKS_TOKEN for this server (see [Server.Env]) and before the
	// new cluster's spark_env_vars.
	Env []string
	// Clusters are the existing clusters clusters/get knows, by id: the
	// JSON object the API answers (cluster_id is filled in).
	Clusters map[string]map[string]any
	// PendingPolls is how many runs/get answers of a run say PENDING
	// before it starts; 0 means 1.
	PendingPolls int
}

// Rule makes matching requests fail.
type Rule struct {
	// Match selects requests (nil: all). See [Path].
	Match func(*http.Request) bool
	// Status is the HTTP status to answer (500, 503, 429, …).
	Status int
	// AfterServe serves the request first and answers the failure only
	// afterwards, as when a response is lost.
	AfterServe bool
	// Times is how many matching requests fail; negative: until cleared.
	Times int
}

// Path returns a matcher for requests whose URL path starts with prefix,
// and, if method is not "", have that method.
func Path(method, prefix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.HasPrefix(r.URL.Path, prefix)
	}
}

// Request is one request the server saw.
type Request struct {
	Method, Path, Query string
	// UserAgent tells the SDKs apart ("databricks-sdk-go/…",
	// "databricks-sdk-py/…").
	UserAgent string
	// Injected is the status of an injected failure, or 0.
	Injected int
}

// Server is a running server.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT: the workspace host.
	URL string
	// Root is the directory holding the DBFS and volumes tree.
	Root string

	opts Options
	srv  *http.Server
	ln   net.Listener

	mu       sync.Mutex
	rules    []*Rule
	requests []Request
	handles  map[int64]*handle
	nextID   int64
	runs     map[int64]*run
	closed   bool
	wg       sync.WaitGroup
	ownsRoot bool
}

type handle struct {
	path string
	buf  bytes.Buffer
}

// Start starts a server on a free port of 127.0.0.1 with a new temporary
// directory as its root. Stop it with Close.
func Start(opts Options) (*Server, error) {
	root, err := os.MkdirTemp("", "dbxserver-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	if opts.Python == "" {
		opts.Python = "python3"
	}
	if opts.PendingPolls <= 0 {
		opts.PendingPolls = 1
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String(),
		Root:     root,
		opts:     opts,
		ln:       ln,
		handles:  map[int64]*handle{},
		runs:     map[int64]*run{},
		nextID:   1000,
		ownsRoot: true,
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// New starts a server for the test and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("dbxserver: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Env returns the environment a Databricks SDK (Go or Python) needs to
// reach the server: DATABRICKS_HOST and DATABRICKS_TOKEN.
func (s *Server) Env() []string {
	return []string{"DATABRICKS_HOST=" + s.URL, "DATABRICKS_TOKEN=dbxserver-token"}
}

// Close stops the server, kills the tasks still running and removes the
// root directory.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, r := range s.runs {
		if r.cmd != nil && r.cmd.Process != nil && r.state == "RUNNING" {
			_ = r.cmd.Process.Kill()
		}
	}
	s.mu.Unlock()
	_ = s.srv.Close()
	s.wg.Wait()
	if s.ownsRoot {
		os.RemoveAll(s.Root)
	}
}

// Fail adds a failure rule.
func (s *Server) Fail(r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &r)
}

// ClearFailures removes every rule.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// AddCluster registers an existing cluster for clusters/get.
func (s *Server) AddCluster(id string, spec map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Clusters == nil {
		s.opts.Clusters = map[string]map[string]any{}
	}
	s.opts.Clusters[id] = spec
}

// LocalPath returns the file of the server's tree that holds a DBFS or
// volume path ("dbfs:/x", "/x" or "/Volumes/…").
func (s *Server) LocalPath(p string) string {
	p = strings.TrimPrefix(p, "dbfs:")
	return filepath.Join(s.Root, filepath.FromSlash(path.Clean("/"+p)))
}

// WriteFile puts a file into the tree (parents created).
func (s *Server) WriteFile(p string, data []byte) error {
	lp := s.LocalPath(p)
	if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
		return err
	}
	return os.WriteFile(lp, data, 0o644)
}

// ReadFile reads a file of the tree.
func (s *Server) ReadFile(p string) ([]byte, error) { return os.ReadFile(s.LocalPath(p)) }

// ---------------------------------------------------------------------------

type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...)}
}

func notFound(p string) *apiError {
	return errf(404, "RESOURCE_DOES_NOT_EXIST", "No file or directory exists on path %s.", p)
}

func badParam(format string, args ...any) *apiError {
	return errf(400, "INVALID_PARAMETER_VALUE", format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]any{"error_code": e.code, "message": e.msg})
}

// recorder swallows the real answer of a request whose failure is
// injected after serving.
type recorder struct{ h http.Header }

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(int)             {}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var rule *Rule
	for _, ru := range s.rules {
		if ru.Times != 0 && (ru.Match == nil || ru.Match(r)) {
			rule = ru
			if ru.Times > 0 {
				ru.Times--
			}
			break
		}
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, UserAgent: r.UserAgent()}
	if rule != nil {
		req.Injected = rule.Status
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if rule != nil {
		if rule.AfterServe {
			s.route(&recorder{h: http.Header{}}, r)
		} else {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		code := "INTERNAL_ERROR"
		msg := "injected failure"
		if rule.Status == http.StatusTooManyRequests {
			code = "REQUEST_LIMIT_EXCEEDED"
			msg = "injected throttling: too many requests"
			w.Header().Set("Retry-After", "0")
		} else if rule.Status == http.StatusServiceUnavailable {
			code = "TEMPORARILY_UNAVAILABLE"
		}
		writeErr(w, &apiError{rule.Status, code, msg})
		return
	}
	s.route(w, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var err *apiError
	switch {
	case strings.HasPrefix(p, "/api/") && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		// Every API call carries a token (any token will do here).
		err = errf(401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API.")
	case strings.HasPrefix(p, "/api/2.0/dbfs/"):
		err = s.dbfs(w, r, strings.TrimPrefix(p, "/api/2.0/dbfs/"))
	case strings.HasPrefix(p, "/api/2.0/fs/files/"):
		err = s.files(w, r, strings.TrimPrefix(p, "/api/2.0/fs/files"))
	case strings.HasPrefix(p, "/api/2.0/fs/directories/"):
		err = s.dirs(w, r, strings.TrimPrefix(p, "/api/2.0/fs/directories"))
	case p == "/.well-known/databricks-config" && r.Method == http.MethodGet:
		// Host metadata the Go SDK asks for while resolving its
		// configuration.
		writeJSON(w, 200, map[string]any{
			"oidc_endpoint": s.URL + "/oidc", "workspace_id": WorkspaceID,
			"host_type": "WORKSPACE_HOST", "cloud": "AWS",
		})
	case p == "/api/2.0/clusters/get" || p == "/api/2.1/clusters/get":
		err = s.clusterGet(w, r)
	case strings.HasPrefix(p, "/api/2.1/jobs/runs/") || strings.HasPrefix(p, "/api/2.2/jobs/runs/"):
		err = s.jobs(w, r, p[len("/api/2.x/jobs/runs/"):])
	default:
		err = errf(404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'", r.Method, p)
	}
	if err != nil {
		writeErr(w, err)
	}
}

// decode reads a JSON body (chunked or not).
func decode(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return badParam("cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errf(400, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request: %v", err)
	}
	return nil
}

// dbfsPath checks a DBFS path of a request: absolute, with or without the
// "dbfs:" scheme.
func dbfsPath(p string) (string, *apiError) {
	p = strings.TrimPrefix(p, "dbfs:")
	if !strings.HasPrefix(p, "/") {
		return "", badParam("Path must be absolute: %s", p)
	}
	return path.Clean(p), nil
}

type fileInfo struct {
	Path             string `json:"path"`
	IsDir            bool   `json:"is_dir"`
	FileSize         int64  `json:"file_size"`
	ModificationTime int64  `json:"modification_time"`
}

func info(p string, st fs.FileInfo) fileInfo {
	fi := fileInfo{Path: p, IsDir: st.IsDir(), ModificationTime: st.ModTime().UnixMilli()}
	if !st.IsDir() {
		fi.FileSize = st.Size()
	}
	return fi
}

// writeAtomic makes a file appear whole: readers never see it half written.
func writeAtomic(lp string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(lp), ".dbxserver-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return errors.Join(werr, cerr)
	}
	return os.Rename(tmp.Name(), lp)
}

func ioErr(err error) *apiError { return errf(500, "IO_ERROR", "%v", err) }

func (s *Server) dbfs(w http.ResponseWriter, r *http.Request, op string) *apiError {
	get := r.Method == http.MethodGet
	switch {
	case op == "read" && get:
		return s.dbfsRead(w, r)
	case op == "get-status" && get:
		p, e := dbfsPath(r.URL.Query().Get("path"))
		if e != nil {
			return e
		}
		st, err := os.Stat(s.LocalPath(p))
		if err != nil {
			return notFound(p)
		}
		writeJSON(w, 200, info(p, st))
		return nil
	case op == "list" && get:
		p, e := dbfsPath(r.URL.Query().Get("path"))
		if e != nil {
			return e
		}
		lp := s.LocalPath(p)
		st, err := os.Stat(lp)
		if err != nil {
			return notFound(p)
		}
		files := []fileInfo{}
		if !st.IsDir() {
			files = append(files, info(p, st))
		} else {
			entries, err := os.ReadDir(lp)
			if err != nil {
				return ioErr(err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".dbxserver-") {
					continue
				}
				est, err := e.Info()
				if err != nil {
					continue
				}
				files = append(files, info(path.Join(p, e.Name()), est))
			}
		}
		writeJSON(w, 200, map[string]any{"files": files})
		return nil
	case get:
		return errf(405, "ENDPOINT_NOT_FOUND", "GET is not supported for dbfs/%s", op)
	}
	if r.Method != http.MethodPost {
		return errf(405, "ENDPOINT_NOT_FOUND", "%s is not supported for dbfs/%s", r.Method, op)
	}
	var req struct {
		Path        string `json:"path"`
		Overwrite   bool   `json:"overwrite"`
		Recursive   bool   `json:"recursive"`
		Handle      int64  `json:"handle"`
		Data        string `json:"data"`
		Contents    string `json:"contents"`
		Source      string `json:"source_path"`
		Destination string `json:"destination_path"`
	}
	if e := decode(r, &req); e != nil {
		return e
	}
	switch op {
	case "create":
		p, e := dbfsPath(req.Path)
		if e != nil {
			return e
		}
		if st, err := os.Stat(s.LocalPath(p)); err == nil && (st.IsDir() || !req.Overwrite) {
			return errf(400, "RESOURCE_ALREADY_EXISTS", "A file or directory already exists at the input path %s.", p)
		}
		s.mu.Lock()
		s.nextID++
		id := s.nextID
		s.handles[id] = &handle{path: p}
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"handle": id})
	case "add-block":
		data, err := base64.StdEncoding.DecodeString(req.Data)
		if err != nil {
			return badParam("data is not base64: %v", err)
		}
		if len(data) > MaxBlockSize {
			return errf(400, "MAX_BLOCK_SIZE_EXCEEDED", "The block of data exceeds the limit of %d bytes.", MaxBlockSize)
		}
		s.mu.Lock()
		h := s.handles[req.Handle]
		if h != nil {
			h.buf.Write(data)
		}
		s.mu.Unlock()
		if h == nil {
			return errf(404, "RESOURCE_DOES_NOT_EXIST", "There is no open handle %d.", req.Handle)
		}
		writeJSON(w, 200, map[string]any{})
	case "close":
		s.mu.Lock()
		h := s.handles[req.Handle]
		delete(s.handles, req.Handle)
		s.mu.Unlock()
		if h == nil {
			return errf(404, "RESOURCE_DOES_NOT_EXIST", "There is no open handle %d.", req.Handle)
		}
		// The file appears whole at close, as on DBFS.
		if err := writeAtomic(s.LocalPath(h.path), h.buf.Bytes()); err != nil {
			return ioErr(err)
		}
		writeJSON(w, 200, map[string]any{})
	case "put":
		p, e := dbfsPath(req.Path)
		if e != nil {
			return e
		}
		data, err := base64.StdEncoding.DecodeString(req.Contents)
		if err != nil {
			return badParam("contents is not base64: %v", err)
		}
		if len(data) > MaxBlockSize {
			return errf(400, "MAX_BLOCK_SIZE_EXCEEDED", "The contents exceed the limit of %d bytes: use create, add-block and close.", MaxBlockSize)
		}
		lp := s.LocalPath(p)
		if st, err := os.Stat(lp); err == nil && (st.IsDir() || !req.Overwrite) {
			return errf(400, "RESOURCE_ALREADY_EXISTS", "A file or directory already exists at the input path %s.", p)
		}
		if err := writeAtomic(lp, data); err != nil {
			return ioErr(err)
		}
		writeJSON(w, 200, map[string]any{})
	case "mkdirs":
		p, e := dbfsPath(req.Path)
		if e != nil {
			return e
		}
		if st, err := os.Stat(s.LocalPath(p)); err == nil && !st.IsDir() {
			return errf(400, "RESOURCE_ALREADY_EXISTS", "A file already exists at the input path %s.", p)
		}
		if err := os.MkdirAll(s.LocalPath(p), 0o755); err != nil {
			return ioErr(err)
		}
		writeJSON(w, 200, map[string]any{})
	case "delete":
		p, e := dbfsPath(req.Path)
		if e != nil {
			return e
		}
		lp := s.LocalPath(p)
		st, err := os.Stat(lp)
		if err != nil {
			writeJSON(w, 200, map[string]any{}) // deleting nothing succeeds
			return nil
		}
		if st.IsDir() && !req.Recursive {
			if entries, _ := os.ReadDir(lp); len(entries) > 0 {
				return errf(400, "IO_ERROR", "Directory %s is not empty: delete it with recursive=true.", p)
			}
		}
		if err := os.RemoveAll(lp); err != nil {
			return ioErr(err)
		}
		writeJSON(w, 200, map[string]any{})
	case "move":
		src, e := dbfsPath(req.Source)
		if e != nil {
			return e
		}
		dst, e := dbfsPath(req.Destination)
		if e != nil {
			return e
		}
		if _, err := os.Stat(s.LocalPath(src)); err != nil {
			return notFound(src)
		}
		if _, err := os.Stat(s.LocalPath(dst)); err == nil {
			return errf(400, "RESOURCE_ALREADY_EXISTS", "A file or directory already exists at the input path %s.", dst)
		}
		if err := os.MkdirAll(filepath.Dir(s.LocalPath(dst)), 0o755); err != nil {
			return ioErr(err)
		}
		if err := os.Rename(s.LocalPath(src), s.LocalPath(dst)); err != nil {
			return ioErr(err)
		}
		writeJSON(w, 200, map[string]any{})
	default:
		return errf(404, "ENDPOINT_NOT_FOUND", "No API found for 'POST /api/2.0/dbfs/%s'", op)
	}
	return nil
}

func (s *Server) dbfsRead(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	p, e := dbfsPath(q.Get("path"))
	if e != nil {
		return e
	}
	offset, length := int64(0), int64(DefaultReadLength)
	if v := q.Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badParam("offset must be a non-negative integer, got %q", v)
		}
		offset = n
	}
	if v := q.Get("length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badParam("length must be a non-negative integer, got %q", v)
		}
		if n > MaxReadLength {
			return errf(400, "MAX_READ_SIZE_EXCEEDED", "Cannot read more than %d bytes at once, asked for %d.", MaxReadLength, n)
		}
		if n > 0 {
			length = n
		}
	}
	lp := s.LocalPath(p)
	st, err := os.Stat(lp)
	if err != nil {
		return notFound(p)
	}
	if st.IsDir() {
		return errf(400, "NOT_A_FILE", "The path %s is a directory, not a file.", p)
	}
	f, err := os.Open(lp)
	if err != nil {
		return ioErr(err)
	}
	defer f.Close()
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return ioErr(err)
	}
	writeJSON(w, 200, map[string]any{"bytes_read": n, "data": base64.StdEncoding.EncodeToString(buf[:n])})
	return nil
}

// volPath checks a Files API path taken from the URL.
func volPath(raw string) (string, *apiError) {
	p, err := url.PathUnescape(raw)
	if err != nil || !strings.HasPrefix(p, "/") {
		return "", badParam("Invalid path %q", raw)
	}
	return path.Clean(p), nil
}

func filesNotFound(p string) *apiError {
	return errf(404, "NOT_FOUND", "The file or directory being accessed is not found: %s", p)
}

func (s *Server) files(w http.ResponseWriter, r *http.Request, raw string) *apiError {
	p, e := volPath(raw)
	if e != nil {
		return e
	}
	lp := s.LocalPath(p)
	switch r.Method {
	case http.MethodPut:
		// The Go SDK sends a chunked body; net/http decodes it.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return badParam("cannot read the request body: %v", err)
		}
		if st, err := os.Stat(lp); err == nil && (st.IsDir() || !strings.EqualFold(r.URL.Query().Get("overwrite"), "true")) {
			return errf(409, "ALREADY_EXISTS", "The file being created already exists: %s", p)
		}
		if err := writeAtomic(lp, body); err != nil {
			return ioErr(err)
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet, http.MethodHead:
		st, err := os.Stat(lp)
		if err != nil || st.IsDir() {
			return filesNotFound(p)
		}
		data, err := os.ReadFile(lp)
		if err != nil {
			return ioErr(err)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("Last-Modified", st.ModTime().UTC().Format(http.TimeFormat))
		w.WriteHeader(200)
		if r.Method == http.MethodGet {
			_, _ = w.Write(data)
		}
	case http.MethodDelete:
		st, err := os.Stat(lp)
		if err != nil || st.IsDir() {
			return filesNotFound(p)
		}
		if err := os.Remove(lp); err != nil {
			return ioErr(err)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		return errf(405, "ENDPOINT_NOT_FOUND", "%s is not supported on files", r.Method)
	}
	return nil
}

func (s *Server) dirs(w http.ResponseWriter, r *http.Request, raw string) *apiError {
	p, e := volPath(raw)
	if e != nil {
		return e
	}
	lp := s.LocalPath(p)
	switch r.Method {
	case http.MethodPut:
		if st, err := os.Stat(lp); err == nil && !st.IsDir() {
			return errf(409, "ALREADY_EXISTS", "A file exists at %s", p)
		}
		if err := os.MkdirAll(lp, 0o755); err != nil {
			return ioErr(err)
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodHead:
		if st, err := os.Stat(lp); err != nil || !st.IsDir() {
			return filesNotFound(p)
		}
		w.WriteHeader(200)
	case http.MethodGet:
		st, err := os.Stat(lp)
		if err != nil || !st.IsDir() {
			return filesNotFound(p)
		}
		entries, err := os.ReadDir(lp)
		if err != nil {
			return ioErr(err)
		}
		contents := []map[string]any{}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".dbxserver-") {
				continue
			}
			est, err := e.Info()
			if err != nil {
				continue
			}
			item := map[string]any{"path": path.Join(p, e.Name()), "name": e.Name(), "is_directory": e.IsDir(),
				"last_modified": est.ModTime().UnixMilli()}
			if !e.IsDir() {
				item["file_size"] = est.Size()
			}
			contents = append(contents, item)
		}
		writeJSON(w, 200, map[string]any{"contents": contents})
	case http.MethodDelete:
		st, err := os.Stat(lp)
		if err != nil || !st.IsDir() {
			return filesNotFound(p)
		}
		if entries, _ := os.ReadDir(lp); len(entries) > 0 {
			return errf(400, "DIRECTORY_NOT_EMPTY", "The directory %s is not empty.", p)
		}
		if err := os.Remove(lp); err != nil {
			return ioErr(err)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		return errf(405, "ENDPOINT_NOT_FOUND", "%s is not supported on directories", r.Method)
	}
	return nil
}

func (s *Server) clusterGet(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method != http.MethodGet {
		return errf(405, "ENDPOINT_NOT_FOUND", "clusters/get is a GET")
	}
	id := r.URL.Query().Get("cluster_id")
	s.mu.Lock()
	spec, ok := s.opts.Clusters[id]
	if !ok {
		for _, run := range s.runs {
			if run.clusterID == id && run.newCluster != nil {
				spec, ok = run.newCluster, true
			}
		}
	}
	out := map[string]any{}
	for k, v := range spec {
		out[k] = v
	}
	s.mu.Unlock()
	if !ok {
		return badParam("Cluster %s does not exist", id)
	}
	out["cluster_id"] = id
	if _, ok := out["state"]; !ok {
		out["state"] = "RUNNING"
	}
	writeJSON(w, 200, out)
	return nil
}

// SortedPaths lists the files under a DBFS or volume directory, relative
// to it, sorted.
func (s *Server) SortedPaths(dir string) []string {
	var out []string
	root := s.LocalPath(dir)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}
