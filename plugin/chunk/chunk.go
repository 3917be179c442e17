// Package chunk decodes a fluent-bit chunk (concatenated msgpack records) into parser inputs.
//
// Every record of a chunk ends up as exactly one Input handed to the callback, or as a
// skipped group marker: a record that is not an audit record becomes KindOther and a record
// that is not valid fluent-bit msgpack becomes KindMalformed, so nothing is dropped silently.
//
// Resynchronisation limit: msgpack has no framing. A malformed record whose msgpack is still
// structurally complete (for example an array of 3, or a string where the map should be) is
// skipped as one object and decoding continues with the next record. A record whose bytes
// are truncated or use the reserved code 0xc1 leaves no way to find where the next record
// starts, so the rest of the chunk is reported as one KindMalformed input (Stats.TrailingBytes).
package chunk

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Kind says which parser input a record is.
type Kind uint8

const (
	KindJournal   Kind = iota + 1 // in_systemd audit record: parser.ParseJournal
	KindLine                      // audit.log or kernel log line: parser.ParseLine
	KindOther                     // a well-formed record that holds no audit record
	KindMalformed                 // bytes that are not a valid fluent-bit record
)

func (k Kind) String() string {
	switch k {
	case KindJournal:
		return "journal"
	case KindLine:
		return "line"
	case KindOther:
		return "other"
	case KindMalformed:
		return "malformed"
	}
	return "unknown"
}

// Input is one record of a chunk. Byte slices alias the chunk passed to Decode: they are
// valid only during the Decode call (the plugin's chunks are fluent-bit's memory, freed when
// the flush returns); Parse copies what a record keeps.
type Input struct {
	Kind    Kind
	Journal parser.JournalRecord // KindJournal (RecordTime is the fluent-bit record time)
	Line    []byte               // KindLine: the audit line, starting at "type=", "node=" or "audit: "
	Node    []byte               // journal _HOSTNAME when present
	Text    string               // KindOther, KindMalformed: what arrived, as valid UTF-8
	Reason  string               // KindOther, KindMalformed: why it is not an audit record
}

// Stats counts what Decode saw.
type Stats struct {
	Records       int // records handed to the callback with Kind Journal, Line or Other
	Journal, Line int // of which journal records and text lines
	Other         int // of which records that hold no audit record
	Groups        int // fluent-bit group start/end markers, skipped
	Malformed     int // inputs handed to the callback with KindMalformed
	TrailingBytes int // bytes at the end that could not be resynchronised (part of one Malformed)
}

// Add accumulates s2 into s.
func (s *Stats) Add(s2 Stats) {
	s.Records += s2.Records
	s.Journal += s2.Journal
	s.Line += s2.Line
	s.Other += s2.Other
	s.Groups += s2.Groups
	s.Malformed += s2.Malformed
	s.TrailingBytes += s2.TrailingBytes
}

var rawPool = sync.Pool{New: func() any { return new(rawCursor) }}

// Decode calls fn for every record of data, in order. It never stops on a malformed record
// (see the package comment for the one resynchronisation limit). For KindMalformed inputs ts is
// the time of the last good record before them, or the zero time when there is none.
func Decode(data []byte, fn func(ts time.Time, rec Input)) Stats {
	c := rawPool.Get().(*rawCursor)
	st := decode(c, data, fn)
	c.reset(nil)
	rawPool.Put(c)
	return st
}

// decodeLib is Decode over the msgpack library; kept as the benchmark baseline and checked
// against Decode by the tests.
func decodeLib(data []byte, fn func(ts time.Time, rec Input)) Stats {
	return decode(newLibCursor(), data, fn)
}

// fields holds the values of the keys the classification needs. Everything else in a record
// body is skipped without being materialised.
type fields struct {
	message, auditType, auditID, srcRealtime, bootID, hostname, transport []byte
	log, lmessage, msg                                                    []byte
	has                                                                   uint16
}

const (
	hasMessage = 1 << iota
	hasAuditType
	hasTransport
	hasLog
	hasLMessage
	hasMsg
)

