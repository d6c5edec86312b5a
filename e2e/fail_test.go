package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const closedWithException = "[pipes] external process pipes closed with exception"

// frameRE is the layout of one stack entry of a Go job: the first line of
// Python's traceback layout (Python adds the source line; a Go binary does
// not carry its source).
var frameRE = regexp.MustCompile(`^  File "[^"]+\.go", line \d+, in \S+\n$`)

// closedError returns the exception Dagster took from the closed message.
func closedError(t *testing.T, res *Result) *ErrorInfo {
	t.Helper()
	var found []*ErrorInfo
	for _, e := range res.EngineErrors {
		if e.Message == closedWithException {
			found = append(found, e.Error)
		}
	}
	require.Len(t, found, 1, "Dagster should record the closed message's exception once; engine errors: %+v", res.EngineErrors)
	require.NotNil(t, found[0])
	return found[0]
}

func requireFrames(t *testing.T, stack []string) {
	t.Helper()
	require.NotEmpty(t, stack, "empty stack")
	for _, f := range stack {
		assert.Regexp(t, frameRE, f)
	}
}

func stackHas(stack []string, function string) bool {
	for _, f := range stack {
		if strings.HasSuffix(f, ", in "+function+"\n") {
			return true
		}
	}
	return false
}

// requireFailedRun asserts what every failing job shares: Dagster's run
// failed because the process exited non-zero, the messages sent before the
// failure arrived, and Dagster got both opened and closed (no warning).
func requireFailedRun(t *testing.T, res *Result, mode string) {
	t.Helper()
	assert.False(t, res.Success, "Dagster's run should fail")
	require.Len(t, res.StepFailures, 1)
	assert.True(t, chainHas(res.StepFailures[0], "External execution process failed with code 1"),
		"step failure: %+v", res.StepFailures[0])
	requireNoSessionWarnings(t, res)
	assert.Empty(t, res.PipesWarnings())
	assert.True(t, res.HasLog("INFO", "about to fail mode="+mode), "logs: %+v", res.Logs)
	assert.Equal(t, []any{"before failure"}, res.Custom(t))
	assert.Empty(t, res.Materializations)
}

// Scenario 10: a job that fails. Deliberate differences from the Python
// reference, asserted below:
//   - name is what a Go program matches the error with: its Go type, the
//     wrapped type for fmt.Errorf ("*main.jobError"), "error" for
//     errors.New; Python's is the class name ("RuntimeError");
//   - message is err.Error() as is; Python's is format_exception_only(),
//     "RuntimeError: step failed…\n". Go error texts do not start with their
//     type, and a type name such as *fmt.wrapError in front would be noise;
//   - the cause chain follows errors.Unwrap (Python: `raise … from`), and
//     each entry has the stack recorded for it (pipes.WithStack, or where Run
//     received the error).
func TestFailure(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		res := runScenario(t, Scenario{Job: "fail", Args: []string{"error"}})
		requireFailedRun(t, res, "error")
		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "*main.jobError", *exc.ClsName, "fmt.Errorf is named by what it wraps")
		assert.Equal(t, "step failed: job error code 7", exc.Message)
		requireFrames(t, exc.Stack)
		assert.Equal(t, "main.loadData", lastFunction(exc.Stack), "WithStack's stack, where the error was made, is the top's: %q", exc.Stack)
		require.NotNil(t, exc.Cause, "the wrapped error is the cause")
		require.NotNil(t, exc.Cause.ClsName)
		assert.Equal(t, "*main.jobError", *exc.Cause.ClsName)
		assert.Equal(t, "job error code 7", exc.Cause.Message)
		assert.Empty(t, exc.Cause.Stack, "each stack is shown once")
		assert.Nil(t, exc.Cause.Cause)
		assert.Nil(t, exc.Context)
	})

	t.Run("plain", func(t *testing.T) {
		res := runScenario(t, Scenario{Job: "fail", Args: []string{"plain"}})
		requireFailedRun(t, res, "plain")
		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "error", *exc.ClsName)
		assert.Equal(t, "plain failure", exc.Message)
		requireFrames(t, exc.Stack)
		assert.Nil(t, exc.Cause)
	})

	t.Run("panic", func(t *testing.T) {
		res := runScenario(t, Scenario{Job: "fail", Args: []string{"panic"}})
		requireFailedRun(t, res, "panic")
		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "panic", *exc.ClsName, "a panic with a non-error value")
		assert.Equal(t, "panic: boom", exc.Message)
		requireFrames(t, exc.Stack)
		assert.True(t, stackHas(exc.Stack, "main.explode"), "the stack is the panicking goroutine's: %q", exc.Stack)
		assert.Equal(t, "main.explode", lastFunction(exc.Stack), "innermost frame last, as in Python")
	})

	t.Run("runtime-panic", func(t *testing.T) {
		res := runScenario(t, Scenario{Job: "fail", Args: []string{"runtime-panic"}})
		requireFailedRun(t, res, "runtime-panic")
		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "runtime.boundsError", *exc.ClsName)
		assert.Equal(t, "panic: runtime error: index out of range [3] with length 0", exc.Message)
		assert.Equal(t, "main.index", lastFunction(exc.Stack))
		require.NotNil(t, exc.Cause, "the runtime error the panic carried")
		assert.Equal(t, "runtime error: index out of range [3] with length 0", exc.Cause.Message)
	})

	// The Python reference failing the same way: the same Dagster records,
	// and the shape of the exception the differences above are about.
	t.Run("python-reference", func(t *testing.T) {
		res := runScenario(t, Scenario{PyJob: "fail_job.py"})
		requireFailedRun(t, res, "error")
		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "RuntimeError", *exc.ClsName)
		assert.Equal(t, "RuntimeError: step failed: job error code 7\n", exc.Message)
		require.NotEmpty(t, exc.Stack)
		assert.Regexp(t, `^  File "[^"]+\.py", line \d+, in <module>\n`, exc.Stack[0])
		require.NotNil(t, exc.Cause)
		assert.Equal(t, "KeyError", *exc.Cause.ClsName)
	})
}

// chainHas reports whether the error or one of its causes mentions text.
func chainHas(e *ErrorInfo, text string) bool {
	for ; e != nil; e = e.Cause {
		if strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

func lastFunction(stack []string) string {
	if len(stack) == 0 {
		return ""
	}
	f := stack[len(stack)-1]
	i := strings.LastIndex(f, ", in ")
	return strings.TrimSuffix(f[i+len(", in "):], "\n")
}
