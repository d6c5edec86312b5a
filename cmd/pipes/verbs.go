package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// The report verbs, run by the command under `pipes exec` (or its
// children). Each sends one request and exits 0 when Dagster's side accepted
// it, or prints the library's error to stderr and exits 1, so that a `set -e`
// script stops at its first mistake. Bad flags exit 2.

const verbUsage = `Usage:
  pipes log [--level DEBUG|INFO|WARNING|ERROR|CRITICAL] MESSAGE...
  pipes materialize [--asset KEY] [--data-version V] [--meta k=v]... [--meta-json k=JSON]... [--meta-type k=TYPE]...
  pipes check --name NAME (--passed|--failed) [--severity ERROR|WARN] [--asset KEY] [--meta k=v]...
  pipes message JSON
  pipes context [FIELD]

Run from a command that "pipes exec" started: they reach it through
$` + SocketEnv + ` and $` + SecretEnv + `.

Metadata: --meta k=v infers the type from v: an integer is an int, a number a
float, true/false a bool, anything else text. --meta-type k=TYPE gives the type
instead (text, url, path, notebook, md, int, float, bool, timestamp (RFC 3339
or Unix seconds), json, table, table_schema, table_column_lineage,
dagster_run, asset, null; JSON types take v as JSON). --meta-json k=JSON is a
json value.

pipes context prints the whole context as JSON, or one field by its path
(partition_key, extras.limit, asset_keys, code_version_by_asset_key.orders):
a string as it is, a list of strings one per line, anything else as JSON. A
missing or null field is an error.
`

func verbMain(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	req, field, err := parseVerb(verb, args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pipes %s: %v\n", verb, err)
		return 2
	}
	if runtime.GOOS == "windows" {
		fmt.Fprintf(stderr, "pipes %s: the report verbs are not supported on Windows yet "+
			"(they need a Unix socket); use the Go package github.com/dagster-pipes-go/pipes instead\n", verb)
		return 1
	}
	data, err := callReport(ctx, os.Getenv, req)
	if err != nil {
		fmt.Fprintf(stderr, "pipes %s: %v\n", verb, err)
		return 1
	}
	if verb == "context" {
		out, err := contextField(data, field)
		if err != nil {
			fmt.Fprintf(stderr, "pipes context: %v\n", err)
			return 1
		}
		fmt.Fprint(stdout, out)
	}
	return 0
}

// metaFlags collects --meta, --meta-json and --meta-type in order.
type metaFlags struct {
	text  []string
	json  []string
	types []string
}

func (m *metaFlags) register(fs *flag.FlagSet) {
	fs.Var((*listFlag)(&m.text), "meta", "metadata `k=v`, its type inferred from v (repeatable)")
	fs.Var((*listFlag)(&m.json), "meta-json", "metadata `k=JSON`, a json value (repeatable)")
	fs.Var((*listFlag)(&m.types), "meta-type", "the type of --meta k, as `k=TYPE` (repeatable)")
}