func decode(c cursor, data []byte, fn func(time.Time, Input)) Stats {
	var st Stats
	c.reset(data)
	var f fields
	// A run of consecutive malformed objects is reported as one input: after a bad length the
	// decoder may be out of step with the records, and one item per stray byte would flood the log.
	runStart, runEnd := -1, -1
	var runErr error
	var lastTS time.Time
	flushRun := func() {
		if runStart < 0 {
			return
		}
		st.Malformed++
		fn(lastTS, Input{
			Kind:   KindMalformed,
			Text:   excerpt(data[runStart:runEnd]),
			Reason: fmt.Sprintf("malformed fluent-bit record at bytes %d..%d of the chunk: %v", runStart, runEnd, runErr),
		})
		runStart = -1
	}
	for c.pos() < len(data) {
		start := c.pos()
		ts, group, bodyStart, err := decodeRecord(c, data, &f)
		if err == nil {
			flushRun()
			if group {
				st.Groups++
				continue
			}
			lastTS = ts
			in := classify(&f, ts, data[bodyStart:c.pos()])
			st.Records++
			switch in.Kind {
			case KindJournal:
				st.Journal++
			case KindLine:
				st.Line++
			default:
				st.Other++
			}
			fn(ts, in)
			continue
		}
		end, serr := skipValue(data, start)
		if serr != nil {
			flushRun()
			st.Malformed++
			st.TrailingBytes = len(data) - start
			fn(lastTS, Input{
				Kind: KindMalformed,
				Text: excerpt(data[start:]),
				Reason: fmt.Sprintf("undecodable msgpack at bytes %d..%d of the chunk (%v); msgpack has no framing, so the "+
					"remaining %d bytes cannot be split into records", start, len(data), err, len(data)-start),
			})
			return st
		}
		if runStart < 0 {
			runStart, runErr = start, err
		}
		runEnd = end
		c.seek(end)
	}
	flushRun()
	return st
}

// decodeRecord reads one [ts, map] or [[ts, meta], map] record. On success the cursor is after
// the record and bodyStart is where its map starts.
func decodeRecord(c cursor, data []byte, f *fields) (ts time.Time, group bool, bodyStart int, err error) {
	n, err := c.arrayLen()
	if err != nil {
		return ts, false, 0, err
	}
	if n != 2 {
		return ts, false, 0, fmt.Errorf("record is an array of %d elements, want 2 ([time, map])", n)
	}
	code, err := c.peek()
	if err != nil {
		return ts, false, 0, err
	}
	if isArrayCode(code) { // fluent-bit >= 2.1: [[time, metadata], map]
		hn, err := c.arrayLen()
		if err != nil {
			return ts, false, 0, err
		}
		if hn < 1 {
			return ts, false, 0, fmt.Errorf("record header is an empty array, want [time, metadata]")
		}
		if ts, group, err = readTime(c); err != nil {
			return ts, false, 0, err
		}
		for i := 1; i < hn; i++ {
			if err := skip(c, data); err != nil {
				return ts, false, 0, err
			}
		}
	} else if ts, group, err = readTime(c); err != nil {
		return ts, false, 0, err
	}
	bodyStart = c.pos()
	if group {
		return ts, true, bodyStart, skip(c, data)
	}
	if err := readBody(c, data, f); err != nil {
		return ts, false, 0, err
	}
	return ts, false, bodyStart, nil
}

func skip(c cursor, data []byte) error {
	end, err := skipValue(data, c.pos())
	if err != nil {
		return err
	}
	c.seek(end)
	return nil
}

// readTime reads a record time: EventTime (ext 0: seconds and nanoseconds, big-endian u32),
// an integer or a float number of seconds. Group markers (fluent-bit >= 2.1 log groups) carry
// -1 / -2, or EventTime seconds 0xFFFFFFFF / 0xFFFFFFFE.
func readTime(c cursor) (time.Time, bool, error) {
	code, err := c.peek()
	if err != nil {
		return time.Time{}, false, err
	}
	switch {
	case isExtCode(code):
		typ, b, err := c.ext()
		if err != nil {
			return time.Time{}, false, err
		}
		if typ != 0 || len(b) != 8 {
			return time.Time{}, false, fmt.Errorf("record time is msgpack ext type %d of %d bytes, want EventTime (ext 0, 8 bytes)", typ, len(b))
		}
		sec := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		nsec := uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
		if sec >= 0xFFFFFFFE {
			return time.Time{}, true, nil
		}
		return time.Unix(int64(sec), int64(nsec)), false, nil
	case code == cFloat32 || code == cFloat64:
		v, err := c.float64()
		if err != nil {
			return time.Time{}, false, err
		}
		if v != v || v > 1<<62 || v < -(1<<62) {
			return time.Time{}, false, fmt.Errorf("record time %v is not a usable number of seconds", v)
		}
		sec := int64(v)
		return time.Unix(sec, int64((v-float64(sec))*1e9)), false, nil
	case code == cUint64:
		v, err := c.uint64()
		if err != nil {
			return time.Time{}, false, err
		}
		if v > 1<<62 {
			return time.Time{}, false, fmt.Errorf("record time %d is not a usable number of seconds", v)
		}
		return time.Unix(int64(v), 0), false, nil
	case code <= 0x7f || code >= 0xe0 || (code >= cUint8 && code <= cInt64):
		v, err := c.int64()
		if err != nil {
			return time.Time{}, false, err
		}
		if v == -1 || v == -2 {
			return time.Time{}, true, nil
		}
		return time.Unix(v, 0), false, nil
	}
	return time.Time{}, false, fmt.Errorf("record time has msgpack code 0x%02x, want EventTime, integer or float", code)
}

