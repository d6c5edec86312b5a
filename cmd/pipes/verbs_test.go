package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

func TestInferValue(t *testing.T) {
	for in, want := range map[string]pipes.MetadataValue{
		"3": pipes.Int(3), "-12": pipes.Int(-12), "+5": pipes.Int(5), "0": pipes.Int(0),
		"2.5": pipes.Float(2.5), "-0.5": pipes.Float(-0.5), "1e3": pipes.Float(1000), ".5": pipes.Float(0.5),
		"true": pipes.Bool(true), "False": pipes.Bool(false), "TRUE": pipes.Bool(true),
		"hello": pipes.Text("hello"), "": pipes.Text(""), "NaN": pipes.Text("NaN"), "Inf": pipes.Text("Inf"),
		"infinity": pipes.Text("infinity"), "1e999": pipes.Text("1e999"), "0x10": pipes.Text("0x10"),
		"1_000": pipes.Text("1_000"), "99999999999999999999": pipes.Text("99999999999999999999"),
		"t": pipes.Text("t"), "yes": pipes.Text("yes"), "1.2.3": pipes.Text("1.2.3"), " 3": pipes.Text(" 3"),
		"-": pipes.Text("-"), "e": pipes.Text("e"),
	} {
		assert.Equal(t, want, inferValue(in), "%q", in)
	}
}

func TestTypedValue(t *testing.T) {
	ok := map[[2]string]string{
		{"text", "a b"}:                       `{"raw_value":"a b","type":"text"}`,
		{"url", "https://x"}:                  `{"raw_value":"https://x","type":"url"}`,
		{"md", "# t"}:                         `{"raw_value":"# t","type":"md"}`,
		{"int", "7"}:                          `{"raw_value":7,"type":"int"}`,
		{"float", "7"}:                        `{"raw_value":7.0,"type":"float"}`,
		{"bool", "FALSE"}:                     `{"raw_value":false,"type":"bool"}`,
		{"timestamp", "1.5"}:                  `{"raw_value":1.5,"type":"timestamp"}`,
		{"timestamp", "1970-01-01T00:00:02Z"}: `{"raw_value":2.0,"type":"timestamp"}`,
		{"null", ""}:                          `{"raw_value":null,"type":"null"}`,
		{"json", `[1,"a"]`}:                   `{"raw_value":[1,"a"],"type":"json"}`,
		{"asset", "a/b"}:                      `{"raw_value":"a/b","type":"asset"}`,
		{"table_schema", `{"columns":[]}`}:    `{"raw_value":{"columns":[]},"type":"table_schema"}`,
		{"table_schema", `{"columns":[{"name":"id","type":"int","constraints":{"unique":true}}]}`}:          `{"raw_value":{"columns":[{"name":"id","type":"int","constraints":{"nullable":true,"unique":true,"other":[]}}]},"type":"table_schema"}`,
		{"table", `{"records":[{"id":1,"n":"a"}],"schema":[{"name":"id","type":"int"}]}`}:                   `{"raw_value":{"records":[{"id":1,"n":"a"}],"schema":[{"name":"id","type":"int"}]},"type":"table"}`,
		{"table_column_lineage", `{"deps_by_column":{"id":[{"asset_key":["up","x"],"column_name":"id"}]}}`}: `{"raw_value":{"deps_by_column":{"id":[{"asset_key":["up","x"],"column_name":"id"}]}},"type":"table_column_lineage"}`,
	}
	for in, want := range ok {
		v, err := typedValue(pipes.MetadataType(in[0]), in[1])
		require.NoError(t, err, in)
		b, err := v.MarshalJSON()
		require.NoError(t, err)
		assert.JSONEq(t, want, string(b), in)
	}
	for in, msg := range map[[2]string]string{
		{"int", "1.5"}: `not an int: "1.5"`, {"float", "NaN"}: `not a finite float: "NaN"`,
		{"bool", "1"}: `not a bool (true or false): "1"`, {"timestamp", "noon"}: "not a timestamp",
		{"null", "x"}: "a null value takes no value", {"json", "{"}: "type json takes JSON",
		{"color", "red"}:         `unknown metadata type "color"`,
		{"table", `{"rows":[]}`}: `type table takes JSON in Dagster's shape`,
	} {
		_, err := typedValue(pipes.MetadataType(in[0]), in[1])
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg)
	}
}

