package pipes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenSendsOpenedAndCloseSendsClosed(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	assert.True(t, p.IsOrchestrated())
	msgs := read()
	require.Len(t, msgs, 1)
	assert.Equal(t, "opened", msgs[0].Method)
	assert.Equal(t, map[string]any{"extras": map[string]any{}}, msgs[0].Params)

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	assert.True(t, p.IsClosed())
	msgs = read()
	assert.Equal(t, []string{"opened", "closed"}, methods(msgs))
	assert.Equal(t, map[string]any{}, msgs[1].Params, "closed without error has params {}")
}

type extrasWriter struct{ DefaultMessageWriter }

func (extrasWriter) OpenedExtras(context.Context) (map[string]any, error) {
	return map[string]any{"cluster_driver_log_root": "dbfs:/x"}, nil
}

func TestOpenedCarriesWriterExtras(t *testing.T) {
	_, read := newTestContext(t, testData("a"), WithMessageWriter(extrasWriter{}))
	assert.Equal(t, map[string]any{"extras": map[string]any{"cluster_driver_log_root": "dbfs:/x"}}, read()[0].Params)
}

func TestAccessors(t *testing.T) {
	d, err := ParseContextData([]byte(fullContextJSON))
	require.NoError(t, err)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	decoded, err := decodeJSON(raw)
	require.NoError(t, err)
	p, _ := newTestContext(t, decoded.(map[string]any))

	assert.True(t, p.IsAssetStep())
	keys, err := p.AssetKeys()
	require.NoError(t, err)
	assert.Equal(t, []string{`a\/b/c`, "d"}, keys)
	_, err = p.AssetKey()
	require.ErrorIs(t, err, ErrUndefined)
	assert.EqualError(t, err, "`asset_key` is undefined. Current step targets multiple assets.")
	_, err = p.CodeVersion()
	assert.EqualError(t, err, "`code_version` is undefined. Current step targets multiple assets.")
	_, err = p.Provenance()
	assert.EqualError(t, err, "`provenance` is undefined. Current step targets multiple assets.")
	cv, err := p.CodeVersionByAssetKey()
	require.NoError(t, err)
	assert.Equal(t, map[string]string{`a\/b/c`: "v1", "d": ""}, cv)
	prov, err := p.ProvenanceByAssetKey()
	require.NoError(t, err)
	assert.Equal(t, "v0", prov[`a\/b/c`].CodeVersion)
	assert.Nil(t, prov["d"])

	assert.True(t, p.IsPartitionStep())
	pk, err := p.PartitionKey()
	require.NoError(t, err)
	assert.Equal(t, "2024-01-01", pk)
	r, err := p.PartitionKeyRange()
	require.NoError(t, err)
	assert.Equal(t, PartitionKeyRange{Start: "2024-01-01", End: "2024-01-01"}, r)
	w, err := p.PartitionTimeWindow()
	require.NoError(t, err)
	assert.True(t, w.Start.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.True(t, w.End.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)))

	assert.Equal(t, "abc", p.RunID())
	assert.Equal(t, "", p.JobName())
	assert.Equal(t, 2, p.RetryNumber())
	assert.Equal(t, json.Number("12345678901234567890"), p.Extras()["big"])
	v, err := p.Extra("s")
	require.NoError(t, err)
	assert.Equal(t, "é", v)
	v, err = p.Extra("n")
	require.NoError(t, err)
	assert.Nil(t, v)
	_, err = p.Extra("missing")
	require.ErrorIs(t, err, ErrUndefined)
	assert.EqualError(t, err, "Extra `missing` is undefined. Extras must be provided by user.")
	var big uint64
	require.NoError(t, p.DecodeExtra("big", &big))
	assert.Equal(t, uint64(12345678901234567890), big)
	var wrong bool
	require.ErrorIs(t, p.DecodeExtra("s", &wrong), ErrInvalidValue)
	assert.Equal(t, "abc", p.Data().RunID)
}

func TestSingleAssetAccessors(t *testing.T) {
	data := testData("only")
	data["code_version_by_asset_key"] = map[string]any{"only": "cv"}
	data["provenance_by_asset_key"] = map[string]any{"only": nil}
	p, _ := newTestContext(t, data)
	k, err := p.AssetKey()
	require.NoError(t, err)
	assert.Equal(t, "only", k)
	cv, err := p.CodeVersion()
	require.NoError(t, err)
	assert.Equal(t, "cv", cv)
	prov, err := p.Provenance()
	require.NoError(t, err)
	assert.Nil(t, prov)
	assert.Equal(t, "job", p.JobName())
}

