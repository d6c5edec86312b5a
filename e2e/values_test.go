package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

// The class test of issue 10: anything the API accepts, Dagster reads.
// Values are generated through every public constructor, Infer, plain Go
// values of every kind and hand-built MetadataValue literals of every type,
// and written by the library to a messages file; Dagster's own resolvers
// and message handler then read every line in one Python process (see
// e2e/probe/valuesext.py). A value Dagster cannot read must have been
// refused by the API, with ErrInvalidMetadata or ErrInvalidValue, before
// anything was written.

type valuesAnswer struct {
	Lines []struct {
		Line   int     `json:"line"`
		Method *string `json:"method"`
		Error  *string `json:"error"`
	} `json:"lines"`
	Success      bool          `json:"success"`
	StepFailures []*ErrorInfo  `json:"step_failures"`
	EngineErrors []EngineError `json:"engine_errors"`
	ProbeError   string        `json:"probe_error"`
}

// weird types for the generator.
type (
	named    string
	namedInt int64
	tagged   struct {
		A int     `json:"a"`
		B string  `json:"b,omitempty"`
		C float64 `json:"c,string"`
		D *tagged `json:"d"`
		e int     // unexported: never encoded
	}
	embedded struct {
		tagged
		X []byte
	}
	selfMap   map[string]any
	selfSlice []any
	ptrLoop   *ptrLoop
	node      struct {
		Next *node
	}
	marshals struct{ raw string }
	textual  struct{}
)

func (m marshals) MarshalJSON() ([]byte, error) { return []byte(m.raw), nil }
func (textual) MarshalText() ([]byte, error)    { return []byte("as text"), nil }

func nest(n int) any {
	var v any = 1
	for range n {
		v = []any{v}
	}
	return v
}

func nestMaps(n int) any {
	var v any = "leaf"
	for range n {
		v = map[string]any{"k": v}
	}
	return v
}