func TestParseVerbFlags(t *testing.T) {
	for _, tc := range []struct {
		verb string
		args []string
		err  string
	}{
		{"log", nil, "no MESSAGE to log"},
		{"check", []string{"--passed"}, "--name is required"},
		{"check", []string{"--name", "c"}, "give exactly one of --passed and --failed"},
		{"check", []string{"--name", "c", "--passed", "--failed"}, "give exactly one of --passed and --failed"},
		{"materialize", []string{"extra"}, `unexpected argument "extra"`},
		{"materialize", []string{"--meta", "novalue"}, `--meta "novalue": want k=v`},
		{"materialize", []string{"--meta", "=v"}, `--meta "=v": want k=v`},
		{"materialize", []string{"--meta", "a=1", "--meta", "a=2"}, `metadata key "a" given twice`},
		{"materialize", []string{"--meta", "a=1", "--meta-json", "a=2"}, `metadata key "a" given twice`},
		{"materialize", []string{"--meta-type", "a=int"}, "--meta-type a=int: no --meta with that key"},
		{"materialize", []string{"--meta", "a=1", "--meta-type", "b=int"}, "--meta-type b=int: no --meta with that key"},
		{"materialize", []string{"--meta-json", "a=1", "--meta-type", "a=int"}, "--meta-type applies to --meta only"},
		{"materialize", []string{"--meta-json", "a={"}, "--meta-json a={: not valid JSON"},
		{"materialize", []string{"--meta", "a=1", "--meta-type", "a"}, `--meta-type "a": want k=TYPE`},
		{"message", nil, "want exactly one argument"},
		{"message", []string{"1", "2"}, "want exactly one argument"},
		{"context", []string{"a", "b"}, "want at most one FIELD"},
		{"log", []string{"--nope", "x"}, "flag provided but not defined: -nope"},
	} {
		_, _, err := parseVerb(tc.verb, tc.args, &bytes.Buffer{})
		require.Error(t, err, "%s %q", tc.verb, tc.args)
		assert.Contains(t, err.Error(), tc.err, "%s %q", tc.verb, tc.args)
	}

	req, _, err := parseVerb("check", []string{"--name", "c", "--failed", "--severity", "warning", "--asset", "a/b", "--meta", "n=1"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, request{Verb: "check", Check: "c", Severity: "WARN", Asset: "a/b",
		Metadata: map[string]wireMetadata{"n": {RawValue: json.RawMessage("1"), Type: "int"}}}, req)
	req, _, err = parseVerb("log", []string{"--level", "error", "a", "b"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "a b", req.Text)
}

func TestContextField(t *testing.T) {
	data := json.RawMessage(`{"asset_keys":["a","b/c"],"partition_key":null,"run_id":"r","retry_number":0,
		"extras":{"limit":10,"big":12345678901234567890,"s":"x","list":[1,"a"],"obj":{"k":true},"f":1.50}}`)
	for field, want := range map[string]string{
		"run_id": "r\n", "asset_keys": "a\nb/c\n", "extras.limit": "10\n", "extras.big": "12345678901234567890\n",
		"extras.s": "x\n", "extras.list": "[1,\"a\"]\n", "extras.obj": "{\"k\":true}\n", "extras.obj.k": "true\n",
		"extras.f": "1.50\n", "retry_number": "0\n",
	} {
		got, err := contextField(data, field)
		require.NoError(t, err, field)
		assert.Equal(t, want, got, field)
	}
	whole, err := contextField(data, "")
	require.NoError(t, err)
	assert.JSONEq(t, string(data), whole)
	for field, msg := range map[string]string{
		"partition_key": "partition_key is null in this step's context",
		"extras.none":   `no field "extras.none" in the context`,
		"run_id.x":      `no field "run_id.x" in the context: "x" is not an object`,
	} {
		_, err := contextField(data, field)
		require.Error(t, err)
		assert.Contains(t, err.Error(), msg)
	}
}

func TestParseExecFlags(t *testing.T) {
	o, err := parseExecFlags([]string{"--message-writer", "s3", "--grace", "3s", "--log-stdout", "info", "--", "bash", "-c", "x --grace"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"bash", "-c", "x --grace"}, o.command)
	assert.Equal(t, "s3", o.writer)
	assert.Equal(t, "default", o.loader)
	assert.False(t, o.bootSet)

	o, err = parseExecFlags([]string{"--dagster-pipes-context", "", "./job"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, o.bootSet, "an empty value still counts as given, as Dagster's arguments do")

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, "no COMMAND to run"},
		{[]string{"--log-stdout", "LOUD", "x"}, `unknown log level "LOUD"`},
		{[]string{"--grace", "-1s", "x"}, "--grace must not be negative"},
		{[]string{"--stderr-lines", "-1", "x"}, "--stderr-lines must not be negative"},
	} {
		_, err := parseExecFlags(tc.args, &bytes.Buffer{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.err)
	}

	var errOut bytes.Buffer
	assert.Equal(t, 2, execMain(t.Context(), []string{"--context-loader", "floppy", "--", "true"}, &errOut, &errOut))
	assert.Contains(t, errOut.String(), `pipes exec: --context-loader "floppy": unknown; want one of default, s3`)
}

func TestDispatch(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, dispatch(t.Context(), nil, &out, &errOut))
	assert.Contains(t, errOut.String(), "Usage:")
	errOut.Reset()
	assert.Equal(t, 2, dispatch(t.Context(), []string{"fly"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `pipes: unknown command "fly"`)
	assert.Equal(t, 0, dispatch(t.Context(), []string{"help"}, &out, &errOut))
	assert.Contains(t, out.String(), "pipes exec [flags] -- COMMAND")
	errOut.Reset()
	assert.Equal(t, 0, dispatch(t.Context(), []string{"help", "exec"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "Usage: pipes exec [flags] -- COMMAND [ARGS...]")
}

func TestWithOnPath(t *testing.T) {
	sep := string(os.PathListSeparator)
	assert.Equal(t, []string{"A=1", "PATH=/bin" + sep + "/opt/p"}, withOnPath([]string{"A=1", "PATH=/bin"}, "/opt/p/pipes"))
	assert.Equal(t, []string{"PATH=/opt/p" + sep + "/bin"}, withOnPath([]string{"PATH=/opt/p" + sep + "/bin"}, "/opt/p/pipes"), "already there")
	assert.Equal(t, []string{"A=1", "PATH=/opt/p"}, withOnPath([]string{"A=1"}, "/opt/p/pipes"))
	assert.Equal(t, []string{"PATH=/bin"}, withOnPath([]string{"PATH=/bin"}, "/tmp/pipes.test"), "only a binary named pipes")
}
