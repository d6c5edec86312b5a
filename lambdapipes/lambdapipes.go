// Package lambdapipes runs a Go AWS Lambda function as a Dagster Pipes
// external process, on github.com/aws/aws-lambda-go. Dagster invokes the
// function with PipesLambdaClient (package dagster-aws): the event carries
// the user's payload plus the two bootstrap values DAGSTER_PIPES_CONTEXT and
// DAGSTER_PIPES_MESSAGES, and Dagster reads the messages back from the tail
// of the invocation's log (or from S3).
//
// [Handler] turns a job into a handler for lambda.Start:
//
//	func main() {
//		lambda.Start(lambdapipes.Handler(func(ctx context.Context, p *pipes.Context, event Event) (Result, error) {
//			p.Log().Info("hello from Lambda")
//			return Result{Rows: 42}, p.ReportAssetMaterialization(pipes.Materialization{
//				Metadata: pipes.Metadata{"rows": 42},
//			})
//		}))
//	}
//
// Each invocation is a Pipes session of its own (opened … closed), so a
// warm function serves one Dagster step after another, and concurrent
// invocations (AWS_LAMBDA_MAX_CONCURRENCY above 1) do not share a session.
//
// # Where the messages go
//
// The messages go where the reader named in the event asks. Dagster's
// default PipesLambdaLogsMessageReader asks for buffered stderr: the
// messages are kept in memory and written to stderr when the job returns,
// so that they are at the end of the invocation's log. Lambda returns only
// the last 4 KB of that log to Dagster: about 3.5 KB of messages, a few
// dozen log lines. When there are more, [TailChannel] keeps the opened
// message and the newest ones, and puts a warning in Dagster's log in place
// of the others. A job that reports more than that should use S3 instead:
// with
// PipesS3MessageReader on Dagster's side the messages params name a bucket,
// and the function uploads its messages there with s3pipes (during the run
// and at the end), with no size limit. The S3 client comes from
// [WithS3Client] or, by default, from the function's environment
// ([s3pipes.NewClientFromEnv]); the function's role needs s3:PutObject on
// the bucket. A PipesS3ContextInjector on Dagster's side works the same
// way for the context (s3:GetObject).
//
// # Deadlines
//
// The job's context ends [DefaultDeadlineMargin] (500 ms) before the
// invocation's deadline, so that a job that stops when its context is done
// still has time to close the session and flush its messages before Lambda
// stops the function; [WithDeadlineMargin] changes it.
//
// # Errors
//
// A job that returns an error or panics fails both Dagster's step and the
// invocation: the closed message carries the error (Dagster records it as
// the exception of the session), and the handler returns the job's error
// unchanged, so that aws-lambda-go reports it as the function error
// (errorType is the error's type). A panic is returned as a
// messages.InvokeResponse_Error with ShouldExit set, named after the panic
// value as aws-lambda-go names panics: the invocation fails and the process
// ends, so that the Lambda service starts a fresh one, as for any Go
// function that panics.
package lambdapipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// Option configures [Handler].
type Option func(*config)

type config struct {
	margin    time.Duration
	s3Client  s3pipes.Client
	s3Options pipes.BlobStoreOptions
	stdout    io.Writer
	stderr    io.Writer
	pipesOpts []pipes.Option
}

// DefaultDeadlineMargin is how long before the invocation's deadline the
// job's context is cancelled by default.
const DefaultDeadlineMargin = 500 * time.Millisecond

// WithDeadlineMargin sets how long before the invocation's deadline the
// job's context is cancelled (DefaultDeadlineMargin by default; 0 turns
// the margin off). Lambda stops the function at its deadline, so a job
// that stops when its context is done needs this time to close the
// session: to write the closed message, with the error, and flush the
// buffered messages to the log. A job that finishes within the margin
// still succeeds.
func WithDeadlineMargin(d time.Duration) Option {
	return func(o *config) { o.margin = max(d, 0) }
}

// WithS3Client sets the S3 client used when Dagster's side uses S3 (a
// messages or context params with a bucket). By default the handler builds
// one from the environment with [s3pipes.NewClientFromEnv] the first time
// it needs one, and keeps it for later invocations.
func WithS3Client(c s3pipes.Client) Option { return func(o *config) { o.s3Client = c } }

// WithS3Options tunes the uploads of message chunks to S3 (every 10 s and
// at the end, by default); see [pipes.BlobStoreOptions].
func WithS3Options(opts pipes.BlobStoreOptions) Option {
	return func(o *config) { o.s3Options = opts }
}

// WithOutput sets the streams that the stdio readers' messages are written
// to; nil keeps os.Stdout or os.Stderr. Tests use it to read the messages
// back.
func WithOutput(stdout, stderr io.Writer) Option {
	return func(o *config) { o.stdout, o.stderr = stdout, stderr }
}

// WithPipesOptions passes options to [pipes.New] for each invocation's
// session, such as [pipes.WithLogLevel]. They are applied after the
// handler's own, so that a [pipes.WithMessageWriter] or
// [pipes.WithContextLoader] here replaces the handler's choice.
func WithPipesOptions(opts ...pipes.Option) Option {
	return func(o *config) { o.pipesOpts = append(o.pipesOpts, opts...) }
}

