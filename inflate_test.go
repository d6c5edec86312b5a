package pipes

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func zlibBytes(t testing.TB, level int, data []byte) []byte {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, level)
	require.NoError(t, err)
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func inflateSamples() [][]byte {
	long := strings.Repeat(`{"path": "/tmp/dagster-pipes-abc/context.json", "extras": [1, 2.5, "x"]}`, 40)
	var mixed []byte
	for i := range 5000 {
		mixed = append(mixed, byte(i*i>>3), byte(i))
	}
	return [][]byte{nil, []byte("a"), []byte(`{"path": "/tmp/x"}`), []byte(long), mixed}
}

// Every stream compress/zlib makes, at every level (stored, fixed and
// dynamic Huffman blocks), inflates to what was compressed.
func TestInflateZlibDecodesWhatZlibMakes(t *testing.T) {
	for _, data := range inflateSamples() {
		for level := zlib.HuffmanOnly; level <= zlib.BestCompression; level++ {
			z := zlibBytes(t, level, data)
			got, ok := inflateZlib(z, len(data))
			require.True(t, ok, "level %d, %d bytes", level, len(data))
			assert.Equal(t, string(data), string(got))
			if len(data) > 0 {
				_, ok = inflateZlib(z, len(data)-1)
				assert.False(t, ok, "over the limit")
			}
			_, ok = inflateZlib(z[:len(z)-1], len(data))
			assert.False(t, ok, "truncated checksum")
		}
	}
	// A stream as Python's zlib.compress makes it (Dagster's encoder).
	z, err := base64.StdEncoding.DecodeString("eJyrVipILMlQslJQ0i/JLdAvSC1KM0pM0i8qzdPPLU4vVqoFALiZC0Y=")
	require.NoError(t, err)
	zr, err := zlib.NewReader(bytes.NewReader(z))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	got, ok := inflateZlib(z, 100)
	require.True(t, ok)
	assert.Equal(t, string(raw), string(got))
}

// Bad streams still get compress/zlib's error texts, through the fallback.
func TestDecodeParamBadStreamErrors(t *testing.T) {
	_, err := DecodeParam("AAAA") // not a zlib header
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zlib: invalid header")
	z := zlibBytes(t, zlib.DefaultCompression, []byte(`{"a": 1}`))
	z[len(z)-1] ^= 1
	_, err = DecodeParam(base64.StdEncoding.EncodeToString(z))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zlib: invalid checksum")
}

// What inflateZlib accepts, compress/zlib accepts with the same bytes.
func FuzzInflateAgreesWithZlib(f *testing.F) {
	for _, data := range inflateSamples() {
		for _, level := range []int{zlib.HuffmanOnly, zlib.NoCompression, zlib.BestSpeed, zlib.BestCompression} {
			f.Add(zlibBytes(f, level, data))
		}
	}
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, z []byte) {
		got, ok := inflateZlib(z, 1<<16)
		if !ok {
			return
		}
		zr, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("inflateZlib took a stream whose header compress/zlib refuses: %v", err)
		}
		want, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("inflateZlib took a stream compress/zlib refuses: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("inflateZlib gave %q, compress/zlib %q", got, want)
		}
	})
}
