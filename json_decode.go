package pipes

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a small JSON decoder for what a job reads at start-up:
// the bootstrap values and the context data. encoding/json's first decode
// in a process costs a small job about a tenth of a millisecond (its
// decoder state, and for ContextData the reflection over its fields); these
// documents are a few hundred bytes. The decoder is strict: on anything it
// is not sure to read exactly as encoding/json does (an error of any kind,
// a \u escape of a surrogate, invalid UTF-8, a duplicate key, a key that
// only matches a field without regard to case, a null where a Go value
// without nil is expected), it gives up and the caller decodes with
// encoding/json, which also gives the exact error. What it accepts,
// encoding/json decodes to the same value (FuzzFastJSONAgreesWithEncodingJSON,
// FuzzFastContextDataAgreesWithEncodingJSON).

// maxFastJSONDepth bounds the nesting the fast decoder follows; deeper
// documents go to encoding/json (whose own bound is 10,000).
const maxFastJSONDepth = 512

type fastJSON struct {
	in  []byte
	pos int
	dup bool // an object had a key twice
}

// decodeJSONFast decodes one JSON value followed only by white space,
// with numbers as json.Number, objects as map[string]any and arrays as
// []any. dup reports a key seen twice in an object (the last one is kept,
// as encoding/json keeps it).
func decodeJSONFast(raw []byte) (v any, dup, ok bool) {
	d := fastJSON{in: raw}
	v, ok = d.value(0)
	if !ok {
		return nil, false, false
	}
	d.space()
	if d.pos != len(d.in) {
		return nil, false, false
	}
	return v, d.dup, true
}

func (d *fastJSON) space() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *fastJSON) value(depth int) (any, bool) {
	d.space()
	if d.pos >= len(d.in) || depth > maxFastJSONDepth {
		return nil, false
	}
	switch c := d.in[d.pos]; {
	case c == '{':
		m, ok := objectOf(d, func() (any, bool) { return d.value(depth + 1) })
		if !ok {
			return nil, false
		}
		return m, true
	case c == '[':
		d.pos++
		a := []any{}
		d.space()
		if d.pos < len(d.in) && d.in[d.pos] == ']' {
			d.pos++
			return a, true
		}
		for {
			v, ok := d.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			d.space()
			if d.pos >= len(d.in) {
				return nil, false
			}
			d.pos++
			switch d.in[d.pos-1] {
			case ',':
			case ']':
				return a, true
			default:
				return nil, false
			}
		}
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return d.number()
	}
}

// members reads the object at d.pos, calling member with each key once
// the key's colon is read: member reads the value.
func (d *fastJSON) members(member func(k string) bool) bool {
	d.space()
	if d.pos >= len(d.in) || d.in[d.pos] != '{' {
		return false
	}
	d.pos++
	d.space()
	if d.pos < len(d.in) && d.in[d.pos] == '}' {
		d.pos++
		return true
	}
	for {
		d.space()
		k, ok := d.str()
		if !ok {
			return false
		}
		d.space()
		if d.pos >= len(d.in) || d.in[d.pos] != ':' {
			return false
		}
		d.pos++
		if !member(k) {
			return false
		}
		d.space()
		if d.pos >= len(d.in) {
			return false
		}
		d.pos++
		switch d.in[d.pos-1] {
		case ',':
		case '}':
			return true
		default:
			return false
		}
	}
}

// null reads a null at d.pos, if there is one.
func (d *fastJSON) null() bool {
	d.space()
	return d.pos < len(d.in) && d.in[d.pos] == 'n' && d.literal("null")
}

func (d *fastJSON) literal(word string) bool {
	if !bytes.HasPrefix(d.in[d.pos:], []byte(word)) {
		return false
	}
	d.pos += len(word)
	return true
}

