package chunk

import (
	"bytes"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"
)

// libCursor implements cursor with vmihailenco/msgpack/v5. The library copies byte strings
// (DecodeBytes) and has no zero-copy accessor, so strings are taken by reading the length
// with DecodeBytesLen and slicing the chunk at the reader's position. Over a bytes.Reader
// (an io.ByteScanner) the Decoder does no read-ahead buffering, so the position is exact.
type libCursor struct {
	data []byte
	br   bytes.Reader
	d    *msgpack.Decoder
}

func newLibCursor() *libCursor {
	c := &libCursor{}
	c.d = msgpack.NewDecoder(&c.br)
	return c
}

func (c *libCursor) reset(data []byte) {
	c.data = data
	c.br.Reset(data)
	c.d.Reset(&c.br)
}

func (c *libCursor) pos() int   { return len(c.data) - c.br.Len() }
func (c *libCursor) seek(p int) { _, _ = c.br.Seek(int64(p), io.SeekStart) }

func (c *libCursor) peek() (byte, error) {
	b, err := c.d.PeekCode()
	if err == io.EOF {
		err = errTruncated
	}
	return b, err
}

func (c *libCursor) arrayLen() (int, error) { return c.d.DecodeArrayLen() }

// mapLen refuses what is not a map header: the library's DecodeMapLen also accepts a map
// wrapped in an ext header, which is not a fluent-bit record body.
func (c *libCursor) mapLen() (int, error) {
	code, err := c.peek()
	if err != nil {
		return 0, err
	}
	if !isMapCode(code) {
		return 0, fmt.Errorf("msgpack code 0x%02x where a map was expected", code)
	}
	return c.d.DecodeMapLen()
}

func (c *libCursor) bytes() ([]byte, error) {
	n, err := c.d.DecodeBytesLen()
	if err != nil || n < 0 {
		return nil, err
	}
	p := c.pos()
	if n > len(c.data)-p {
		return nil, errTruncated
	}
	c.seek(p + n)
	return c.data[p : p+n : p+n], nil
}

func (c *libCursor) int64() (int64, error)     { return c.d.DecodeInt64() }
func (c *libCursor) uint64() (uint64, error)   { return c.d.DecodeUint64() }
func (c *libCursor) float64() (float64, error) { return c.d.DecodeFloat64() }

func (c *libCursor) ext() (int8, []byte, error) {
	typ, n, err := c.d.DecodeExtHeader()
	if err != nil {
		return 0, nil, err
	}
	p := c.pos()
	if n > len(c.data)-p {
		return 0, nil, errTruncated
	}
	c.seek(p + n)
	return typ, c.data[p : p+n : p+n], nil
}
