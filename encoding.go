package pipes

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// EncodeParam encodes a bootstrap value the way Dagster does: JSON, then zlib
// (RFC 1950), then standard base64 with padding. Floats keep a decimal point
// so that Python reads them back as floats.
func EncodeParam(value any) (string, error) {
	// What Dagster passes may nest deeper than what a job may send to
	// Dagster, and the reader of an encoded param is this package.
	raw, err := appendJSONForGo(nil, value)
	if err != nil {
		return "", newError(ErrInvalidValue,
			"Invalid type for parameter `value` of `encode_param`. Expected a JSON-serializable type, got `%T`: %v", value, err)
	}
	return base64.StdEncoding.EncodeToString(appendZlib(nil, raw)), nil
}

// DecodeParam decodes a bootstrap value made by Dagster (or by [EncodeParam]):
// base64, then zlib, then JSON. Like Python's decoder it skips characters
// outside the base64 alphabet, and it also accepts a value whose padding was
// stripped. JSON numbers are returned as [json.Number] so that large integers
// stay exact; objects are map[string]any and arrays []any.
//
// The decompressed JSON may be at most [MaxContextSize] bytes (a bootstrap
// value of a few kilobytes can expand a thousandfold); see
// [DecodeParamLimit].
func DecodeParam(value string) (any, error) { return DecodeParamLimit(value, MaxContextSize) }

// DecodeParamLimit is [DecodeParam] with maxSize bounding the decompressed
// JSON, for a ParamsLoader that expects larger values.
func DecodeParamLimit(value string, maxSize int64) (any, error) {
	compressed, err := decodeLenientBase64(value)
	if err != nil {
		return nil, fmt.Errorf("decode param: base64: %w", err)
	}
	raw, err := inflateParam(compressed, maxSize)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("decode param: json: %w", err)
	}
	return v, nil
}

// inflateParam decompresses a bootstrap value of at most maxSize bytes.
func inflateParam(compressed []byte, maxSize int64) ([]byte, error) {
	raw, err := inflateZlib(compressed, int(max(0, min(maxSize, math.MaxInt))))
	if err != nil {
		return nil, fmt.Errorf("decode param: %w", err)
	}
	return raw, nil
}

// EncodeEnvVar is an alias of [EncodeParam].
//
// Deprecated: use EncodeParam; the reference keeps this name only until its 2.0.
func EncodeEnvVar(value any) (string, error) { return EncodeParam(value) }

// DecodeEnvVar is an alias of [DecodeParam].
//
// Deprecated: use DecodeParam; the reference keeps this name only until its 2.0.
func DecodeEnvVar(value string) (any, error) { return DecodeParam(value) }

func decodeLenientBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+', r == '/':
			return r
		}
		return -1
	}, s)
	if clean == "" {
		if s == "" {
			return nil, fmt.Errorf("empty value")
		}
		return nil, fmt.Errorf("the value %.40q has no base64 characters", s)
	}
	return base64.RawStdEncoding.DecodeString(clean)
}

// decodeJSON decodes one JSON value with numbers kept as json.Number and
// rejects trailing data.
func decodeJSON(raw []byte) (any, error) {
	if v, _, ok := decodeJSONFast(raw); ok {
		return v, nil
	}
	return decodeJSONStd(raw)
}

// decodeJSONStd is decodeJSON through encoding/json.
func decodeJSONStd(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}
