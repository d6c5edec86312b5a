package pipestest

import (
	"bytes"
	"errors"
	"os/exec"

	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// RunCommand runs a program as the external process of a new Pipes
// session, as Dagster's PipesSubprocessClient does, and returns what it
// reported; Result.Err is the error of cmd.Run (an *exec.ExitError when the
// program exits non-zero). The bootstrap values are added to cmd's
// environment (cmd.Env, or the test's environment when that is nil) or, with
// [BootstrapWithArgs], to its arguments. A cmd.Stdout or cmd.Stderr left nil
// is captured into Result.Stdout or Result.Stderr; with a stdio transport,
// only the lines that are not messages get there.
//
// RunCommand does not touch the test's environment or the pipes singleton,
// so it may be used in parallel tests.
func (s *Session) RunCommand(cmd *exec.Cmd) *Result {
	s.t.Helper()
	if cmd.Process != nil {
		s.t.Fatalf("pipestest: RunCommand: command already started")
	}
	prep := s.prepare()
	cmd.Env = append(cmd.Environ(), prep.Env...)
	cmd.Args = append(cmd.Args, prep.Args...)

	col := orchestrator.NewCollector(s.data.AssetKeys)
	var stdout, stderr bytes.Buffer
	outDst, errDst := cmd.Stdout, cmd.Stderr
	if outDst == nil {
		outDst = &stdout
	}
	if errDst == nil {
		errDst = &stderr
	}
	var sw *orchestrator.StreamWriter
	switch prep.Transport {
	case orchestrator.TransportStdout:
		sw = col.StreamWriter(outDst, nil)
		outDst = sw
	case orchestrator.TransportStderr:
		sw = col.StreamWriter(errDst, nil)
		errDst = sw
	}
	cmd.Stdout, cmd.Stderr = outDst, errDst
	runErr := cmd.Run()
	if sw != nil {
		sw.Flush()
	}
	if prep.MessagesPath != "" {
		if err := col.ReadFile(prep.MessagesPath); err != nil {
			s.t.Fatalf("pipestest: reading the messages: %v", err)
		}
	}
	res := newResult(col.Result())
	res.Err = runErr
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		// The program did not run at all: the missing messages say
		// nothing more.
		s.t.Errorf("pipestest: running %s: %v", cmd.Path, runErr)
		return res
	}
	s.report(res)
	return res
}