// baseValues are plain Go values of every kind, edge numbers and strings.
func baseValues() map[string]any {
	sm := selfMap{}
	sm["me"] = sm
	ss := selfSlice{nil}
	ss[0] = ss
	var pl ptrLoop
	pl = ptrLoop(&pl)
	n := &node{}
	n.Next = n
	big := strings.Repeat("x", 200_000)
	v := map[string]any{
		"nil": nil, "true": true, "false": false,
		"str empty": "", "str": "hello", "str invalid utf8": "a\xffb\xfe", "str only invalid": "\xff",
		"str nul": "a\x00b", "str controls": "\t\r\n\x1b\"\\", "str unicode": "é€😀", "str lsep": "a\u2028b\u2029",
		"str long": big, "named string": named("n"),
		"int 0": 0, "int -1": -1, "int max": math.MaxInt64, "int min": math.MinInt64, "int8": int8(-128),
		"int16": int16(32767), "int32": int32(math.MinInt32), "uint8": uint8(255), "uint16": uint16(65535),
		"uint32": uint32(math.MaxUint32), "uint64 max": uint64(math.MaxUint64), "uintptr": uintptr(7),
		"named int": namedInt(5), "duration": time.Hour,
		"float 0": 0.0, "float -0": math.Copysign(0, -1), "float 1": 1.0, "float 1.5": 1.5, "float tiny": 1e-7,
		"float 1e21": 1e21, "float max": math.MaxFloat64, "float smallest": math.SmallestNonzeroFloat64,
		"float -max": -math.MaxFloat64, "float32": float32(3.25), "float32 max": float32(math.MaxFloat32),
		"NaN": math.NaN(), "+Inf": math.Inf(1), "-Inf": math.Inf(-1), "float32 NaN": float32(math.NaN()),
		"complex": complex(1, 2), "chan": make(chan int), "func": func() {},
		"json.Number int": json.Number("12345678901234567890123"), "json.Number float": json.Number("1.5e300"),
		"json.Number overflow": json.Number("1e400"), "json.Number bad": json.Number("1x"),
		"raw object": json.RawMessage(`{"a":[1,2.5,null]}`), "raw array": json.RawMessage(`[]`),
		"raw string": json.RawMessage(`"s"`), "raw number": json.RawMessage(`7`), "raw bad": json.RawMessage(`{`),
		"raw deep": json.RawMessage(strings.Repeat("[", 500) + strings.Repeat("]", 500)),
		"time":     time.Date(2024, 2, 29, 12, 0, 0, 123, time.UTC), "time zero": time.Time{},
		"bytes": []byte("bin\x00ary"), "bytes nil": []byte(nil), "array": [3]int{1, 2, 3}, "empty array": [0]int{},
		"slice any": []any{1, "a", nil, 2.5}, "slice nil": []any(nil), "slice empty": []any{}, "slice strings": []string{"a", ""},
		"slice ints": []int{1, 2}, "slice maps": []map[string]any{{"a": 1}, nil},
		"map any": map[string]any{"a": 1, "b": []any{true}}, "map nil": map[string]any(nil), "map empty": map[string]any{},
		"map strings": map[string]string{"k": "v"}, "map ints": map[string]int{"k": 1}, "map int keys": map[int]string{1: "a"},
		"map named keys": map[named]int{"x": 1}, "map empty key": map[string]any{"": 1},
		"map invalid key": map[string]any{"a\xff": 1}, "map colliding keys": map[string]any{"a\xff": 1, "a\xfe": 2},
		"map colliding fffd": map[string]int{"a\xff": 1, "a\ufffd": 2},
		"typed map":          map[string]any{"raw_value": 1, "type": "int"}, "typed map bad": map[string]any{"raw_value": 1, "type": "nope"},
		"struct": tagged{A: 1, B: "b", C: 2.5, D: &tagged{A: 2}, e: 3}, "struct ptr": &tagged{}, "struct nil ptr": (*tagged)(nil),
		"embedded": embedded{tagged: tagged{A: 3}, X: []byte("x")}, "struct NaN": tagged{C: math.NaN()},
		"marshaler": marshals{`{"m":1}`}, "marshaler scalar": marshals{`3`}, "marshaler bad": marshals{`{`},
		"text marshaler": textual{}, "pointer to int": new(int), "pointer to pointer": func() **int { p := new(int); return &p }(),
		"self map": sm, "self slice": ss, "pointer loop": pl, "self node": n,
		"metadata value": pipes.Int(3), "metadata value bad": pipes.MetadataValue{Type: "nope", Raw: 1},
		"table": pipes.Table{Records: []map[string]any{{"a": 1}}},
	}
	for _, d := range []int{1, 10, 50, pipes.MaxNestingDepth - 5, pipes.MaxNestingDepth - 1, pipes.MaxNestingDepth, pipes.MaxNestingDepth + 1, 300, 5000} {
		v[fmt.Sprintf("nested arrays %d", d)] = nest(d)
		v[fmt.Sprintf("nested maps %d", d)] = nestMaps(d)
	}
	return v
}