// parseVerb turns a verb's arguments into its request (and, for context,
// the field to print).
func parseVerb(verb string, args []string, out io.Writer) (request, string, error) {
	fs := flag.NewFlagSet("pipes "+verb, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprint(out, verbUsage) }
	req := request{Verb: verb}
	var meta metaFlags
	var passed, failed bool
	switch verb {
	case "log":
		fs.StringVar(&req.Level, "level", "INFO", "log `level`")
	case "materialize":
		fs.StringVar(&req.Asset, "asset", "", "asset `key` (\"a/b\" for [\"a\", \"b\"]); optional when the step has one asset")
		fs.StringVar(&req.DataVersion, "data-version", "", "data `version`")
		meta.register(fs)
	case "check":
		fs.StringVar(&req.Asset, "asset", "", "asset `key`; optional when the step has one asset")
		fs.StringVar(&req.Check, "name", "", "check `name` (required)")
		fs.BoolVar(&passed, "passed", false, "the check passed")
		fs.BoolVar(&failed, "failed", false, "the check failed")
		fs.StringVar(&req.Severity, "severity", "ERROR", "`severity`: ERROR or WARN")
		meta.register(fs)
	}
	if err := fs.Parse(args); err != nil {
		return req, "", err
	}
	rest := fs.Args()
	switch verb {
	case "log":
		if len(rest) == 0 {
			return req, "", errors.New("no MESSAGE to log")
		}
		if _, err := parseLevel(req.Level); err != nil {
			return req, "", err
		}
		req.Text = strings.Join(rest, " ")
		return req, "", nil
	case "message":
		if len(rest) != 1 {
			return req, "", errors.New("want exactly one argument: the message as JSON (quote it)")
		}
		if !json.Valid([]byte(rest[0])) {
			return req, "", fmt.Errorf("not valid JSON: %s", rest[0])
		}
		req.Payload = json.RawMessage(rest[0])
		return req, "", nil
	case "context":
		if len(rest) > 1 {
			return req, "", errors.New("want at most one FIELD")
		}
		if len(rest) == 1 {
			return req, rest[0], nil
		}
		return req, "", nil
	case "check":
		if req.Check == "" {
			return req, "", errors.New("--name is required")
		}
		if passed == failed {
			return req, "", errors.New("give exactly one of --passed and --failed")
		}
		req.Passed = passed
		req.Severity = strings.ToUpper(req.Severity)
		if req.Severity == "WARNING" {
			req.Severity = "WARN"
		}
	}
	if len(rest) > 0 {
		return req, "", fmt.Errorf("unexpected argument %q", rest[0])
	}
	md, err := meta.build()
	if err != nil {
		return req, "", err
	}
	req.Metadata = md
	return req, "", nil
}

// build makes the wire metadata, in the form the library would send.
func (m *metaFlags) build() (map[string]wireMetadata, error) {
	if len(m.text)+len(m.json) == 0 {
		if len(m.types) > 0 {
			return nil, fmt.Errorf("--meta-type %s: no --meta with that key", m.types[0])
		}
		return nil, nil
	}
	types := map[string]string{}
	for _, kv := range m.types {
		k, t, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--meta-type %q: want k=TYPE", kv)
		}
		types[k] = t
	}
	out := map[string]wireMetadata{}
	add := func(flagName, kv string, value func(k, v string) (pipes.MetadataValue, error)) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--%s %q: want k=v", flagName, kv)
		}
		if _, dup := out[k]; dup {
			return fmt.Errorf("--%s %s: metadata key %q given twice", flagName, kv, k)
		}
		mv, err := value(k, v)
		if err != nil {
			return fmt.Errorf("--%s %s: %w", flagName, kv, err)
		}
		raw, err := mv.MarshalJSON()
		if err != nil {
			return fmt.Errorf("--%s %s: %w", flagName, kv, err)
		}
		var w wireMetadata
		if err := json.Unmarshal(raw, &w); err != nil {
			return err
		}
		out[k] = w
		return nil
	}
	for _, kv := range m.text {
		err := add("meta", kv, func(k, v string) (pipes.MetadataValue, error) {
			t, ok := types[k]
			delete(types, k)
			if !ok {
				return inferValue(v), nil
			}
			return typedValue(pipes.MetadataType(t), v)
		})
		if err != nil {
			return nil, err
		}
	}
	for _, kv := range m.json {
		err := add("meta-json", kv, func(k, v string) (pipes.MetadataValue, error) {
			if _, ok := types[k]; ok {
				return pipes.MetadataValue{}, errors.New("--meta-type applies to --meta only (use --meta k=JSON --meta-type k=TYPE)")
			}
			if !json.Valid([]byte(v)) {
				return pipes.MetadataValue{}, errors.New("not valid JSON")
			}
			return pipes.JSON(json.RawMessage(v)), nil
		})
		if err != nil {
			return nil, err
		}
	}
	for k := range types {
		return nil, fmt.Errorf("--meta-type %s=%s: no --meta with that key", k, types[k])
	}
	return out, nil
}

