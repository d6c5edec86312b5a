package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

const (
	opened = `{"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}`
	closed = `{"__dagster_pipes_version":"0.1","method":"closed","params":{}}`
)

func msg(method, params string) string {
	return `{"__dagster_pipes_version":"0.1","method":"` + method + `","params":` + params + `}`
}

func collect(assetKeys []string, lines ...string) *Result {
	c := NewCollector(assetKeys)
	for _, l := range lines {
		c.Add([]byte(l))
	}
	return c.Result()
}

func TestValidSession(t *testing.T) {
	res := collect([]string{"a", "b"},
		opened,
		msg("log", `{"message":"hi","level":"WARNING"}`),
		msg("log", `{"message":"no level"}`),
		msg("report_asset_materialization", `{"asset_key":"a","data_version":"v1","metadata":{"rows":{"raw_value":3,"type":"__infer__"},"f":{"raw_value":1.5,"type":"float"},"t":{"raw_value":{"records":[{"x":1}],"schema":[{"name":"x","type":"int"}]},"type":"table"}}}`),
		msg("report_asset_materialization", `{"asset_key":"b","data_version":null,"metadata":null}`),
		msg("report_asset_check", `{"asset_key":"a","check_name":"c","passed":false,"metadata":null,"severity":"WARN"}`),
		msg("report_custom_message", `{"payload":{"n":1}}`),
		msg("log_external_stream", `{"stream":"stdout","text":"x\n","extras":{}}`),
		msg("closed", `{"exception":{"name":"*errors.errorString","message":"boom","stack":["  File \"a.go\", line 1, in f\n"],"cause":null,"context":null}}`),
		msg("log_external_stream", `{"stream":"stderr","text":"late"}`),
	)
	require.Empty(t, res.ProtocolErrors)
	assert.True(t, res.Opened)
	assert.Equal(t, []Log{{"WARNING", "hi"}, {"INFO", "no level"}}, res.Logs)
	m, ok := res.Materialization("a")
	require.True(t, ok)
	assert.Equal(t, "v1", m.DataVersion)
	assert.Equal(t, pipes.MetadataInt, m.Metadata["rows"].Effective())
	rows, ok := m.Metadata["rows"].Int()
	assert.True(t, ok)
	assert.EqualValues(t, 3, rows)
	f, _ := m.Metadata["f"].Float()
	assert.Equal(t, 1.5, f)
	assert.Equal(t, pipes.MetadataTable, m.Metadata["t"].Effective())
	b, _ := res.Materialization("b")
	assert.Nil(t, b.Metadata)
	c, ok := res.Check("a", "c")
	require.True(t, ok)
	assert.False(t, c.Passed)
	assert.Equal(t, pipes.SeverityWarn, c.Severity)
	assert.Equal(t, []any{map[string]any{"n": json.Number("1")}}, res.CustomMessages)
	assert.Len(t, res.ExternalStreams, 2)
	require.True(t, res.Closed)
	require.NotNil(t, res.Exception)
	assert.Equal(t, "boom", res.Exception.Message)
	assert.Len(t, res.Messages, 10)
	assert.True(t, res.Failed(), "an exception is a failure")
}