// number reads a number of JSON's grammar, kept as its text.
func (d *fastJSON) number() (any, bool) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.in) && d.in[d.pos] >= '0' && d.in[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos < len(d.in) && d.in[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.in) && d.in[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return nil, false
	}
	if d.pos < len(d.in) && d.in[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, false
		}
	}
	if d.pos < len(d.in) && (d.in[d.pos] == 'e' || d.in[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.in) && (d.in[d.pos] == '+' || d.in[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return json.Number(d.in[start:d.pos]), true
}

// str reads a string; it gives up on invalid UTF-8 and on \u escapes of
// surrogates (encoding/json replaces what it cannot decode with U+FFFD).
func (d *fastJSON) str() (string, bool) {
	if d.pos >= len(d.in) || d.in[d.pos] != '"' {
		return "", false
	}
	d.pos++
	start := d.pos
	for d.pos < len(d.in) {
		c := d.in[d.pos]
		switch {
		case c == '"':
			s := d.in[start:d.pos]
			d.pos++
			if k, ok := internedKey(s); ok {
				return k, true
			}
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		}
		d.pos++
	}
	return "", false
}

// escaped reads the rest of a string that has an escape, from start.
func (d *fastJSON) escaped(start int) (string, bool) {
	b := append([]byte(nil), d.in[start:d.pos]...)
	for d.pos < len(d.in) {
		c := d.in[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(b) {
				return "", false
			}
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.in) {
			return "", false
		}
		e := d.in[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			if d.pos+4 > len(d.in) {
				return "", false
			}
			r, err := strconv.ParseUint(string(d.in[d.pos:d.pos+4]), 16, 32)
			if err != nil || (r >= 0xD800 && r < 0xE000) {
				return "", false
			}
			d.pos += 4
			b = utf8.AppendRune(b, rune(r))
		default:
			return "", false
		}
	}
	return "", false
}

// contextDataFast decodes a context object into ContextData as
// encoding/json does, or gives up (see the top of this file). It reads the
// top-level object and the two maps by asset key straight into their Go
// types, without a map[string]any of each first.
func contextDataFast(raw []byte) (*ContextData, bool) {
	d := fastJSON{in: raw}
	data := &ContextData{}
	var seen uint16 // the keys of contextDataKeys met so far
	ok := d.members(func(k string) bool {
		i := slices.Index(contextDataKeys, k)
		if i < 0 {
			if !ignoredKey(k, contextDataKeys) {
				return false
			}
			_, ok := d.value(1)
			return ok
		}
		if seen&(1<<i) != 0 {
			return false // twice: encoding/json keeps the last one; let it
		}
		seen |= 1 << i
		return d.contextField(data, k)
	})
	if !ok || d.dup {
		return nil, false
	}
	d.space()
	if d.pos != len(d.in) {
		return nil, false
	}
	if data.Extras == nil {
		data.Extras = map[string]any{}
	}
	return data, true
}

// contextField reads the value of the ContextData field named k.
func (d *fastJSON) contextField(data *ContextData, k string) bool {
	var ok bool
	switch k {
	case "code_version_by_asset_key":
		data.CodeVersionByAssetKey, ok = objectOf(d, func() (*string, bool) {
			v, ok := d.value(2)
			if !ok {
				return nil, false
			}
			return optionalString(v)
		})
		return ok
	case "provenance_by_asset_key":
		data.ProvenanceByAssetKey, ok = objectOf(d, func() (*DataProvenance, bool) {
			v, ok := d.value(2)
			if !ok {
				return nil, false
			}
			return provenanceFast(v)
		})
		return ok
	}
	v, ok := d.value(1)
	if !ok {
		return false
	}
	switch k {
	case "asset_keys":
		if v == nil {
			return true
		}
		a, ok := v.([]any)
		if !ok {
			return false
		}
		data.AssetKeys = make([]string, len(a))
		for i, e := range a {
			if data.AssetKeys[i], ok = e.(string); !ok {
				return false
			}
		}
	case "partition_key":
		data.PartitionKey, ok = optionalString(v)
	case "job_name":
		data.JobName, ok = optionalString(v)
	case "partition_key_range", "partition_time_window":
		var s, e string
		var present bool
		s, e, present, ok = startEndFast(v)
		switch {
		case !ok || !present:
		case k == "partition_key_range":
			data.PartitionKeyRange = &PartitionKeyRange{Start: s, End: e}
		default:
			data.PartitionTimeWindow = &PartitionTimeWindowStrings{Start: s, End: e}
		}
	case "run_id":
		data.RunID, ok = v.(string)
	case "retry_number":
		n, isNumber := v.(json.Number)
		if !isNumber {
			return false
		}
		i, err := strconv.ParseInt(string(n), 10, strconv.IntSize)
		if err != nil {
			return false
		}
		data.RetryNumber, ok = int(i), true
	case "extras":
		if v == nil {
			return true
		}
		data.Extras, ok = v.(map[string]any)
	}
	return ok
}

// objectOf reads null (a nil map) or an object whose values read reads; a
// key twice sets d.dup.
func objectOf[T any](d *fastJSON, read func() (T, bool)) (map[string]T, bool) {
	if d.null() {
		return nil, true
	}
	m := map[string]T{}
	ok := d.members(func(k string) bool {
		v, ok := read()
		if !ok {
			return false
		}
		if _, seen := m[k]; seen {
			d.dup = true
		}
		m[k] = v
		return true
	})
	return m, ok
}

var contextDataKeys = []string{"asset_keys", "code_version_by_asset_key", "provenance_by_asset_key", "partition_key",
	"partition_key_range", "partition_time_window", "run_id", "job_name", "retry_number", "extras"}

// ignoredKey reports whether encoding/json surely ignores key k of an
// object decoded into a struct with the given field names: it matches a
// field by its exact name, else without regard to case (Unicode folding
// included, hence no non-ASCII keys here).
func ignoredKey(k string, fields []string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return false
		}
	}
	for _, f := range fields {
		if strings.EqualFold(k, f) {
			return false
		}
	}
	return true
}

