package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// The report channel between `pipes exec` and the verbs its command runs:
// one request per connection on a Unix socket, as one JSON line, answered by
// one JSON line. The socket lives in a directory only this user can enter,
// and every request carries the session's secret, which only the command's
// environment holds: another user cannot reach the socket, and a process of
// the same user that is not part of the session does not know the secret.

// Environment variables `pipes exec` gives its command.
const (
	// SocketEnv is the path of the report socket.
	SocketEnv = "PIPES_EXEC_SOCKET"
	// SecretEnv is the session's secret, which each request presents.
	SecretEnv = "PIPES_EXEC_SECRET"
)

// maxRequest bounds one request (metadata can be large, not unbounded).
const maxRequest = 16 << 20

// requestTimeout bounds reading a request and the verb's whole exchange.
const requestTimeout = time.Minute

// request is what a verb sends.
type request struct {
	Secret string `json:"secret"`
	Verb   string `json:"verb"`
	// log
	Level string `json:"level,omitempty"`
	Text  string `json:"text,omitempty"`
	// materialize, check
	Asset       string                  `json:"asset,omitempty"`
	DataVersion string                  `json:"data_version,omitempty"`
	Metadata    map[string]wireMetadata `json:"metadata,omitempty"`
	Check       string                  `json:"check,omitempty"`
	Passed      bool                    `json:"passed,omitempty"`
	Severity    string                  `json:"severity,omitempty"`
	// message
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wireMetadata is one metadata value as the protocol sends it.
type wireMetadata struct {
	RawValue json.RawMessage `json:"raw_value"`
	Type     string          `json:"type"`
}

// response is the answer: Error is the library's error text, or why the
// request was refused; Data is the context for the context verb.
type response struct {
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// newSecret returns 32 random bytes, hex-encoded.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// reportServer answers the verbs of one session.
type reportServer struct {
	p      *pipes.Context
	secret string
	ln     net.Listener
	dir    string
	logf   func(format string, args ...any) // pipes exec's own stderr

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{} // connections being served

	stopping atomic.Bool
}

// socketDir makes the private directory of the socket. A Unix socket path is
// limited to about 100 bytes, so a long TMPDIR falls back to /tmp.
func socketDir() (string, error) {
	base := os.TempDir()
	if len(base) > 60 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pipes-exec-")
	if err != nil {
		return "", err
	}
	// MkdirTemp makes it 0700 already; say so explicitly, whatever the umask.
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// startReportServer listens on a new socket for the session p.
func startReportServer(p *pipes.Context, logf func(string, ...any)) (*reportServer, error) {
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	dir, err := socketDir()
	if err != nil {
		return nil, fmt.Errorf("creating the report socket's directory: %w", err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "report.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating the report socket: %w", err)
	}
	s := &reportServer{p: p, secret: secret, ln: ln, dir: dir, logf: logf, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// env is what the command needs to report.
func (s *reportServer) env() []string {
	return []string{SocketEnv + "=" + s.ln.Addr().String(), SecretEnv + "=" + s.secret}
}

func (s *reportServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.logf("report socket: %v", err)
			return
		}
		// The deadline is set before stop can see the connection, so that
		// stop's shorter one wins.
		_ = conn.SetDeadline(time.Now().Add(requestTimeout))
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// stop stops accepting reports, waits for the ones in progress and removes
// the socket. A verb run later is told the session has ended.
func (s *reportServer) stop() {
	s.stopping.Store(true)
	s.ln.Close()
	// A request being applied is finished and answered; a connection that
	// has not sent its request yet (a stuck reporter) does not hold up the
	// end of the session.
	s.mu.Lock()
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.wg.Wait()
	os.RemoveAll(s.dir)
}

func (s *reportServer) handle(conn net.Conn) {
	defer conn.Close()
	line, err := bufio.NewReaderSize(io.LimitReader(conn, maxRequest+1), 64<<10).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		why := fmt.Sprintf("incomplete request: %v", err)
		if s.stopping.Load() {
			why = "incomplete request: the command exited before the request was sent"
		}
		s.refuse(conn, why)
		return
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&req); err != nil {
		s.refuse(conn, "malformed request: "+err.Error())
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.Secret), []byte(s.secret)) != 1 {
		s.refuse(conn, "wrong or missing session secret ("+SecretEnv+")")
		return
	}
	data, err := s.apply(&req)
	resp := response{OK: err == nil, Data: data}
	if err != nil {
		resp.Error = err.Error()
	}
	writeResponse(conn, resp)
}

// refuse answers a request that is not the session's, and says so on
// pipes exec's stderr and in Dagster's log.
func (s *reportServer) refuse(conn net.Conn, why string) {
	s.logf("refused a report: %s", why)
	s.p.Log().Warn("pipes exec refused a report: " + why)
	writeResponse(conn, response{Error: "refused by pipes exec: " + why})
}

func writeResponse(conn net.Conn, resp response) {
	b, _ := json.Marshal(resp) // only strings and valid raw JSON
	_, _ = conn.Write(append(b, '\n'))
}

// apply performs one verb on the session.
func (s *reportServer) apply(req *request) (json.RawMessage, error) {
	p := s.p
	switch req.Verb {
	case "log":
		level, err := parseLevel(req.Level)
		if err != nil {
			return nil, err
		}
		return nil, p.LogMessage(level, req.Text)
	case "materialize":
		return nil, p.ReportAssetMaterialization(pipes.Materialization{
			AssetKey: req.Asset, DataVersion: req.DataVersion, Metadata: toMetadata(req.Metadata),
		})
	case "check":
		return nil, p.ReportAssetCheck(pipes.AssetCheck{
			AssetKey: req.Asset, CheckName: req.Check, Passed: req.Passed,
			Severity: pipes.Severity(req.Severity), Metadata: toMetadata(req.Metadata),
		})
	case "message":
		return nil, p.ReportCustomMessage(req.Payload)
	case "context":
		return json.Marshal(p.Data())
	}
	return nil, fmt.Errorf("unknown verb %q", req.Verb)
}

func toMetadata(in map[string]wireMetadata) pipes.Metadata {
	if in == nil {
		return nil
	}
	md := make(pipes.Metadata, len(in))
	for k, v := range in {
		md[k] = pipes.MetadataValue{Type: pipes.MetadataType(v.Type), Raw: v.RawValue}
	}
	return md
}

// parseLevel maps a level name (any case; WARN for WARNING, FATAL for
// CRITICAL) to the slog level the library sends.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "", "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	case "CRITICAL", "FATAL":
		return pipes.LevelCritical, nil
	}
	return 0, fmt.Errorf("unknown log level %q: want DEBUG, INFO, WARNING, ERROR or CRITICAL", s)
}

// errNoSession is returned by a verb run outside `pipes exec`.
var errNoSession = errors.New("not running under `pipes exec` (" + SocketEnv + " is not set): " +
	"run this command from a program that `pipes exec` started")

// callReport sends req to the `pipes exec` named by the environment and
// returns its answer's data, or the error it gave.
func callReport(ctx context.Context, getenv func(string) string, req request) (json.RawMessage, error) {
	sock := getenv(SocketEnv)
	if sock == "" {
		return nil, errNoSession
	}
	req.Secret = getenv(SecretEnv)
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("cannot reach `pipes exec` at %s: the session has ended "+
				"(its command exited, or pipes exec was killed): %w", sock, err)
		}
		return nil, fmt.Errorf("cannot reach `pipes exec` at %s: %w", sock, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("sending the report to `pipes exec`: %w", err)
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("`pipes exec` did not answer (it may have been killed): %w", err)
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("bad answer from `pipes exec`: %w", err)
	}
	if !resp.OK {
		return nil, errors.New(resp.Error)
	}
	return resp.Data, nil
}
