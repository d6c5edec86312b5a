// Package pipestest tests Go code that runs as a Dagster Pipes external
// process, with go test and no Python: it plays Dagster's part in-process,
// in the spirit of net/http/httptest.
//
// A Session injects the context a test chooses (asset keys, partitions,
// extras, …) the way Dagster does, runs the code under test, which calls
// [pipes.Open] or [pipes.Run] exactly as in production, and returns what it
// reported as a [Result]: materializations with their metadata, asset
// checks, logs, custom messages, the exception of the closed message, and
// the raw messages.
//
//	func TestJob(t *testing.T) {
//		res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"orders"}}, job)
//		m, ok := res.Materialization("orders")
//		if !ok {
//			t.Fatal("orders not materialized")
//		}
//		if rows, _ := m.Metadata["rows"].Int(); rows != 3 {
//			t.Errorf("rows = %d, want 3", rows)
//		}
//	}
//
// Every message is checked as strictly as Dagster's message handler checks
// it (exact param keys, known methods and metadata types, raw values of the
// right JSON type, check severities, asset keys the step targets, opened
// first, closed exactly once); each violation fails the test, unless the
// session was made with [AllowProtocolErrors]. A missing closed message
// (a job that forgot Close) is a violation too.
//
// # Parallel tests
//
// An in-process session sets DAGSTER_PIPES_CONTEXT and
// DAGSTER_PIPES_MESSAGES with t.Setenv and resets the process's Context
// (pipes.Set(nil)) before and after the code runs, so tests that use
// [Session.Run] or [Session.RunJob] cannot call t.Parallel (t.Setenv panics
// if they do). [Session.RunCommand] touches neither the environment nor the
// singleton and can run in parallel tests.
//
// # Conformance
//
// [TestMessageWriter], [TestChannel] and [TestContextLoader] check a
// user-written MessageWriter, MessageWriterChannel or ContextLoader against
// the contract the pipes package relies on, like testing/slogtest does for
// slog handlers.
package pipestest

import (
	"context"
	"os"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// Context is the context a test gives the code under test. Its zero value
// is a step that targets no asset and no partition, with a random run id.
// Use [WithContextData] to send a pipes.ContextData exactly as written.
type Context struct {
	// AssetKeys are the assets the step targets, as escaped user strings
	// ("a/b" for the key ["a", "b"]); nil for a step that targets none.
	AssetKeys []string
	// CodeVersions are the code versions by asset key; a targeted asset
	// without one is sent as null.
	CodeVersions map[string]string
	// Provenance is the provenance of each asset's last materialization by
	// asset key; a targeted asset without one is sent as null.
	Provenance map[string]*pipes.DataProvenance
	// PartitionKey is the step's partition key; "" for none.
	PartitionKey string
	// PartitionKeyRange defaults to PartitionKey..PartitionKey when
	// PartitionKey is set, as Dagster sends it.
	PartitionKeyRange *pipes.PartitionKeyRange
	// PartitionTimeWindow is the partition's time window, if it is
	// time-partitioned; sent in Python's isoformat.
	PartitionTimeWindow *pipes.TimeWindow
	// RunID is the run id; "" means a random UUID.
	RunID string
	// JobName is the job name; "" is sent as null.
	JobName string
	// RetryNumber is the retry number of the run.
	RetryNumber int
	// Extras are the extras passed by the Dagster side.
	Extras map[string]any
}

// Data returns the context data as Dagster would send it for c.
func (c Context) Data() pipes.ContextData { return orchestrator.Step(c).ContextData() }

// Option configures a Session.
type Option func(*config)

type config struct {
	orch        orchestrator.Config
	data        *pipes.ContextData
	allowErrors bool
}

// InjectContextByFile writes the context data to a file and passes its path
// ({"path": …}), as Dagster's default subprocess client does. It is the
// default.
func InjectContextByFile() Option {
	return func(c *config) { c.orch.Injection = orchestrator.InjectFile }
}

// InjectContextByEnv passes the context data inside the bootstrap value
// ({"data": …}), as PipesEnvContextInjector does.
func InjectContextByEnv() Option {
	return func(c *config) { c.orch.Injection = orchestrator.InjectEnv }
}

// MessagesToFile has the code under test write its messages to a file
// ({"path": …}), as with Dagster's default subprocess client. It is the
// default.
func MessagesToFile() Option {
	return func(c *config) { c.orch.Transport = orchestrator.TransportFile }
}

// MessagesToStdout has the code under test write its messages to stdout
// ({"stdio": "stdout"}), mixed with its other output, as log-scraping
// readers (Kubernetes, CloudWatch) see them. In-process, os.Stdout is
// replaced by a pipe while the code runs; the lines that are not messages
// end up in Result.Stdout.
func MessagesToStdout() Option {
	return func(c *config) { c.orch.Transport = orchestrator.TransportStdout }
}

// MessagesToStderr is MessagesToStdout for stderr ({"stdio": "stderr"});
// other output ends up in Result.Stderr.
func MessagesToStderr() Option {
	return func(c *config) { c.orch.Transport = orchestrator.TransportStderr }
}

// BootstrapWithArgs passes the bootstrap values as the command-line
// arguments --dagster-pipes-context and --dagster-pipes-messages instead of
// env vars, for code that opens with pipes.CLIArgsParamsLoader. In-process,
// os.Args gets them appended while the code runs, and the two env vars are
// unset.
func BootstrapWithArgs() Option {
	return func(c *config) { c.orch.Bootstrap = orchestrator.BootstrapArgs }
}

// WithContextData sends d exactly as given (nil Extras excepted, sent as
// {}), instead of the data made from the session's Context.
func WithContextData(d pipes.ContextData) Option {
	return func(c *config) { c.data = &d }
}

// AllowProtocolErrors keeps protocol violations from failing the test;
// they are still listed in Result.ProtocolErrors. Use it to test how code
// behaves when it breaks the protocol on purpose.
func AllowProtocolErrors() Option {
	return func(c *config) { c.allowErrors = true }
}

// Session is one Dagster step played in-process: a context and the way it
// is handed over. Each Run starts a new Pipes session with that context.
type Session struct {
	t    TB
	cfg  config
	data pipes.ContextData
}

// TB is the subset of testing.TB that pipestest uses; *testing.T and
// *testing.B satisfy it.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	TempDir() string
	Setenv(key, value string)
	Cleanup(func())
	Context() context.Context
}

