package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// extrasJSON has extras of every JSON shape. Numbers are spelled the way
// Python's json.dumps writes them (1e+100, 1e-07), because that is how
// Dagster writes the context data, and the test compares the spelling too.
const extrasJSON = `{
	"str": "plain",
	"unicode": "héllo ✓ 🚀 日本語 \u00e9",
	"escapes": "quote\" backslash\\ slash/ newline\n tab\t nul\u0000 bell\u0007",
	"empty_str": "",
	"int": 42,
	"neg": -7,
	"zero": 0,
	"int64_max": 9223372036854775807,
	"int64_min": -9223372036854775808,
	"big": 123456789012345678901234567890,
	"float": 2.5,
	"whole_float": 3.0,
	"exp": 1e+100,
	"small": 1e-07,
	"true": true,
	"false": false,
	"null": null,
	"empty_obj": {},
	"empty_arr": [],
	"array": [1, "two", 3.0, null, true, {"k": "v"}, [2, [3]]],
	"nested": {"a": {"b": [1, {"c": null}, [[]]], "d": {"e": {"f": "deep"}}}},
	"typed": {"name": "typed extra", "count": 9007199254740993, "ratio": 0.25, "nested": {"list": [1, "x"]}}
}`

// seenByJob returns the context job's report (its first custom message).
func seenByJob(t *testing.T, custom []any) map[string]any {
	t.Helper()
	require.NotEmpty(t, custom, "the context job reported nothing")
	seen, ok := custom[0].(map[string]any)
	require.True(t, ok, "first custom message is %T", custom[0])
	return seen
}

// requireSeenEqualsInjected asserts that what the Go job read equals the
// context data Dagster injected.
func requireSeenEqualsInjected(t *testing.T, injected, seen map[string]any) {
	t.Helper()
	assert.Equal(t, true, seen["is_orchestrated"])
	assert.Equal(t, injected["run_id"], seen["run_id"], "run id")
	assert.Equal(t, injected["job_name"], seen["job_name"], "job name")
	assert.Equal(t, injected["retry_number"], seen["retry_number"], "retry number")
	assert.Equal(t, injected["asset_keys"], seen["asset_keys"], "asset keys")
	assert.Equal(t, injected["asset_keys"] == nil, seen["asset_keys_error"] != nil, "AssetKeys fails exactly when Dagster sent none")
	assert.Equal(t, injected["code_version_by_asset_key"], seen["code_version_by_asset_key"], "code versions")
	assert.Equal(t, injected["provenance_by_asset_key"], seen["provenance_by_asset_key"], "provenance")
	assert.Equal(t, injected["extras"], seen["extras"], "extras")
	assert.Equal(t, injected["partition_key_range"] != nil, seen["is_partition_step"])
	assert.Equal(t, injected["asset_keys"] != nil, seen["is_asset_step"])
}

func contextScenario(injector, reader string) Scenario {
	return Scenario{
		Job:      "context",
		Injector: injector,
		Reader:   reader,
		Assets:   []AssetDef{{Key: []string{"e2e", "we/ird"}, CodeVersion: "cv-1"}},
		Extras:   json.RawMessage(extrasJSON),
	}
}