func TestAccessorErrorsOnNonAssetUnpartitionedStep(t *testing.T) {
	p, _ := newTestContext(t, testData())
	assert.False(t, p.IsAssetStep())
	assert.False(t, p.IsPartitionStep())
	check := func(err error, text string) {
		t.Helper()
		require.ErrorIs(t, err, ErrUndefined)
		assert.EqualError(t, err, text)
	}
	_, err := p.AssetKey()
	check(err, "Missing required property: `asset_key` is undefined. Current step does not target an asset.")
	_, err = p.AssetKeys()
	check(err, "Missing required property: `asset_keys` is undefined. Current step does not target an asset.")
	_, err = p.CodeVersion()
	check(err, "Missing required property: `code_version` is undefined. Current step does not target an asset.")
	_, err = p.CodeVersionByAssetKey()
	check(err, "Missing required property: `code_version_by_asset_key` is undefined. Current step does not target an asset.")
	_, err = p.Provenance()
	check(err, "Missing required property: `provenance` is undefined. Current step does not target an asset.")
	_, err = p.ProvenanceByAssetKey()
	check(err, "Missing required property: `provenance_by_asset_key` is undefined. Current step does not target an asset.")
	_, err = p.PartitionKey()
	check(err, "Missing required property: `partition_key` is undefined. Current step does not target any partitions.")
	_, err = p.PartitionKeyRange()
	check(err, "Missing required property: `partition_key_range` is undefined. Current step does not target any partitions.")
	_, err = p.PartitionTimeWindow()
	check(err, "Missing required property: `partition_time_window` is undefined. Current step does not target any partitions.")
}

func TestAssetKeyOnEmptyAssetList(t *testing.T) {
	data := testData()
	data["asset_keys"] = []any{}
	p, _ := newTestContext(t, data)
	assert.True(t, p.IsAssetStep())
	_, err := p.AssetKey()
	assert.EqualError(t, err, "`asset_key` is undefined. Current step targets multiple assets.")
}

func TestPartitionTimeWindow(t *testing.T) {
	data := testData("a")
	data["partition_key"] = "p"
	data["partition_key_range"] = map[string]any{"start": "p", "end": "p"}
	p, _ := newTestContext(t, data)
	w, err := p.PartitionTimeWindow()
	require.NoError(t, err)
	assert.Nil(t, w, "a static partition has no time window, and that is not an error")

	for in, want := range map[string]time.Time{
		"2024-03-01T10:30:00.123456+02:00": time.Date(2024, 3, 1, 8, 30, 0, 123456000, time.UTC),
		"2024-03-01T10:30:00":              time.Date(2024, 3, 1, 10, 30, 0, 0, time.UTC),
		"2024-03-01T00:00:00Z":             time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseISOTime(in)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: got %v", in, got)
	}

	data["partition_time_window"] = map[string]any{"start": "yesterday", "end": "2024-01-01T00:00:00+00:00"}
	p, _ = newTestContext(t, data)
	_, err = p.PartitionTimeWindow()
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.Contains(t, err.Error(), `partition_time_window.start "yesterday"`)
}

func TestReportAssetMaterialization(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	require.NoError(t, p.ReportAssetMaterialization(Materialization{DataVersion: "v1", Metadata: Metadata{"rows": 3}}))
	msgs := read()
	require.Len(t, msgs, 2)
	assert.Equal(t, "report_asset_materialization", msgs[1].Method)
	assert.Equal(t, map[string]any{
		"asset_key":    "a",
		"data_version": "v1",
		"metadata":     map[string]any{"rows": map[string]any{"raw_value": json.Number("3"), "type": "__infer__"}},
	}, msgs[1].Params)

	err := p.ReportAssetMaterialization(Materialization{AssetKey: "a"})
	require.ErrorIs(t, err, ErrAlreadyMaterialized)
	assert.EqualError(t, err, "Calling `report_asset_materialization` with asset key `a` is undefined. Asset has already been materialized, so no additional data can be reported for it.")
	assert.Len(t, read(), 2, "a refused report writes nothing")
}

