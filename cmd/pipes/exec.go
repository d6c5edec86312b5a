package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

const execUsage = `Usage: pipes exec [flags] -- COMMAND [ARGS...]

Runs COMMAND as the Dagster Pipes external process: opens the session from
what Dagster injected (DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES, or
--dagster-pipes-context and --dagster-pipes-messages), passes stdin, stdout
and stderr through, and closes the session with COMMAND's outcome. COMMAND and
its children report with "pipes log", "pipes materialize", "pipes check",
"pipes message" and read the context with "pipes context".

Exit status: COMMAND's (128+n when it died of signal n); 1 when the session
could not be opened (a store's client included) or closed; 2 for bad flags;
126 or 127 when COMMAND could not be started.

Flags:
`

type execOptions struct {
	loader, writer       string
	dbfsRoot             string
	logStdout, logStderr string
	grace                time.Duration
	stderrLines          int
	bootContext          string
	bootMessages         string
	bootSet              bool
	command              []string
}

func parseExecFlags(args []string, out io.Writer) (*execOptions, error) {
	fs := flag.NewFlagSet("pipes exec", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &execOptions{}
	fs.StringVar(&o.loader, "context-loader", "default", "where the context comes from: a `store` of "+storeNames(hasLoader)+" (see Stores below)")
	fs.StringVar(&o.writer, "message-writer", "default", "where the messages go: a `store` of "+storeNames(hasWriter)+" (see Stores below)")
	fs.StringVar(&o.dbfsRoot, "dbfs-root", defaultDBFSRoot, "`directory` where DBFS is mounted, for the dbfs store")
	fs.StringVar(&o.logStdout, "log-stdout", "", "also send each line COMMAND prints on stdout as a log at `LEVEL`")
	fs.StringVar(&o.logStderr, "log-stderr", "", "also send each line COMMAND prints on stderr as a log at `LEVEL`")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "after passing SIGINT or SIGTERM to COMMAND, `wait` this long before SIGKILL")
	fs.IntVar(&o.stderrLines, "stderr-lines", 20, "`number` of COMMAND's last stderr lines in the exception of a failure")
	fs.StringVar(&o.bootContext, "dagster-pipes-context", "", "the context bootstrap `value`, when Dagster passes it as an argument (Databricks)")
	fs.StringVar(&o.bootMessages, "dagster-pipes-messages", "", "the messages bootstrap `value`, when Dagster passes it as an argument")
	fs.Usage = func() {
		fmt.Fprint(out, execUsage)
		fs.PrintDefaults()
		fmt.Fprint(out, "\nStores, for --context-loader and --message-writer: each matches injectors or readers\n"+
			"of Dagster's side; clients come from the environment Dagster passes on.\n"+storesHelp())
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "dagster-pipes-") {
			o.bootSet = true
		}
	})
	for _, l := range []string{o.logStdout, o.logStderr} {
		if l != "" {
			if _, err := parseLevel(l); err != nil {
				return nil, err
			}
		}
	}
	if err := checkStores(o.loader, o.writer); err != nil {
		return nil, err
	}
	if o.grace < 0 {
		return nil, errors.New("--grace must not be negative")
	}
	if o.stderrLines < 0 {
		return nil, errors.New("--stderr-lines must not be negative")
	}
	o.command = fs.Args()
	if len(o.command) == 0 {
		fs.Usage()
		return nil, errors.New("no COMMAND to run")
	}
	return o, nil
}

// execMain is `pipes exec`.
func execMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseExecFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pipes exec: %v\n", err)
		return 2
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return runExec(ctx, o, os.Stdin, stdout, stderr, sigs)
}