// Regression (issue 10): the validator refused json values Dagster accepts
// (a string, null); it judges as MetadataValue.json does.
func TestJSONMetadataJudgedAsDagster(t *testing.T) {
	for _, raw := range []string{`"x"`, `null`, `[]`, `{}`} {
		res := collect([]string{"a"}, opened,
			msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"j":{"raw_value":`+raw+`,"type":"json"},"i":{"raw_value":true,"type":"int"},"t":{"raw_value":false,"type":"timestamp"}}}`), closed)
		assert.Empty(t, res.ProtocolErrors, raw)
	}
	res := collect([]string{"a"}, opened, msg("report_custom_message", `{"payload":`+strings.Repeat("[", 300)+strings.Repeat("]", 300)+`}`), closed)
	assert.Empty(t, res.ProtocolErrors, "300 levels are still readable")
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{"not json", `{"oops`, "not a JSON message"},
		{"array", `[1]`, "not a JSON object"},
		{"no version", `{"method":"log","params":{"message":"x"}}`, "missing __dagster_pipes_version"},
		{"wrong version", `{"__dagster_pipes_version":"0.2","method":"log","params":{"message":"x"}}`, `want "0.1"`},
		{"extra envelope key", `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"x"},"x":1}`, `unexpected key "x"`},
		{"no params", `{"__dagster_pipes_version":"0.1","method":"log"}`, "missing params"},
		{"params not object", msg("log", `[1]`), "params must be an object or null"},
		{"unknown method", msg("report_asset_observation", `{}`), "Unknown message method: report_asset_observation"},
		{"log extra key", msg("log", `{"message":"x","level":"INFO","extra":1}`), `unexpected param "extra"`},
		{"log bad level", msg("log", `{"message":"x","level":"TRACE"}`), `level "TRACE"`},
		{"log message not string", msg("log", `{"message":3}`), "message must be a string"},
		{"mat missing key", msg("report_asset_materialization", `{"asset_key":"a","metadata":null}`), `missing param "data_version"`},
		{"mat extra key", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":null,"partition":"p"}`), `unexpected param "partition"`},
		{"mat unknown asset", msg("report_asset_materialization", `{"asset_key":"zzz","data_version":null,"metadata":null}`), `asset key "zzz" is not one of`},
		{"mat null params", msg("report_asset_materialization", `null`), "params must be an object, got null"},
		{"metadata not wrapped", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"rows":3}}`), `metadata "rows" must be {"raw_value"`},
		{"metadata unknown type", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"j":{"raw_value":1,"type":"job"}}}`), "unknown metadata type"},
		{"metadata int as float", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"f":{"raw_value":1,"type":"float"}}}`), "decimal point"},
		{"metadata float as int", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"i":{"raw_value":1.0,"type":"int"}}}`), "must be an integer"},
		{"metadata json number", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"j":{"raw_value":3,"type":"json"}}}`), "JSON object, array, string or null"},
		{"metadata json bool", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"j":{"raw_value":true,"type":"json"}}}`), "JSON object, array, string or null"},
		{"metadata timestamp overflows", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"t":{"raw_value":1e400,"type":"timestamp"}}}`), "fits a float"},
		{"too deep", msg("report_custom_message", `{"payload":`+strings.Repeat("[", 500)+strings.Repeat("]", 500)+`}`), "recursion limit"},
		{"metadata extra key", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"j":{"raw_value":"x","type":"text","label":"l"}}}`), `unexpected key "label"`},
		{"table bad schema", msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":{"t":{"raw_value":{"records":[],"schema":{"columns":[]}},"type":"table"}}}`), "schema must be an array"},
		{"check bad severity", msg("report_asset_check", `{"asset_key":"a","check_name":"c","passed":true,"metadata":null,"severity":"INFO"}`), `severity must be "WARN" or "ERROR"`},
		{"check passed string", msg("report_asset_check", `{"asset_key":"a","check_name":"c","passed":"yes","metadata":null,"severity":"ERROR"}`), "passed must be a bool"},
		{"check missing severity", msg("report_asset_check", `{"asset_key":"a","check_name":"c","passed":true,"metadata":null}`), `missing param "severity"`},
		{"custom extra key", msg("report_custom_message", `{"payload":1,"x":2}`), `unexpected param "x"`},
		{"stream bad", msg("log_external_stream", `{"stream":"stdin","text":"x"}`), "Unexpected stream: stdin"},
		{"opened twice", opened, "opened sent twice"},
		{"closed exception missing keys", msg("closed", `{"exception":{"message":"x","stack":[]}}`), `missing "name"`},
		{"closed extra key", msg("closed", `{"error":"x"}`), `unexpected param "error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := collect([]string{"a"}, opened, tt.line, closed)
			require.NotEmpty(t, res.ProtocolErrors)
			var texts []string
			for _, err := range res.ProtocolErrors {
				texts = append(texts, err.Error())
			}
			assert.Contains(t, strings.Join(texts, "\n"), tt.want)
			assert.Contains(t, texts[0], "message 2", "errors name the message")
		})
	}
}

func TestSessionLevelErrors(t *testing.T) {
	assert.Contains(t, collect(nil).ProtocolErrors[0].Error(), "did not receive any messages")
	assert.Contains(t, collect(nil, opened).ProtocolErrors[0].Error(), "did not receive the closed message")
	res := collect(nil, msg("log", `{"message":"x"}`), opened, closed)
	assert.Contains(t, res.ProtocolErrors[0].Error(), "before opened")
	res = collect(nil, opened, closed, msg("log", `{"message":"x"}`))
	assert.Contains(t, res.ProtocolErrors[0].Error(), "after closed")
	res = collect([]string{"a"}, opened,
		msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":null}`),
		msg("report_asset_materialization", `{"asset_key":"a","data_version":null,"metadata":null}`), closed)
	assert.Contains(t, res.ProtocolErrors[0].Error(), "materialized twice")
	// Without asset keys in the context any key is accepted, as Dagster does.
	res = collect(nil, opened, msg("report_asset_materialization", `{"asset_key":"x","data_version":null,"metadata":null}`), closed)
	assert.Empty(t, res.ProtocolErrors)
}

