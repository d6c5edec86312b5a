// Package pipes lets a Go program run as a Dagster Pipes external process:
// read what Dagster injected (asset keys, partitions, run id, extras) and
// report back logs, asset materializations, asset-check results and custom
// messages. It is the Go counterpart of the Python dagster-pipes library and
// speaks the same protocol, with the reference's exact keys, method names,
// metadata types and error texts.
//
// # Getting started
//
// Wrap the job in [Run]; it opens the session, turns a returned error or a
// panic into the error Dagster records, and always sends the closing message:
//
//	func main() {
//		err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
//			p.Log().Info("hello from Go")
//			return p.ReportAssetMaterialization(pipes.Materialization{
//				Metadata: pipes.Metadata{"rows": 42},
//			})
//		})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err) // for whoever reads the program's output
//			os.Exit(1)                   // Dagster has the error; this fails the step
//		}
//	}
//
// Dagster launches the program with PipesSubprocessClient (or any other
// Pipes client). Started outside Dagster, the program still runs: [Open]
// prints one warning and returns a no-op Context.
//
// # Plumbing
//
// Where the bootstrap values come from ([ParamsLoader]), how the context
// data is read ([ContextLoader]) and where messages go ([MessageWriter] and
// [MessageWriterChannel]) are small interfaces with the reference's
// implementations; choose them with options such as [WithMessageWriter].
// Cloud stores live in their own packages (s3pipes, …) so that this package
// needs only the standard library.
//
// # Errors
//
// Errors match the sentinel errors of this package with [errors.Is] (for
// example [ErrClosed], [ErrAlreadyMaterialized]); their text is the Python
// reference's where it has one.
package pipes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// NotLaunchedWarning is the warning printed when the process was not
// launched by Dagster (the Python reference's text).
const NotLaunchedWarning = "This process was not launched by a Dagster orchestration process. All calls to the `dagster-pipes` context or attempts to initialize `dagster-pipes` abstractions are no-ops."

// Option configures [Open], [New] and [Run].
type Option func(*config)

type config struct {
	params     ParamsLoader
	loader     ContextLoader
	writer     MessageWriter
	warnings   io.Writer
	logLevel   slog.Leveler
	logTime    bool
	signals    []os.Signal
	signalsSet bool
	// signalDelay is how long Run runs before it installs its signal
	// handling (WithSignalDelay).
	signalDelay time.Duration
}

// WithParamsLoader sets where the bootstrap values are read from; the
// default is [EnvParamsLoader].
func WithParamsLoader(l ParamsLoader) Option { return func(c *config) { c.params = l } }

// WithContextLoader sets how the context data is loaded; the default is
// [DefaultContextLoader].
func WithContextLoader(l ContextLoader) Option { return func(c *config) { c.loader = l } }

// WithMessageWriter sets where messages go; the default is
// [DefaultMessageWriter].
func WithMessageWriter(w MessageWriter) Option { return func(c *config) { c.writer = w } }

// WithWarningOutput sets where the not-launched-by-Dagster warning is
// written; the default is os.Stderr.
func WithWarningOutput(w io.Writer) Option { return func(c *config) { c.warnings = w } }

// WithLogLevel sets the lowest level that Context.Log sends to Dagster; the
// default sends every level, as the reference does.
func WithLogLevel(l slog.Leveler) Option { return func(c *config) { c.logLevel = l } }

// WithLogTime makes Context.Log add each record's time to its message, as
// " time=<RFC 3339>" after the text (a record with a zero time gets none).
// Dagster stamps every log message when it reads it, so the default leaves
// the time out, as the reference does; a job whose messages reach Dagster
// late (a blob store uploads every 10 s) may want the time they were
// logged. With it, the handler passes testing/slogtest.
func WithLogTime() Option { return func(c *config) { c.logTime = true } }

