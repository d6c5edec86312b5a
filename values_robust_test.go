package pipes

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nested returns a value that nests n arrays deep.
func nested(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

// Regression (issue 10): JSON(3) and JSON(true) were sent and killed
// Dagster's reader; MetadataValue.json takes an object, array, string or null.
func TestMetadataJSONScalarsAsDagsterJudges(t *testing.T) {
	for name, v := range map[string]any{"int": 3, "bool": true, "float": 1.5} {
		t.Run("refused "+name, func(t *testing.T) {
			_, err := appendMetadataEntry(nil, "k", JSON(v), "report_asset_materialization")
			require.ErrorIs(t, err, ErrInvalidMetadata)
			assert.Contains(t, err.Error(), "a json value must be a JSON object, array or string")
		})
	}
	assert.Equal(t, `{"raw_value":"s","type":"json"}`, entryJSON(t, JSON("s")))
	assert.Equal(t, `{"raw_value":null,"type":"json"}`, entryJSON(t, JSON(nil)))
	assert.Equal(t, `{"raw_value":[],"type":"json"}`, entryJSON(t, JSON([]int{})))
}

// Every typed value built by hand (MetadataValue{Type, Raw}) is judged as
// Dagster's resolver judges its JSON type.
func TestMetadataRawTypeChecks(t *testing.T) {
	refused := []MetadataValue{
		{MetadataText, 3}, {MetadataURL, true}, {MetadataDagsterRun, nil}, {MetadataAsset, nil},
		{MetadataFloat, 3}, {MetadataInt, 1.5}, {MetadataBool, 1}, {MetadataTimestamp, nil},
		{MetadataTimestamp, "x"}, {MetadataTable, map[string]any{"records": []any{}}},
		{MetadataTableSchema, Table{}}, {MetadataTableColumnLineage, "x"},
		TableValue(Table{Records: []map[string]any{{"a": []any{1}}}}),
		TableValue(Table{Records: []map[string]any{{"a": map[string]any{}}}}),
	}
	for _, v := range refused {
		_, err := appendMetadataEntry(nil, "k", v, "report_asset_materialization")
		require.ErrorIs(t, err, ErrInvalidMetadata, "%#v", v)
	}
	accepted := []MetadataValue{
		{MetadataText, nil}, {MetadataInt, true}, {MetadataInt, nil}, {MetadataFloat, nil},
		{MetadataTimestamp, 3}, {MetadataTimestamp, true}, {MetadataNull, 42}, {MetadataAsset, ""},
		{MetadataTable, &Table{}}, TableValue(Table{Records: []map[string]any{nil, {"a": nil, "b": 1.5}}}),
	}
	for _, v := range accepted {
		entryJSON(t, v)
	}
}

// Regression (issue 10): 5,000 levels of nesting passed and killed Dagster's
// reader (Python's recursion limit).
func TestDeepNestingRefused(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	err := p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"deep": nested(5000)}})
	require.ErrorIs(t, err, ErrInvalidMetadata)
	assert.Contains(t, err.Error(), "more than 100 levels deep")
	assert.Less(t, len(err.Error()), 400, "the error does not spell out every level")
	err = p.ReportCustomMessage(nested(5000))
	require.ErrorIs(t, err, ErrInvalidValue)
	assert.Contains(t, err.Error(), "more than 100 levels deep")
	// Just below the limit is fine.
	require.NoError(t, p.ReportCustomMessage(nested(MaxNestingDepth-2)))
	require.NoError(t, p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"ok": nested(MaxNestingDepth - 5)}}))
	require.NoError(t, p.Close())
	assert.Equal(t, []string{"opened", "report_custom_message", "report_asset_materialization", "closed"}, methods(read()))
}

type selfRef struct {
	Name string
	Next *selfRef
}

type ptrCycle *ptrCycle