func TestStreamWriterSplitsMessagesFromOutput(t *testing.T) {
	c := NewCollector(nil)
	var out bytes.Buffer
	var events []Event
	w := c.StreamWriter(&out, func(e Event) { events = append(events, e) })
	input := "hello\n" + opened + "\n{\"not\":\"a message\"}\n" + closed[:20]
	for i := 0; i < len(input); i += 7 { // split writes at odd places
		_, _ = w.Write([]byte(input[i:min(i+7, len(input))]))
	}
	_, _ = w.Write([]byte(closed[20:] + "\r\npartial"))
	w.Flush()
	assert.Equal(t, "hello\n{\"not\":\"a message\"}\npartial", out.String())
	require.Len(t, events, 2)
	assert.IsType(t, Opened{}, events[0].Value)
	assert.IsType(t, Closed{}, events[1].Value)
	assert.Empty(t, c.Result().ProtocolErrors)
}

func TestPrepare(t *testing.T) {
	job := "j"
	data := pipes.ContextData{AssetKeys: []string{"a"}, RunID: "r", JobName: &job}
	for _, inj := range []Injection{InjectFile, InjectEnv} {
		for _, tr := range []Transport{TransportFile, TransportStdout} {
			for _, bs := range []Bootstrap{BootstrapEnv, BootstrapArgs} {
				t.Run(string(inj)+"/"+string(tr)+"/"+string(bs), func(t *testing.T) {
					p, err := Prepare(Config{Data: data, Injection: inj, Transport: tr, Bootstrap: bs, Dir: t.TempDir()})
					require.NoError(t, err)
					var loader pipes.ParamsLoader
					if bs == BootstrapEnv {
						require.Len(t, p.Env, 2)
						m := map[string]string{}
						for _, kv := range p.Env {
							k, v, _ := strings.Cut(kv, "=")
							m[k] = v
						}
						loader = pipes.MappingParamsLoader{Mapping: m}
					} else {
						require.Empty(t, p.Env)
						loader = pipes.CLIArgsParamsLoader{Args: p.Args}
					}
					require.True(t, loader.IsDagsterPipesProcess())
					cp, err := loader.LoadContextParams()
					require.NoError(t, err)
					got, err := pipes.DefaultContextLoader{}.LoadContext(context.Background(), cp)
					require.NoError(t, err)
					assert.Equal(t, []string{"a"}, got.AssetKeys)
					assert.Equal(t, "j", *got.JobName)
					assert.Equal(t, map[string]any{}, got.Extras)
					mp, err := loader.LoadMessagesParams()
					require.NoError(t, err)
					if tr == TransportFile {
						assert.Equal(t, p.MessagesPath, mp["path"])
						assert.FileExists(t, p.MessagesPath)
					} else {
						assert.Equal(t, "stdout", mp["stdio"])
					}
				})
			}
		}
	}
	raw, err := ContextJSON(pipes.ContextData{RunID: "r"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"asset_keys":null,"code_version_by_asset_key":null,"provenance_by_asset_key":null,"partition_key":null,
		"partition_key_range":null,"partition_time_window":null,"run_id":"r","job_name":null,"retry_number":0,"extras":{}}`, string(raw))
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages")
	require.NoError(t, os.WriteFile(path, []byte("one\ntw"), 0o600))
	done := make(chan struct{})
	lines := make(chan string, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- TailFile(context.Background(), path, 0, done, func(l []byte) { lines <- string(l) })
	}()
	assert.Equal(t, "one", <-lines)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f.WriteString("o\nthree")
	require.NoError(t, f.Close())
	assert.Equal(t, "two", <-lines)
	close(done)
	require.NoError(t, <-errc)
	assert.Equal(t, "three", <-lines, "a last line without newline is delivered at the end")
}