// readBody reads the record map, keeping only the keys classify needs. String values may be
// msgpack str or bin; a repeated journal field arrives as an array and its first value is used.
func readBody(c cursor, data []byte, f *fields) error {
	*f = fields{}
	n, err := c.mapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		code, err := c.peek()
		if err != nil {
			return err
		}
		if !isBytesCode(code) { // a non-string key cannot be one we want
			if err := skip(c, data); err != nil {
				return err
			}
			if err := skip(c, data); err != nil {
				return err
			}
			continue
		}
		k, err := c.bytes()
		if err != nil {
			return err
		}
		v, ok, err := readValue(c, data)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		switch string(k) {
		case "MESSAGE":
			f.message, f.has = v, f.has|hasMessage
		case "_AUDIT_TYPE":
			f.auditType, f.has = v, f.has|hasAuditType
		case "_AUDIT_ID":
			f.auditID = v
		case "_SOURCE_REALTIME_TIMESTAMP":
			f.srcRealtime = v
		case "_BOOT_ID":
			f.bootID = v
		case "_HOSTNAME":
			f.hostname = v
		case "_TRANSPORT":
			f.transport, f.has = v, f.has|hasTransport
		case "log":
			f.log, f.has = v, f.has|hasLog
		case "message":
			f.lmessage, f.has = v, f.has|hasLMessage
		case "msg":
			f.msg, f.has = v, f.has|hasMsg
		}
	}
	return nil
}

// readValue reads a value as bytes. ok is false (and the value skipped) when it is neither a
// string nor an array starting with a string.
func readValue(c cursor, data []byte) ([]byte, bool, error) {
	code, err := c.peek()
	if err != nil {
		return nil, false, err
	}
	if isBytesCode(code) {
		v, err := c.bytes()
		return v, err == nil, err
	}
	if !isArrayCode(code) {
		return nil, false, skip(c, data)
	}
	n, err := c.arrayLen()
	if err != nil || n == 0 {
		return nil, false, err
	}
	var v []byte
	ok := false
	if code, err = c.peek(); err != nil {
		return nil, false, err
	}
	start := 0
	if isBytesCode(code) {
		if v, err = c.bytes(); err != nil {
			return nil, false, err
		}
		ok, start = true, 1
	}
	for i := start; i < n; i++ {
		if err := skip(c, data); err != nil {
			return nil, false, err
		}
	}
	return v, ok, nil
}

var (
	auditMarker = []byte("audit: type=")
	typePrefix  = []byte("type=")
	nodePrefix  = []byte("node=")
)

func classify(f *fields, ts time.Time, body []byte) Input {
	if f.has&hasMessage != 0 && (f.has&hasAuditType != 0 || string(f.transport) == "audit") {
		return Input{Kind: KindJournal, Node: f.hostname, Journal: parser.JournalRecord{
			Message:        f.message,
			AuditType:      f.auditType,
			AuditID:        f.auditID,
			SourceRealtime: f.srcRealtime,
			BootID:         f.bootID,
			Hostname:       f.hostname,
			RecordTime:     ts,
		}}
	}
	var text []byte
	var key string
	switch {
	case f.has&hasLog != 0:
		text, key = f.log, "log"
	case f.has&hasLMessage != 0:
		text, key = f.lmessage, "message"
	case f.has&hasMessage != 0:
		text, key = f.message, "MESSAGE"
	case f.has&hasMsg != 0:
		text, key = f.msg, "msg"
	default:
		return Input{Kind: KindOther, Node: f.hostname, Text: renderBody(body),
			Reason: "record has no log, message, MESSAGE or msg string field"}
	}
	if line, ok := auditLine(text); ok {
		return Input{Kind: KindLine, Line: line, Node: f.hostname}
	}
	return Input{Kind: KindOther, Node: f.hostname, Text: escape(text),
		Reason: "the " + key + " field is not an audit record (no type=, node= or \"audit: type=\")"}
}