// WithSignals sets the signals on which [Run] cancels the job's context,
// instead of the default SIGINT and SIGTERM (what Dagster sends to stop a
// step). To turn the handling off, use [WithoutSignalHandling].
func WithSignals(sig os.Signal, more ...os.Signal) Option {
	sigs := append([]os.Signal{sig}, more...)
	return func(c *config) { c.signals, c.signalsSet = sigs, true }
}

// WithoutSignalHandling makes [Run] leave SIGINT and SIGTERM alone: the
// job's context is not cancelled by them and Go's default action (the
// process ends at once, without a closed message) applies, as for a
// program that does not use Run. It saves the os/signal set-up for a job
// whose caller handles signals itself.
func WithoutSignalHandling() Option {
	return func(c *config) { c.signals, c.signalsSet = nil, true }
}

// DefaultSignalDelay is how long [Run] runs before it installs its
// handling of SIGINT and SIGTERM, unless [WithSignalDelay] says otherwise.
//
// Installing it is the costliest part of a small job's start-up: the first
// signal.Notify of a process starts two threads and hands each signal to
// one of them, and signal.Stop hands them back, about 0.3 ms in all on a
// 2-core VM, more than opening the session. A job that ends within the
// delay never pays for it; a longer one gets it installed while it runs.
// A signal that arrives before then meets Go's default action (the process
// ends, killed by the signal, without a closed message), as one that
// arrives before Run is called, during the Go runtime's own start, does.
const DefaultSignalDelay = time.Millisecond

// WithSignalDelay sets how long [Run] runs (opening the session, then the
// job) before it installs its signal handling; the default is
// [DefaultSignalDelay]. With 0 the handling is in place before the job
// starts, so that a signal at any moment of the job cancels its context,
// for about 0.3 ms more start-up; a test that signals its job at once
// wants that.
func WithSignalDelay(d time.Duration) Option {
	return func(c *config) { c.signalDelay = max(d, 0) }
}

func newConfig(opts []Option) *config {
	c := &config{signalDelay: DefaultSignalDelay}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.params == nil {
		c.params = EnvParamsLoader{}
	}
	if c.loader == nil {
		c.loader = DefaultContextLoader{}
	}
	if c.writer == nil {
		c.writer = DefaultMessageWriter{}
	}
	if c.warnings == nil {
		c.warnings = os.Stderr
	}
	if !c.signalsSet {
		c.signals = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	return c
}

var (
	instanceMu sync.Mutex
	instance   *Context
)

// Open returns the process's Context, creating it on the first call: it
// loads the bootstrap params and the context data, opens the message
// channel and sends the opened message. While that Context is open, later
// calls return it and ignore their options, as the reference does.
//
// Once the stored Context is closed, the next call starts a new session:
// new context data, a new channel, opened … closed. A process that serves
// one Dagster step after another (a warm AWS Lambda, a long-lived worker)
// can therefore call Open or [Run] once per step. (The Python reference
// returns the closed context instead, so that every report of a second
// session fails.) For sessions that overlap in time, see [New].
//
// When the process was not launched by Dagster, Open prints
// [NotLaunchedWarning] and returns a no-op Context (once per session).
func Open(ctx context.Context, opts ...Option) (*Context, error) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	return openWith(ctx, newConfig(opts))
}

// openWith is Open with the options already applied; instanceMu is held.
func openWith(ctx context.Context, c *config) (*Context, error) {
	if instance != nil && !instance.IsClosed() {
		return instance, nil
	}
	p, err := newContext(ctx, c)
	if err != nil {
		return nil, err
	}
	instance = p
	return p, nil
}