// Scenario 1 and 2: the context reaches the job intact, whichever way
// Dagster injects it, and the messages come back through the default
// temp-file reader.
func TestContextInjection(t *testing.T) {
	for _, injector := range []string{"env", "tempfile"} {
		t.Run(injector, func(t *testing.T) {
			res := runScenario(t, contextScenario(injector, "tempfile"))
			require.True(t, res.Success, "Dagster's run failed")
			requireNoSessionWarnings(t, res)
			require.Len(t, res.Contexts, 1)
			injected := res.Contexts[0]
			seen := seenByJob(t, res.Custom(t))

			requireSeenEqualsInjected(t, injected, seen)

			// Dagster injected what we asked for.
			assert.Equal(t, decodeJSON(t, extrasJSON), injected["extras"])
			assert.Equal(t, []any{`e2e/we\/ird`}, injected["asset_keys"], "Dagster escapes / inside a key part")
			assert.Equal(t, "__ephemeral_asset_job__", injected["job_name"])
			assert.Equal(t, json.Number("0"), injected["retry_number"])
			assert.Equal(t, res.RunID, injected["run_id"])
			assert.Equal(t, map[string]any{`e2e/we\/ird`: "cv-1"}, injected["code_version_by_asset_key"])

			// Single-asset accessors and the typed decoding of an extra.
			assert.Equal(t, `e2e/we\/ird`, seen["asset_key"])
			assert.Nil(t, seen["asset_key_error"])
			assert.Equal(t, map[string]any{
				"name": "typed extra", "count": json.Number("9007199254740993"), "ratio": json.Number("0.25"),
				"nested": map[string]any{"list": []any{json.Number("1"), "x"}},
			}, seen["typed"], "DecodeExtra into a struct (int64 beyond float64 precision stays exact)")
			assert.Equal(t, "Extra `no-such-extra` is undefined. Extras must be provided by user.", seen["missing_extra_error"])
			assert.Equal(t, true, seen["missing_extra_is_undefined"])

			// Not a partitioned step: the reference's texts.
			assert.Equal(t, "Missing required property: `partition_key` is undefined. Current step does not target any partitions.", seen["partition_key_error"])
			assert.Equal(t, "Missing required property: `partition_key_range` is undefined. Current step does not target any partitions.", seen["partition_key_range_error"])
			assert.Equal(t, "Missing required property: `partition_time_window` is undefined. Current step does not target any partitions.", seen["partition_time_window_error"])

			// The materialization landed on the unescaped key.
			mats := res.Materialized("e2e", "we/ird")
			require.Len(t, mats, 1, "materializations: %+v", res.Materializations)
			assert.Equal(t, "TextMetadataValue", mats[0].Metadata["reported_key"].Type)
			assert.Equal(t, `e2e/we\/ird`, mats[0].Metadata["reported_key"].Value)
			assert.True(t, res.HasLog("INFO", "context job done keys=1"), "logs: %+v", res.Logs)
		})
	}
}

// Scenario 2: a retried step gets the retry number Dagster injected.
func TestContextRetryNumber(t *testing.T) {
	sc := contextScenario("env", "tempfile")
	sc.Env = map[string]string{"E2E_FAIL_FIRST_ATTEMPT": "1"}
	sc.MaxRetries = 1
	res := runScenario(t, sc)
	require.True(t, res.Success, "the retry should have succeeded")
	assert.Equal(t, 1, res.StepRetries)
	require.Len(t, res.Contexts, 2, "one Pipes session per attempt")
	require.Len(t, res.CustomMessages, 2)
	for attempt := range 2 {
		injected := res.Contexts[attempt]
		assert.Equal(t, json.Number([]string{"0", "1"}[attempt]), injected["retry_number"])
		requireSeenEqualsInjected(t, injected, seenByJob(t, res.CustomMessages[attempt]))
	}
	require.Len(t, res.Materialized("e2e", "we/ird"), 1)
}

