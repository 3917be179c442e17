package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// cursor reads msgpack headers and scalars from one chunk. Byte strings are returned as
// sub-slices of the chunk (no copy). Two implementations exist: rawCursor (hand-written,
// the default) and libCursor (vmihailenco/msgpack/v5, kept as the library baseline that
// BenchmarkDecode compares against; see decode_bench_test.go for why the default is raw).
type cursor interface {
	reset(data []byte)
	pos() int
	seek(p int)
	peek() (byte, error)
	arrayLen() (int, error)
	mapLen() (int, error)
	bytes() ([]byte, error)
	int64() (int64, error)
	uint64() (uint64, error)
	float64() (float64, error)
	ext() (typ int8, b []byte, err error)
}

var errTruncated = errors.New("truncated msgpack object")

// msgpack type codes used below (see the msgpack spec).
const (
	cNil      = 0xc0
	cReserve  = 0xc1
	cFalse    = 0xc2
	cTrue     = 0xc3
	cBin8     = 0xc4
	cBin16    = 0xc5
	cBin32    = 0xc6
	cExt8     = 0xc7
	cExt16    = 0xc8
	cExt32    = 0xc9
	cFloat32  = 0xca
	cFloat64  = 0xcb
	cUint8    = 0xcc
	cUint16   = 0xcd
	cUint32   = 0xce
	cUint64   = 0xcf
	cInt8     = 0xd0
	cInt16    = 0xd1
	cInt32    = 0xd2
	cInt64    = 0xd3
	cFixExt1  = 0xd4
	cFixExt2  = 0xd5
	cFixExt4  = 0xd6
	cFixExt8  = 0xd7
	cFixExt16 = 0xd8
	cStr8     = 0xd9
	cStr16    = 0xda
	cStr32    = 0xdb
	cArray16  = 0xdc
	cArray32  = 0xdd
	cMap16    = 0xde
	cMap32    = 0xdf
)

func isArrayCode(c byte) bool { return c&0xf0 == 0x90 || c == cArray16 || c == cArray32 }
func isMapCode(c byte) bool   { return c&0xf0 == 0x80 || c == cMap16 || c == cMap32 }
func isBytesCode(c byte) bool {
	return c&0xe0 == 0xa0 || (c >= cBin8 && c <= cBin32) || (c >= cStr8 && c <= cStr32)
}
func isExtCode(c byte) bool {
	return (c >= cExt8 && c <= cExt32) || (c >= cFixExt1 && c <= cFixExt16)
}

// skipValue returns the position just after the msgpack object starting at p. It is
// iterative on purpose: the library's Decoder.Skip recurses once per nesting level, so a
// hostile chunk of a few MB of nested array headers would grow the goroutine stack by
// hundreds of MB (and a Go stack overflow cannot be recovered). Here every object costs at
// least one byte, so the loop is bounded by len(data).
func skipValue(data []byte, p int) (int, error) {
	pending := 1
	for pending > 0 {
		if p >= len(data) {
			return p, errTruncated
		}
		c := data[p]
		p++
		pending--
		var n int
		switch {
		case c <= 0x7f || c >= 0xe0: // positive/negative fixint
		case c&0xf0 == 0x80:
			pending += 2 * int(c&0x0f)
		case c&0xf0 == 0x90:
			pending += int(c & 0x0f)
		case c&0xe0 == 0xa0:
			n = int(c & 0x1f)
		default:
			switch c {
			case cNil, cFalse, cTrue:
			case cReserve:
				return p - 1, fmt.Errorf("reserved msgpack code 0xc1 at byte %d", p-1)
			case cBin8, cStr8:
				l, err := readLen(data, p, 1)
				if err != nil {
					return p, err
				}
				p, n = p+1, l
			case cBin16, cStr16:
				l, err := readLen(data, p, 2)
				if err != nil {
					return p, err
				}
				p, n = p+2, l
			case cBin32, cStr32:
				l, err := readLen(data, p, 4)
				if err != nil {
					return p, err
				}
				p, n = p+4, l
			case cExt8, cExt16, cExt32:
				w := 1 << (c - cExt8)
				l, err := readLen(data, p, w)
				if err != nil {
					return p, err
				}
				p, n = p+w, l+1
			case cFixExt1, cFixExt2, cFixExt4, cFixExt8, cFixExt16:
				n = 1 + 1<<(c-cFixExt1)
			case cUint8, cInt8:
				n = 1
			case cUint16, cInt16:
				n = 2
			case cUint32, cInt32, cFloat32:
				n = 4
			case cUint64, cInt64, cFloat64:
				n = 8
			case cArray16:
				l, err := readLen(data, p, 2)
				if err != nil {
					return p, err
				}
				p, pending = p+2, pending+l
			case cArray32:
				l, err := readLen(data, p, 4)
				if err != nil {
					return p, err
				}
				p, pending = p+4, pending+l
			case cMap16:
				l, err := readLen(data, p, 2)
				if err != nil {
					return p, err
				}
				p, pending = p+2, pending+2*l
			case cMap32:
				l, err := readLen(data, p, 4)
				if err != nil {
					return p, err
				}
				p, pending = p+4, pending+2*l
			}
		}
		if n > len(data)-p {
			return len(data), errTruncated
		}
		p += n
	}
	return p, nil
}