// NewSession returns a session that gives the code under test c.
func NewSession(t TB, c Context, opts ...Option) *Session {
	t.Helper()
	s := &Session{t: t}
	for _, o := range opts {
		if o != nil {
			o(&s.cfg)
		}
	}
	if s.cfg.data != nil {
		s.data = *s.cfg.data
	} else {
		s.data = c.Data()
	}
	return s
}

// Data returns the context data the session sends.
func (s *Session) Data() pipes.ContextData { return s.data }

// Run runs code in-process as the external process of a new Pipes session
// and returns what it reported. code calls pipes.Open or pipes.Run as it
// does in production (and closes the Context, as Dagster expects). The
// process's Context is reset before and after; a Context that code left
// open is closed after its messages were read.
func (s *Session) Run(code func()) *Result {
	s.t.Helper()
	return s.runInProcess(func(*Result) { code() })
}

// RunJob runs job with pipes.Run (with signal handling off) as the
// external process of a new Pipes session, and returns what it reported;
// Result.Err is the error pipes.Run returned. opts are passed to pipes.Run
// after the session's own. The job runs on the test's goroutine, so it may
// call t.Fatal: the session closes as failed and the test stops there.
func (s *Session) RunJob(job func(ctx context.Context, p *pipes.Context) error, opts ...pipes.Option) *Result {
	s.t.Helper()
	return s.runInProcess(func(res *Result) {
		res.Err = pipes.Run(s.t.Context(), job, append([]pipes.Option{pipes.WithoutSignalHandling()}, opts...)...)
	})
}

func (s *Session) prepare() *orchestrator.Prepared {
	s.t.Helper()
	cfg := s.cfg.orch
	cfg.Data = s.data
	cfg.Dir = s.t.TempDir()
	p, err := orchestrator.Prepare(cfg)
	if err != nil {
		s.t.Fatalf("pipestest: %v", err)
	}
	return p
}

func (s *Session) runInProcess(code func(*Result)) *Result {
	s.t.Helper()
	prep := s.prepare()
	if len(prep.Env) > 0 {
		for k, v := range prep.Encoded {
			s.t.Setenv(k, v)
		}
	} else {
		for k := range prep.Encoded {
			s.t.Setenv(k, "")
			os.Unsetenv(k)
		}
		oldArgs := os.Args
		os.Args = append(append([]string{}, os.Args...), prep.Args...)
		defer func() { os.Args = oldArgs }()
	}

	pipes.Set(nil)
	defer pipes.Set(nil)

	col := orchestrator.NewCollector(s.data.AssetKeys)
	res := &Result{}
	var captured capturedStream
	if prep.Transport != orchestrator.TransportFile {
		if err := captured.start(prep.Transport, col); err != nil {
			s.t.Fatalf("pipestest: %v", err)
		}
	}
	func() {
		defer captured.stop()
		code(res)
	}()

	if prep.MessagesPath != "" {
		if err := col.ReadFile(prep.MessagesPath); err != nil {
			s.t.Fatalf("pipestest: reading the messages: %v", err)
		}
	}
	out := newResult(col.Result())
	out.Err = res.Err
	if prep.Transport == orchestrator.TransportStdout {
		out.Stdout = captured.other.String()
	} else if prep.Transport == orchestrator.TransportStderr {
		out.Stderr = captured.other.String()
	}
	if p, err := pipes.Get(); err == nil && !p.IsClosed() {
		_ = p.Close()
	}
	s.report(out)
	return out
}

// report fails the test for each protocol error.
func (s *Session) report(res *Result) {
	s.t.Helper()
	if s.cfg.allowErrors {
		return
	}
	for _, err := range res.ProtocolErrors {
		s.t.Errorf("pipestest: %v", err)
	}
}

// Run runs code in a new Session with context c; see [Session.Run].
func Run(t TB, c Context, code func(), opts ...Option) *Result {
	t.Helper()
	return NewSession(t, c, opts...).Run(code)
}

// RunJob runs job with pipes.Run in a new Session with context c; see
// [Session.RunJob].
func RunJob(t TB, c Context, job func(ctx context.Context, p *pipes.Context) error, opts ...Option) *Result {
	t.Helper()
	return NewSession(t, c, opts...).RunJob(job)
}