// Scenario 1: the stdio and buffered_stdio branches of the default writer.
// The program's output stream is fed, line by line, through Dagster's
// extract_message_or_forward_to_file, the helper behind its log-based
// readers; "lambda" is dagster-aws's PipesLambdaLogsMessageReader itself.
func TestStdioWriters(t *testing.T) {
	for _, reader := range []string{"stdio:stdout", "stdio:stderr", "buffered_stdio:stdout", "buffered_stdio:stderr", "lambda"} {
		t.Run(strings.ReplaceAll(reader, ":", "_"), func(t *testing.T) {
			res := runScenario(t, contextScenario("env", reader))
			require.True(t, res.Success, "Dagster's run failed")
			requireNoSessionWarnings(t, res)
			require.Len(t, res.Contexts, 1)
			requireSeenEqualsInjected(t, res.Contexts[0], seenByJob(t, res.Custom(t)))
			require.Len(t, res.Materialized("e2e", "we/ird"), 1)
			assert.True(t, res.HasLog("INFO", "context job done keys=1"))

			require.NotNil(t, res.Stdout)
			require.NotNil(t, res.Stderr)
			stream, other := *res.Stdout, *res.Stderr
			if strings.HasSuffix(reader, "stderr") || reader == "lambda" {
				stream, other = other, stream
			}
			lines := strings.Split(strings.TrimSuffix(stream, "\n"), "\n")
			var msgIdx []int
			plainIdx := -1
			for i, l := range lines {
				switch {
				case strings.Contains(l, `"__dagster_pipes_version"`):
					msgIdx = append(msgIdx, i)
					assert.True(t, json.Valid([]byte(l)), "message line is not one JSON object: %q", l)
				case l == "plain stdout line from the context job":
					plainIdx = i
				}
			}
			require.NotEmpty(t, msgIdx)
			assert.Contains(t, lines[msgIdx[0]], `"opened"`)
			assert.Contains(t, lines[msgIdx[len(msgIdx)-1]], `"closed"`)
			assert.NotContains(t, other, "__dagster_pipes_version", "messages went to the wrong stream")
			if strings.HasPrefix(reader, "stdio:") {
				// Unbuffered: opened comes before the job prints.
				if reader == "stdio:stdout" {
					require.GreaterOrEqual(t, plainIdx, 0)
					assert.Less(t, msgIdx[0], plainIdx)
					assert.Equal(t, []string{"plain stdout line from the context job"}, res.Forwarded,
						"Dagster must forward the plain line and nothing else")
				}
			} else {
				// Buffered: all messages come out together at close.
				for i := 1; i < len(msgIdx); i++ {
					assert.Equal(t, msgIdx[i-1]+1, msgIdx[i], "buffered messages must be contiguous")
				}
				if reader == "buffered_stdio:stdout" {
					require.GreaterOrEqual(t, plainIdx, 0)
					assert.Less(t, plainIdx, msgIdx[0], "buffered messages come after the program's own output")
				}
			}
		})
	}
}

// Scenario 9: partitions.
func TestPartitions(t *testing.T) {
	t.Run("static", func(t *testing.T) {
		sc := contextScenario("env", "tempfile")
		sc.Partitions = &PartitionsDef{Kind: "static", Keys: []string{"red", "green", "blue"}}
		sc.PartitionKey = "green"
		res := runScenario(t, sc)
		require.True(t, res.Success)
		requireNoSessionWarnings(t, res)
		injected := res.Contexts[0]
		seen := seenByJob(t, res.Custom(t))
		requireSeenEqualsInjected(t, injected, seen)

		assert.Equal(t, "green", injected["partition_key"])
		assert.Equal(t, "green", seen["partition_key"])
		assert.Nil(t, seen["partition_key_error"])
		assert.Equal(t, map[string]any{"start": "green", "end": "green"}, injected["partition_key_range"])
		assert.Equal(t, injected["partition_key_range"], seen["partition_key_range"])
		assert.Nil(t, injected["partition_time_window"])
		assert.Contains(t, seen, "partition_time_window")
		assert.Nil(t, seen["partition_time_window"], "no time window for static partitions, and no error (as in Python)")
		assert.Nil(t, seen["partition_time_window_error"])

		mats := res.Materialized("e2e", "we/ird")
		require.Len(t, mats, 1)
		require.NotNil(t, mats[0].Partition)
		assert.Equal(t, "green", *mats[0].Partition)
	})

	t.Run("daily", func(t *testing.T) {
		sc := contextScenario("tempfile", "tempfile")
		sc.Partitions = &PartitionsDef{Kind: "daily", Start: "2024-01-01"}
		sc.PartitionKey = "2024-03-05"
		res := runScenario(t, sc)
		require.True(t, res.Success)
		requireNoSessionWarnings(t, res)
		injected := res.Contexts[0]
		seen := seenByJob(t, res.Custom(t))
		requireSeenEqualsInjected(t, injected, seen)

		assert.Equal(t, "2024-03-05", seen["partition_key"])
		assert.Equal(t, map[string]any{"start": "2024-03-05", "end": "2024-03-05"}, seen["partition_key_range"])

		window, ok := injected["partition_time_window"].(map[string]any)
		require.True(t, ok, "Dagster injected no time window: %v", injected["partition_time_window"])
		assert.Equal(t, "2024-03-05T00:00:00+00:00", window["start"])
		assert.Equal(t, "2024-03-06T00:00:00+00:00", window["end"])
		got, ok := seen["partition_time_window"].(map[string]any)
		require.True(t, ok, "the job saw no time window: %v (error %v)", seen["partition_time_window"], seen["partition_time_window_error"])
		for _, edge := range []string{"start", "end"} {
			want, err := time.Parse(time.RFC3339, window[edge].(string))
			require.NoError(t, err)
			have, err := time.Parse(time.RFC3339Nano, got[edge].(string))
			require.NoError(t, err)
			assert.True(t, want.Equal(have), "%s: Dagster %v, job %v", edge, want, have)
			_, offset := have.Zone()
			assert.Equal(t, 0, offset, "the job keeps Dagster's UTC offset")
			assert.Equal(t, json.Number(jsonInt(want.Unix())), got[edge+"_unix"])
		}

		mats := res.Materialized("e2e", "we/ird")
		require.Len(t, mats, 1)
		require.NotNil(t, mats[0].Partition)
		assert.Equal(t, "2024-03-05", *mats[0].Partition)
	})
}