// Handler returns a Lambda handler, for lambda.Start or lambda.StartHandler,
// that runs job once per invocation as a Pipes session:
//
//   - it reads the bootstrap values from the event (DAGSTER_PIPES_CONTEXT
//     and DAGSTER_PIPES_MESSAGES, as PipesLambdaClient puts them there) and
//     opens the session with them;
//   - it decodes the rest of the event (the event without those two keys)
//     into E with encoding/json, and calls job with it; E may be a struct,
//     a map, json.RawMessage, …;
//   - it writes the messages as the event's messages params ask ([MessageWriter]);
//   - it closes the session with job's error, if any, and returns job's
//     result encoded as JSON, or job's error, as aws-lambda-go expects.
//
// An event that is not a JSON object, or that has no DAGSTER_PIPES_CONTEXT,
// was not sent by Dagster: job still runs, with the no-op Context of
// [pipes.New], and the whole event is decoded into E.
//
// An event that cannot be decoded into E fails the session and the
// invocation. A result that cannot be encoded as JSON does too.
func Handler[E, R any](job func(ctx context.Context, p *pipes.Context, event E) (R, error), opts ...Option) lambda.Handler {
	c := &config{margin: DefaultDeadlineMargin}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	h := &handler[E, R]{job: job, cfg: c}
	h.clients.client = c.s3Client
	return h
}

type handler[E, R any] struct {
	job     func(ctx context.Context, p *pipes.Context, event E) (R, error)
	cfg     *config
	clients lazyClient
}

// Invoke implements lambda.Handler.
func (h *handler[E, R]) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	loader, rest := SplitEvent(payload)
	opts := []pipes.Option{
		pipes.WithParamsLoader(loader),
		pipes.WithContextLoader(ContextLoader{clients: &h.clients}),
		pipes.WithMessageWriter(MessageWriter{
			S3Options: h.cfg.s3Options,
			Stdout:    h.cfg.stdout,
			Stderr:    h.cfg.stderr,
			clients:   &h.clients,
		}),
	}
	if h.cfg.stderr != nil {
		opts = append(opts, pipes.WithWarningOutput(h.cfg.stderr))
	}
	p, err := pipes.New(ctx, append(opts, h.cfg.pipesOpts...)...)
	if err != nil {
		return nil, err
	}
	var out []byte
	inJob := false
	// The job's context ends a margin before the invocation's, so that the
	// session can still be closed; Run itself watches the real deadline,
	// so that a job that finishes within the margin is not failed.
	jobCtx, cancel := ctx, context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok && h.cfg.margin > 0 {
		jobCtx, cancel = context.WithDeadline(ctx, deadline.Add(-h.cfg.margin))
	}
	defer cancel()
	err = p.Run(ctx, func(_ context.Context, p *pipes.Context) error {
		ctx := jobCtx
		var event E
		if err := decodeEvent(rest, &event); err != nil {
			return err
		}
		inJob = true
		res, err := h.job(ctx, p, event)
		inJob = false
		if err != nil {
			return err
		}
		out, err = json.Marshal(res)
		if err != nil {
			return fmt.Errorf("lambdapipes: the job's result cannot be sent as JSON: %w", err)
		}
		return nil
	})
	var pe *pipes.PanicError
	if inJob && errors.As(err, &pe) {
		// The session is closed with the panic. Report it to aws-lambda-go
		// as its own panic report does (the value's type and text), and
		// have the process end, as a panic would; without the stack trace
		// of a re-panic, whose log line would push the messages out of the
		// 4 KB log tail (Dagster has the stack, in the closed message).
		return nil, messages.InvokeResponse_Error{
			Message:    fmt.Sprintf("%v", pe.Value),
			Type:       typeName(pe.Value),
			ShouldExit: true,
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// typeName names a panic value's type as aws-lambda-go does.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// decodeEvent decodes the event without the bootstrap values into target.
func decodeEvent(rest []byte, target any) error {
	if len(bytes.TrimSpace(rest)) == 0 {
		return nil
	}
	if err := json.Unmarshal(rest, target); err != nil {
		return fmt.Errorf("lambdapipes: the event cannot be decoded into %T: %w", target, err)
	}
	return nil
}

// SplitEvent separates a Lambda event into the Pipes bootstrap values, as a
// [pipes.MappingParamsLoader], and the rest of the event: the same JSON
// object without DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES (keys
// sorted, values byte for byte). An event that is not a JSON object is
// returned whole, with a loader that finds no bootstrap values. It is the
// first step of [Handler], for a handler written by hand.
func SplitEvent(event []byte) (pipes.MappingParamsLoader, []byte) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(event, &obj); err != nil || obj == nil {
		return pipes.MappingParamsLoader{}, event
	}
	values := map[string]any{}
	found := false
	for _, key := range []string{pipes.ContextEnvVar, pipes.MessagesEnvVar} {
		raw, ok := obj[key]
		if !ok {
			continue
		}
		found = true
		delete(obj, key)
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			v = string(raw) // cannot happen: raw is valid JSON
		}
		values[key] = v
	}
	if !found {
		return pipes.MappingParamsLoader{}, event
	}
	rest, err := json.Marshal(obj)
	if err != nil {
		rest = event // cannot happen: the values are valid JSON
	}
	return pipes.MappingParamsLoader{Values: values}, rest
}

