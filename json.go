package pipes

import (
	"encoding"
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

// appendJSON appends the JSON encoding of v to dst.
func appendJSON(dst []byte, v any) ([]byte, error) {
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
		return append(dst, x...), nil
	case map[string]any:
		return appendStringMap(dst, x)
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e); err != nil {
				return dst, fmt.Errorf("[%d]: %w", i, err)
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
	case rawAppender:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return x.appendRaw(dst)
	case json.Marshaler:
		return appendMarshaler(dst, x)
	case encoding.TextMarshaler:
		text, err := x.MarshalText()
		if err != nil {
			return dst, err
		}
		return appendString(dst, string(text)), nil
	}
	return appendReflect(dst, reflect.ValueOf(v))
}

func appendMarshaler(dst []byte, m json.Marshaler) ([]byte, error) {
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return append(dst, "null"...), nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return dst, err
	}
	return append(dst, raw...), nil
}

// appendReflect handles named and composite types the fast path does not:
// slices, arrays, maps with string keys, pointers, named basic types, and
// structs (through appendStruct, which honours their json tags).
func appendReflect(dst []byte, rv reflect.Value) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Invalid:
		return append(dst, "null"...), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendJSON(dst, rv.Elem().Interface())
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
		dst = append(dst, '[')
		for i := range rv.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, rv.Index(i).Interface()); err != nil {
				return dst, fmt.Errorf("[%d]: %w", i, err)
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
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k.String())
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, rv.MapIndex(k).Interface()); err != nil {
				return dst, fmt.Errorf("%q: %w", k.String(), err)
			}
		}
		return append(dst, '}'), nil
	case reflect.Struct:
		return appendStruct(dst, rv)
	}
	return dst, fmt.Errorf("a value of type %s cannot be encoded as JSON", rv.Type())
}

func appendStringMap(dst []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	// Small maps (table rows, custom payloads) sort their keys on the stack.
	var keysBuf [16]string
	keys := appendSortedKeys(keysBuf[:0], m)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSON(dst, m[k]); err != nil {
			return dst, fmt.Errorf("%q: %w", k, err)
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