func TestReportAssetMaterializationNullFields(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	require.NoError(t, p.ReportAssetMaterialization(Materialization{Metadata: Metadata{}}))
	params := read()[1].Params
	assert.Equal(t, map[string]any{"asset_key": "a", "data_version": nil, "metadata": nil}, params,
		"every param key is present, null when unset; empty metadata is null as in the reference")
}

func TestAssetKeyResolution(t *testing.T) {
	const m = "report_asset_materialization"
	t.Run("multi-asset", func(t *testing.T) {
		p, read := newTestContext(t, testData("a", "b"))
		err := p.ReportAssetMaterialization(Materialization{})
		require.ErrorIs(t, err, ErrInvalidAssetKey)
		assert.EqualError(t, err, "Calling `"+m+"` without passing an asset key is undefined. Current step targets multiple assets.")
		err = p.ReportAssetMaterialization(Materialization{AssetKey: "c"})
		require.ErrorIs(t, err, ErrInvalidAssetKey)
		assert.EqualError(t, err, "Invalid asset key. Expected one of `['a', 'b']`, got `c`.")
		require.NoError(t, p.ReportAssetMaterialization(Materialization{AssetKey: "b"}))
		require.NoError(t, p.ReportAssetMaterialization(Materialization{AssetKey: "a"}))
		err = p.ReportAssetCheck(AssetCheck{CheckName: "c", Passed: true})
		assert.EqualError(t, err, "Calling `report_asset_check` without passing an asset key is undefined. Current step targets multiple assets.")
		msgs := read()
		assert.Equal(t, []string{"opened", m, m}, methods(msgs))
		assert.Equal(t, "b", msgs[1].Params["asset_key"])
		assert.Equal(t, "a", msgs[2].Params["asset_key"])
	})
	t.Run("no asset", func(t *testing.T) {
		p, read := newTestContext(t, testData())
		err := p.ReportAssetMaterialization(Materialization{})
		require.ErrorIs(t, err, ErrInvalidAssetKey)
		assert.EqualError(t, err, "Calling `"+m+"` without passing an asset key is undefined. Current step does not target a specific asset.")
		// A key passed on a step without asset keys is accepted unchecked.
		require.NoError(t, p.ReportAssetMaterialization(Materialization{AssetKey: "free"}))
		assert.Equal(t, "free", read()[1].Params["asset_key"])
	})
	t.Run("python repr of keys", func(t *testing.T) {
		p, _ := newTestContext(t, testData("it's", `a\/b`))
		err := p.ReportAssetMaterialization(Materialization{AssetKey: "x"})
		assert.EqualError(t, err, "Invalid asset key. Expected one of `[\"it's\", 'a\\\\/b']`, got `x`.")
	})
}

func TestReportAssetCheck(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	require.NoError(t, p.ReportAssetCheck(AssetCheck{CheckName: "non_null", Passed: true}))
	require.NoError(t, p.ReportAssetCheck(AssetCheck{AssetKey: "a", CheckName: "fresh", Passed: false, Severity: SeverityWarn, Metadata: Metadata{"lag": Float(2)}}))
	require.NoError(t, p.ReportAssetCheck(AssetCheck{CheckName: "non_null", Passed: false}), "checks may repeat")
	msgs := read()
	require.Len(t, msgs, 4)
	assert.Equal(t, map[string]any{"asset_key": "a", "check_name": "non_null", "passed": true, "metadata": nil, "severity": "ERROR"}, msgs[1].Params)
	assert.Equal(t, map[string]any{"asset_key": "a", "check_name": "fresh", "passed": false,
		"metadata": map[string]any{"lag": map[string]any{"raw_value": json.Number("2.0"), "type": "float"}}, "severity": "WARN"}, msgs[2].Params)

	err := p.ReportAssetCheck(AssetCheck{CheckName: "x", Severity: "FATAL"})
	require.ErrorIs(t, err, ErrInvalidValue)
	assert.EqualError(t, err, "Invalid value for parameter `severity` of `report_asset_check`. Expected one of `['ERROR', 'WARN']`, got `FATAL`.")
	require.ErrorIs(t, p.ReportAssetCheck(AssetCheck{Passed: true}), ErrInvalidValue)
	assert.Len(t, read(), 4)
}

