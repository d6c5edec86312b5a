package pipes_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// FuzzMetadataValueJudgedAlike: a metadata value the encoder accepts is
// one the local runner's validator (pipestest's judge of what Dagster
// reads) accepts too.
func FuzzMetadataValueJudgedAlike(f *testing.F) {
	for i, raw := range []string{`3`, `true`, `"s"`, `null`, `[]`, `{"a":1}`, `1.5`, `1e400`, `{"records":[],"schema":[]}`, `[[[[1]]]]`} {
		f.Add([]byte(raw), uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw []byte, typ uint8) {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return
		}
		mv := pipes.MetadataValue{Type: pipes.AllMetadataTypes()[int(typ)%len(pipes.AllMetadataTypes())], Raw: v}
		entry, err := mv.MarshalJSON()
		if err != nil {
			return
		}
		c := orchestrator.NewCollector([]string{"a"})
		c.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}`))
		c.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"a","data_version":null,"metadata":{"k":` + string(entry) + `}}}`))
		c.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"closed","params":{}}`))
		if errs := c.Result().ProtocolErrors; len(errs) > 0 {
			t.Fatalf("the encoder accepted %s as %s, the validator refuses it: %v", raw, mv.Type, errs[0])
		}
	})
}

// FuzzCollectorLine: the local runner's parser reports any line, never
// panics.
func FuzzCollectorLine(f *testing.F) {
	for _, s := range []string{`{}`, `{"__dagster_pipes_version":"0.1","method":"closed","params":{"exception":{}}}`, `[`, "\xff", `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c := orchestrator.NewCollector(nil)
		c.Add(line)
		_ = c.Result()
	})
}
