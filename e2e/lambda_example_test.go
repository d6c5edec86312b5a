package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/lambdaemu"
)

// TestLambdaExample runs examples/lambda/definitions.py, unchanged, under
// real Dagster: its PipesLambdaClient (boto3 pointed at the emulator by
// AWS_ENDPOINT_URL_LAMBDA, as a user would point it at LocalStack) invokes
// the example function, which the emulator runs.
func TestLambdaExample(t *testing.T) {
	requireDagster(t)
	const name = "go-pipes-example"
	em, err := lambdaemu.Start(lambdaemu.Function{
		Name:    name,
		Command: []string{examplePath(t, "lambda")},
		Env:     []string{"GORACE=halt_on_error=1"},
		Timeout: 2 * time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the function's output:\n%s", em.Output(name))
		}
		em.Close()
	})
	res := runExample(t, "lambda", "PIPES_LAMBDA_BINARY", exampleRun{Env: map[string]string{
		"AWS_ENDPOINT_URL_LAMBDA": em.Endpoint,
		"AWS_REGION":              lambdaemu.Region,
		"AWS_DEFAULT_REGION":      lambdaemu.Region,
		"AWS_ACCESS_KEY_ID":       "testing",
		"AWS_SECRET_ACCESS_KEY":   "testing",
	}})
	requireSucceeded(t, res)
	assert.Equal(t, []LogRecord{{"INFO", "loading orders date=2024-03-01 limit=5"}}, res.UserLogs())
	mats := res.Materialized("daily_orders")
	require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
	md := mats[0].Metadata
	assert.Equal(t, map[string]string{"orders": "IntMetadataValue", "total": "FloatMetadataValue", "date": "TextMetadataValue"}, metadataTypes(md))
	assert.Equal(t, json.Number("5"), md["orders"].Value)
	assert.Equal(t, json.Number("72.5"), md["total"].Value) // 12.5+13.5+…+16.5
	assert.Equal(t, "2024-03-01", mats[0].Tags["dagster/data_version"])
	require.Len(t, res.Checks, 1)
	assert.Equal(t, "orders_present", res.Checks[0].CheckName)
	assert.True(t, res.Checks[0].Passed)

	invs := em.Invocations(name)
	require.Len(t, invs, 1)
	assert.JSONEq(t, `{"date": "2024-03-01", "orders": 5, "total": 72.5}`, string(invs[0].Result))
}
