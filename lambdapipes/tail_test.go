package lambdapipes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
)

// countingWriter records each Write call.
type countingWriter struct {
	calls int
	buf   bytes.Buffer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.buf.Write(p)
}

func msg(method pipes.Method, params string) pipes.Message {
	return pipes.Message{Method: method, Params: []byte(params)}
}

// stripPad checks the line of spaces before the messages, which makes the
// output at least LogTailBytes long, and returns the messages.
func stripPad(t *testing.T, out string) string {
	t.Helper()
	assert.GreaterOrEqual(t, len(out), lambdapipes.LogTailBytes)
	pad, rest, ok := strings.Cut(out, "\n")
	require.True(t, ok)
	if len(rest) < lambdapipes.LogTailBytes {
		assert.Equal(t, strings.Repeat(" ", lambdapipes.LogTailBytes-len(rest)), pad)
		return rest
	}
	return out // no padding needed
}

// Messages that fit go out as they are, in one write, at Close.
func TestTailChannelUnderBudget(t *testing.T) {
	var w countingWriter
	c := lambdapipes.NewTailChannel(&w)
	msgs := []pipes.Message{
		msg(pipes.MethodOpened, `{"extras":{}}`),
		msg(pipes.MethodLog, `{"message":"<a & b>","level":"INFO"}`),
		msg(pipes.MethodClosed, `{}`),
	}
	var want []byte
	for _, m := range msgs {
		require.NoError(t, c.WriteMessage(m))
		want = append(append(want, m.AppendJSON(nil)...), '\n')
	}
	assert.Zero(t, w.calls, "nothing before Close")
	require.NoError(t, c.Close())
	assert.Equal(t, 1, w.calls)
	assert.Equal(t, string(want), stripPad(t, w.buf.String()))
	require.ErrorIs(t, c.WriteMessage(msgs[1]), pipes.ErrClosed)
	require.NoError(t, c.Close())
	assert.Equal(t, 1, w.calls)
}

var dropRE = regexp.MustCompile(`^\[lambdapipes\] (\d+) messages \((\d+) bytes\) did not fit in the 4 KB log tail that PipesLambdaLogsMessageReader reads, and were dropped: use PipesS3MessageReader on Dagster's side \(the function then writes its messages to S3, with no size limit\)$`)

// Too many messages for the tail: opened, a warning in place of the
// oldest, then the newest ones with closed, within the budget; what
// Dagster reads is a valid session.
func TestTailChannelOverBudget(t *testing.T) {
	var stderr lockedBuffer
	const n = 200
	h := lambdapipes.Handler(func(_ context.Context, p *pipes.Context, _ event) (int, error) {
		for i := range n {
			if err := p.ReportCustomMessage(map[string]any{"i": i}); err != nil {
				return 0, err
			}
		}
		return n, p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"n": n}})
	}, lambdapipes.WithOutput(nil, &stderr))
	_, err := h.Invoke(t.Context(), logsEvent(t, "r", nil))
	require.NoError(t, err)
	out := stripPad(t, stderr.take())
	assert.LessOrEqual(t, len(out), lambdapipes.LogTailBudget)
	assert.Greater(t, len(out), lambdapipes.LogTailBudget-100, "the budget is used")

	res := collect(t, out)
	assert.True(t, res.Opened && res.Closed)
	require.Len(t, res.Materializations, 1, "the newest messages are kept")
	require.Len(t, res.Logs, 1)
	assert.Equal(t, "WARNING", res.Logs[0].Level)
	m := dropRE.FindStringSubmatch(res.Logs[0].Message)
	require.NotNil(t, m, res.Logs[0].Message)
	kept := len(res.CustomMessages)
	require.Positive(t, kept)
	assert.Equal(t, strconv.Itoa(n-kept), m[1], "the count of messages dropped")
	for j, c := range res.CustomMessages {
		assert.Equal(t, map[string]any{"i": json.Number(strconv.Itoa(n - kept + j))}, c, "the newest, in order")
	}
	dropped := 0
	for i := range n - kept {
		dropped += len(fmt.Sprintf(`{"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":{"i":%d}}}`, i)) + 1
	}
	assert.Equal(t, strconv.Itoa(dropped), m[2], "the bytes dropped")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	assert.Contains(t, lines[0], `"method":"opened"`)
	assert.Contains(t, lines[1], `[lambdapipes]`)
	assert.Contains(t, lines[len(lines)-1], `"method":"closed"`)
}