// metadataValues are metadata entries made every public way.
func metadataValues() map[string]any {
	out := map[string]any{}
	base := baseValues()
	strs := map[string]string{}
	for k, v := range base {
		out["raw "+k] = v
		out["Infer "+k] = pipes.Infer(v)
		out["JSON "+k] = pipes.JSON(v)
		for _, t := range pipes.AllMetadataTypes() {
			out[fmt.Sprintf("literal %s %s", t, k)] = pipes.MetadataValue{Type: t, Raw: v}
			out[fmt.Sprintf("typed map %s %s", t, k)] = map[string]any{"raw_value": v, "type": string(t)}
		}
		if s, ok := v.(string); ok {
			strs[k] = s
		}
	}
	strs["asset escaped"] = `a\/b/c`
	strs["asset slashes"] = "a//b/"
	strs["run id"] = "0b5e1e9c-6b1e-4b0a-9c3e-1f2d3c4b5a69"
	for k, s := range strs {
		for name, f := range map[string]func(string) pipes.MetadataValue{
			"Text": pipes.Text, "URL": pipes.URL, "Path": pipes.Path, "Notebook": pipes.Notebook,
			"Markdown": pipes.Markdown, "DagsterRun": pipes.DagsterRun, "Asset": pipes.Asset,
		} {
			out[name+" "+k] = f(s)
		}
	}
	for k, f := range map[string]float64{"0": 0, "1": 1, "-1.5": -1.5, "max": math.MaxFloat64, "tiny": 5e-324, "NaN": math.NaN(), "Inf": math.Inf(1)} {
		out["Float "+k] = pipes.Float(f)
	}
	for k, i := range map[string]int64{"0": 0, "max": math.MaxInt64, "min": math.MinInt64} {
		out["Int "+k] = pipes.Int(i)
	}
	out["Bool true"], out["Bool false"], out["Null"] = pipes.Bool(true), pipes.Bool(false), pipes.Null()
	for k, ts := range map[string]time.Time{
		"zero": {}, "epoch": time.Unix(0, 0), "now": time.Now(), "year 1": time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		"year 9999": time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "before epoch": time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)),
	} {
		out["Timestamp "+k] = pipes.Timestamp(ts)
	}
	cols := []pipes.TableColumn{
		{Name: "a", Type: "int"},
		{Name: "", Type: ""},
		{Name: "b\xff", Type: "string", Description: "d", Tags: map[string]string{"t": "v", "": ""}, Constraints: &pipes.TableColumnConstraints{Nullable: false, Unique: true}},
		{Name: "c", Type: "x", Constraints: &pipes.TableColumnConstraints{Other: []string{"o", ""}}},
		{Name: "a", Type: "dup"},
	}
	records := map[string][]map[string]any{
		"none": nil, "empty": {}, "nil row": {nil}, "scalars": {{"a": 1, "b": "x", "c": nil, "d": true, "e": 2.5, "f": uint64(math.MaxUint64)}},
		"nested cell": {{"a": []any{1}}}, "map cell": {{"a": map[string]any{}}}, "NaN cell": {{"a": math.NaN()}},
		"struct cell": {{"a": tagged{}}}, "time cell": {{"a": time.Now()}}, "bytes cell": {{"a": []byte("x")}},
		"colliding keys": {{"a\xff": 1, "a\xfe": 2}}, "invalid key": {{"\xff": 1}},
	}
	for k, recs := range records {
		out["TableValue "+k] = pipes.TableValue(pipes.Table{Records: recs, Schema: cols})
		out["TableValue no schema "+k] = pipes.TableValue(pipes.Table{Records: recs})
	}
	out["TableSchemaValue"] = pipes.TableSchemaValue(pipes.TableSchema{Columns: cols})
	out["TableSchemaValue empty"] = pipes.TableSchemaValue(pipes.TableSchema{})
	out["table pointer"] = pipes.MetadataValue{Type: pipes.MetadataTable, Raw: &pipes.Table{}}
	out["table nil pointer"] = pipes.MetadataValue{Type: pipes.MetadataTable, Raw: (*pipes.Table)(nil)}
	for k, l := range map[string]pipes.TableColumnLineage{
		"empty": {}, "no deps": {DepsByColumn: map[string][]pipes.TableColumnDep{"c": nil}},
		"deps":         {DepsByColumn: map[string][]pipes.TableColumnDep{"c": {{AssetKey: "a/b", ColumnName: "x"}, {AssetKey: `a\/b`, ColumnName: ""}}, "": {{AssetKey: "", ColumnName: "y"}}}},
		"invalid utf8": {DepsByColumn: map[string][]pipes.TableColumnDep{"c\xff": {{AssetKey: "\xff", ColumnName: "\xfe"}}}},
	} {
		out["ColumnLineage "+k] = pipes.ColumnLineage(l)
	}
	p := pipes.Text("via pointer")
	out["pointer to MetadataValue"] = &p
	out["nil *MetadataValue"] = (*pipes.MetadataValue)(nil)
	return out
}

type writtenValue struct {
	name string
	line int
}

