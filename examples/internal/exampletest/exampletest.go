// Package exampletest lets an example's tests run the example's main as a
// program, the way Dagster launches it, without building a binary: the test
// binary starts itself with an environment variable that makes its TestMain
// run main instead of the tests.
package exampletest

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

// runMainEnv, set to "1" in a child process, makes Main run the example's
// main instead of the tests.
const runMainEnv = "PIPES_EXAMPLE_RUN_MAIN"

// Main is the example's TestMain: in a child started by Command it runs main
// (which exits non-zero itself on failure) and exits 0; otherwise it runs the
// tests, then checks that they leaked no goroutine (goleak).
func Main(m *testing.M, main func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// Command returns a command that runs the example's main in a child process
// of the test binary. Its environment is the test's without the Pipes
// bootstrap variables, as a program started by hand outside Dagster has it;
// pipestest.Session.RunCommand adds them back when a test plays Dagster.
func Command() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "DAGSTER_PIPES_") || strings.HasPrefix(kv, runMainEnv+"=")
	})
	cmd.Env = append(cmd.Env, runMainEnv+"=1")
	return cmd
}

// ExplainsFailure checks what a user sees when the example fails: exit
// status 1, and stderr holding the line "<name>: <want>". When the program
// closed with an exception (it was launched as a Pipes process), want must
// also be what Dagster received in the closed message, so that both say the
// same thing.
func ExplainsFailure(t *testing.T, name string, res *pipestest.Result, want string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(res.Err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want exit status 1", res.Err)
	}
	if line := name + ": " + want + "\n"; !strings.Contains(res.Stderr, line) {
		t.Errorf("stderr = %q, want it to contain %q", res.Stderr, line)
	}
	if res.Closed && (res.Exception == nil || res.Exception.Message != want) {
		t.Errorf("closed exception = %+v, want message %q", res.Exception, want)
	}
}

// RunOutsideDagster runs the example's main as a user would by hand, with no
// Pipes bootstrap in its environment, and returns its exit error and stderr.
func RunOutsideDagster(t *testing.T) *pipestest.Result {
	t.Helper()
	cmd := Command()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	return &pipestest.Result{Err: err, Stderr: stderr.String()}
}