// New creates a Context like [Open] does, without storing it as the
// process's Context. Most programs want Open or Run.
//
// New is how one process runs several Pipes sessions at the same time
// (a worker serving concurrent Dagster steps, a Lambda function with
// AWS_LAMBDA_MAX_CONCURRENCY above 1): each session gets its own Context
// from New, with its own bootstrap values (typically a
// [MappingParamsLoader] over the request), and the code of that session
// uses that *Context, not [Get]; [Context.Run] runs a job on it and closes
// it. Sessions do not share anything but the process: their messages go to
// their own channels. Two things are process-wide and so belong to one
// session at a time: stdio capture (a reader's include_stdio_in_messages
// redirects the process's stdout and stderr) and the signal handling of
// [Run]. Sessions that write to the same stream (stdio readers) each write
// whole lines, but their lines interleave.
//
// When the messages channel opens but the context cannot be loaded (a bad
// DAGSTER_PIPES_CONTEXT, a missing or malformed context file), New still
// sends opened and a closed message carrying the error, so that Dagster
// shows why the step failed, and returns the error.
func New(ctx context.Context, opts ...Option) (*Context, error) {
	return newContext(ctx, newConfig(opts))
}

func newContext(ctx context.Context, c *config) (*Context, error) {
	if !c.params.IsDagsterPipesProcess() {
		fmt.Fprintf(c.warnings, "DagsterPipesWarning: %s\n", NotLaunchedWarning)
		return newNoopContext(), nil
	}
	// The message channel is opened before the context is loaded (the
	// reference does it the other way round) so that a context that cannot
	// be loaded is reported to Dagster, as the closed message's exception,
	// instead of only on stderr.
	msgParams, err := c.params.LoadMessagesParams()
	if err != nil {
		return nil, err
	}
	channel, err := c.writer.Open(ctx, msgParams)
	if err != nil {
		return nil, err
	}
	// One place applies stdio capture, for every writer, when the reader
	// asks for it.
	channel = CaptureStdio(channel, msgParams)
	var extras map[string]any
	if ep, ok := openedExtrasProvider(c.writer); ok {
		e, err := ep.OpenedExtras(ctx)
		if err != nil {
			return nil, errors.Join(err, channel.Close())
		}
		if e != nil {
			extras = e
		}
	}
	opened, err := appendOpenedParams(nil, extras)
	if err != nil {
		return nil, errors.Join(err, channel.Close())
	}
	data, err := loadContext(ctx, c)
	if err != nil {
		failed := &Context{data: &ContextData{}, channel: channel}
		_ = channel.WriteMessage(Message{Method: MethodOpened, Params: opened})
		return nil, errors.Join(err, failed.closeWith(NewException(err)))
	}
	p := &Context{data: data, channel: channel, materialized: map[string]struct{}{}}
	if fc, ok := channel.(*FileChannel); ok && fc.raw {
		p.file = fc
	}
	p.logLevel = c.logLevel
	p.logger = slog.New(&handler{p: p, minLevel: c.logLevel, time: c.logTime})

	if err := channel.WriteMessage(Message{Method: MethodOpened, Params: opened}); err != nil {
		return nil, errors.Join(fmt.Errorf("pipes: sending the opened message: %w", err), channel.Close())
	}
	return p, nil
}

// openedExtrasProvider is w as an OpenedExtrasProvider, if it is one. The
// default writer is told apart first: asserting one interface to another
// makes the runtime look for, or build, the pair's method table, and on a
// process's first call that costs a small job a few page faults.
func openedExtrasProvider(w MessageWriter) (OpenedExtrasProvider, bool) {
	if _, isDefault := w.(DefaultMessageWriter); isDefault {
		return nil, false
	}
	ep, ok := w.(OpenedExtrasProvider)
	return ep, ok
}

func loadContext(ctx context.Context, c *config) (*ContextData, error) {
	params, err := c.params.LoadContextParams()
	if err != nil {
		return nil, err
	}
	return c.loader.LoadContext(ctx, params)
}

// Get returns the Context made by [Open], or an error matching
// [ErrNotInitialized] before that.
func Get() (*Context, error) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	if instance == nil {
		return nil, &Error{Kind: ErrNotInitialized, Msg: "PipesContext has not been initialized. You must call `open_dagster_pipes()`."}
	}
	return instance, nil
}

