package pipes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// wireMessage is a message as read back from the wire.
type wireMessage struct {
	Version string         `json:"__dagster_pipes_version"`
	Method  string         `json:"method"`
	Params  map[string]any `json:"params"`
}

// testData returns context data as Dagster writes it, with every key.
func testData(assetKeys ...string) map[string]any {
	var keys any
	if len(assetKeys) > 0 {
		ks := make([]any, len(assetKeys))
		for i, k := range assetKeys {
			ks[i] = k
		}
		keys = ks
	}
	return map[string]any{
		"asset_keys":                keys,
		"code_version_by_asset_key": nil,
		"provenance_by_asset_key":   nil,
		"partition_key":             nil,
		"partition_key_range":       nil,
		"partition_time_window":     nil,
		"run_id":                    "run-1",
		"job_name":                  "job",
		"retry_number":              json.Number("0"),
		"extras":                    map[string]any{},
	}
}

// bootstrap encodes context and messages params as Dagster would.
func bootstrap(t *testing.T, ctxParams, msgParams map[string]any) map[string]string {
	t.Helper()
	c, err := EncodeParam(ctxParams)
	require.NoError(t, err)
	m, err := EncodeParam(msgParams)
	require.NoError(t, err)
	return map[string]string{ContextEnvVar: c, MessagesEnvVar: m}
}

// newTestContext opens a Context (not the singleton) on data, with messages
// going to a file; read returns the messages written so far.
func newTestContext(t *testing.T, data map[string]any, opts ...Option) (p *Context, read func() []wireMessage) {
	t.Helper()
	dir := t.TempDir()
	msgPath := filepath.Join(dir, "messages")
	boot := bootstrap(t, map[string]any{"data": data}, map[string]any{"path": msgPath})
	opts = append([]Option{WithParamsLoader(MappingParamsLoader{Mapping: boot})}, opts...)
	p, err := New(context.Background(), opts...)
	require.NoError(t, err)
	return p, func() []wireMessage { return readMessages(t, msgPath) }
}

func readMessages(t *testing.T, path string) []wireMessage {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return parseMessages(t, raw)
}

func parseMessages(t *testing.T, raw []byte) []wireMessage {
	t.Helper()
	var out []wireMessage
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		var m wireMessage
		require.NoError(t, dec.Decode(&m), "line %q", sc.Text())
		require.Equal(t, "0.1", m.Version)
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// methods lists the methods of msgs.
func methods(msgs []wireMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Method
	}
	return out
}