func jsonInt(i int64) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// The default writer's stdout/stderr capture (include_stdio_in_messages):
// what the program writes to its stdout and stderr reaches Dagster as
// log_external_stream messages, which Dagster writes verbatim to its own
// stdout and stderr, and none of it arrives after closed.
func TestStdioCapture(t *testing.T) {
	res := runScenario(t, contextScenario("env", "tempfile+stdio"))
	require.True(t, res.Success, "Dagster's run failed")
	requireNoSessionWarnings(t, res)
	requireSeenEqualsInjected(t, res.Contexts[0], seenByJob(t, res.Custom(t)))
	assert.Contains(t, res.DagsterStdout, "plain stdout line from the context job\n")
	assert.Contains(t, res.DagsterStderr, "plain stderr line from the context job\n")
	assert.NotContains(t, res.DagsterStdout, "plain stderr line", "stderr text must not be reported as stdout")

	// Without the flag nothing is forwarded as messages.
	plain := runScenario(t, contextScenario("env", "tempfile"))
	assert.NotContains(t, plain.DagsterStdout, "plain stdout line")
	assert.NotContains(t, plain.DagsterStderr, "plain stderr line")
}

// Scenario 2 for a step that targets no asset (a plain op): Dagster injects
// null asset keys, and the accessors answer with the reference's errors.
func TestContextOpStep(t *testing.T) {
	res := runScenario(t, Scenario{Job: "context", Op: true, Extras: json.RawMessage(extrasJSON)})
	require.True(t, res.Success, "Dagster's run failed")
	requireNoSessionWarnings(t, res)
	require.Len(t, res.Contexts, 1)
	injected := res.Contexts[0]
	seen := seenByJob(t, res.Custom(t))
	requireSeenEqualsInjected(t, injected, seen)

	assert.Equal(t, "e2e_op_job", injected["job_name"])
	assert.Nil(t, injected["asset_keys"])
	assert.Equal(t, false, seen["is_asset_step"])
	assert.Equal(t, "Missing required property: `asset_keys` is undefined. Current step does not target an asset.", seen["asset_keys_error"])
	assert.Equal(t, "Missing required property: `asset_key` is undefined. Current step does not target an asset.", seen["asset_key_error"])
	assert.Equal(t, "Missing required property: `code_version_by_asset_key` is undefined. Current step does not target an asset.", seen["code_version_by_asset_key_error"])
	assert.Equal(t, "Missing required property: `provenance_by_asset_key` is undefined. Current step does not target an asset.", seen["provenance_by_asset_key_error"])
	assert.Empty(t, res.Materializations)
}
