package pipes

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entryJSON encodes one metadata entry as a report message would.
func entryJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := appendMetadataEntry(nil, "k", v, "report_asset_materialization")
	require.NoError(t, err)
	require.True(t, json.Valid(b), string(b))
	return string(b)
}

func TestMetadataTypedConstructors(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	for name, tc := range map[string]struct {
		v    any
		want string
	}{
		"text":     {Text("hi"), `{"raw_value":"hi","type":"text"}`},
		"url":      {URL("https://x"), `{"raw_value":"https://x","type":"url"}`},
		"path":     {Path("/p"), `{"raw_value":"/p","type":"path"}`},
		"notebook": {Notebook("n.ipynb"), `{"raw_value":"n.ipynb","type":"notebook"}`},
		"json":     {JSON(map[string]any{"a": []any{1, 2.0}}), `{"raw_value":{"a":[1,2.0]},"type":"json"}`},
		"md":       {Markdown("# t"), `{"raw_value":"# t","type":"md"}`},
		"float":    {Float(1), `{"raw_value":1.0,"type":"float"}`},
		"float e":  {Float(1e21), `{"raw_value":1e+21,"type":"float"}`},
		"int":      {Int(-5), `{"raw_value":-5,"type":"int"}`},
		"bool":     {Bool(true), `{"raw_value":true,"type":"bool"}`},
		"run":      {DagsterRun("r1"), `{"raw_value":"r1","type":"dagster_run"}`},
		"asset":    {Asset("a/b"), `{"raw_value":"a/b","type":"asset"}`},
		"null":     {Null(), `{"raw_value":null,"type":"null"}`},
		"ts":       {Timestamp(ts), `{"raw_value":1714979289.5,"type":"timestamp"}`},
		"ts whole": {Timestamp(time.Unix(1700000000, 0)), `{"raw_value":1700000000.0,"type":"timestamp"}`},
		"infer":    {Infer([]any{"x"}), `{"raw_value":["x"],"type":"__infer__"}`},
		"pointer":  {&MetadataValue{MetadataInt, 1}, `{"raw_value":1,"type":"int"}`},
		"raw pass": {MetadataValue{Type: "text", Raw: "t"}, `{"raw_value":"t","type":"text"}`},
	} {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tc.want, entryJSON(t, tc.v)) })
	}
}

func TestMetadataInferredGoValues(t *testing.T) {
	type named int
	for name, tc := range map[string]struct {
		v    any
		want string
	}{
		"string":    {"s", `"s"`},
		"int":       {42, `42`},
		"int64 max": {int64(math.MaxInt64), `9223372036854775807`},
		"uint8":     {uint8(7), `7`},
		"float":     {1.0, `1.0`},
		"float32":   {float32(0.5), `0.5`},
		"negzero":   {math.Copysign(0, -1), `-0.0`},
		"small":     {1e-7, `1e-07`},
		"bool":      {false, `false`},
		"nil":       {nil, `null`},
		"slice":     {[]float64{1, 2.5}, `[1.0,2.5]`},
		"map":       {map[string]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
		"named":     {named(3), `3`},
		"number":    {json.Number("12345678901234567890"), `12345678901234567890`},
		"unicode":   {"é\u2028\x01\"", `"é\u2028\u0001\""`},
		"bad utf8":  {"a\xffb", `"a\ufffdb"`},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, `{"raw_value":`+tc.want+`,"type":"__infer__"}`, entryJSON(t, tc.v))
		})
	}
}

