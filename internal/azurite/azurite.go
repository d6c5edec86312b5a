// Package azurite starts Azurite's Blob service (Microsoft's local emulator
// of Azure Blob Storage, an npm package) for tests, on a free port of
// 127.0.0.1, in memory.
//
// The program is taken from the environment variable PIPES_AZURITE or
// else from .cache/azurite/node_modules/.bin/azurite-blob at the
// repository root (git-ignored), where scripts/test.sh installs it with
// `npm install --prefix .cache/azurite azurite@3.37.0`. When it is missing
// the test is skipped, unless PIPES_E2E=1 is set, in which case it fails.
//
// Azurite always runs with --disableTelemetry: without it, it tries to
// reach an outside address and does not exit on SIGTERM. It runs with
// --skipApiVersionCheck because the SDKs send API versions newer than the
// emulator knows.
//
// Typical use:
//
//	srv := azurite.Start(t)              // stopped by t.Cleanup
//	cs := srv.ConnectionString()         // for azblob / azure-storage-blob
//	cmd.Env = append(cmd.Env, srv.Env()...)
//
// A test binary that wants one server for all its tests calls [Shared] in
// each test and stops it from TestMain with [RunTests].
//
// The package uses only the standard library, like the rest of the root
// module; containers are created by the test's own client.
package azurite

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dagster-pipes-go/pipes/internal/moto"
	"github.com/dagster-pipes-go/pipes/internal/testserver"
)

// The emulator's well-known development account. The key is published in
// Azurite's documentation: it protects nothing.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Version is the npm version of Azurite that scripts/test.sh installs.
const Version = "3.37.0"

// BinaryEnvVar names the environment variable that overrides where the
// azurite-blob program is.
const BinaryEnvVar = "PIPES_AZURITE"

// startTimeout bounds how long the emulator may take to answer after
// launch (node loads many modules; the machine is small and shared).
const startTimeout = 60 * time.Second

// stopTimeout is how long Stop waits after SIGTERM before it kills.
const stopTimeout = 10 * time.Second

// ErrUnavailable is wrapped by the error of [Launch] when the azurite-blob
// program (or node) is not installed.
var ErrUnavailable = errors.New("azurite unavailable")

// Server is a running Azurite Blob service.
type Server struct {
	// Endpoint is the blob service URL of the development account, such
	// as http://127.0.0.1:41234/devstoreaccount1 (no trailing slash).
	Endpoint string
	// Port is the port it listens on, on 127.0.0.1.
	Port int

	proc *testserver.Process
}

// Start launches an emulator for the test and stops it when the test and
// its subtests have finished. It skips the test when Azurite is not
// installed (fails instead when PIPES_E2E=1).
func Start(t testing.TB) *Server {
	t.Helper()
	return kind.Start(t)
}

// Shared returns an emulator shared by all the tests of the test binary,
// starting it on first use; use distinct containers to keep tests apart.
// Call [RunTests] from TestMain to stop it at the end; it also dies with
// the test process on Linux.
func Shared(t testing.TB) *Server {
	t.Helper()
	return kind.Shared(t)
}

// RunTests runs the tests of m and then stops the emulator started by
// [Shared], if any: func TestMain(m *testing.M) { os.Exit(azurite.RunTests(m)) }.
func RunTests(m *testing.M) int { return kind.RunTests(m) }

// StopShared stops the emulator started by [Shared], if any, for a
// TestMain that does more than [RunTests].
func StopShared() { kind.StopShared() }

var kind = &testserver.Kind[*Server]{
	Name: "azurite", Launch: Launch, Unavailable: ErrUnavailable,
	Hint: "run scripts/test.sh, or npm install --prefix .cache/azurite azurite@" + Version + ", or set " + BinaryEnvVar,
}

// Binary returns the azurite-blob program to run: $PIPES_AZURITE, else
// .cache/azurite/node_modules/.bin/azurite-blob at the repository root.
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnvVar); p != "" {
		return p, nil
	}
	root, err := moto.RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".cache", "azurite", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: no %s and no %s", ErrUnavailable, BinaryEnvVar, p)
	}
	return p, nil
}

// Launch starts an emulator outside of a test; the caller must call Stop.
// Its error wraps [ErrUnavailable] when Azurite or node is missing.
func Launch() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	return testserver.Launch(ErrUnavailable, func() (*Server, error) { return launchOn(bin) })
}

func launchOn(bin string) (*Server, error) {
	port, err := testserver.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--blobHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(port),
		"--inMemoryPersistence",
		"--skipApiVersionCheck",
		"--disableTelemetry",
		"--silent")
	// Nothing is persisted in memory mode; a neutral working directory
	// keeps any stray file out of the repository.
	cmd.Dir = os.TempDir()
	proc, err := testserver.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot run %s: %v", ErrUnavailable, bin, err)
	}
	srv := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port) + "/" + AccountName, Port: port, proc: proc}
	// Any HTTP answer (403 for an unsigned request) means it listens.
	if err := proc.WaitReady(srv.Endpoint+"?comp=list", startTimeout); err != nil {
		srv.Stop()
		out := proc.Output()
		if errors.Is(err, testserver.ErrExited) && (strings.Contains(out, "node: not found") || strings.Contains(out, "No such file")) {
			return nil, fmt.Errorf("%w: %s cannot start: %s", ErrUnavailable, bin, strings.TrimSpace(out))
		}
		return nil, fmt.Errorf("azurite: %w", err)
	}
	return srv, nil
}

// Stop asks the emulator to exit (SIGTERM), kills it if it has not within
// a few seconds, and waits for it. It may be called more than once.
func (s *Server) Stop() { s.proc.Stop(stopTimeout) }

// Output returns what the emulator printed so far, for debugging a failed
// test.
func (s *Server) Output() string { return s.proc.Output() }

// ConnectionString returns a connection string for the development
// account on this emulator, with an explicit BlobEndpoint (the shorthand
// UseDevelopmentStorage=true would mean port 10000).
func (s *Server) ConnectionString() string { return ConnectionString(s.Endpoint) }

// ConnectionString returns a connection string for the development
// account at blobEndpoint, such as a proxy's URL followed by
// "/devstoreaccount1".
func ConnectionString(blobEndpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AccountName + ";AccountKey=" + AccountKey +
		";BlobEndpoint=" + blobEndpoint + ";"
}

// Env returns the environment variable that points an Azure SDK (the Go
// job's azurepipes.NewClientFromEnv, or a Python script) at the emulator,
// as "KEY=value" strings for exec.Cmd.Env.
func (s *Server) Env() []string {
	return []string{"AZURE_STORAGE_CONNECTION_STRING=" + s.ConnectionString()}
}