// IsInitialized reports whether [Open] (or [Set]) has stored a Context,
// open or closed.
func IsInitialized() bool {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	return instance != nil
}

// Set stores p as the process's Context, returned by later calls to [Get],
// and by [Open] while p is open. Set(nil) forgets it, so that the next Open
// creates a new one; tests use that (package pipestest does it for you).
func Set(p *Context) {
	instanceMu.Lock()
	defer instanceMu.Unlock()
	instance = p
}

// Run is the Go counterpart of Python's `with open_dagster_pipes() as
// pipes:`. It opens the Context, calls job, and closes the Context: if job
// returns an error or panics, the closed message carries it (see
// [NewException]) and Run returns it (a panic as a [*PanicError]), so that
// main can exit non-zero.
//
// The job runs on the goroutine that called Run, as any function call
// does. The close does not depend on job returning normally: a job that
// calls runtime.Goexit (as t.Fatal does) is reported as failed, and the
// goroutine then ends, as Goexit asks, without Run returning (from main,
// the program then goes on with its other goroutines, as Go does).
//
// On SIGINT or SIGTERM (see [WithSignals]) the job's ctx is cancelled with
// a [*SignalError] as its cause, and the closed message is sent when job
// returns, naming the signal. The handling is installed
// [DefaultSignalDelay] after Run is called (see [WithSignalDelay]), so
// that a short job does not pay for it. A second signal, for a job that
// does not stop, sends the closed message at once and ends the process
// with status 128 + the signal's number, as a shell reports a process
// killed by it.
//
// Each call after the previous session closed is a session of its own (see
// [Open]); for concurrent sessions use [New] and [Context.Run].
func Run(ctx context.Context, job func(ctx context.Context, p *Context) error, opts ...Option) error {
	c := newConfig(opts)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var watch *signalWatch
	if len(c.signals) > 0 {
		// Started before the session opens, so that a slow open (a blob
		// store) counts towards the delay.
		watch = watchSignals(c, cancel)
	}
	instanceMu.Lock()
	p, err := openWith(ctx, c)
	instanceMu.Unlock()
	if err != nil {
		watch.stop()
		return err
	}
	watch.attach(p)

	returned := false
	defer func() {
		if !returned {
			// The job called runtime.Goexit, which runs this on its way
			// out: close as failed, and let the goroutine end.
			watch.stop()
			_ = p.closeWith(exceptionAt(errGoexit, 0))
		}
	}()
	jobErr := runJob(ctx, p, job)
	returned = true
	if first := watch.stop(); first != nil && !errors.Is(jobErr, first) {
		// Whatever the job returned (often ctx.Err(): "context canceled",
		// or nothing), the exception says which signal stopped it.
		jobErr = &SignalError{Signal: first.Signal, Err: jobErr}
	} else if jobErr == nil && ctx.Err() != nil {
		// The caller's context ended while the job ignored it: the work
		// may be incomplete, so say so.
		jobErr = fmt.Errorf("pipes: job interrupted: %w", context.Cause(ctx))
	}
	closeErr := p.closeWith(exceptionAt(jobErr, 0))
	return errors.Join(jobErr, closeErr)
}

// signalWatch is Run's handling of signals: after the configured delay it
// installs os/signal's and watches on a goroutine of its own, which
// cancels the job's ctx on the first signal and ends the process on the
// second (stopNow). A nil *signalWatch watches nothing. What the watching
// needs is made when it starts: a job shorter than the delay allocates the
// watch and its timer only.
type signalWatch struct {
	signals   []os.Signal
	cancel    context.CancelCauseFunc
	timer     *time.Timer   // nil when installed without delay
	installed chan struct{} // without delay: closed once Notify has returned

	mu      sync.Mutex
	session *Context       // the open session, once there is one
	stopped bool           // stop was called: a late timer installs nothing
	sigs    chan os.Signal // set, with done and exited, when the watching starts
	done    chan struct{}  // closed by stop: the watching ends
	exited  chan struct{}  // closed when the watching goroutine returns

	first *SignalError // the first signal; read after exited
}