func TestMetadataTables(t *testing.T) {
	table := TableValue(Table{
		Records: []map[string]any{{"name": "a", "n": 1, "x": 0.5, "ok": true, "none": nil}},
		Schema: []TableColumn{
			{Name: "name", Type: "string", Description: "the name", Tags: map[string]string{"pii": "no"},
				Constraints: &TableColumnConstraints{Nullable: false, Unique: true, Other: []string{"len < 10"}}},
			{Name: "n", Type: "int"},
		},
	})
	assert.Equal(t, `{"raw_value":{"records":[{"n":1,"name":"a","none":null,"ok":true,"x":0.5}],"schema":[`+
		`{"name":"name","type":"string","description":"the name","tags":{"pii":"no"},"constraints":{"nullable":false,"unique":true,"other":["len < 10"]}},`+
		`{"name":"n","type":"int"}]},"type":"table"}`, entryJSON(t, table))

	schema := TableSchemaValue(TableSchema{Columns: []TableColumn{{Name: "c", Type: "float", Constraints: &TableColumnConstraints{Nullable: true}}}})
	assert.Equal(t, `{"raw_value":{"columns":[{"name":"c","type":"float","constraints":{"nullable":true,"unique":false,"other":[]}}]},"type":"table_schema"}`, entryJSON(t, schema))

	lineage := ColumnLineage(TableColumnLineage{DepsByColumn: map[string][]TableColumnDep{
		"total": {{AssetKey: "raw/orders", ColumnName: "amount"}, {AssetKey: `a\/b`, ColumnName: "c"}},
	}})
	assert.Equal(t, `{"raw_value":{"deps_by_column":{"total":[{"asset_key":["raw","orders"],"column_name":"amount"},{"asset_key":["a/b"],"column_name":"c"}]}},"type":"table_column_lineage"}`, entryJSON(t, lineage))

	// The structs also marshal with encoding/json (e.g. inside a custom message).
	raw, err := json.Marshal(map[string]any{"t": TableSchema{Columns: []TableColumn{{Name: "c", Type: "t"}}}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"t":{"columns":[{"name":"c","type":"t"}]}}`, string(raw))
}

func TestMetadataErrors(t *testing.T) {
	_, err := appendMetadataEntry(nil, "k", MetadataValue{Type: "job", Raw: "j"}, "report_asset_materialization")
	require.ErrorIs(t, err, ErrInvalidMetadata)
	assert.EqualError(t, err, "Invalid value for parameter `metadata.k.type` of `report_asset_materialization`. Expected one of "+
		"`{'__infer__', 'asset', 'bool', 'dagster_run', 'float', 'int', 'json', 'md', 'notebook', 'null', 'path', 'table', 'table_column_lineage', 'table_schema', 'text', 'timestamp', 'url'}`, got `job`.")

	for name, v := range map[string]any{
		"nan":          math.NaN(),
		"inf":          Float(math.Inf(-1)),
		"nested nan":   map[string]any{"a": []any{math.NaN()}},
		"table nan":    TableValue(Table{Records: []map[string]any{{"x": math.NaN()}}}),
		"channel":      make(chan int),
		"int map keys": map[int]string{1: "a"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := appendMetadataEntry(nil, "k", v, "report_asset_check")
			require.ErrorIs(t, err, ErrInvalidMetadata)
			assert.Contains(t, err.Error(), "Invalid value for metadata `k` of `report_asset_check`")
		})
	}
}

func TestInvalidMetadataWritesNothing(t *testing.T) {
	p, read := newTestContext(t, testData("a"))
	err := p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"ok": 1, "bad": math.NaN()}})
	require.ErrorIs(t, err, ErrInvalidMetadata)
	err = p.ReportAssetCheck(AssetCheck{CheckName: "c", Metadata: Metadata{"bad": math.Inf(1)}})
	require.ErrorIs(t, err, ErrInvalidMetadata)
	assert.Len(t, read(), 1)
	// The failed materialization did not count: the asset can still be reported.
	require.NoError(t, p.ReportAssetMaterialization(Materialization{Metadata: Metadata{"ok": 1}}))
	assert.Len(t, read(), 2)
}

func TestMetadataTypesAreTheProtocols(t *testing.T) {
	assert.Len(t, metadataTypes, 17)
	for _, ty := range metadataTypes {
		assert.True(t, ty.Valid())
	}
	assert.False(t, MetadataType("job").Valid())
}

func TestAssetKeyPath(t *testing.T) {
	assert.Equal(t, []string{"a", "b"}, AssetKeyPath("a/b"))
	assert.Equal(t, []string{"a/b", "c"}, AssetKeyPath(`a\/b/c`))
	assert.Equal(t, []string{`a\b`}, AssetKeyPath(`a\\b`))
	assert.Equal(t, []string{"x"}, AssetKeyPath("x"))
}
