// Package flbchunk writes fluent-bit chunks (concatenated msgpack records) in every form
// fluent-bit hands to an output plugin, for tests, benchmarks and the demo. It encodes with
// vmihailenco/msgpack, independently of the hand-written reader in plugin/chunk, so the two
// check each other.
package flbchunk

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// TimeFormat is how a record time is encoded.
type TimeFormat uint8

const (
	EventTime TimeFormat = iota // msgpack ext 0: seconds and nanoseconds, big-endian u32 (fluent-bit's default)
	Uint                        // unsigned integer seconds (old forward protocol)
	Int                         // signed integer seconds
	Float                       // float64 seconds
)

// Options choose the record form.
type Options struct {
	Time  TimeFormat
	V2    bool // fluent-bit >= 2.1: [[time, metadata], body] instead of [time, body]
	Bin   bool // string values as msgpack bin (in_systemd, in_tail) instead of str
	Map32 bool // body map header always map32, like in_systemd
}

// Field is one body field. Several values make an array (a field repeated in the journal).
type Field struct {
	Key    string
	Values [][]byte
}

// F is a shorthand for a single-valued field.
func F(key, value string) Field { return Field{Key: key, Values: [][]byte{[]byte(value)}} }

// Writer accumulates records.
type Writer struct {
	Opt Options
	buf bytes.Buffer
	enc *msgpack.Encoder
}

// NewWriter returns a Writer for the given form.
func NewWriter(o Options) *Writer {
	w := &Writer{Opt: o}
	w.enc = msgpack.NewEncoder(&w.buf)
	return w
}

// Bytes returns the chunk so far (aliases the Writer's buffer).
func (w *Writer) Bytes() []byte { return w.buf.Bytes() }

// Len is the chunk size so far.
func (w *Writer) Len() int { return w.buf.Len() }

// Reset empties the chunk.
func (w *Writer) Reset() { w.buf.Reset() }

// Raw appends bytes as they are (for malformed records).
func (w *Writer) Raw(b []byte) { w.buf.Write(b) }

// Record appends one record.
func (w *Writer) Record(ts time.Time, fields []Field) {
	w.header(ts)
	w.mapLen(len(fields))
	for _, f := range fields {
		w.str([]byte(f.Key), false)
		if len(f.Values) == 1 {
			w.str(f.Values[0], w.Opt.Bin)
			continue
		}
		_ = w.enc.EncodeArrayLen(len(f.Values))
		for _, v := range f.Values {
			w.str(v, w.Opt.Bin)
		}
	}
}

// Line appends a text line record {"log": line}, as in_tail writes it.
func (w *Writer) Line(ts time.Time, line string) {
	w.Record(ts, []Field{F("log", line)})
}

// GroupStart and GroupEnd append fluent-bit >= 2.1 log group markers (ts -1 / -2 with an
// empty body); asInt writes the marker as an integer instead of EventTime seconds.
func (w *Writer) GroupStart(asInt bool) { w.marker(-1, asInt) }

// GroupEnd: see GroupStart.
func (w *Writer) GroupEnd(asInt bool) { w.marker(-2, asInt) }

func (w *Writer) marker(v int64, asInt bool) {
	_ = w.enc.EncodeArrayLen(2)
	_ = w.enc.EncodeArrayLen(2)
	if asInt {
		_ = w.enc.EncodeInt(v)
	} else {
		w.eventTime(uint32(v), 0)
	}
	_ = w.enc.EncodeMapLen(1)
	_ = w.enc.EncodeString("group")
	_ = w.enc.EncodeString("audit")
	_ = w.enc.EncodeMapLen(0)
}

func (w *Writer) header(ts time.Time) {
	_ = w.enc.EncodeArrayLen(2)
	if w.Opt.V2 {
		_ = w.enc.EncodeArrayLen(2)
	}
	switch w.Opt.Time {
	case EventTime:
		w.eventTime(uint32(ts.Unix()), uint32(ts.Nanosecond()))
	case Uint:
		_ = w.enc.EncodeUint64(uint64(ts.Unix()))
	case Int:
		_ = w.enc.EncodeInt(ts.Unix())
	case Float:
		_ = w.enc.EncodeFloat64(float64(ts.UnixNano()) / 1e9)
	}
	if w.Opt.V2 {
		_ = w.enc.EncodeMapLen(0)
	}
}

func (w *Writer) eventTime(sec, nsec uint32) {
	_ = w.enc.EncodeExtHeader(0, 8)
	var b [8]byte
	binary.BigEndian.PutUint32(b[:], sec)
	binary.BigEndian.PutUint32(b[4:], nsec)
	w.buf.Write(b[:])
}

func (w *Writer) mapLen(n int) {
	if w.Opt.Map32 {
		var b [5]byte
		b[0] = 0xdf
		binary.BigEndian.PutUint32(b[1:], uint32(n))
		w.buf.Write(b[:])
		return
	}
	_ = w.enc.EncodeMapLen(n)
}

func (w *Writer) str(b []byte, bin bool) {
	if bin {
		_ = w.enc.EncodeBytes(b)
		return
	}
	_ = w.enc.EncodeString(string(b))
}

// Malformed records, each a complete msgpack object that is not a valid fluent-bit record
// (the decoder skips these and goes on), plus Truncated, which cannot be resynchronised.
var (
	// BadArity is [1, {}, 2]: three elements instead of two.
	BadArity = []byte{0x93, 0x01, 0x80, 0x02}
	// BadBody is [1, "x"]: the body is not a map.
	BadBody = []byte{0x92, 0x01, 0xa1, 'x'}
	// BadTime is [nil, {}]: the time is neither EventTime nor a number.
	BadTime = []byte{0x92, 0xc0, 0x80}
	// BadExt is [ext 5 of 8 bytes, {}]: an unknown ext type where EventTime should be.
	BadExt = []byte{0x92, 0xd7, 0x05, 0, 0, 0, 1, 0, 0, 0, 0, 0x80}
	// NotArray is a bare string where a record should be.
	NotArray = []byte{0xa3, 'a', 'b', 'c'}
	// BadValue is [1, {"log": {"nested": 1}}]: a map where the log string should be; it is a
	// well-formed record without a usable text field, so it decodes as "other".
	BadValue = []byte{0x92, 0x01, 0x81, 0xa3, 'l', 'o', 'g', 0x81, 0xa6, 'n', 'e', 's', 't', 'e', 'd', 0x01}
)

// Truncated returns rec cut short by cut bytes: the decoder cannot find where anything after
// it starts, so the rest of the chunk becomes one malformed item.
func Truncated(rec []byte, cut int) []byte {
	if cut > len(rec) {
		cut = len(rec)
	}
	return append([]byte(nil), rec[:len(rec)-cut]...)
}