func readLen(data []byte, p, w int) (int, error) {
	if w > len(data)-p {
		return 0, errTruncated
	}
	switch w {
	case 1:
		return int(data[p]), nil
	case 2:
		return int(binary.BigEndian.Uint16(data[p:])), nil
	default:
		return int(binary.BigEndian.Uint32(data[p:])), nil
	}
}

// rawCursor is a minimal msgpack reader over a byte slice: headers, scalars and
// zero-copy byte strings, nothing else.
type rawCursor struct {
	data []byte
	p    int
}

func (r *rawCursor) reset(data []byte) { r.data, r.p = data, 0 }
func (r *rawCursor) pos() int          { return r.p }
func (r *rawCursor) seek(p int)        { r.p = p }

func (r *rawCursor) peek() (byte, error) {
	if r.p >= len(r.data) {
		return 0, errTruncated
	}
	return r.data[r.p], nil
}

func (r *rawCursor) code() (byte, error) {
	if r.p >= len(r.data) {
		return 0, errTruncated
	}
	c := r.data[r.p]
	r.p++
	return c, nil
}

func (r *rawCursor) n(w int) (int, error) {
	l, err := readLen(r.data, r.p, w)
	if err == nil {
		r.p += w
	}
	return l, err
}

func (r *rawCursor) arrayLen() (int, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == cArray16:
		return r.n(2)
	case c == cArray32:
		return r.n(4)
	}
	return 0, fmt.Errorf("msgpack code 0x%02x where an array was expected", c)
}

func (r *rawCursor) mapLen() (int, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), nil
	case c == cMap16:
		return r.n(2)
	case c == cMap32:
		return r.n(4)
	}
	return 0, fmt.Errorf("msgpack code 0x%02x where a map was expected", c)
}

func (r *rawCursor) bytes() ([]byte, error) {
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == cNil:
		return nil, nil
	case c == cStr8 || c == cBin8:
		n, err = r.n(1)
	case c == cStr16 || c == cBin16:
		n, err = r.n(2)
	case c == cStr32 || c == cBin32:
		n, err = r.n(4)
	default:
		return nil, fmt.Errorf("msgpack code 0x%02x where a string was expected", c)
	}
	if err != nil {
		return nil, err
	}
	if n > len(r.data)-r.p {
		return nil, errTruncated
	}
	b := r.data[r.p : r.p+n : r.p+n]
	r.p += n
	return b, nil
}

func (r *rawCursor) fixed(w int) (uint64, error) {
	if w > len(r.data)-r.p {
		return 0, errTruncated
	}
	b := r.data[r.p:]
	r.p += w
	switch w {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

func (r *rawCursor) int64() (int64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	if c <= 0x7f || c >= 0xe0 {
		return int64(int8(c)), nil
	}
	switch c {
	case cUint8, cUint16, cUint32, cUint64:
		v, err := r.fixed(1 << (c - cUint8))
		if c == cUint64 && v > math.MaxInt64 {
			return 0, fmt.Errorf("uint64 %d overflows int64", v)
		}
		return int64(v), err
	case cInt8:
		v, err := r.fixed(1)
		return int64(int8(v)), err
	case cInt16:
		v, err := r.fixed(2)
		return int64(int16(v)), err
	case cInt32:
		v, err := r.fixed(4)
		return int64(int32(v)), err
	case cInt64:
		v, err := r.fixed(8)
		return int64(v), err
	}
	return 0, fmt.Errorf("msgpack code 0x%02x where an integer was expected", c)
}

func (r *rawCursor) uint64() (uint64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	if c == cUint64 {
		r.p++
		return r.fixed(8)
	}
	v, err := r.int64()
	return uint64(v), err
}

func (r *rawCursor) float64() (float64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch c {
	case cFloat32:
		v, err := r.fixed(4)
		return float64(math.Float32frombits(uint32(v))), err
	case cFloat64:
		v, err := r.fixed(8)
		return math.Float64frombits(v), err
	}
	return 0, fmt.Errorf("msgpack code 0x%02x where a float was expected", c)
}

func (r *rawCursor) ext() (int8, []byte, error) {
	c, err := r.code()
	if err != nil {
		return 0, nil, err
	}
	var n int
	switch c {
	case cFixExt1, cFixExt2, cFixExt4, cFixExt8, cFixExt16:
		n = 1 << (c - cFixExt1)
	case cExt8:
		n, err = r.n(1)
	case cExt16:
		n, err = r.n(2)
	case cExt32:
		n, err = r.n(4)
	default:
		return 0, nil, fmt.Errorf("msgpack code 0x%02x where an ext was expected", c)
	}
	if err != nil {
		return 0, nil, err
	}
	if n+1 > len(r.data)-r.p {
		return 0, nil, errTruncated
	}
	typ := int8(r.data[r.p])
	b := r.data[r.p+1 : r.p+1+n : r.p+1+n]
	r.p += 1 + n
	return typ, b, nil
}
