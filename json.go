package pipes

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file holds the append-style JSON encoder used for every value this
// package writes (the message encoders of messages.go call it). It differs
// from encoding/json in the ways the protocol needs: a Go float always
// carries a decimal point or an exponent (so that Python reads 1.0 as a
// float, not an int), NaN and infinities are errors that name where they
// were found, and map keys are sorted. Structs are encoded field by field
// with their json tags (json_struct.go), so that the same rules hold inside
// them. Only a value's own json.Marshaler (and []byte, as base64) goes
// through encoding/json; a TextMarshaler is written as a string.

var errUnsupportedFloat = errors.New("NaN and infinite floats cannot be represented in JSON")

// MaxNestingDepth is how deeply objects and arrays may nest in a value this
// package sends (a metadata value, a custom payload, extras). Dagster reads
// messages with Python, whose recursion limit (1,000 frames, of which
// Dagster's own reader uses part) fails somewhere between 400 and 500
// levels; a value past that kills Dagster's reader thread and every later
// message of the step is lost. 100 levels leave a wide margin and are far
// beyond any real value.
const MaxNestingDepth = 100

// errTooDeep is passed up unwrapped through the levels of a value that nests
// too deeply; appendJSON turns it into the error the user sees.
var errTooDeep = errors.New("too deep")

// appendJSON appends the JSON encoding of v to dst. A value nested deeper
// than MaxNestingDepth, or one that contains itself, is an error.
func appendJSON(dst []byte, v any) ([]byte, error) {
	out, err := encodeValue(dst, v, 0)
	return out, depthError(v, err)
}

// maxGoNestingDepth is how deeply encoding/json's decoder lets a value nest:
// the limit for what only Go reads (bootstrap values a Go orchestrator
// encodes for a Go program).
const maxGoNestingDepth = 10000

// appendJSONForGo is appendJSON for a value only Go decodes: it may nest up
// to maxGoNestingDepth levels. Cycles are still refused.
func appendJSONForGo(dst []byte, v any) ([]byte, error) {
	// The depth counts up to MaxNestingDepth: start it that much lower.
	out, err := encodeValue(dst, v, MaxNestingDepth-maxGoNestingDepth)
	if err == errTooDeep && !hasCycle(reflect.ValueOf(v)) {
		return out, fmt.Errorf("the value nests objects and arrays more than %d levels deep", maxGoNestingDepth)
	}
	return out, depthError(v, err)
}

// depthError turns errTooDeep into an error that says whether v contains a
// cycle (the usual cause) or is just nested too deeply.
func depthError(v any, err error) error {
	if err != errTooDeep {
		return err
	}
	if hasCycle(reflect.ValueOf(v)) {
		return errors.New("the value contains itself (a map, slice or pointer cycle): it cannot be sent as JSON")
	}
	return fmt.Errorf("the value nests objects and arrays more than %d levels deep: Dagster's reader (Python) cannot read it", MaxNestingDepth)
}

// wrapPath prefixes err with where in a value it happened, except for
// errTooDeep, which must reach appendJSON as is.
func wrapPath(where string, err error) error {
	if err == errTooDeep {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}

// encodeValue appends v, which is nested depth levels deep in the value
// being encoded.
func encodeValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return appendFloat(dst, x, 64)
	case float32:
		return appendFloat(dst, float64(x), 32)
	case json.Number:
		if !json.Valid([]byte(x)) {
			return dst, fmt.Errorf("json.Number %q is not a valid JSON number", string(x))
		}
		return append(dst, x...), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return dst, fmt.Errorf("json.RawMessage is not valid JSON")
		}
		return appendRawJSON(dst, x, depth)
	case map[string]any:
		return encodeStringMap(dst, x, depth)
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth >= MaxNestingDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = encodeValue(dst, e, depth+1); err != nil {
				return dst, wrapPath(fmt.Sprintf("[%d]", i), err)
			}
		}
		return append(dst, ']'), nil
	case []string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, e)
		}
		return append(dst, ']'), nil
	case map[string]string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		var keysBuf [16]string
		keys := appendSortedKeys(keysBuf[:0], x)
		if err := checkKeys(keys); err != nil {
			return dst, err
		}
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, x[k])
		}
		return append(dst, '}'), nil
	case time.Time:
		// A time is written the way encoding/json writes it (RFC 3339).
		return appendString(dst, x.Format(time.RFC3339Nano)), nil
	case MetadataValue:
		return x.encode(dst, depth)
	case json.Marshaler:
		return appendMarshaler(dst, x, depth)
	case encoding.TextMarshaler:
		text, err := x.MarshalText()
		if err != nil {
			return dst, err
		}
		return appendString(dst, string(text)), nil
	}
	return appendReflect(dst, reflect.ValueOf(v), depth)
}

func appendMarshaler(dst []byte, m json.Marshaler, depth int) ([]byte, error) {
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return append(dst, "null"...), nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return dst, err
	}
	return appendRawJSON(dst, raw, depth)
}

