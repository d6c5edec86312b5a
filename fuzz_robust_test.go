package pipes

import (
	"encoding/json"
	"strings"
	"testing"
)

// Fuzz targets of issue 10: the encoder with cycles and depth, and the
// parsers not covered by fuzz_test.go. `go test` runs their seeds (the CI
// short mode); `go test -fuzz FuzzEncodeValue` explores.

// FuzzEncodeValue wraps a decoded JSON value in depth levels of arrays and
// objects, optionally inside a map that contains itself: the encoder must
// refuse a cycle or a value nested too deeply, with an error, and write
// anything else as valid JSON that nests no deeper than the limit.
func FuzzEncodeValue(f *testing.F) {
	f.Add([]byte(`{"a":[1,2.5,"x\u00ff",null,true]}`), uint16(0), false)
	f.Add([]byte(`"s"`), uint16(99), false)
	f.Add([]byte(`[]`), uint16(100), false)
	f.Add([]byte(`1e400`), uint16(5000), false)
	f.Add([]byte("\xff\xfe"), uint16(3), true)
	f.Fuzz(func(t *testing.T, data []byte, depth uint16, cycle bool) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			v = string(data)
		}
		for i := range int(depth % 400) {
			if i%2 == 0 {
				v = []any{v}
			} else {
				v = map[string]any{string(data[:min(len(data), 3)]): v}
			}
		}
		if cycle {
			m := map[string]any{"v": v}
			m["self"] = []any{m}
			v = m
		}
		out, err := appendJSON(nil, v)
		if cycle {
			if err == nil || !strings.Contains(err.Error(), "contains itself") && !strings.Contains(err.Error(), "levels deep") {
				t.Fatalf("a cycle was not refused: %v", err)
			}
			return
		}
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %.200q", out)
		}
		if d := jsonNesting(out); d > MaxNestingDepth {
			t.Fatalf("accepted a value nested %d deep", d)
		}
	})
}

// FuzzCLIArgs: any argument list gives a value or an error, never a panic,
// and a flag never takes the other flag as its value.
func FuzzCLIArgs(f *testing.F) {
	f.Add("--dagster-pipes-context\x00--dagster-pipes-messages\x00eJyrVgrKz0lVslJQSs7PS8tMLy1RSM7PS1eoBQBe6QfQ")
	f.Add("--dagster-pipes-context=\x00--\x00x")
	f.Add("--dagster-pipes-messages")
	f.Fuzz(func(t *testing.T, joined string) {
		l := CLIArgsParamsLoader{Args: strings.Split(joined, "\x00")}
		_ = l.IsDagsterPipesProcess()
		_, _ = l.LoadContextParams()
		_, _ = l.LoadMessagesParams()
		v, present, ok := l.lookup(ContextFlag)
		if ok && !present {
			t.Fatal("a value without the flag")
		}
		if ok && strings.HasPrefix(v, "--dagster-pipes-") && !strings.Contains(joined, ContextFlag+"="+v) {
			t.Fatalf("the next flag %q was read as the value", v)
		}
	})
}

// FuzzAssetKeyPath: every string splits into parts (escapes honoured).
func FuzzAssetKeyPath(f *testing.F) {
	for _, s := range []string{"", "a/b", `a\/b/c`, `\`, "//", "\xff/\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := AssetKeyPath(s)
		if len(parts) == 0 {
			t.Fatal("no parts")
		}
		if !strings.Contains(s, `\`) && strings.Join(parts, "/") != strings.ToValidUTF8(s, "\uFFFD") && strings.Join(parts, "/") != string([]rune(s)) {
			t.Fatalf("%q split into %q", s, parts)
		}
	})
}
