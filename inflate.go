package pipes

import (
	"errors"
	"fmt"
	"hash/adler32"
	"io"
)

// This file holds the zlib (RFC 1950) and DEFLATE (RFC 1951) decoder of
// the bootstrap values. compress/zlib would cost every process that imports
// this package about 20 µs at start-up (compress/flate builds its encoders
// when it is initialized) and a small job a tenth of a millisecond more at
// its first use (a 32 KB window, its tables); a bootstrap value inflates to
// a few hundred bytes. It takes what compress/zlib takes and gives the same
// bytes, and refuses what compress/zlib refuses
// (FuzzInflateAgreesWithZlib).

// Errors of inflateZlib, named as compress/zlib names them.
var (
	errZlibHeader     = errors.New("zlib: invalid header")
	errZlibDictionary = errors.New("zlib: invalid dictionary: the stream needs a preset dictionary, which Pipes values never use")
	errZlibChecksum   = errors.New("zlib: invalid checksum")
	errZlibTruncated  = zlibTruncatedError{}
)

// zlibTruncatedError is the error of a stream that ends early. It is a
// type rather than fmt.Errorf's wrapping so that the package's init does
// not run fmt.
type zlibTruncatedError struct{}

func (zlibTruncatedError) Error() string { return "zlib: the compressed data is truncated" }
func (zlibTruncatedError) Unwrap() error { return io.ErrUnexpectedEOF }

// errInflateTooLarge is the error of a stream that inflates to more than
// the limit.
type errInflateTooLarge struct{ max int }

func (e errInflateTooLarge) Error() string {
	return fmt.Sprintf("the value decompresses to more than %d bytes: it is not a Pipes bootstrap value (or, if it is, decode it with DecodeParamLimit and a larger limit)", e.max)
}

// inflateZlib returns the data of the zlib stream at the start of in,
// which may be at most maxSize bytes.
func inflateZlib(in []byte, maxSize int) ([]byte, error) {
	if len(in) < 2 {
		if len(in) == 1 && in[0]&0x0f != 8 {
			return nil, errZlibHeader
		}
		return nil, errZlibTruncated
	}
	cmf, flg := in[0], in[1]
	// Deflate with a window of at most 32 KB, a header checksum that
	// holds, and no preset dictionary: compress/zlib's checks.
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 {
		return nil, errZlibHeader
	}
	if flg&0x20 != 0 {
		return nil, errZlibDictionary
	}
	// JSON bootstrap values inflate to about three times their size: one
	// allocation for most, instead of append's doublings from nothing
	// (large values grow by append, not by a guess).
	f := inflater{in: in, pos: 2, max: maxSize, out: make([]byte, 0, min(maxSize, 4*len(in), 64<<10))}
	if !f.run() {
		return nil, f.err
	}
	if len(in)-f.pos < 4 {
		return nil, errZlibTruncated
	}
	c := in[f.pos:]
	want := uint32(c[0])<<24 | uint32(c[1])<<16 | uint32(c[2])<<8 | uint32(c[3])
	if adler32.Checksum(f.out) != want {
		return nil, errZlibChecksum
	}
	return f.out, nil
}

type inflater struct {
	in   []byte
	pos  int    // next byte of in to load
	buf  uint32 // loaded bits not used yet, first bit lowest
	nbuf uint
	out  []byte
	max  int
	err  error // why run returned false
}

// corrupt records that the stream is not valid DEFLATE and returns false.
func (f *inflater) corrupt() bool {
	f.err = fmt.Errorf("zlib: corrupt DEFLATE data before byte %d of the compressed value", f.pos)
	return false
}

// tooLarge records that the output would pass the limit and returns false.
func (f *inflater) tooLarge() bool {
	f.err = errInflateTooLarge{f.max}
	return false
}

// bits returns the next n (≤ 16) bits. It loads only bytes of which it
// uses a bit, so the stream ends on the byte where its last bit is.
func (f *inflater) bits(n uint) (uint32, bool) {
	for f.nbuf < n {
		if f.pos >= len(f.in) {
			f.err = errZlibTruncated
			return 0, false
		}
		f.buf |= uint32(f.in[f.pos]) << f.nbuf
		f.pos++
		f.nbuf += 8
	}
	v := f.buf & (1<<n - 1)
	f.buf >>= n
	f.nbuf -= n
	return v, true
}

// huffman is a canonical Huffman code: how many codes of each length, and
// the symbols in code order.
type huffman struct {
	count  [16]uint16
	symbol [288]uint16
}