// appendRawJSON appends raw, valid JSON made elsewhere (a MarshalJSON
// method, a json.RawMessage), if it does not nest too deeply at depth.
func appendRawJSON(dst, raw []byte, depth int) ([]byte, error) {
	if depth+jsonNesting(raw) > MaxNestingDepth {
		return dst, errTooDeep
	}
	return append(dst, raw...), nil
}

// jsonNesting returns how deeply objects and arrays nest in valid JSON.
func jsonNesting(raw []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// checkKeys refuses object keys (sorted) that would be sent as the same
// string: invalid UTF-8 is sent as U+FFFD, so "a\xff" and "a\xfe" would
// arrive as one duplicated key and Dagster would keep only one value.
func checkKeys(sorted []string) error {
	invalid := false
	for _, k := range sorted {
		if !utf8.ValidString(k) {
			invalid = true
			break
		}
	}
	if !invalid {
		return nil
	}
	seen := make(map[string]string, len(sorted))
	for _, k := range sorted {
		// What Dagster decodes: each invalid byte becomes U+FFFD, as
		// appendString writes it (and as []rune converts it).
		wire := string([]rune(k))
		if other, dup := seen[wire]; dup {
			return fmt.Errorf("keys %q and %q differ only in invalid UTF-8, which is sent as U+FFFD, so Dagster would receive one key twice: make the keys valid UTF-8", other, k)
		}
		seen[wire] = k
	}
	return nil
}

// hasCycle reports whether v contains itself through maps, slices or
// pointers: the cause of a value that nests too deeply, in all but
// deliberately deep values. It follows one path at a time, remembering the
// containers on it.
func hasCycle(v reflect.Value) bool {
	type ident struct {
		ptr uintptr
		typ reflect.Type
		n   int
	}
	onPath := map[ident]bool{}
	var walk func(v reflect.Value, depth int) bool
	walk = func(v reflect.Value, depth int) bool {
		if depth > 8*MaxNestingDepth {
			return false
		}
		switch v.Kind() {
		case reflect.Interface:
			if v.IsNil() {
				return false
			}
			return walk(v.Elem(), depth+1)
		case reflect.Pointer, reflect.Map, reflect.Slice:
			if v.IsNil() {
				return false
			}
			id := ident{v.Pointer(), v.Type(), 0}
			if v.Kind() == reflect.Slice {
				id.n = v.Len()
			}
			if onPath[id] {
				return true
			}
			onPath[id] = true
			defer delete(onPath, id)
			switch v.Kind() {
			case reflect.Pointer:
				return walk(v.Elem(), depth+1)
			case reflect.Map:
				iter := v.MapRange()
				for iter.Next() {
					if walk(iter.Value(), depth+1) {
						return true
					}
				}
			case reflect.Slice:
				for i := range v.Len() {
					if walk(v.Index(i), depth+1) {
						return true
					}
				}
			}
		case reflect.Array:
			for i := range v.Len() {
				if walk(v.Index(i), depth+1) {
					return true
				}
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if walk(v.Field(i), depth+1) {
					return true
				}
			}
		}
		return false
	}
	return walk(v, 0)
}

// appendReflect handles named and composite types the fast path does not:
// slices, arrays, maps with string keys, pointers, and named basic types.
// Structs go through encoding/json so that their tags are honoured.
func appendReflect(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Invalid:
		return append(dst, "null"...), nil
	case reflect.Pointer, reflect.Interface:
		// A chain of pointers adds no nesting to the JSON, but one that
		// points back into itself would recurse for ever: follow it here,
		// bounded.
		for range 2 * MaxNestingDepth {
			if rv.IsNil() {
				return append(dst, "null"...), nil
			}
			rv = rv.Elem()
			if k := rv.Kind(); k != reflect.Pointer && k != reflect.Interface {
				return encodeValue(dst, rv.Interface(), depth)
			}
			if !rv.CanInterface() {
				break
			}
			if _, isMarshaler := rv.Interface().(json.Marshaler); isMarshaler {
				return encodeValue(dst, rv.Interface(), depth)
			}
		}
		return dst, errTooDeep
	case reflect.String:
		return appendString(dst, rv.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Float32:
		return appendFloat(dst, rv.Float(), 32)
	case reflect.Float64:
		return appendFloat(dst, rv.Float(), 64)
	case reflect.Slice:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			// []byte is base64 text, as encoding/json writes it.
			raw, err := json.Marshal(rv.Interface())
			if err != nil {
				return dst, err
			}
			return append(dst, raw...), nil
		}
		fallthrough
	case reflect.Array:
		if depth >= MaxNestingDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i := range rv.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = encodeValue(dst, rv.Index(i).Interface(), depth+1); err != nil {
				return dst, wrapPath(fmt.Sprintf("[%d]", i), err)
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if rv.Type().Key().Kind() != reflect.String {
			return dst, fmt.Errorf("map with %s keys cannot be encoded as a JSON object: keys must be strings", rv.Type().Key())
		}
		if depth >= MaxNestingDepth {
			return dst, errTooDeep
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			if a.String() < b.String() {
				return -1
			}
			if a.String() > b.String() {
				return 1
			}
			return 0
		})
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
		}
		if err := checkKeys(names); err != nil {
			return dst, err
		}
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k.String())
			dst = append(dst, ':')
			var err error
			if dst, err = encodeValue(dst, rv.MapIndex(k).Interface(), depth+1); err != nil {
				return dst, wrapPath(fmt.Sprintf("%q", k.String()), err)
			}
		}
		return append(dst, '}'), nil
	case reflect.Struct:
		if depth >= MaxNestingDepth {
			return dst, errTooDeep
		}
		return appendStruct(dst, rv, depth)
	}
	return dst, fmt.Errorf("a value of type %s cannot be encoded as JSON", rv.Type())
}