// auditLine returns the audit record inside a text line: audit.log lines start with type= or
// node=; kernel lines carry "audit: type=" after a syslog/dmesg prefix, which is cut off.
func auditLine(b []byte) ([]byte, bool) {
	t := bytes.TrimLeft(b, " \t")
	if bytes.HasPrefix(t, typePrefix) || bytes.HasPrefix(t, nodePrefix) {
		return bytes.TrimRight(t, "\r\n"), true
	}
	if i := bytes.Index(t, auditMarker); i >= 0 {
		return bytes.TrimRight(t[i:], "\r\n"), true
	}
	return nil, false
}

// Parse turns an input into a parser record, or into an Unparsed saying why not. ts is the
// record time Decode passed along with the input. The record's field array comes from asm's
// recycled events (see Assembler.ParseLine); asm may be nil.
func (in *Input) Parse(ts time.Time, asm *parser.Assembler) (parser.Record, *parser.Unparsed) {
	switch in.Kind {
	case KindJournal:
		r, err := asm.ParseJournal(in.Journal)
		if err == nil {
			return r, nil
		}
		return parser.Record{}, &parser.Unparsed{Text: escape(in.Journal.Message), Reason: "journal record: " + err.Error(),
			Node: string(in.Node), Time: ts}
	case KindLine:
		r, err := asm.ParseLine(in.Line)
		if err == nil {
			return r, nil
		}
		return parser.Record{}, &parser.Unparsed{Text: escape(in.Line), Reason: "audit line: " + err.Error(),
			Node: string(in.Node), Time: ts}
	}
	return parser.Record{}, &parser.Unparsed{Text: in.Text, Reason: in.Reason, Node: string(in.Node), Time: ts}
}

// escape returns b as valid UTF-8: invalid bytes become \xNN and, only when something had to be
// escaped, a literal backslash becomes \x5c, so the original bytes can be recovered
// (the convention of parser.Field.Value).
func escape(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			out = append(out, '\\', 'x', hexDigit[b[0]>>4], hexDigit[b[0]&15])
		case r == '\\':
			out = append(out, `\x5c`...)
		default:
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}

const hexDigit = "0123456789abcdef"

// excerpt shows the start of undecodable bytes as hex, enough to recognise them in a log.
func excerpt(b []byte) string {
	const max = 256
	if len(b) <= max {
		return hex.EncodeToString(b)
	}
	return hex.EncodeToString(b[:max]) + "... (" + strconv.Itoa(len(b)) + " bytes)"
}

// renderBody writes a record map as "key=value key=value" for an Unparsed item (rare path).
func renderBody(body []byte) string {
	var c rawCursor
	c.reset(body)
	n, err := c.mapLen()
	if err != nil {
		return excerpt(body)
	}
	var out []byte
	for i := 0; i < n; i++ {
		if i > 0 {
			out = append(out, ' ')
		}
		out = appendItem(out, &c, body)
		out = append(out, '=')
		out = appendItem(out, &c, body)
	}
	return escape(out)
}

func appendItem(out []byte, c *rawCursor, data []byte) []byte {
	code, err := c.peek()
	if err != nil {
		return out
	}
	if isBytesCode(code) {
		b, _ := c.bytes()
		return append(out, b...)
	}
	start := c.pos()
	end, err := skipValue(data, start)
	if err != nil {
		c.seek(len(data))
		return out
	}
	c.seek(end)
	switch {
	case code <= 0x7f || code >= 0xe0 || (code >= cUint8 && code <= cInt64):
		var r rawCursor
		r.reset(data[start:end])
		v, err := r.int64()
		if err == nil {
			return strconv.AppendInt(out, v, 10)
		}
	}
	return append(out, "<msgpack "+hex.EncodeToString(data[start:min(end, start+32)])+">"...)
}