// build makes the code of the given code lengths. It takes only what
// compress/flate takes: a complete code, no code at all (which fails when
// used), or a single code of length 1.
func (h *huffman) build(lengths []uint8) bool {
	h.count = [16]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false // over-subscribed
		}
	}
	if left > 0 {
		total := 0
		for _, c := range h.count {
			total += int(c)
		}
		if total != 0 && (total != 1 || h.count[1] != 1) {
			return false // incomplete
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	return true
}

// decode reads one symbol, bit by bit (codes are sent first bit first).
func (f *inflater) decode(h *huffman) (int, bool) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, ok := f.bits(1)
		if !ok {
			return 0, false
		}
		code |= int(b)
		count := int(h.count[l])
		if code-first < count {
			return int(h.symbol[index+code-first]), true
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	f.corrupt()
	return 0, false
}

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// codeLengthOrder is the order of the code length code's lengths.
	codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// fixedLiteral and fixedDistance read a symbol in DEFLATE's fixed codes
// (RFC 1951, 3.2.6), which the short values Dagster compresses use. They
// compute it from the code instead of looking it up in tables: tables would
// be built at every process's start, or grow the first decode's stack.
func (f *inflater) fixedLiteral() (int, bool) {
	code, ok := f.codeBits(7)
	if !ok {
		return 0, false
	}
	if code <= 0x17 {
		return 256 + code, true // 7 bits: 256–279
	}
	b, ok := f.codeBits(1)
	if !ok {
		return 0, false
	}
	code = code<<1 | b
	switch {
	case code >= 0x30 && code <= 0xbf:
		return code - 0x30, true // 8 bits: 0–143
	case code >= 0xc0 && code <= 0xc7:
		return 280 + code - 0xc0, true // 8 bits: 280–287
	}
	if b, ok = f.codeBits(1); !ok {
		return 0, false
	}
	return 144 + (code<<1 | b) - 0x190, true // 9 bits: 144–255
}

func (f *inflater) fixedDistance() (int, bool) { return f.codeBits(5) }

// codeBits reads n bits of a Huffman code, which DEFLATE sends first bit
// highest.
func (f *inflater) codeBits(n int) (int, bool) {
	code := 0
	for range n {
		b, ok := f.bits(1)
		if !ok {
			return 0, false
		}
		code = code<<1 | int(b)
	}
	return code, true
}

// run decodes the DEFLATE blocks up to the final one.
func (f *inflater) run() bool {
	var lit, dist *huffman // a dynamic block's codes, made at the first one
	for {
		final, ok := f.bits(1)
		if !ok {
			return false
		}
		typ, ok := f.bits(2)
		if !ok {
			return false
		}
		switch typ {
		case 0:
			if !f.stored() {
				return false
			}
		case 1:
			if !f.codes(nil, nil) {
				return false
			}
		case 2:
			if lit == nil {
				lit, dist = new(huffman), new(huffman)
			}
			if !f.dynamic(lit, dist) || !f.codes(lit, dist) {
				return false
			}
		default:
			return f.corrupt() // block type 3 is reserved
		}
		if final == 1 {
			return true
		}
	}
}

func (f *inflater) stored() bool {
	f.buf, f.nbuf = 0, 0 // the rest of the current byte is padding
	if len(f.in)-f.pos < 4 {
		f.err = errZlibTruncated
		return false
	}
	h := f.in[f.pos:]
	n := int(h[0]) | int(h[1])<<8
	if uint16(n) != ^(uint16(h[2]) | uint16(h[3])<<8) {
		return f.corrupt()
	}
	f.pos += 4
	if len(f.out)+min(n, len(f.in)-f.pos) > f.max {
		return f.tooLarge()
	}
	if len(f.in)-f.pos < n {
		f.err = errZlibTruncated
		return false
	}
	f.out = append(f.out, f.in[f.pos:f.pos+n]...)
	f.pos += n
	return true
}

func (f *inflater) dynamic(lit, dist *huffman) bool {
	h, ok := f.bits(14)
	if !ok {
		return false
	}
	nlit, ndist, ncode := int(h&0x1f)+257, int(h>>5&0x1f)+1, int(h>>10)+4
	if nlit > 286 || ndist > 30 {
		return f.corrupt()
	}
	var lengths [286 + 30]uint8
	for i := range ncode {
		l, ok := f.bits(3)
		if !ok {
			return false
		}
		lengths[codeLengthOrder[i]] = uint8(l)
	}
	var cl huffman
	if !cl.build(lengths[:19]) {
		return f.corrupt()
	}
	lengths = [286 + 30]uint8{}
	for i := 0; i < nlit+ndist; {
		sym, ok := f.decode(&cl)
		if !ok {
			return false
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var rep uint32
		var l uint8
		switch sym {
		case 16:
			if i == 0 {
				return f.corrupt() // nothing to repeat
			}
			l = lengths[i-1]
			rep, ok = f.bits(2)
			rep += 3
		case 17:
			rep, ok = f.bits(3)
			rep += 3
		default:
			rep, ok = f.bits(7)
			rep += 11
		}
		if !ok {
			return false
		}
		if i+int(rep) > nlit+ndist {
			return f.corrupt()
		}
		for range rep {
			lengths[i] = l
			i++
		}
	}
	if lengths[256] == 0 || !lit.build(lengths[:nlit]) || !dist.build(lengths[nlit:nlit+ndist]) {
		return f.corrupt() // no end-of-block code, or a code that is not one
	}
	return true
}

// symbol reads a symbol of h, or of the fixed code that fixed reads when h
// is nil.
func (f *inflater) symbol(h *huffman, fixed func() (int, bool)) (int, bool) {
	if h == nil {
		return fixed()
	}
	return f.decode(h)
}

// codes decodes a block's literals and matches up to its end code, in the
// fixed codes if lit and dist are nil.
func (f *inflater) codes(lit, dist *huffman) bool {
	for {
		sym, ok := f.symbol(lit, f.fixedLiteral)
		if !ok {
			return false
		}
		switch {
		case sym < 256:
			if len(f.out) >= f.max {
				return f.tooLarge()
			}
			f.out = append(f.out, byte(sym))
			continue
		case sym == 256:
			return true
		case sym > 285:
			return f.corrupt()
		}
		sym -= 257
		e, ok := f.bits(uint(lengthExtra[sym]))
		if !ok {
			return false
		}
		n := int(lengthBase[sym]) + int(e)
		d, ok := f.symbol(dist, f.fixedDistance)
		if !ok {
			return false
		}
		if d >= 30 {
			return f.corrupt()
		}
		e, ok = f.bits(uint(distExtra[d]))
		if !ok {
			return false
		}
		back := int(distBase[d]) + int(e)
		if back > len(f.out) {
			return f.corrupt() // before the start of the data
		}
		if len(f.out)+n > f.max {
			return f.tooLarge()
		}
		from := len(f.out) - back
		for i := range n {
			f.out = append(f.out, f.out[from+i])
		}
	}
}