// A closed message larger than the budget on its own still goes out last.
func TestTailChannelHugeClosed(t *testing.T) {
	var w countingWriter
	c := lambdapipes.NewTailChannel(&w)
	require.NoError(t, c.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	require.NoError(t, c.WriteMessage(msg(pipes.MethodLog, `{"message":"x","level":"INFO"}`)))
	big := strings.Repeat("m", 2*lambdapipes.LogTailBudget)
	closed := `{"exception":{"name":"E","message":"` + big + `","stack":[],"cause":null,"context":null}}`
	require.NoError(t, c.WriteMessage(msg(pipes.MethodClosed, closed)))
	require.NoError(t, c.Close())
	lines := strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Contains(t, lines[1], "[lambdapipes] 1 messages")
	assert.Contains(t, lines[2], big)
}

// The closed exception keeps the job's frames and leaves out those of
// aws-lambda-go and of the pipes packages, in every exception of the chain.
func TestTailChannelTrimsLibraryFrames(t *testing.T) {
	frame := func(fn string) string { return `  File "/src/x.go", line 1, in ` + fn + "\n" }
	exc := pipes.Exception{
		Name: "*E", Message: "a <b> & c",
		Stack: []string{frame("main.main"), frame("github.com/aws/aws-lambda-go/lambda.Start"),
			frame("github.com/dagster-pipes-go/pipes.runJob"), frame("github.com/dagster-pipes-go/pipes/lambdapipes.(*handler[...]).Invoke"),
			frame("github.com/dagster-pipes-go/pipes/s3pipes.NewChannel"), frame("main.handle")},
		Cause: &pipes.Exception{Name: "*F", Message: "f", Stack: []string{frame("github.com/dagster-pipes-go/pipes.(*Context).Run"), frame("main.load")}},
	}
	params, err := json.Marshal(map[string]any{"exception": exc})
	require.NoError(t, err)
	var w countingWriter
	c := lambdapipes.NewTailChannel(&w)
	require.NoError(t, c.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	require.NoError(t, c.WriteMessage(pipes.Message{Method: pipes.MethodClosed, Params: params}))
	require.NoError(t, c.Close())
	res := collect(t, w.buf.String())
	require.NotNil(t, res.Exception)
	assert.Equal(t, "a <b> & c", res.Exception.Message)
	assert.Equal(t, []string{frame("main.main"), frame("github.com/dagster-pipes-go/pipes/s3pipes.NewChannel"), frame("main.handle")}, res.Exception.Stack)
	require.NotNil(t, res.Exception.Cause)
	assert.Equal(t, []string{frame("main.load")}, res.Exception.Cause.Stack)
	assert.NotContains(t, w.buf.String(), `\u003c`, "text kept as written")

	// Without an exception, closed is untouched.
	var w2 countingWriter
	c = lambdapipes.NewTailChannel(&w2)
	require.NoError(t, c.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, c.Close())
	assert.Equal(t, `{"__dagster_pipes_version":"0.1","method":"closed","params":{}}`+"\n", stripPad(t, w2.buf.String()))
}

// buffered_stdio on stdout works too; path and stdio take precedence, and a
// bad stream value gets the default writer's error.
func TestMessageWriterChoosesChannel(t *testing.T) {
	var stdout, stderr lockedBuffer
	w := lambdapipes.MessageWriter{Stdout: &stdout, Stderr: &stderr}
	ch, err := w.Open(t.Context(), pipes.Params{"buffered_stdio": "stdout"})
	require.NoError(t, err)
	assert.IsType(t, &lambdapipes.TailChannel{}, ch)
	require.NoError(t, ch.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, ch.Close())
	assert.Contains(t, stdout.take(), `"closed"`)

	ch, err = w.Open(t.Context(), pipes.Params{"stdio": "stderr", "buffered_stdio": "stderr"})
	require.NoError(t, err)
	assert.IsType(t, &pipes.StreamChannel{}, ch)

	_, err = w.Open(t.Context(), pipes.Params{"buffered_stdio": "stdin"})
	require.ErrorIs(t, err, pipes.ErrInvalidParams)
	assert.Contains(t, err.Error(), `Invalid value for key "std", expected "stderr" or "stdout" but received 'stdin'`)
}

// Dagster decodes the 4 KB tail as UTF-8: the cut must never fall inside a
// character, whatever the job printed before and whatever follows the
// messages (aws-lambda-go's error line, Lambda's END and REPORT lines).
func TestTailChannelCutIsASCII(t *testing.T) {
	var w countingWriter
	c := lambdapipes.NewTailChannel(&w)
	text := "ünïcödé ✓ 😀 \u2028"
	require.NoError(t, c.WriteMessage(msg(pipes.MethodOpened, `{"extras":{}}`)))
	params, err := json.Marshal(map[string]string{"message": text, "level": "INFO"})
	require.NoError(t, err)
	require.NoError(t, c.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: params}))
	require.NoError(t, c.WriteMessage(msg(pipes.MethodClosed, `{}`)))
	require.NoError(t, c.Close())
	out := w.buf.String()
	for i := range len(out) {
		require.Less(t, out[i], byte(0x80), "byte %d of %q", i, out)
	}
	res := collect(t, out)
	require.Len(t, res.Logs, 1)
	assert.Equal(t, text, res.Logs[0].Message, "the escapes mean the same text")

	printed := strings.Repeat("é", 3000) // what the job printed before
	for trailing := 0; trailing < 1200; trailing++ {
		log := printed + out + strings.Repeat("ü", trailing/2)
		tail := log[len(log)-lambdapipes.LogTailBytes:]
		require.True(t, utf8.ValidString(tail), "trailing %d bytes", trailing)
	}
}
