package pipes

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
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

// inflateParam decompresses a bootstrap value: with inflateZlib when it
// takes the stream (every value Dagster makes), else with compress/zlib,
// whose errors say what is wrong.
func inflateParam(compressed []byte, maxSize int64) ([]byte, error) {
	if maxSize >= 0 && maxSize <= math.MaxInt32 {
		if raw, ok := inflateZlib(compressed, int(maxSize)); ok {
			return raw, nil
		}
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, zlibError(err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxSize+1))
	if err != nil {
		return nil, zlibError(err)
	}
	if int64(len(raw)) > maxSize {
		return nil, fmt.Errorf("decode param: the value decompresses to more than %d bytes: it is not a Pipes bootstrap value (or, if it is, decode it with DecodeParamLimit and a larger limit)", maxSize)
	}
	return raw, nil
}

// zlibError names zlib in err once (zlib's own errors already start with
// "zlib: ", the reader's EOF errors do not).
func zlibError(err error) error {
	switch {
	case strings.HasPrefix(err.Error(), "zlib: "):
		return fmt.Errorf("decode param: %w", err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("decode param: zlib: the compressed data is truncated: %w", err)
	}
	return fmt.Errorf("decode param: zlib: %w", err)
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