func TestReportCustomMessage(t *testing.T) {
	p, read := newTestContext(t, testData())
	payloads := []any{nil, true, 1, 1.0, 2.5, "s", []any{1, "x"}, map[string]any{"k": []int{1}}, struct {
		A int `json:"a"`
	}{7}}
	for _, v := range payloads {
		require.NoError(t, p.ReportCustomMessage(v))
	}
	err := p.ReportCustomMessage(map[string]any{"bad": math.Inf(1)})
	require.ErrorIs(t, err, ErrInvalidValue)
	assert.Contains(t, err.Error(), "NaN and infinite floats cannot be represented")
	require.ErrorIs(t, p.ReportCustomMessage(func() {}), ErrInvalidValue)

	msgs := read()[1:]
	require.Len(t, msgs, len(payloads))
	got := make([]any, len(msgs))
	for i, m := range msgs {
		assert.Equal(t, "report_custom_message", m.Method)
		assert.Len(t, m.Params, 1)
		got[i] = m.Params["payload"]
	}
	assert.Equal(t, []any{nil, true, json.Number("1"), json.Number("1.0"), json.Number("2.5"), "s",
		[]any{json.Number("1"), "x"}, map[string]any{"k": []any{json.Number("1")}}, map[string]any{"a": json.Number("7")}}, got)
}

func TestLogExternalStream(t *testing.T) {
	p, read := newTestContext(t, testData())
	require.NoError(t, p.LogExternalStream(StreamStdout, "line\n", nil))
	require.NoError(t, p.LogExternalStream(StreamStderr, "err", map[string]any{"k": "v"}))
	require.ErrorIs(t, p.LogExternalStream("stdlog", "x", nil), ErrInvalidValue)
	msgs := read()
	assert.Equal(t, map[string]any{"stream": "stdout", "text": "line\n", "extras": map[string]any{}}, msgs[1].Params)
	assert.Equal(t, map[string]any{"stream": "stderr", "text": "err", "extras": map[string]any{"k": "v"}}, msgs[2].Params)
}

func TestWritesAfterCloseFail(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	require.NoError(t, p.Close())
	for name, err := range map[string]error{
		"materialization": p.ReportAssetMaterialization(Materialization{}),
		"check":           p.ReportAssetCheck(AssetCheck{CheckName: "c"}),
		"custom":          p.ReportCustomMessage(1),
		"stream":          p.LogExternalStream(StreamStdout, "x", nil),
	} {
		require.ErrorIs(t, err, ErrClosed, name)
		assert.EqualError(t, err, "Cannot send message after pipes context is closed.")
	}
	p.Log().Info("dropped")
	assert.Equal(t, []string{"opened", "closed"}, methods(read()))
}

func TestCloseWithError(t *testing.T) {
	p, read := newTestContext(t, testData())
	inner := &json.SyntaxError{Offset: 3}
	require.NoError(t, p.CloseWithError(fmt.Errorf("loading input: %w", inner)))
	msgs := read()
	exc := msgs[1].Params["exception"].(map[string]any)
	assert.Equal(t, "*json.SyntaxError", exc["name"], "a fmt.Errorf wrapper is named by what it wraps")
	assert.Equal(t, "loading input: "+inner.Error(), exc["message"])
	assert.NotEmpty(t, exc["stack"])
	assert.Contains(t, exc["stack"].([]any)[len(exc["stack"].([]any))-1], "context_test.go")
	cause := exc["cause"].(map[string]any)
	assert.Equal(t, "*json.SyntaxError", cause["name"])
	assert.Equal(t, map[string]any{"name": "*json.SyntaxError", "message": inner.Error(), "stack": []any{}, "cause": nil, "context": nil}, cause)
	assert.Nil(t, exc["context"])
}

func TestConcurrentReportsAreWholeAndCounted(t *testing.T) {
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	p, read := newTestContext(t, testData(keys...))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				p.Log().Info("msg", "g", g, "i", i)
				assert.NoError(t, p.ReportCustomMessage(map[string]any{"g": g, "i": i}))
			}
		}()
	}
	// Every key materialized once, each by exactly one of many racers.
	var okCount, dupCount int
	var mu sync.Mutex
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range keys {
				err := p.ReportAssetMaterialization(Materialization{AssetKey: k})
				mu.Lock()
				if err == nil {
					okCount++
				} else {
					assert.ErrorIs(t, err, ErrAlreadyMaterialized)
					dupCount++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Close())
	assert.Equal(t, 50, okCount)
	assert.Equal(t, 150, dupCount)
	msgs := read()
	assert.Len(t, msgs, 1+8*250*2+50+1)
	assert.Equal(t, "closed", msgs[len(msgs)-1].Method)
}