func optionalString(v any) (*string, bool) {
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	return &s, true
}

// startEndFast reads {"start": …, "end": …} (null: not present).
func startEndFast(v any) (start, end string, present, ok bool) {
	if v == nil {
		return "", "", false, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", "", false, false
	}
	for k, v := range m {
		switch k {
		case "start":
			if start, ok = v.(string); !ok {
				return "", "", false, false
			}
		case "end":
			if end, ok = v.(string); !ok {
				return "", "", false, false
			}
		default:
			if !ignoredKey(k, []string{"start", "end"}) {
				return "", "", false, false
			}
		}
	}
	return start, end, true, true
}

func provenanceFast(v any) (*DataProvenance, bool) {
	if v == nil {
		return nil, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	p := &DataProvenance{}
	for k, v := range m {
		switch k {
		case "code_version":
			if p.CodeVersion, ok = v.(string); !ok {
				return nil, false
			}
		case "is_user_provided":
			if p.IsUserProvided, ok = v.(bool); !ok {
				return nil, false
			}
		case "input_data_versions":
			if v == nil {
				continue
			}
			in, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			p.InputDataVersions = make(map[string]string, len(in))
			for ik, iv := range in {
				if p.InputDataVersions[ik], ok = iv.(string); !ok {
					return nil, false
				}
			}
		default:
			if !ignoredKey(k, []string{"code_version", "input_data_versions", "is_user_provided"}) {
				return nil, false
			}
		}
	}
	return p, true
}

// internedKey returns the constant equal to s for the keys of the context
// and of the bootstrap params: they are not allocated again for each value.
func internedKey(s []byte) (string, bool) {
	switch string(s) { // compared without an allocation
	case "asset_keys":
		return "asset_keys", true
	case "code_version_by_asset_key":
		return "code_version_by_asset_key", true
	case "provenance_by_asset_key":
		return "provenance_by_asset_key", true
	case "partition_key":
		return "partition_key", true
	case "partition_key_range":
		return "partition_key_range", true
	case "partition_time_window":
		return "partition_time_window", true
	case "run_id":
		return "run_id", true
	case "job_name":
		return "job_name", true
	case "retry_number":
		return "retry_number", true
	case "extras":
		return "extras", true
	case "path":
		return "path", true
	case "start":
		return "start", true
	case "end":
		return "end", true
	case "code_version":
		return "code_version", true
	case "input_data_versions":
		return "input_data_versions", true
	case "is_user_provided":
		return "is_user_provided", true
	}
	return "", false
}
