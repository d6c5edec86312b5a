package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 10 against real Dagster: what Dagster records for the faults.

// The exception of a job that returns this package's error reads well in
// Dagster: named by the sentinel a program matches, the real error as the
// cause, no second copy of the sentinel, each stack once.
func TestRobustExceptionReadsWell(t *testing.T) {
	res := runScenario(t, Scenario{Job: "robust", Args: []string{"pipes-error"}})
	assert.False(t, res.Success)
	exc := closedError(t, res)
	require.NotNil(t, exc.ClsName)
	assert.Equal(t, "pipes.ErrInvalidMetadata", *exc.ClsName, "not *fmt.wrapError")
	assert.True(t, strings.HasPrefix(exc.Message, "reporting the result: Invalid value for metadata `deep`"), exc.Message)
	requireFrames(t, exc.Stack)
	cause := exc.Cause
	require.NotNil(t, cause)
	require.NotNil(t, cause.ClsName)
	assert.Equal(t, "pipes.ErrInvalidMetadata", *cause.ClsName)
	assert.Nil(t, cause.Context, "the sentinel is not shown as a second error")
	root := cause.Cause
	require.NotNil(t, root, "the real error is the cause")
	assert.Contains(t, root.Message, "more than 100 levels deep")
	assert.NotContains(t, root.Message, "pipes: invalid metadata")
	for e := exc.Cause; e != nil; e = e.Cause {
		assert.Empty(t, e.Stack, "the stack is shown once, on the top exception")
	}
}

// A typed nil error (its Error method panics) and runtime.Goexit in the job
// still end with a closed message Dagster records.
func TestRobustCrashesStillClose(t *testing.T) {
	t.Run("typed-nil", func(t *testing.T) {
		res := runScenario(t, Scenario{Job: "robust", Args: []string{"typed-nil"}})
		assert.False(t, res.Success)
		requireNoSessionWarnings(t, res)
		exc := closedError(t, res)
		require.NotNil(t, exc.ClsName)
		assert.Equal(t, "*main.nilError", *exc.ClsName)
		assert.Contains(t, exc.Message, "<nil *main.nilError returned as an error")
	})
	t.Run("goexit", func(t *testing.T) {
		res := runScenario(t, Scenario{Job: "robust", Args: []string{"goexit"}})
		assert.False(t, res.Success)
		requireNoSessionWarnings(t, res)
		assert.True(t, res.HasLog("INFO", "before Goexit"))
		exc := closedError(t, res)
		assert.Contains(t, exc.Message, "runtime.Goexit")
	})
}

// Values Dagster cannot read are refused by the API; the run goes on and
// every later message arrives.
func TestRobustRefusedValuesKeepTheRunAlive(t *testing.T) {
	res := runScenario(t, Scenario{Job: "robust", Args: []string{"refused"}})
	require.True(t, res.Success, "step failures: %+v", res.StepFailures)
	requireNoSessionWarnings(t, res)
	m := onlyMaterialization(t, res)
	assert.Equal(t, "JsonMetadataValue", m.Metadata["ok"].Type)
	var refusals []string
	for _, l := range res.UserLogs() {
		if strings.HasPrefix(l.Message, "refused") {
			refusals = append(refusals, l.Message)
		}
	}
	require.Len(t, refusals, 3)
	joined := strings.Join(refusals, "\n")
	assert.Contains(t, joined, "a json value must be a JSON object, array or string")
	assert.Contains(t, joined, "contains itself")
	assert.Contains(t, joined, "more than 100 levels deep")
}