// runExec runs the session; signals delivered on sigs are passed to the
// command (tests send their own).
func runExec(ctx context.Context, o *execOptions, stdin io.Reader, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "pipes exec: "+format+"\n", args...) }
	loader, writer, clients, err := openStores(ctx, o.loader, o.writer, o.dbfsRoot)
	if err != nil {
		// The names were checked with the flags: the store's client
		// could not be made, so the session cannot be opened.
		logf("%v", err)
		return 1
	}
	// After the session is closed: the writer's last upload needs them.
	defer clients.close()
	var params pipes.ParamsLoader = pipes.EnvParamsLoader{}
	if o.bootSet {
		params = pipes.MappingParamsLoader{Mapping: map[string]string{
			pipes.ContextEnvVar: o.bootContext, pipes.MessagesEnvVar: o.bootMessages,
		}}
	}
	p, err := pipes.New(ctx, pipes.WithParamsLoader(params), pipes.WithContextLoader(loader),
		pipes.WithMessageWriter(writer), pipes.WithWarningOutput(stderr), pipes.WithoutSignalHandling())
	if err != nil {
		// New has told Dagster why, when it could reach it.
		logf("opening the Dagster Pipes session: %v", err)
		return 1
	}

	cmd := exec.Command(o.command[0], o.command[1:]...)
	cmd.Stdin = stdin
	cmd.Env = withSelfOnPath(childEnv(os.Environ()))
	// A grandchild that keeps stdout or stderr open does not hold up the end
	// of the session for long.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)

	var srv *reportServer
	if reportSupported {
		srv, err = startReportServer(p, logf)
		if err != nil {
			return closeWith(p, logf, fmt.Errorf("pipes exec: %w", err), 1)
		}
		cmd.Env = append(cmd.Env, srv.env()...)
	}
	stopServer := func() {
		if srv != nil {
			srv.stop()
			srv = nil
		}
	}
	defer stopServer()

	tail := newTailLines(o.stderrLines)
	var outLog, errLog *lineLogger
	cmd.Stdout, cmd.Stderr = stdout, io.MultiWriter(stderr, tail)
	if o.logStdout != "" {
		outLog = newLineLogger(p, o.logStdout)
		cmd.Stdout = io.MultiWriter(stdout, outLog)
	}
	if o.logStderr != "" {
		errLog = newLineLogger(p, o.logStderr)
		cmd.Stderr = io.MultiWriter(stderr, tail, errLog)
	}

	if err := cmd.Start(); err != nil {
		stopServer()
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return closeWith(p, logf, &CommandError{Command: o.command, StartErr: err, ExitCode: code}, code)
	}

	// Pass SIGINT and SIGTERM to the command's process group; SIGKILL it
	// after the grace period.
	var (
		sigMu    sync.Mutex
		received os.Signal
	)
	done := make(chan struct{})
	fwdDone := make(chan struct{})
	go func() {
		defer close(fwdDone)
		var kill <-chan time.Time
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				sigMu.Lock()
				if received == nil {
					received = s
				}
				sigMu.Unlock()
				_ = signalGroup(cmd, s)
				if kill == nil {
					t := time.NewTimer(o.grace)
					defer t.Stop()
					kill = t.C
				}
			case <-kill:
				_ = killGroup(cmd)
			}
		}
	}()

	waitErr := cmd.Wait()
	close(done)
	<-fwdDone
	// The command is done: no more reports (a child still running is told
	// the session has ended), then the last lines of its output.
	stopServer()
	for _, l := range []*lineLogger{outLog, errLog} {
		if l != nil {
			l.flush()
		}
	}
	sigMu.Lock()
	sig := received
	sigMu.Unlock()

	code, signaled := exitStatus(waitErr, cmd)
	if code == 0 {
		if err := p.Close(); err != nil {
			logf("closing the Dagster Pipes session: %v", err)
			return 1
		}
		return 0
	}
	cerr := &CommandError{Command: o.command, ExitCode: code, Signal: signaled, Received: sig, Stderr: tail.lines()}
	if waitErr != nil && code == 1 && !isExitError(waitErr) {
		cerr.WaitErr = waitErr
	}
	return closeWith(p, logf, cerr, code)
}

