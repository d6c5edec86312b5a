package orchestrator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

func TestStepContextData(t *testing.T) {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	d := Step{
		AssetKeys:           []string{"a", "b"},
		CodeVersions:        map[string]string{"a": "1"},
		PartitionKey:        "2024-03-01",
		PartitionTimeWindow: &pipes.TimeWindow{Start: start, End: start.Add(time.Hour + time.Microsecond)},
		JobName:             "job",
	}.ContextData()
	assert.Len(t, d.RunID, 36, "a random UUID")
	require.NotNil(t, d.JobName)
	assert.Equal(t, "job", *d.JobName)
	require.Contains(t, d.CodeVersionByAssetKey, "b")
	assert.Nil(t, d.CodeVersionByAssetKey["b"], "an asset without a code version is null")
	assert.Equal(t, "1", *d.CodeVersionByAssetKey["a"])
	assert.Equal(t, map[string]*pipes.DataProvenance{"a": nil, "b": nil}, d.ProvenanceByAssetKey)
	assert.Equal(t, &pipes.PartitionKeyRange{Start: "2024-03-01", End: "2024-03-01"}, d.PartitionKeyRange)
	assert.Equal(t, &pipes.PartitionTimeWindowStrings{Start: "2024-03-01T00:00:00+00:00", End: "2024-03-01T01:00:00.000001+00:00"}, d.PartitionTimeWindow)
	assert.Equal(t, map[string]any{}, d.Extras, "no extras are sent as {}")

	none := Step{RunID: "r"}.ContextData()
	assert.Equal(t, "r", none.RunID)
	assert.Nil(t, none.AssetKeys)
	assert.Nil(t, none.CodeVersionByAssetKey)
	assert.Nil(t, none.ProvenanceByAssetKey)
	assert.Nil(t, none.JobName)
	assert.Nil(t, none.PartitionKeyRange)
}
