// Package moto starts moto's S3 server (a local fake of Amazon S3 written in
// Python) for tests, on a free port of 127.0.0.1.
//
// The Python interpreter is taken from the environment variable
// PIPES_PYTHON or else from .venv/bin/python at the repository root (see
// [RepoRoot]).
// scripts/test.sh creates that virtual environment. When no interpreter with
// moto is found the test is skipped, unless PIPES_E2E=1 is set, in which
// case it fails.
//
// Typical use:
//
//	srv := moto.Start(t)            // stopped by t.Cleanup
//	srv.CreateBucket(t, "pipes")
//	cmd.Env = append(cmd.Env, srv.Env()...) // an AWS SDK (Go or boto3) on the server
//
// The package uses only the standard library, so that the root module's
// tests carry no AWS dependency; a test that wants an S3 client builds it
// from [Server.Endpoint] and the credentials below.
//
// A test binary that wants one server for all its tests calls [Shared] in
// each test and stops it from TestMain with [RunTests].
package moto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes/internal/testserver"
)

// Credentials and region the server accepts (moto accepts any); they are
// what [Server.Env] uses.
const (
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
	Region          = "us-east-1"
)

// startTimeout bounds how long the server may take to answer after launch
// (importing moto is slow on a small machine).
const startTimeout = 60 * time.Second

// Server is a running moto server.
type Server struct {
	// Endpoint is the server's base URL, such as http://127.0.0.1:41234.
	Endpoint string
	// Python is the interpreter that runs it.
	Python string

	proc *testserver.Process
}

// Start launches a moto server for the test and stops it when the test and
// its subtests have finished. It skips the test when Python or moto is not
// available (fails instead when PIPES_E2E=1).
func Start(t testing.TB) *Server {
	t.Helper()
	return kind.Start(t)
}

// Shared returns a server shared by all the tests of the test binary,
// starting it on first use. Reset it (or use distinct buckets) to keep
// tests apart. Call [RunTests] from TestMain to stop it at the end; the
// server also dies with the test process on Linux.
func Shared(t testing.TB) *Server {
	t.Helper()
	return kind.Shared(t)
}

// RunTests runs the tests of m and then stops the server started by
// [Shared], if any. Use it as: func TestMain(m *testing.M) { os.Exit(moto.RunTests(m)) }.
func RunTests(m *testing.M) int { return kind.RunTests(m) }

var kind = &testserver.Kind[*Server]{
	Name: "moto", Launch: Launch, Unavailable: ErrUnavailable,
	Hint: "run scripts/test.sh to create .venv with moto[server], or set PIPES_PYTHON",
}

// ErrUnavailable is wrapped by the error of [Launch] when there is no Python
// interpreter with moto.
var ErrUnavailable = errors.New("moto server unavailable")

// Python returns the interpreter to use: $PIPES_PYTHON, else
// .venv/bin/python at the repository root.
func Python() (string, error) {
	if p := os.Getenv("PIPES_PYTHON"); p != "" {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: no PIPES_PYTHON and no %s", ErrUnavailable, p)
	}
	return p, nil
}

// RepoRoot returns the repository's root: the nearest directory at or
// above the working directory that holds go.work (the cloud packages are
// modules of their own, so the nearest go.mod may be one of them), else the
// nearest one that holds a go.mod file.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	nearestMod := ""
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && nearestMod == "" {
			nearestMod = dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			if nearestMod == "" {
				return "", errors.New("moto: no go.work or go.mod above the working directory")
			}
			return nearestMod, nil
		}
		dir = parent
	}
}

// Launch starts a server outside of a test; the caller must call Stop. Its
// error wraps [ErrUnavailable] when Python or moto is missing.
func Launch() (*Server, error) {
	python, err := Python()
	if err != nil {
		return nil, err
	}
	return testserver.Launch(ErrUnavailable, func() (*Server, error) { return launchOn(python) })
}

func launchOn(python string) (*Server, error) {
	port, err := testserver.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	proc, err := testserver.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot run %s: %v", ErrUnavailable, python, err)
	}
	srv := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Python: python, proc: proc}
	if err := proc.WaitReady(srv.Endpoint+"/moto-api/", startTimeout); err != nil {
		srv.Stop()
		if out := proc.Output(); errors.Is(err, testserver.ErrExited) && strings.Contains(out, "No module named") {
			return nil, fmt.Errorf("%w: %s cannot import moto's server: %s", ErrUnavailable, python, lastLine(out))
		}
		return nil, fmt.Errorf("moto server: %w", err)
	}
	return srv, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Stop kills the server and waits for it to exit. It may be called more
// than once.
func (s *Server) Stop() {
	s.proc.Stop(0)
}

// Output returns what the server printed so far (its request log), for
// debugging a failed test.
func (s *Server) Output() string { return s.proc.Output() }

// Reset empties the server: every bucket and object is removed.
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.Endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("moto: reset: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto: reset: %s", resp.Status)
	}
}

// Env returns the environment variables that point an AWS SDK (Go or
// boto3) at the server: AWS_ENDPOINT_URL, static credentials and region,
// as "KEY=value" strings for exec.Cmd.Env.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
	}
}

// CreateBucket creates a bucket on the server (moto accepts unsigned
// requests).
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.Endpoint+"/"+name, nil)
	if err != nil {
		t.Fatalf("moto: create bucket %q: %v", name, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto: create bucket %q: %v", name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto: create bucket %q: %s", name, resp.Status)
	}
}