func TestNoopContextWhenNotLaunchedByDagster(t *testing.T) {
	var warn bytes.Buffer
	p, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{}), WithWarningOutput(&warn))
	require.NoError(t, err)
	assert.Equal(t, "DagsterPipesWarning: "+NotLaunchedWarning+"\n", warn.String())
	assert.False(t, p.IsOrchestrated())
	assert.False(t, p.IsAssetStep())
	k, err := p.AssetKey()
	assert.NoError(t, err)
	assert.Empty(t, k)
	_, err = p.Extra("x")
	assert.NoError(t, err)
	_, err = p.PartitionTimeWindow()
	assert.NoError(t, err)
	assert.NoError(t, p.DecodeExtra("x", new(int)))
	assert.NoError(t, p.ReportAssetMaterialization(Materialization{}))
	assert.NoError(t, p.ReportAssetMaterialization(Materialization{}), "no duplicate rule either")
	assert.NoError(t, p.ReportAssetCheck(AssetCheck{}))
	assert.NoError(t, p.ReportCustomMessage(math.NaN()))
	assert.NoError(t, p.LogExternalStream("x", "y", nil))
	p.Log().Error("nothing")
	assert.NoError(t, p.CloseWithError(fmt.Errorf("x")))
	assert.True(t, p.IsClosed())
	assert.Equal(t, "DagsterPipesWarning: "+NotLaunchedWarning+"\n", warn.String(), "one warning only")
}

func TestNewFailsCleanlyOnBadBootstrap(t *testing.T) {
	dir := t.TempDir()
	good := bootstrap(t, map[string]any{"data": testData()}, map[string]any{"path": filepath.Join(dir, "m")})
	for name, boot := range map[string]map[string]string{
		"bad context":      {ContextEnvVar: "!!", MessagesEnvVar: good[MessagesEnvVar]},
		"missing messages": {ContextEnvVar: good[ContextEnvVar]},
		"missing file":     bootstrap(t, map[string]any{"path": filepath.Join(dir, "nope")}, map[string]any{"path": filepath.Join(dir, "m")}),
		"bad writer":       bootstrap(t, map[string]any{"data": testData()}, map[string]any{"stdio": "nope"}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: boot}))
			require.Error(t, err)
		})
	}
}

func TestDecodeExtraKeepsNumbersInAnyFields(t *testing.T) {
	data := testData()
	data["extras"] = map[string]any{"typed": map[string]any{"n": json.Number("9007199254740993"), "list": []any{json.Number("1"), "x"}}}
	p, _ := newTestContext(t, data)
	var v struct {
		N    int64 `json:"n"`
		List []any `json:"list"`
	}
	require.NoError(t, p.DecodeExtra("typed", &v))
	assert.Equal(t, int64(9007199254740993), v.N)
	assert.Equal(t, []any{json.Number("1"), "x"}, v.List)
}

func TestNewReportsContextLoadFailureToDagster(t *testing.T) {
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	for name, ctxValue := range map[string]string{
		"missing file": bootstrap(t, map[string]any{"path": filepath.Join(dir, "nope")}, nil)[ContextEnvVar],
		"bad value":    "%%%",
	} {
		t.Run(name, func(t *testing.T) {
			msgs := bootstrap(t, map[string]any{}, map[string]any{"path": msgPath})[MessagesEnvVar]
			_ = os.Remove(msgPath) // a fresh file for each case
			_, err := New(context.Background(), WithParamsLoader(MappingParamsLoader{Mapping: map[string]string{ContextEnvVar: ctxValue, MessagesEnvVar: msgs}}))
			require.Error(t, err)
			got := readMessages(t, msgPath)
			assert.Equal(t, []string{"opened", "closed"}, methods(got), "Dagster hears of the failure")
			exc := got[1].Params["exception"].(map[string]any)
			assert.Equal(t, err.Error(), exc["message"])
			assert.Regexp(t, `^pipes\.ErrInvalid(Context|Params)$`, exc["name"], "named by the error a program matches with errors.Is")
		})
	}
}
