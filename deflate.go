package pipes

import (
	"encoding/binary"
	"hash/adler32"
	"math/bits"
)

// This file holds the zlib (RFC 1950) encoder of EncodeParam: LZ77 with
// DEFLATE's fixed Huffman codes (RFC 1951, 3.2.6), or stored blocks when
// those are smaller. Importing compress/zlib would cost every process that
// imports this package about 20 µs at start-up (compress/flate builds its
// encoders when it is initialized), for an encoder that Pipes processes
// never call. Python's zlib.decompress and compress/zlib read what it makes
// (TestAppendZlibRoundTrips, and the e2e suite with the reference's
// decode_param); a JSON bootstrap value shrinks to about a third.

// deflateMaxMatch, deflateMinMatch and deflateWindow bound a DEFLATE match:
// its length, the shortest one worth a hash lookup, and how far back it
// may point.
const (
	deflateMinMatch = 4
	deflateMaxMatch = 258
	deflateWindow   = 32768
	storedBlockMax  = 65535
)

// appendZlib appends the zlib stream of data to dst.
func appendZlib(dst, data []byte) []byte {
	// CMF 0x78: DEFLATE with a 32 KB window; FLG 0x5e: the "fast" level
	// and no preset dictionary, with the header check bits that make
	// 0x785e a multiple of 31.
	dst = append(dst, 0x78, 0x5e)
	start := len(dst)
	dst = appendFixedBlock(dst, data)
	if stored := storedSize(len(data)); len(dst)-start > stored {
		dst = appendStoredBlocks(dst[:start], data)
	}
	return binary.BigEndian.AppendUint32(dst, adler32.Checksum(data))
}

// storedSize is the size of data of length n in stored blocks.
func storedSize(n int) int {
	blocks := max(1, (n+storedBlockMax-1)/storedBlockMax)
	return n + 5*blocks
}

// appendStoredBlocks appends data as stored (uncompressed) blocks, the last
// one final.
func appendStoredBlocks(dst, data []byte) []byte {
	for {
		n := min(len(data), storedBlockMax)
		final := byte(0)
		if n == len(data) {
			final = 1
		}
		// Three header bits (BFINAL, BTYPE 00), padding to the byte,
		// then LEN and its complement, little-endian.
		dst = append(dst, final, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		dst = append(dst, data[:n]...)
		data = data[n:]
		if final == 1 {
			return dst
		}
	}
}

// bitWriter packs DEFLATE's bit stream: values first bit lowest, into bytes
// first bit lowest.
type bitWriter struct {
	out  []byte
	acc  uint64
	nacc uint
}

func (w *bitWriter) put(v uint32, n uint) {
	w.acc |= uint64(v) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// putCode writes a Huffman code, which DEFLATE sends first bit highest.
func (w *bitWriter) putCode(code uint32, n uint) {
	w.put(uint32(bits.Reverse16(uint16(code)))>>(16-n), n)
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}

// putLiteral writes a literal/length symbol in the fixed code.
func (w *bitWriter) putLiteral(sym int) {
	switch {
	case sym < 144:
		w.putCode(uint32(0x30+sym), 8)
	case sym < 256:
		w.putCode(uint32(0x190+sym-144), 9)
	case sym < 280:
		w.putCode(uint32(sym-256), 7)
	default:
		w.putCode(uint32(0xc0+sym-280), 8)
	}
}

// putMatch writes a match of length n at distance dist in the fixed code.
func (w *bitWriter) putMatch(n, dist int) {
	l := 0
	for l < len(lengthBase)-1 && int(lengthBase[l+1]) <= n {
		l++
	}
	w.putLiteral(257 + l)
	w.put(uint32(n-int(lengthBase[l])), uint(lengthExtra[l]))
	d := 0
	for d < len(distBase)-1 && int(distBase[d+1]) <= dist {
		d++
	}
	w.putCode(uint32(d), 5)
	w.put(uint32(dist-int(distBase[d])), uint(distExtra[d]))
}

// appendFixedBlock appends data as one final block in the fixed codes,
// with the matches a one-entry hash table finds (greedy, as zlib's fastest
// level does).
func appendFixedBlock(dst, data []byte) []byte {
	w := bitWriter{out: dst}
	w.put(1|1<<1, 3) // BFINAL, BTYPE 01
	// A table about the size of the input: a bootstrap value of a few
	// hundred bytes needs no 64 KB table.
	tableBits := min(14, max(6, bits.Len(uint(len(data)))))
	table := make([]int32, 1<<tableBits) // position+1 of the last 4 bytes with this hash
	shift := 32 - tableBits
	hash := func(i int) uint32 { return binary.LittleEndian.Uint32(data[i:]) * 0x1e35a7bd >> shift }
	pending := 0 // the first byte not yet written
	for i := 0; i+deflateMinMatch <= len(data); {
		h := hash(i)
		cand := int(table[h]) - 1
		table[h] = int32(i + 1)
		if cand < 0 || i-cand > deflateWindow || binary.LittleEndian.Uint32(data[cand:]) != binary.LittleEndian.Uint32(data[i:]) {
			i++
			continue
		}
		n := deflateMinMatch
		for i+n < len(data) && n < deflateMaxMatch && data[cand+n] == data[i+n] {
			n++
		}
		for _, c := range data[pending:i] {
			w.putLiteral(int(c))
		}
		w.putMatch(n, i-cand)
		// Index the match's inner positions too, for the next ones.
		for j := i + 1; j < i+n && j+deflateMinMatch <= len(data); j++ {
			table[hash(j)] = int32(j + 1)
		}
		i += n
		pending = i
	}
	for _, c := range data[pending:] {
		w.putLiteral(int(c))
	}
	w.putLiteral(256)
	return w.flush()
}