// appendStringMap appends m as a JSON object (see appendJSON).
func appendStringMap(dst []byte, m map[string]any) ([]byte, error) {
	out, err := encodeStringMap(dst, m, 0)
	return out, depthError(m, err)
}

func encodeStringMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	if depth >= MaxNestingDepth {
		return dst, errTooDeep
	}
	// Small maps (table rows, custom payloads) sort their keys on the stack.
	var keysBuf [16]string
	keys := appendSortedKeys(keysBuf[:0], m)
	if err := checkKeys(keys); err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = encodeValue(dst, m[k], depth+1); err != nil {
			return dst, wrapPath(strconv.Quote(k), err)
		}
	}
	return append(dst, '}'), nil
}

func sortedKeys[V any](m map[string]V) []string {
	return appendSortedKeys(make([]string, 0, len(m)), m)
}

// appendSortedKeys appends the keys of m to keys, sorted.
func appendSortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendFloat writes f so that Python's json module reads it back as a float.
func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%v: %w", f, errUnsupportedFloat)
	}
	start := len(dst)
	// Like encoding/json: plain decimals, exponents only for very small or
	// very large magnitudes.
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst, nil
		}
	}
	return append(dst, '.', '0'), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// in encoding/json; U+2028 and U+2029 are escaped so the line stays one line
// for every JSON-lines reader.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringContent(dst, s)
	return append(dst, '"')
}

// appendStringContentFast is appendStringContent for a log message: the
// plain ASCII blocks at its start are copied eight bytes at a time as they
// are checked, in one pass, and only the rest goes through
// appendStringContent.
func appendStringContentFast(dst []byte, s string) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(s))
	i := 0
	for ; i+16 <= len(s); i += 16 {
		a := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		b := uint64(s[i+8]) | uint64(s[i+9])<<8 | uint64(s[i+10])<<16 | uint64(s[i+11])<<24 |
			uint64(s[i+12])<<32 | uint64(s[i+13])<<40 | uint64(s[i+14])<<48 | uint64(s[i+15])<<56
		if !plainASCII8(a) || !plainASCII8(b) {
			break
		}
		binary.LittleEndian.PutUint64(dst[n+i:n+i+8], a)
		binary.LittleEndian.PutUint64(dst[n+i+8:n+i+16], b)
	}
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if !plainASCII8(w) {
			break
		}
		binary.LittleEndian.PutUint64(dst[n+i:n+i+8], w)
	}
	if len(s)-i < 8 {
		// The tail: plain, it is copied as it is.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		if j == len(s) {
			return append(dst[:n+i], s[i:]...)
		}
	}
	return appendStringContent(dst[:n+i], s[i:])
}

// appendStringContent appends s escaped for the inside of a JSON string.
func appendStringContent[S ~string | ~[]byte](dst []byte, s S) []byte {
	start := 0
	blockFrom := 0 // where to try the eight-byte skip next
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time: the common case of a log
		// line or a metadata value that needs no escaping. After a block
		// that is not plain, go byte by byte through it.
		if i >= blockFrom {
			for i+8 <= len(s) && plainASCII8(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
				uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
				i += 8
			}
			blockFrom = i + 8
			if i >= len(s) {
				break
			}
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		var head [utf8.UTFMax]byte
		n := copy(head[:], s[i:])
		r, size := utf8.DecodeRune(head[:n])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// plainASCII8 reports whether none of the eight bytes in x needs escaping or
// UTF-8 decoding: no byte is >= 0x80, < 0x20, '"' or '\\'. It may say false
// for a plain block (the caller then goes byte by byte), never true for one
// that is not.
func plainASCII8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := (x - 0x20*ones) &^ x // high bit set in a byte < 0x20
	q := x ^ '"'*ones
	q = (q - ones) &^ q // high bit set in a '"' byte
	bs := x ^ '\\'*ones
	bs = (bs - ones) &^ bs // high bit set in a '\\' byte
	return (x|lt|q|bs)&highs == 0
}