// MessageWriter is the [pipes.MessageWriter] of a Lambda function: it
// writes where the messages params ask. Params with a "bucket" (Dagster's
// PipesS3MessageReader) go to S3 through [s3pipes.MessageWriter]; the
// buffered stderr of Dagster's PipesLambdaLogsMessageReader
// ("buffered_stdio") goes to a [TailChannel], made for the 4 KB log tail;
// anything else (file or stdio params) goes to [pipes.DefaultMessageWriter].
type MessageWriter struct {
	// S3Client uploads the chunks when the params name a bucket; nil
	// builds one from the environment (s3pipes.NewClientFromEnv) at Open.
	S3Client s3pipes.Client
	// S3Options tune the uploads to S3.
	S3Options pipes.BlobStoreOptions
	// Stdout and Stderr are the streams of the stdio params; nil means
	// os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// TailBudget is the TailChannel's budget: 0 means LogTailBudget. A
	// negative value is for a reader that gets the whole log: every
	// message is written as it is, as pipes.BufferedStreamChannel does.
	TailBudget int

	clients *lazyClient // Handler's client, shared by its invocations
}

var _ pipes.MessageWriter = MessageWriter{}

// Open implements [pipes.MessageWriter].
func (w MessageWriter) Open(ctx context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	if _, ok := params[s3pipes.BucketKey]; !ok {
		if s := w.tailStream(params); s != nil {
			c := NewTailChannel(s)
			if w.TailBudget != 0 {
				c.budget = w.TailBudget
			}
			return c, nil
		}
		return pipes.DefaultMessageWriter{Stdout: w.Stdout, Stderr: w.Stderr}.Open(ctx, params)
	}
	client, err := resolveClient(ctx, w.S3Client, w.clients)
	if err != nil {
		return nil, err
	}
	return s3pipes.MessageWriter{Client: client, Options: w.S3Options}.Open(ctx, params)
}

// tailStream returns the stream of buffered_stdio params (when neither
// "path" nor "stdio", which take precedence, is there), or nil; a bad
// value is left to the default writer to report.
func (w MessageWriter) tailStream(params pipes.Params) io.Writer {
	if _, ok := params[pipes.MessagesPathKey]; ok {
		return nil
	}
	if _, ok := params[pipes.MessagesStdioKey]; ok {
		return nil
	}
	switch params[pipes.MessagesBufferedStdioKey] {
	case pipes.StreamStderr:
		if w.Stderr != nil {
			return w.Stderr
		}
		return os.Stderr
	case pipes.StreamStdout:
		if w.Stdout != nil {
			return w.Stdout
		}
		return os.Stdout
	}
	return nil
}

// ContextLoader is the [pipes.ContextLoader] of a Lambda function: context
// params with a "bucket" (Dagster's PipesS3ContextInjector) are read from
// S3 with [s3pipes.ContextLoader]; anything else (the context inside the
// event, as PipesLambdaEventContextInjector sends it) with
// [pipes.DefaultContextLoader].
type ContextLoader struct {
	// S3Client reads the context object; nil builds one from the
	// environment when needed.
	S3Client s3pipes.Client

	clients *lazyClient
}

var _ pipes.ContextLoader = ContextLoader{}

// LoadContext implements [pipes.ContextLoader].
func (l ContextLoader) LoadContext(ctx context.Context, params pipes.Params) (*pipes.ContextData, error) {
	if _, ok := params[s3pipes.BucketKey]; !ok {
		return pipes.DefaultContextLoader{}.LoadContext(ctx, params)
	}
	client, err := resolveClient(ctx, l.S3Client, l.clients)
	if err != nil {
		return nil, err
	}
	return s3pipes.ContextLoader{Client: client}.LoadContext(ctx, params)
}

func resolveClient(ctx context.Context, c s3pipes.Client, lazy *lazyClient) (s3pipes.Client, error) {
	if c != nil {
		return c, nil
	}
	if lazy != nil {
		return lazy.get(ctx)
	}
	return newClientFromEnv(ctx)
}

func newClientFromEnv(ctx context.Context) (s3pipes.Client, error) {
	c, err := s3pipes.NewClientFromEnv(ctx)
	if err != nil {
		return nil, fmt.Errorf("lambdapipes: Dagster's side uses S3, and no S3 client could be made from the environment (pass one with WithS3Client): %w", err)
	}
	return c, nil
}

// lazyClient makes the S3 client from the environment on first use and
// keeps it; a failure is retried at the next use.
type lazyClient struct {
	mu     sync.Mutex
	client s3pipes.Client
}

func (l *lazyClient) get(ctx context.Context) (s3pipes.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.client == nil {
		c, err := newClientFromEnv(ctx)
		if err != nil {
			return nil, err
		}
		l.client = c
	}
	return l.client, nil
}
