package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A context that cannot be loaded: the Python reference raises before it
// opens the message channel, so Dagster only warns that it "did not receive
// any messages". Our Open opens the channel first and sends the error in the
// closed message, so Dagster records why the step failed. A deliberate
// difference from the reference.
func TestContextLoadFailureReachesDagster(t *testing.T) {
	res := runScenario(t, Scenario{Job: "badcontext"})
	assert.False(t, res.Success, "Dagster's run should fail")
	requireNoSessionWarnings(t, res)
	exc := closedError(t, res)
	require.NotNil(t, exc.ClsName)
	assert.Equal(t, "pipes.ErrInvalidContext", *exc.ClsName, "named by the sentinel a program matches with errors.Is")
	assert.True(t, strings.Contains(exc.Message, "cannot read the context file Dagster named (/nonexistent-dbfs-mount/"),
		"message: %q", exc.Message)
	require.Len(t, res.StepFailures, 1)
}
