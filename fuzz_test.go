package pipes

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// The fuzz targets check that bad bootstrap values and bad context data give
// errors, never panics, and that what is accepted survives a round trip.
// `go test` runs their seeds; `go test -fuzz FuzzDecodeParam` explores.

func FuzzDecodeParam(f *testing.F) {
	for _, s := range []string{pythonEncodedContext, pythonEncodedStdio, "", "====", "eJw=", "!!", "eJyrVipILMlQslJQ0i/JLdCv0E/OzytJrShR0lFQygMKGxoZm5iam"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := DecodeParam(s)
		if err != nil {
			return
		}
		enc, err := EncodeParam(v)
		if err != nil {
			t.Fatalf("decoded value %#v does not encode again: %v", v, err)
		}
		back, err := DecodeParam(enc)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		a, _ := appendJSON(nil, v)
		b, _ := appendJSON(nil, back)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the value: %s != %s", a, b)
		}
	})
}

func FuzzParseContextData(f *testing.F) {
	for _, s := range []string{fullContextJSON, `{}`, `null`, `[]`, `{"retry_number": "1"}`, `{"extras": {"a": [1, 2.5, null]}}`, `{"partition_time_window": {"start": 1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		data, err := ParseContextData(raw)
		if err != nil {
			return
		}
		// Every accessor works (or errors) on whatever was accepted.
		p := &Context{data: data, materialized: map[string]struct{}{}}
		_, _ = p.AssetKey()
		_, _ = p.AssetKeys()
		_, _ = p.CodeVersion()
		_, _ = p.CodeVersionByAssetKey()
		_, _ = p.Provenance()
		_, _ = p.ProvenanceByAssetKey()
		_, _ = p.PartitionKey()
		_, _ = p.PartitionKeyRange()
		_, _ = p.PartitionTimeWindow()
		_ = p.Extras()
		var v any
		for k := range data.Extras {
			if err := p.DecodeExtra(k, &v); err != nil {
				t.Fatalf("extra %q was accepted but does not decode: %v", k, err)
			}
		}
	})
}

func FuzzDefaultContextLoaderData(f *testing.F) {
	f.Add(`{"data": {"run_id": "r"}}`)
	f.Add(`{"path": 1}`)
	f.Add(`{"data": [1]}`)
	f.Fuzz(func(t *testing.T, params string) {
		var p map[string]any
		if json.Unmarshal([]byte(params), &p) != nil {
			return
		}
		_, _ = DefaultContextLoader{}.LoadContext(context.Background(), Params(p))
	})
}

// FuzzAppendJSONAgreesWithEncodingJSON: for any JSON document decoded into
// Go values, our encoder writes the same value encoding/json writes (our
// floats merely keep a decimal point).
func FuzzAppendJSONAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, "x", null, true, {"b": {}}]}`, `"é\u2028\u0000"`, `1e300`, `-0`, `[]`, `{"": ""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return
		}
		ours, err := appendJSON(nil, v)
		if err != nil {
			t.Fatalf("appendJSON(%#v): %v", v, err)
		}
		var fromOurs any
		if err := json.Unmarshal(ours, &fromOurs); err != nil {
			t.Fatalf("our output %q is not JSON: %v", ours, err)
		}
		theirs, _ := json.Marshal(v)
		var fromTheirs any
		_ = json.Unmarshal(theirs, &fromTheirs)
		if !reflect.DeepEqual(fromOurs, fromTheirs) {
			t.Fatalf("ours %s, encoding/json %s", ours, theirs)
		}
	})
}