// closeWith closes the session with err as the exception and returns code
// (1 if the closed message could not be sent and code is 0).
func closeWith(p *pipes.Context, logf func(string, ...any), err error, code int) int {
	if cerr := p.CloseWithError(err); cerr != nil {
		logf("closing the Dagster Pipes session: %v", cerr)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func isExitError(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// childEnv is the command's environment: pipes exec's, without the
// bootstrap variables, so that a Pipes-aware program under pipes exec does
// not open a second session on the same messages channel.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == pipes.ContextEnvVar || k == pipes.MessagesEnvVar || k == SocketEnv || k == SecretEnv {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// withSelfOnPath appends the directory of this pipes binary to PATH, so
// that the command finds the verbs as "pipes" even when pipes exec was
// started by its full path (or by go run). A pipes found earlier on PATH
// still wins.
func withSelfOnPath(env []string) []string {
	exe, err := os.Executable()
	if err != nil {
		return env
	}
	return withOnPath(env, exe)
}

// withOnPath appends the directory of exe to PATH in env when exe is named
// pipes and that directory is not on PATH yet.
func withOnPath(env []string, exe string) []string {
	if strings.TrimSuffix(filepath.Base(exe), ".exe") != "pipes" {
		return env
	}
	dir := filepath.Dir(exe)
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			if slices.Contains(filepath.SplitList(v), dir) {
				return env
			}
			env[i] = kv + string(os.PathListSeparator) + dir
			return env
		}
	}
	return append(env, "PATH="+dir)
}

// CommandError is the exception Dagster records when the command of
// `pipes exec` fails: it names the command, how it ended, and the last
// lines it wrote to stderr.
type CommandError struct {
	// Command is the command line.
	Command []string
	// ExitCode is pipes exec's exit status: the command's, or 128+n for
	// signal n.
	ExitCode int
	// Signal is the signal the command died of, if it did.
	Signal syscall.Signal
	// Received is the signal pipes exec received and passed on, if any.
	Received os.Signal
	// StartErr is why the command could not be started, if it could not.
	StartErr error
	// WaitErr is an error waiting for the command other than its exit status.
	WaitErr error
	// Stderr holds the last lines of the command's stderr.
	Stderr []string
}

// Error describes the failure in one line, then the last stderr lines.
func (e *CommandError) Error() string {
	var b strings.Builder
	b.WriteString("command `" + quoteCommand(e.Command) + "`")
	switch {
	case e.StartErr != nil:
		fmt.Fprintf(&b, " could not be started: %v", e.StartErr)
	case e.Signal != 0:
		fmt.Fprintf(&b, " was killed by %s (exit status %d)", signalName(e.Signal), e.ExitCode)
	case e.WaitErr != nil:
		fmt.Fprintf(&b, " failed: %v", e.WaitErr)
	default:
		fmt.Fprintf(&b, " exited with status %d", e.ExitCode)
	}
	if e.Received != nil {
		if s, ok := e.Received.(syscall.Signal); ok {
			fmt.Fprintf(&b, " after pipes exec received %s and passed it on", signalName(s))
		}
	}
	if len(e.Stderr) > 0 {
		b.WriteString("\nlast lines of stderr:\n")
		b.WriteString(strings.Join(e.Stderr, "\n"))
	}
	return b.String()
}

// Unwrap returns the start error, if any.
func (e *CommandError) Unwrap() error { return e.StartErr }

// tailLines keeps the last n lines written to it (each cut to 1000 bytes).
type tailLines struct {
	mu      sync.Mutex
	n       int
	ring    []string
	partial []byte
}

const maxTailLine = 1000

func newTailLines(n int) *tailLines { return &tailLines{n: n} }

func (t *tailLines) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rest := p
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			t.partial = appendCapped(t.partial, rest)
			break
		}
		t.partial = appendCapped(t.partial, rest[:i])
		t.push(string(bytes.TrimSuffix(t.partial, []byte("\r"))))
		t.partial = t.partial[:0]
		rest = rest[i+1:]
	}
	return len(p), nil
}

func appendCapped(dst, src []byte) []byte {
	if room := maxTailLine - len(dst); room < len(src) {
		src = src[:max(room, 0)]
	}
	return append(dst, src...)
}

func (t *tailLines) push(line string) {
	if t.n == 0 {
		return
	}
	if len(t.ring) == t.n {
		copy(t.ring, t.ring[1:])
		t.ring = t.ring[:t.n-1]
	}
	t.ring = append(t.ring, line)
}

// lines returns the kept lines, with an unfinished last line.
func (t *tailLines) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.ring...)
	if len(t.partial) > 0 && t.n > 0 {
		out = append(out, string(t.partial))
		if len(out) > t.n {
			out = out[1:]
		}
	}
	return out
}

// lineLogger sends each line written to it as a log message.
type lineLogger struct {
	mu      sync.Mutex
	p       *pipes.Context
	level   slog.Level
	partial []byte
}

func newLineLogger(p *pipes.Context, level string) *lineLogger {
	l, _ := parseLevel(level) // checked with the flags
	return &lineLogger{p: p, level: l}
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSuffix(string(l.partial[:i]), "\r")
		l.partial = l.partial[i+1:]
		_ = l.p.LogMessage(l.level, line)
	}
	if len(l.partial) >= maxLogLine {
		// A very long line (or output without newlines) goes out in pieces.
		_ = l.p.LogMessage(l.level, string(l.partial))
		l.partial = l.partial[:0]
	}
	return len(b), nil
}

// maxLogLine bounds what a lineLogger keeps of a line without a newline.
const maxLogLine = 64 << 10

// flush logs an unfinished last line.
func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		_ = l.p.LogMessage(l.level, string(l.partial))
		l.partial = nil
	}
}
