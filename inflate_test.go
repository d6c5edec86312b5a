package pipes

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
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
			got, err := inflateZlib(z, len(data))
			require.NoError(t, err, "level %d, %d bytes", level, len(data))
			assert.Equal(t, string(data), string(got))
			if len(data) > 0 {
				_, err = inflateZlib(z, len(data)-1)
				var tooLarge errInflateTooLarge
				assert.ErrorAs(t, err, &tooLarge, "over the limit")
			}
			_, err = inflateZlib(z[:len(z)-1], len(data))
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "truncated checksum")
		}
	}
	// A stream as Python's zlib.compress makes it (Dagster's encoder).
	z, err := base64.StdEncoding.DecodeString("eJyrVipILMlQslJQ0i/JLdAvSC1KM0pM0i8qzdPPLU4vVqoFALiZC0Y=")
	require.NoError(t, err)
	zr, err := zlib.NewReader(bytes.NewReader(z))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	got, err := inflateZlib(z, 100)
	require.NoError(t, err)
	assert.Equal(t, string(raw), string(got))
}

// Bad streams get errors that say what is wrong, in compress/zlib's words
// where it has some.
func TestDecodeParamBadStreamErrors(t *testing.T) {
	_, err := DecodeParam("AAAA") // not a zlib header
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zlib: invalid header")

	z := zlibBytes(t, zlib.DefaultCompression, []byte(`{"a": 1}`))
	bad := bytes.Clone(z)
	bad[len(bad)-1] ^= 1
	_, err = DecodeParam(base64.StdEncoding.EncodeToString(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zlib: invalid checksum")

	_, err = DecodeParam(base64.StdEncoding.EncodeToString(z[:len(z)-6]))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Contains(t, err.Error(), "truncated")

	// A fixed-code block whose first symbol is a match: it points before
	// the start of the data.
	var w bitWriter
	w.put(1|1<<1, 3)
	w.putMatch(3, 1)
	_, err = DecodeParam(base64.StdEncoding.EncodeToString(append([]byte{0x78, 0x5e}, w.flush()...)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zlib: corrupt DEFLATE data before byte")

	dict := []byte{0x78, 0xbb, 0, 0, 0, 1}
	_, err = DecodeParam(base64.StdEncoding.EncodeToString(dict))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "zlib: invalid dictionary")

	_, err = DecodeParamLimit(EncodeParamForTest(t, strings.Repeat("x", 100)), 50)
	var tooLarge errInflateTooLarge
	require.ErrorAs(t, err, &tooLarge)
	assert.Contains(t, err.Error(), "more than 50 bytes")
}

// EncodeParamForTest is EncodeParam that fails t on an error.
func EncodeParamForTest(t testing.TB, v any) string {
	s, err := EncodeParam(v)
	require.NoError(t, err)
	return s
}

// What appendZlib makes, compress/zlib and inflateZlib read back, and it
// is no larger than the data in stored blocks.
func TestAppendZlibRoundTrips(t *testing.T) {
	samples := append(inflateSamples(),
		[]byte(strings.Repeat("a", 70000)),            // matches of the longest length, at distance 1
		bytes.Repeat([]byte{0xff, 0x90, 0x00}, 30000), // literals of 9 bits
		make([]byte, storedBlockMax+1),                // zeroes: one long run
	)
	random := make([]byte, 3*storedBlockMax)
	state := uint32(1)
	for i := range random {
		state = state*1664525 + 1013904223
		random[i] = byte(state >> 24)
	}
	samples = append(samples, random, random[:storedBlockMax], random[:100])
	for _, data := range samples {
		z := appendZlib(nil, data)
		zr, err := zlib.NewReader(bytes.NewReader(z))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err, "%d bytes", len(data))
		assert.True(t, bytes.Equal(data, got), "compress/zlib reads back what was compressed (%d bytes)", len(data))
		got, err = inflateZlib(z, len(data))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got), "inflateZlib reads back what was compressed (%d bytes)", len(data))
		assert.LessOrEqual(t, len(z), 2+storedSize(len(data))+4, "never larger than stored blocks")
	}
	// Incompressible data is stored: at most 5 bytes a block over the data.
	assert.Equal(t, 2+len(random)+5*3+4, len(appendZlib(nil, random)))
}

// A JSON bootstrap value shrinks about as much as with zlib's fastest
// level: what EncodeParam sends through an environment variable stays small.
func TestAppendZlibCompresses(t *testing.T) {
	var ctx strings.Builder
	ctx.WriteString(`{"asset_keys": [`)
	for i := range 200 {
		if i > 0 {
			ctx.WriteString(", ")
		}
		fmt.Fprintf(&ctx, `"warehouse/events/daily_partition_%03d"`, i)
	}
	ctx.WriteString(`], "run_id": "4b0f6f5e-3c1e-4d8a-9a55-5e1f0c1d2e3f", "extras": {"path": "/tmp/dagster-pipes-abc/context.json"}}`)
	data := []byte(ctx.String())
	ours := len(appendZlib(nil, data))
	fastest := len(zlibBytes(t, zlib.BestSpeed, data))
	t.Logf("%d bytes: appendZlib %d, zlib level 1 %d", len(data), ours, fastest)
	assert.Less(t, ours, len(data)/3, "a repetitive JSON value shrinks to under a third")
	assert.Less(t, float64(ours), 1.5*float64(fastest), "within 1.5× of zlib's fastest level")
}

// inflateZlib takes exactly the streams compress/zlib takes (within the
// limit), with the same bytes.
func FuzzInflateAgreesWithZlib(f *testing.F) {
	for _, data := range inflateSamples() {
		for _, level := range []int{zlib.HuffmanOnly, zlib.NoCompression, zlib.BestSpeed, zlib.BestCompression} {
			f.Add(zlibBytes(f, level, data))
		}
		f.Add(appendZlib(nil, data))
	}
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, z []byte) {
		got, err := inflateZlib(z, limit)
		var want []byte
		zr, zerr := zlib.NewReader(bytes.NewReader(z))
		if zerr == nil {
			want, zerr = io.ReadAll(io.LimitReader(zr, limit+1))
			if zerr == nil && len(want) > limit {
				zerr = errors.New("over the limit")
			}
		}
		switch {
		case err == nil && zerr != nil:
			t.Fatalf("inflateZlib took a stream compress/zlib refuses: %v", zerr)
		case err != nil && zerr == nil:
			t.Fatalf("inflateZlib refused a stream compress/zlib takes: %v", err)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("inflateZlib gave %q, compress/zlib %q", got, want)
		}
	})
}

// What appendZlib makes of any data, inflateZlib reads back.
func FuzzAppendZlibRoundTrips(f *testing.F) {
	for _, data := range inflateSamples() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := inflateZlib(appendZlib(nil, data), len(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes: %v", len(data), err)
		}
	})
}
