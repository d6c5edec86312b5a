package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dagster-pipes-go/pipes"
)

// This file checks messages as strictly as Dagster's message handler reads
// them: param keys, JSON types, metadata values, exceptions.

func validLevel(level string) bool {
	switch NormalizeLevel(level) {
	case "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG":
		return true
	}
	return false
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// paramChecker validates a params object, recording problems with fail.
type paramChecker struct {
	params map[string]any
	fail   func(string, ...any)
	bad    bool
}

func (p *paramChecker) requireObject() {
	if p.params == nil {
		p.fail("params must be an object, got null")
		p.bad = true
	}
}

// exactKeys checks that every required key is there and nothing else but
// the optional ones, as Dagster calls its handlers with **params.
func (p *paramChecker) exactKeys(required, optional []string) {
	if p.bad {
		return
	}
	for _, k := range required {
		if _, ok := p.params[k]; !ok {
			p.fail("missing param %q (Dagster needs exactly %s)", k, strings.Join(required, ", "))
		}
	}
	for k := range p.params {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			p.fail("unexpected param %q", k)
		}
	}
}

// str returns a string param; with nullable, null (or missing) gives "".
func (p *paramChecker) str(key string, nullable bool) string {
	if p.bad {
		return ""
	}
	v, ok := p.params[key]
	if !ok {
		return ""
	}
	if v == nil && nullable {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		what := "a string"
		if nullable {
			what = "a string or null"
		}
		p.fail("%s must be %s, got %s", key, what, jsonText(v))
	}
	return s
}

// metadata returns the metadata param (null gives nil), checking each
// entry as Dagster will read it.
func (p *paramChecker) metadata(key string) Metadata {
	if p.bad {
		return nil
	}
	v := p.params[key]
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.fail("%s must be an object or null, got %s", key, jsonText(v))
		return nil
	}
	out := make(Metadata, len(m))
	for label, ev := range m {
		entry, ok := ev.(map[string]any)
		if !ok {
			p.fail("metadata %q must be {\"raw_value\": …, \"type\": …}, got %s", label, jsonText(ev))
			continue
		}
		for k := range entry {
			if k != "raw_value" && k != "type" {
				p.fail("metadata %q has unexpected key %q (only raw_value and type)", label, k)
			}
		}
		raw, hasRaw := entry["raw_value"]
		typ, ok := entry["type"].(string)
		if !hasRaw {
			p.fail("metadata %q has no raw_value", label)
		}
		if !ok {
			p.fail("metadata %q: type must be a string, got %s", label, jsonText(entry["type"]))
			continue
		}
		rawJSON, _ := json.Marshal(raw)
		out[label] = MetadataEntry{Type: pipes.MetadataType(typ), Raw: raw, RawJSON: rawJSON}
		if msg := checkMetadataValue(pipes.MetadataType(typ), raw); msg != "" {
			p.fail("metadata %q (type %q): %s", label, typ, msg)
		}
	}
	return out
}

// checkMetadataValue returns what is wrong with raw as a value of type t
// for Dagster, or "".
func checkMetadataValue(t pipes.MetadataType, raw any) string {
	switch t {
	case pipes.MetadataInfer, pipes.MetadataNull:
		return ""
	case pipes.MetadataText, pipes.MetadataURL, pipes.MetadataPath, pipes.MetadataNotebook, pipes.MetadataMarkdown:
		if _, ok := raw.(string); !ok && raw != nil {
			return "raw_value must be a string, got " + jsonText(raw)
		}
	case pipes.MetadataDagsterRun, pipes.MetadataAsset:
		if _, ok := raw.(string); !ok {
			return "raw_value must be a string, got " + jsonText(raw)
		}
	case pipes.MetadataJSON:
		// Dagster's MetadataValue.json takes a mapping, a sequence (a str
		// is one) or None.
		switch raw.(type) {
		case map[string]any, []any, string, nil:
		default:
			return "raw_value must be a JSON object, array, string or null, got " + jsonText(raw)
		}
	case pipes.MetadataInt:
		// Python's bool is an int, so Dagster's int check takes true.
		if _, isBool := raw.(bool); isBool {
			return ""
		}
		if n, ok := raw.(json.Number); raw != nil && (!ok || !isIntSpelling(string(n))) {
			return "raw_value must be an integer (no decimal point), got " + jsonText(raw)
		}
	case pipes.MetadataFloat:
		if n, ok := raw.(json.Number); raw != nil && (!ok || isIntSpelling(string(n))) {
			return "raw_value must be a number with a decimal point (Python reads 1 as an int), got " + jsonText(raw)
		}
	case pipes.MetadataBool:
		if _, ok := raw.(bool); !ok && raw != nil {
			return "raw_value must be a bool, got " + jsonText(raw)
		}
	case pipes.MetadataTimestamp:
		if _, isBool := raw.(bool); isBool {
			return ""
		}
		if n, ok := raw.(json.Number); ok {
			if f, err := strconv.ParseFloat(string(n), 64); err != nil || math.IsInf(f, 0) {
				return "raw_value must be a number of seconds that fits a float, got " + jsonText(raw)
			}
		}
		if _, ok := raw.(json.Number); !ok {
			return "raw_value must be a number of seconds since the Unix epoch, got " + jsonText(raw)
		}
	case pipes.MetadataTable:
		m, ok := raw.(map[string]any)
		if !ok {
			return "raw_value must be an object {records, schema}, got " + jsonText(raw)
		}
		recs, ok := m["records"].([]any)
		if !ok {
			return "records must be an array"
		}
		for i, r := range recs {
			rec, ok := r.(map[string]any)
			if !ok {
				return fmt.Sprintf("records[%d] must be an object", i)
			}
			for col, v := range rec {
				switch v.(type) {
				case string, json.Number, bool, nil:
				default:
					return fmt.Sprintf("records[%d].%s must be a string, number, bool or null, got %s", i, col, jsonText(v))
				}
			}
		}
		return checkColumns(m["schema"], "schema")
	case pipes.MetadataTableSchema:
		m, ok := raw.(map[string]any)
		if !ok {
			return "raw_value must be an object {columns}, got " + jsonText(raw)
		}
		return checkColumns(m["columns"], "columns")
	case pipes.MetadataTableColumnLineage:
		m, ok := raw.(map[string]any)
		if !ok {
			return "raw_value must be an object {deps_by_column}, got " + jsonText(raw)
		}
		deps, ok := m["deps_by_column"].(map[string]any)
		if !ok {
			return "deps_by_column must be an object"
		}
		for col, l := range deps {
			list, ok := l.([]any)
			if !ok {
				return fmt.Sprintf("deps_by_column.%s must be an array", col)
			}
			for i, d := range list {
				dep, ok := d.(map[string]any)
				_, k1 := dep["asset_key"].(string)
				_, k2 := dep["column_name"].(string)
				if !ok || len(dep) != 2 || !k1 || !k2 {
					return fmt.Sprintf("deps_by_column.%s[%d] must be {\"asset_key\": string, \"column_name\": string}, got %s", col, i, jsonText(d))
				}
			}
		}
	default:
		return "unknown metadata type (Dagster: Unexpected metadata type)"
	}
	return ""
}

