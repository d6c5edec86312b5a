package pipes

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Values encoded by the Python reference (dagster_pipes.encode_param).
const (
	pythonEncodedContext = "eJyrVipILMlQslJQ0i/JLdCv0E/OzytJrShR0lFQygMKGxoZm5iamVtYGiBYQKk0kJSeKZBVCtIbU2pgkGoJ0pMD5EYb6ijklebk6CiUFJWmxtYCADBRGf0="
	pythonEncodedStdio   = "eJyrViouScnMV7JSADHyS0uUagFBeAah"
)

func TestDecodeParamReadsPythonEncoding(t *testing.T) {
	v, err := DecodeParam(pythonEncodedContext)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"path": "/tmp/x/context",
		"n":    json.Number("12345678901234567890"),
		"f":    json.Number("1.5"),
		"u":    "é",
		"l":    []any{json.Number("1"), nil, true},
	}, v)

	v, err = DecodeParam(pythonEncodedStdio)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"stdio": "stdout"}, v)
}

func TestEncodeParamRoundTrip(t *testing.T) {
	in := map[string]any{"path": "/tmp/a b/ü", "n": json.Number("12345678901234567890"), "f": 1.0, "nested": map[string]any{"x": []any{nil, false}}}
	enc, err := EncodeParam(in)
	require.NoError(t, err)
	// Standard alphabet with padding, no newlines.
	_, err = base64.StdEncoding.DecodeString(enc)
	require.NoError(t, err)
	out, err := DecodeParam(enc)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"path": "/tmp/a b/ü", "n": json.Number("12345678901234567890"), "f": json.Number("1.0"), "nested": map[string]any{"x": []any{nil, false}}}, out)
}

func TestEncodeEnvVarAliases(t *testing.T) {
	a, err := EncodeEnvVar([]any{"x"})
	require.NoError(t, err)
	b, err := EncodeParam([]any{"x"})
	require.NoError(t, err)
	assert.Equal(t, b, a)
	v, err := DecodeEnvVar(a)
	require.NoError(t, err)
	assert.Equal(t, []any{"x"}, v)
}

func TestEncodeParamRejectsNonJSON(t *testing.T) {
	_, err := EncodeParam(map[string]any{"x": math.NaN()})
	require.ErrorIs(t, err, ErrInvalidValue)
	assert.Contains(t, err.Error(), "Invalid type for parameter `value` of `encode_param`. Expected a JSON-serializable type")
	_, err = EncodeParam(make(chan int))
	require.ErrorIs(t, err, ErrInvalidValue)
}

func TestDecodeParamIsLenientLikePython(t *testing.T) {
	// Python's non-validating decoder skips characters outside the alphabet.
	noisy := pythonEncodedStdio[:10] + "\n !*" + pythonEncodedStdio[10:]
	v, err := DecodeParam(noisy)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"stdio": "stdout"}, v)
	// Stripped padding is accepted too.
	enc, err := EncodeParam("ab")
	require.NoError(t, err)
	v, err = DecodeParam(string(bytes.TrimRight([]byte(enc), "=")))
	require.NoError(t, err)
	assert.Equal(t, "ab", v)
}

func zlibB64(t *testing.T, raw string) string {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	_, err := w.Write([]byte(raw))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestDecodeParamErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		in, want string
	}{
		"empty":          {"", "base64"},
		"bad base64":     {"A", "base64"},
		"not zlib":       {base64.StdEncoding.EncodeToString([]byte("plain json {}")), "zlib"},
		"truncated zlib": {zlibB64(t, `{"a": 1}`)[:12], "zlib"},
		"bad json":       {zlibB64(t, `{"a": `), "json"},
		"trailing data":  {zlibB64(t, `{} {}`), "json"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeParam(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDecodeParamErrorsAreNotPanics(t *testing.T) {
	for _, in := range []string{"====", "eJw=", "eJyrVipILMlQslJQ0i/JLdCv0E/OzytJrShR0lFQygMKGxoZm5iam", "\x00\xff"} {
		_, err := DecodeParam(in)
		assert.Error(t, err, "input %q", in)
		assert.False(t, errors.Is(err, nil))
	}
}