func TestValuesDagsterReads(t *testing.T) {
	pr := requireDagster(t)
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	data := map[string]any{"asset_keys": []string{"a"}, "run_id": "r", "extras": map[string]any{}}
	ctxParam, err := pipes.EncodeParam(map[string]any{"data": data})
	require.NoError(t, err)
	msgParam, err := pipes.EncodeParam(map[string]any{"path": msgPath})
	require.NoError(t, err)
	p, err := pipes.New(context.Background(), pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam}}))
	require.NoError(t, err)

	lines := 1 // opened
	var written []writtenValue
	refused := map[string]error{}
	size := func() int64 {
		st, err := os.Stat(msgPath)
		require.NoError(t, err)
		return st.Size()
	}
	// try writes one value; a refusal must be one of the two invalid-value
	// errors and leave the file as it was.
	try := func(name string, kind error, write func() error) {
		before := size()
		if err := write(); err != nil {
			require.True(t, errors.Is(err, kind), "%s: refused with %v, want %v", name, err, kind)
			require.Equal(t, before, size(), "%s: refused after something was written", name)
			refused[name] = err
			return
		}
		written = append(written, writtenValue{name, lines})
		lines++
	}
	for name, v := range metadataValues() {
		try("check metadata "+name, pipes.ErrInvalidMetadata, func() error {
			return p.ReportAssetCheck(pipes.AssetCheck{CheckName: "c", Passed: true, Metadata: pipes.Metadata{"v": v, "other": 1}})
		})
	}
	for name, v := range baseValues() {
		try("payload "+name, pipes.ErrInvalidValue, func() error { return p.ReportCustomMessage(v) })
		try("stream extras "+name, pipes.ErrInvalidValue, func() error {
			return p.LogExternalStream(pipes.StreamStderr, "x\n", map[string]any{"v": v})
		})
		try("log attr "+name, pipes.ErrInvalidValue, func() error {
			p.Log().Info("attr", "v", v)
			return nil
		})
		if s, ok := v.(string); ok {
			try("log "+name, pipes.ErrInvalidValue, func() error { return p.LogMessage(slog.LevelWarn, s) })
			try("stream "+name, pipes.ErrInvalidValue, func() error { return p.LogExternalStream(pipes.StreamStdout, s, nil) })
			try("asset check name "+name, pipes.ErrInvalidValue, func() error {
				return p.ReportAssetCheck(pipes.AssetCheck{CheckName: s, Passed: false, Severity: pipes.SeverityWarn})
			})
		}
	}
	// Metadata with several keys, keys that collide after UTF-8 repair.
	try("metadata colliding keys", pipes.ErrInvalidMetadata, func() error {
		return p.ReportAssetCheck(pipes.AssetCheck{CheckName: "c", Metadata: pipes.Metadata{"k\xff": 1, "k\xfe": 2}})
	})
	try("materialization", pipes.ErrInvalidMetadata, func() error {
		return p.ReportAssetMaterialization(pipes.Materialization{DataVersion: "v\xff", Metadata: pipes.Metadata{"\xff": 1, "": pipes.Null()}})
	})
	require.NoError(t, p.CloseWithError(fmt.Errorf("wrapped: %w", errors.Join(errors.New("a\xff"), pipes.WithStack(errors.New(""))))))
	lines++

	req, err := json.Marshal(map[string]any{"name": "values", "values_messages": msgPath})
	require.NoError(t, err)
	raw, stderr, err := pr.run(req)
	require.NoError(t, err, "probe stderr:\n%s", stderr)
	var ans valuesAnswer
	require.NoError(t, json.Unmarshal(raw, &ans))
	require.Empty(t, ans.ProbeError, "probe stderr:\n%s", stderr)
	require.True(t, ans.Success, "the step failed: %+v", ans.StepFailures)
	require.Len(t, ans.Lines, lines, "Dagster read every line")
	byLine := map[int]string{0: "opened", lines - 1: "closed"}
	for _, w := range written {
		byLine[w.line] = w.name
	}
	failed := 0
	for _, l := range ans.Lines {
		if l.Error != nil {
			failed++
			if failed <= 40 {
				t.Errorf("accepted but Dagster cannot read it: %s\n%s", byLine[l.Line], *l.Error)
			}
		}
	}
	assert.Zero(t, failed, "values Dagster could not read")

	// The refusals the issue names are among them.
	for _, name := range []string{
		"check metadata JSON int 0", "check metadata JSON true", "check metadata raw self map",
		"check metadata raw nested arrays 5000", "payload nested maps 5000", "payload self slice",
		"payload pointer loop", "payload self node", "check metadata raw map colliding keys",
		"check metadata raw typed map bad", "check metadata Float NaN",
	} {
		assert.Contains(t, refused, name)
	}
	t.Logf("%d values written and read by Dagster, %d refused", len(written), len(refused))
}