// inferValue types a --meta value the way a user expects: an integer is an
// int (one too large for 64 bits stays text, not a rounded float), a finite
// number a float, true or false a bool, anything else text.
func inferValue(v string) pipes.MetadataValue {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return pipes.Int(i)
	}
	if looksNumeric(v) {
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) {
			if !isInteger(v) {
				return pipes.Float(f)
			}
		}
	}
	switch strings.ToLower(v) {
	case "true":
		return pipes.Bool(true)
	case "false":
		return pipes.Bool(false)
	}
	return pipes.Text(v)
}

// looksNumeric is true for text made of a number's characters only, which
// rules out "NaN", "Inf" and "infinity".
func looksNumeric(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !strings.ContainsRune("0123456789+-.eE", r) {
			return false
		}
	}
	return true
}

// isInteger is true for digits with an optional sign.
func isInteger(v string) bool {
	v = strings.TrimLeft(v, "+-")
	return v != "" && strings.Trim(v, "0123456789") == ""
}

// typedValue converts v to a value of type t.
func typedValue(t pipes.MetadataType, v string) (pipes.MetadataValue, error) {
	switch t {
	case pipes.MetadataText, pipes.MetadataURL, pipes.MetadataPath, pipes.MetadataNotebook,
		pipes.MetadataMarkdown, pipes.MetadataDagsterRun, pipes.MetadataAsset:
		return pipes.MetadataValue{Type: t, Raw: v}, nil
	case pipes.MetadataInt:
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return pipes.MetadataValue{}, fmt.Errorf("not an int: %q", v)
		}
		return pipes.Int(i), nil
	case pipes.MetadataFloat:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return pipes.MetadataValue{}, fmt.Errorf("not a finite float: %q", v)
		}
		return pipes.Float(f), nil
	case pipes.MetadataBool:
		switch strings.ToLower(v) {
		case "true":
			return pipes.Bool(true), nil
		case "false":
			return pipes.Bool(false), nil
		}
		return pipes.MetadataValue{}, fmt.Errorf("not a bool (true or false): %q", v)
	case pipes.MetadataTimestamp:
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return pipes.MetadataValue{Type: t, Raw: f}, nil
		}
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return pipes.MetadataValue{}, fmt.Errorf("not a timestamp (RFC 3339 or Unix seconds): %q", v)
		}
		return pipes.Timestamp(ts), nil
	case pipes.MetadataNull:
		if v != "" {
			return pipes.MetadataValue{}, fmt.Errorf("a null value takes no value (k=), got %q", v)
		}
		return pipes.Null(), nil
	case pipes.MetadataTable, pipes.MetadataTableSchema, pipes.MetadataTableColumnLineage:
		return tableValue(t, v)
	case pipes.MetadataJSON, pipes.MetadataInfer:
		if !json.Valid([]byte(v)) {
			return pipes.MetadataValue{}, fmt.Errorf("type %s takes JSON: %q is not valid JSON", t, v)
		}
		return pipes.MetadataValue{Type: t, Raw: json.RawMessage(v)}, nil
	}
	return pipes.MetadataValue{}, fmt.Errorf("unknown metadata type %q", t)
}

// contextField renders the context data, or one field of it, for a script.
func contextField(data json.RawMessage, field string) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("bad context from `pipes exec`: %w", err)
	}
	if field != "" {
		for _, part := range strings.Split(field, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return "", fmt.Errorf("no field %q in the context: %q is not an object", field, part)
			}
			if v, ok = m[part]; !ok {
				return "", fmt.Errorf("no field %q in the context", field)
			}
		}
		if v == nil {
			return "", fmt.Errorf("%s is null in this step's context", field)
		}
	}
	switch x := v.(type) {
	case string:
		return x + "\n", nil
	case []any:
		var b strings.Builder
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return marshalLine(v)
			}
			b.WriteString(s + "\n")
		}
		return b.String(), nil
	}
	return marshalLine(v)
}

func marshalLine(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b) + "\n", err
}