func watchSignals(c *config, cancel context.CancelCauseFunc) *signalWatch {
	w := &signalWatch{signals: c.signals, cancel: cancel}
	if c.signalDelay > 0 {
		w.timer = time.AfterFunc(c.signalDelay, w.watch)
	} else {
		w.installed = make(chan struct{})
		go w.watch() // while the session opens; attach waits for it
	}
	return w
}

// watch installs the handling and watches until stop.
func (w *signalWatch) watch() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.sigs, w.done, w.exited = make(chan os.Signal, 2), make(chan struct{}), make(chan struct{})
	w.mu.Unlock()
	defer close(w.exited)
	signalNotify(w.sigs, w.signals...)
	if w.installed != nil {
		close(w.installed)
	}
	for {
		select {
		case <-w.done:
			return
		case sig := <-w.sigs:
			if w.first == nil {
				w.first = &SignalError{Signal: sig}
				w.cancel(w.first)
				continue
			}
			w.mu.Lock()
			p := w.session
			w.mu.Unlock()
			stopNow(p, w.first, sig)
		}
	}
}

// attach gives the watch the open session, which a second signal closes.
// Without a delay it returns once the handling is installed, so that a
// signal at any moment of the job cancels its ctx.
func (w *signalWatch) attach(p *Context) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.session = p
	w.mu.Unlock()
	if w.installed != nil {
		<-w.installed
	}
}

// stop ends the watch and removes os/signal's handling if it was
// installed; it returns the first signal received, if any.
func (w *signalWatch) stop() *SignalError {
	if w == nil || (w.timer != nil && w.timer.Stop()) {
		return nil // never installed
	}
	w.mu.Lock()
	w.stopped = true
	started := w.done != nil
	w.mu.Unlock()
	if !started {
		return nil // the timer fired, and its watch will install nothing
	}
	close(w.done)
	<-w.exited
	signalStop(w.sigs)
	return w.first
}

// signalNotify and signalStop are os/signal's, replaced by a test that
// counts them.
var signalNotify, signalStop = signal.Notify, signal.Stop

// errGoexit is the job's error when it called runtime.Goexit.
var errGoexit = errors.New("pipes: the job called runtime.Goexit (as t.Fatal and t.FailNow do) instead of returning")

// SignalError is the cause of the job's ctx, and the error [Run] returns,
// when a signal stopped the job. Err is what the job returned then.
type SignalError struct {
	Signal os.Signal
	Err    error
}

// Error names the signal and what the job returned.
func (e *SignalError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("pipes: job stopped by signal %v", e.Signal)
	}
	return fmt.Sprintf("pipes: job stopped by signal %v: %v", e.Signal, e.Err)
}

// Unwrap returns what the job returned.
func (e *SignalError) Unwrap() error { return e.Err }

// secondSignalCloseWait bounds how long a second signal waits for the
// closed message to be written (a job may hold the Context in a hung write).
const secondSignalCloseWait = 5 * time.Second

// stopNow handles a second signal: the job did not stop after the first, so
// the closed message goes out now and the process ends.
// p is nil when the session is still opening: there is nothing to close.
func stopNow(p *Context, first *SignalError, second os.Signal) {
	err := fmt.Errorf("pipes: job did not stop after signal %v and was ended by a second signal %v", first.Signal, second)
	if p != nil {
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			_ = p.closeWith(exceptionAt(err, 0))
		}()
		select {
		case <-sent:
		case <-time.After(secondSignalCloseWait):
		}
	}
	fmt.Fprintln(os.Stderr, err)
	code := 1
	if s, ok := second.(syscall.Signal); ok {
		code = 128 + int(s)
	}
	os.Exit(code)
}
func runJob(ctx context.Context, p *Context, job func(context.Context, *Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return job(ctx, p)
}