// Regression (issue 10): a value that contains itself recursed until the Go
// runtime aborted the process.
func TestCyclesRefused(t *testing.T) {
	m := map[string]any{"a": 1}
	m["self"] = m
	s := []any{1, nil}
	s[1] = s
	node := &selfRef{Name: "n"}
	node.Next = node
	var pc ptrCycle
	pc = ptrCycle(&pc)
	type holder struct{ P ptrCycle }
	for name, v := range map[string]any{"map": m, "slice": s, "struct pointer": node, "pointer to itself": holder{pc}} {
		t.Run(name, func(t *testing.T) {
			_, err := appendJSON(nil, v)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "contains itself")
			p, read := newTestContext(t, testData("a"))
			err = p.ReportCustomMessage(v)
			require.ErrorIs(t, err, ErrInvalidValue)
			err = p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"v": v}})
			require.ErrorIs(t, err, ErrInvalidMetadata)
			assert.Contains(t, err.Error(), "contains itself")
			require.NoError(t, p.Close())
			assert.Equal(t, []string{"opened", "closed"}, methods(read()))
		})
	}
}

// Regression (issue 10): keys that differ only in invalid UTF-8 were sent as
// one duplicated key.
func TestKeysCollidingAfterUTF8Repair(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	err := p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"a\xff": 1, "a\xfe": 2}})
	require.ErrorIs(t, err, ErrInvalidMetadata)
	assert.Contains(t, err.Error(), "differ only in invalid UTF-8")
	for _, v := range []any{map[string]any{"a\xff": 1, "a\xfe": 2}, map[string]int{"a\xff": 1, "a\ufffd": 2}, map[string]string{"\xff": "", "\xfe": ""}} {
		require.ErrorIs(t, p.ReportCustomMessage(v), ErrInvalidValue, "%v", v)
	}
	// One invalid key alone is fine (it arrives as U+FFFD).
	require.NoError(t, p.ReportCustomMessage(map[string]any{"a\xff": 1, "b": 2}))
	require.NoError(t, p.Close())
	msgs := read()
	assert.Equal(t, []string{"opened", "report_custom_message", "closed"}, methods(msgs))
	assert.Equal(t, map[string]any{"a\ufffd": json.Number("1"), "b": json.Number("2")}, msgs[1].Params["payload"])
}

// Regression (issue 10): a plain map with exactly raw_value and type was
// sent as __infer__; the reference sends it as the typed value it spells.
func TestPlainTypedMap(t *testing.T) {
	assert.Equal(t, `{"raw_value":3,"type":"int"}`, entryJSON(t, map[string]any{"raw_value": 3, "type": "int"}))
	assert.Equal(t, `{"raw_value":"x","type":"text"}`, entryJSON(t, map[string]string{"raw_value": "x", "type": "text"}))
	_, err := appendMetadataEntry(nil, "k", map[string]any{"raw_value": 3, "type": "bogus"}, "report_asset_materialization")
	require.ErrorIs(t, err, ErrInvalidMetadata)
	assert.True(t, strings.HasPrefix(err.Error(), "Invalid value for parameter `metadata.k.type` of `report_asset_materialization`. Expected one of `{"), err.Error())
	assert.True(t, strings.HasSuffix(err.Error(), "got `bogus`."), err.Error())
	_, err = appendMetadataEntry(nil, "k", map[string]any{"raw_value": 3, "type": "json"}, "report_asset_materialization")
	require.ErrorIs(t, err, ErrInvalidMetadata)
	// Other maps are still inferred (Dagster makes them json).
	assert.Equal(t, `{"raw_value":{"raw_value":3},"type":"__infer__"}`, entryJSON(t, map[string]any{"raw_value": 3}))
}

// Found by the class test (issue 10): a slog attribute that contains itself
// made fmt recurse until the process died.
func TestLogAttributeThatContainsItself(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	m := map[string]any{}
	m["m"] = m
	p.Log().Info("cyclic", "v", m, "n", 1)
	require.NoError(t, p.Close())
	msgs := read()
	require.Equal(t, []string{"opened", "log", "closed"}, methods(msgs))
	assert.Equal(t, `cyclic v="<map[string]interface {} that contains itself>" n=1`, msgs[1].Params["message"])
}