func checkColumns(v any, name string) string {
	cols, ok := v.([]any)
	if !ok {
		return name + " must be an array of columns"
	}
	for i, c := range cols {
		col, ok := c.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s[%d] must be an object", name, i)
		}
		if _, ok := col["name"].(string); !ok {
			return fmt.Sprintf("%s[%d].name must be a string", name, i)
		}
		if _, ok := col["type"].(string); !ok {
			return fmt.Sprintf("%s[%d].type must be a string", name, i)
		}
		if d, ok := col["description"]; ok && d != nil {
			if _, ok := d.(string); !ok {
				return fmt.Sprintf("%s[%d].description must be a string", name, i)
			}
		}
		if tags, ok := col["tags"]; ok && tags != nil {
			tm, ok := tags.(map[string]any)
			if !ok {
				return fmt.Sprintf("%s[%d].tags must be an object of strings", name, i)
			}
			for _, tv := range tm {
				if _, ok := tv.(string); !ok {
					return fmt.Sprintf("%s[%d].tags must be an object of strings", name, i)
				}
			}
		}
		if cons, ok := col["constraints"]; ok && cons != nil {
			cm, ok := cons.(map[string]any)
			if !ok {
				return fmt.Sprintf("%s[%d].constraints must be an object", name, i)
			}
			for k, cv := range cm {
				switch k {
				case "nullable", "unique":
					if _, ok := cv.(bool); !ok {
						return fmt.Sprintf("%s[%d].constraints.%s must be a bool", name, i, k)
					}
				case "other":
					if _, ok := cv.([]any); !ok {
						return fmt.Sprintf("%s[%d].constraints.other must be an array of strings", name, i)
					}
				default:
					return fmt.Sprintf("%s[%d].constraints has unexpected key %q", name, i, k)
				}
			}
		}
	}
	return ""
}

// checkException checks a PipesException object: exactly the five keys,
// as Dagster reads them all by index.
func checkException(v any, path string, fail func(string, ...any), depth int) bool {
	e, ok := v.(map[string]any)
	if !ok {
		fail("%s must be an object {message, stack, name, cause, context}, got %s", path, jsonText(v))
		return false
	}
	good := true
	for _, k := range []string{"message", "stack", "name", "cause", "context"} {
		if _, ok := e[k]; !ok {
			fail("%s is missing %q (Dagster reads all five keys)", path, k)
			good = false
		}
	}
	for k := range e {
		switch k {
		case "message", "stack", "name", "cause", "context":
		default:
			fail("%s has unexpected key %q", path, k)
			good = false
		}
	}
	if _, ok := e["message"].(string); !ok {
		fail("%s.message must be a string", path)
		good = false
	}
	if n, ok := e["name"]; ok && n != nil {
		if _, ok := n.(string); !ok {
			fail("%s.name must be a string or null", path)
			good = false
		}
	}
	st, ok := e["stack"].([]any)
	if !ok {
		fail("%s.stack must be an array of strings", path)
		good = false
	}
	for _, s := range st {
		if _, ok := s.(string); !ok {
			fail("%s.stack must be an array of strings", path)
			good = false
			break
		}
	}
	if depth < 64 {
		for _, k := range []string{"cause", "context"} {
			if sub := e[k]; sub != nil {
				good = checkException(sub, path+"."+k, fail, depth+1) && good
			}
		}
	}
	return good
}
