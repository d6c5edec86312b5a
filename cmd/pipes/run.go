package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// runCmd is `pipes run`: it plays the orchestrator's part, as Dagster's
// PipesSubprocessClient does, and shows what the program reports as it
// arrives. forwardSignals is off in tests.
func runCmd(args []string, stdout, stderr io.Writer, forwardSignals bool) int {
	// The program's output and the live view share the streams. Files
	// are passed to the program as they are (it may check for a
	// terminal); other writers are locked.
	stdout, stderr = lockIfNotFile(stdout), lockIfNotFile(stderr)
	opts, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pipes run: %v\n", err)
		return 2
	}

	dir, err := os.MkdirTemp("", "pipes-run-")
	if err != nil {
		fmt.Fprintf(stderr, "pipes run: %v\n", err)
		return 1
	}
	if opts.keep {
		fmt.Fprintf(stderr, "pipes run: keeping the context and messages files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	prep, err := orchestrator.Prepare(orchestrator.Config{
		Data: opts.data, Injection: opts.inject, Transport: opts.transport, Bootstrap: opts.bootstrap, Dir: dir,
	})
	if err != nil {
		fmt.Fprintf(stderr, "pipes run: %v\n", err)
		return 1
	}

	v := newView(stderr, opts)
	col := orchestrator.NewCollector(opts.data.AssetKeys)
	cmd := exec.Command(opts.program[0], append(opts.program[1:], prep.Args...)...)
	cmd.Env = append(os.Environ(), prep.Env...)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var sw *orchestrator.StreamWriter
	switch prep.Transport {
	case orchestrator.TransportStdout:
		sw = col.StreamWriter(stdout, v.event)
		cmd.Stdout = sw
	case orchestrator.TransportStderr:
		sw = col.StreamWriter(stderr, v.event)
		cmd.Stderr = sw
	}

	v.start(prep)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "pipes run: cannot start %s: %v\n", opts.program[0], err)
		return 127
	}
	if forwardSignals {
		// Dagster stops a step by sending SIGINT; pass on what we get.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = cmd.Process.Signal(s)
			}
		}()
	}

	var tailErr error
	done := make(chan struct{})
	var wg sync.WaitGroup
	if prep.MessagesPath != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tailErr = orchestrator.TailFile(context.Background(), prep.MessagesPath, 0, done, func(line []byte) {
				v.event(col.Add(line))
			})
		}()
	}
	waitErr := cmd.Wait()
	close(done)
	wg.Wait()
	if sw != nil {
		sw.Flush()
	}
	if tailErr != nil {
		fmt.Fprintf(stderr, "pipes run: reading the messages: %v\n", tailErr)
	}

	res := col.Result()
	res.Err = waitErr
	code := exitCode(waitErr)
	v.summary(res, code)
	switch {
	case code != 0:
		return code
	case res.Failed():
		return 1
	}
	return 0
}

// exitCode is the program's exit status as a shell reports it.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		if c := exitErr.ExitCode(); c > 0 {
			return c
		}
	}
	return 1
}

// quoteCommand joins a command line for display.
func quoteCommand(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func lockIfNotFile(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &lockedWriter{w: w}
}

// lockedWriter serializes writes from the program's output copiers and the
// live view.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
