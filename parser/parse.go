package parser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gke-audit/auditd-cloud-logging/internal/ascii"
)

// JournalRecord is what fluent-bit's in_systemd hands over for one audit journal entry.
// Values are the raw field bytes; a field repeated in the journal arrives as several values,
// and the first one is used.
type JournalRecord struct {
	Message        []byte    // MESSAGE: "<TYPE_NAME> <body>" as journald writes it, or a bare body
	AuditType      []byte    // _AUDIT_TYPE, decimal
	AuditID        []byte    // _AUDIT_ID, the serial
	SourceRealtime []byte    // _SOURCE_REALTIME_TIMESTAMP, microseconds since the epoch
	BootID         []byte    // _BOOT_ID
	Hostname       []byte    // _HOSTNAME
	RecordTime     time.Time // the record's own time, used when _SOURCE_REALTIME_TIMESTAMP is missing
}

// enrichedSep separates auditd's ENRICHED interpretations from the record body.
const enrichedSep = 0x1d

// ParseLine parses one audit.log line (optionally "node=NAME " prefixed, optionally with
// auditd's ENRICHED suffix) or one kernel log line ("audit: type=1300 audit(...): ...", with
// or without a dmesg/syslog prefix before "audit:").
// The line is copied; the Record does not alias it.
//
// Record.Text is valid UTF-8: a line that is not is escaped as a whole (see Escape) before it
// is split, so Key and Raw are then in escaped form too, and Value equals Raw for fields that
// were not hex-decoded.
func ParseLine(line []byte) (Record, error) { return parseLine(line, nil) }

// ParseLine is the package's ParseLine, with the record's fields stored in an array of an
// event given back through Recycle when there is one. a may be nil.
func (a *Assembler) ParseLine(line []byte) (Record, error) { return parseLine(line, a.fieldPool()) }

func parseLine(line []byte, pool *fieldPool) (Record, error) {
	line = trimEOL(line)
	var enriched []byte
	hasEnriched := false
	if i := bytes.IndexByte(line, enrichedSep); i >= 0 {
		enriched, line, hasEnriched = line[i+1:], line[:i], true
	}
	var node []byte
	src := SourceAuditLog
	rest := line
	if bytes.HasPrefix(rest, []byte("node=")) {
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return Record{}, errors.New("node= prefix without a record after it")
		}
		node, rest = rest[len("node="):sp], rest[sp+1:]
	}
	if !bytes.HasPrefix(rest, []byte("type=")) {
		// Kernel log line, possibly behind a dmesg "[ 12.3]" or syslog "kernel: " prefix.
		i := bytes.Index(rest, []byte("audit: type="))
		if i < 0 {
			if len(node) == 0 && bytes.Contains(rest, []byte(" type=")) {
				return Record{}, errors.New(`record does not start with "type=" and has no "audit: type=" kernel prefix`)
			}
			return Record{}, errors.New(`no "type=" field: not an audit record`)
		}
		rest = rest[i+len("audit: "):]
		src = SourceKernel
	}
	rest = rest[len("type="):]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return Record{}, fmt.Errorf("type=%s: no audit(...) header after the type", clip(rest))
	}
	typeTok := rest[:sp]
	t, ok := typeFromToken(typeTok)
	if !ok {
		return Record{}, fmt.Errorf("type=%s: unknown record type name (want a known name, a number or UNKNOWN[n])", clip(typeTok))
	}
	rest = bytes.TrimLeft(rest[sp:], " ")
	rest, _ = bytes.CutPrefix(rest, []byte("msg="))
	if !bytes.HasPrefix(rest, []byte("audit(")) {
		return Record{}, fmt.Errorf("type=%s: want msg=audit(SEC.MSEC:SERIAL) after the type, got %q", clip(typeTok), clip(rest))
	}
	rest = rest[len("audit("):]
	end := bytes.IndexByte(rest, ')')
	if end < 0 {
		return Record{}, fmt.Errorf("type=%s: audit(...) header has no closing parenthesis", clip(typeTok))
	}
	stamp := rest[:end]
	ms, serial, err := parseStamp(stamp)
	if err != nil {
		return Record{}, fmt.Errorf("type=%s: bad audit(%s) header: %w", clip(typeTok), clip(stamp), err)
	}
	body := rest[end+1:]
	if len(body) > 0 && body[0] != ':' {
		return Record{}, fmt.Errorf("type=%s: want ':' after audit(%s), got %q", clip(typeTok), stamp, clip(body))
	}
	body, _ = bytes.CutPrefix(body, []byte(":"))
	body, _ = bytes.CutPrefix(body, []byte(" "))

	r := Record{Type: t, Source: src}
	r.Key.UnixMilli = ms
	r.Key.Serial = serial
	var b recordBuilder
	b.start(t, stamp, body, enriched, node, nil)
	r.Text = b.text
	r.Key.Node = b.node
	r.Fields, r.Enriched = b.fields(t, hasEnriched, pool)
	return r, nil
}

// ParseJournal parses one journal record.
func ParseJournal(j JournalRecord) (Record, error) { return parseJournal(j, nil) }

// ParseJournal is the package's ParseJournal, with the record's fields stored in an array of
// an event given back through Recycle when there is one. a may be nil.
func (a *Assembler) ParseJournal(j JournalRecord) (Record, error) {
	return parseJournal(j, a.fieldPool())
}

func parseJournal(j JournalRecord, pool *fieldPool) (Record, error) {
	msg := trimEOL(j.Message)
	body := msg
	var t uint16
	typeKnown := false
	if len(j.AuditType) > 0 {
		n, ok := atou(j.AuditType) // strconv's parsers showed in profiles: three numbers a record
		if !ok || n > 0xffff {
			return Record{}, fmt.Errorf("_AUDIT_TYPE=%q: want a decimal record type number (0-65535)", clip(j.AuditType))
		}
		t, typeKnown = uint16(n), true
	}
	// journald writes "<TYPE_NAME> <body>"; drop the name (checking it when _AUDIT_TYPE is
	// missing). A token with '=' is already the body.
	first := msg
	if sp := bytes.IndexByte(msg, ' '); sp >= 0 {
		first = msg[:sp]
	}
	if len(first) > 0 && bytes.IndexByte(first, '=') < 0 {
		if mt, ok := typeFromJournalName(first); ok {
			body = bytes.TrimLeft(msg[len(first):], " ")
			if !typeKnown {
				t, typeKnown = mt, true
			}
		}
	}
	if !typeKnown {
		return Record{}, fmt.Errorf("journal record has no _AUDIT_TYPE and MESSAGE does not start with a record type name (%q)", clip(first))
	}
	if len(j.AuditID) == 0 {
		return Record{}, errors.New("journal record has no _AUDIT_ID (the event serial)")
	}
	serial, ok := atou(j.AuditID)
	if !ok {
		return Record{}, fmt.Errorf("_AUDIT_ID=%q: want a decimal serial", clip(j.AuditID))
	}
	var ms int64
	if len(j.SourceRealtime) > 0 {
		us, ok := atou(j.SourceRealtime)
		if !ok || us > math.MaxInt64 {
			return Record{}, fmt.Errorf("_SOURCE_REALTIME_TIMESTAMP=%q: want microseconds since the epoch", clip(j.SourceRealtime))
		}
		ms = int64(us / 1000)
	} else if !j.RecordTime.IsZero() {
		ms = j.RecordTime.UnixMilli()
	} else {
		return Record{}, errors.New("journal record has neither _SOURCE_REALTIME_TIMESTAMP nor a record time")
	}
	var stampBuf [48]byte
	stamp := strconv.AppendInt(stampBuf[:0], ms/1000, 10)
	stamp = append(stamp, '.')
	frac := ms % 1000
	stamp = append(stamp, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), ':')
	stamp = strconv.AppendUint(stamp, serial, 10)

	r := Record{Type: t, Source: SourceJournal}
	r.Key.UnixMilli = ms
	r.Key.Serial = serial
	var b recordBuilder
	b.start(t, stamp, body, nil, j.Hostname, j.BootID)
	r.Text = b.text
	r.Key.Node = b.node
	r.Key.BootID = b.boot
	r.Fields, r.Enriched = b.fields(t, false, pool)
	return r, nil
}

// trimEOL is bytes.TrimRight(b, "\r\n"), which built its set of bytes on every call and was
// a fiftieth of parsing a record.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// parseStamp parses "SEC.MSEC:SERIAL". The kernel always writes three fraction digits;
// other widths are scaled to milliseconds.
func parseStamp(s []byte) (ms int64, serial uint64, err error) {
	dot := bytes.IndexByte(s, '.')
	colon := bytes.IndexByte(s, ':')
	if dot <= 0 || colon < dot+2 || colon == len(s)-1 {
		return 0, 0, errors.New("want SEC.MSEC:SERIAL")
	}
	sec, ok := atou(s[:dot])
	if !ok || sec > 1<<40 {
		return 0, 0, fmt.Errorf("seconds %q are not a number", s[:dot])
	}
	fr := s[dot+1 : colon]
	var f uint64
	for i := 0; i < 3; i++ {
		f *= 10
		if i < len(fr) {
			if fr[i] < '0' || fr[i] > '9' {
				return 0, 0, fmt.Errorf("milliseconds %q are not a number", fr)
			}
			f += uint64(fr[i] - '0')
		}
	}
	// Three digits (always, from the kernel) were checked above.
	if len(fr) != 3 {
		if _, ok := atou(fr); !ok {
			return 0, 0, fmt.Errorf("milliseconds %q are not a number", fr)
		}
	}
	serial, ok = atou(s[colon+1:])
	if !ok {
		return 0, 0, fmt.Errorf("serial %q is not a decimal number", s[colon+1:])
	}
	return int64(sec)*1000 + int64(f), serial, nil
}

// atou parses a non-empty decimal uint64, rejecting overflow.
func atou(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		// 19 digits cannot overflow; the division showed in profiles (17 digits a record).
		if len(s) == 20 && n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// typeFromToken reads the type= value of audit.log and kernel lines: a name ("SYSCALL"),
// a number ("1300") or auditd's "UNKNOWN[1999]".
func typeFromToken(tok []byte) (uint16, bool) {
	if len(tok) == 0 {
		return 0, false
	}
	if tok[0] >= '0' && tok[0] <= '9' {
		n, ok := atou(tok)
		if !ok || n > 65535 {
			return 0, false
		}
		return uint16(n), true
	}
	return TypeByName(unsafe.String(unsafe.SliceData(tok), len(tok)))
}

// typeFromJournalName reads the leading name of a journal MESSAGE; journald writes
// "AUDIT<n>" for numbers its table does not know.
func typeFromJournalName(tok []byte) (uint16, bool) {
	if t, ok := TypeByName(unsafe.String(unsafe.SliceData(tok), len(tok))); ok {
		return t, true
	}
	if rest, ok := bytes.CutPrefix(tok, []byte("AUDIT")); ok {
		if n, ok := atou(rest); ok && n <= 65535 {
			return uint16(n), true
		}
	}
	return 0, false
}

// TypeName returns the name of a record type number, or "UNKNOWN[n]" (auditd's form).
// Known names and repeated unknown numbers do not allocate.
func TypeName(t uint16) string {
	if s := knownTypeName(t); s != "" {
		return s
	}
	if s, ok := unknownNames.Load(t); ok {
		return s.(string)
	}
	s := "UNKNOWN[" + strconv.Itoa(int(t)) + "]"
	// At most 65536 entries of a few bytes each: no eviction needed.
	unknownNames.Store(t, s)
	return s
}

var unknownNames sync.Map // uint16 → string

// TypeByName returns the number of a record type name ("SYSCALL") or of "UNKNOWN[n]".
func TypeByName(name string) (uint16, bool) {
	if t, ok := typeByNameFast(name); ok {
		return t, true
	}
	if inner, ok := strings.CutPrefix(name, "UNKNOWN["); ok {
		if num, ok := strings.CutSuffix(inner, "]"); ok {
			if n, ok := atou([]byte(num)); ok && n <= 65535 {
				return uint16(n), true
			}
		}
	}
	return 0, false
}

// typeSlots holds typeByName open-addressed by typeNameHash: the map's lookup hashed the
// whole name and was about a fiftieth of parsing and assembling a record.
var typeSlots = func() *[typeSlotCount]typeSlot {
	var tab [typeSlotCount]typeSlot
	for name, t := range typeByName {
		i := typeNameHash(name)
		for tab[i].name != "" {
			i = (i + 1) % typeSlotCount
		}
		tab[i] = typeSlot{name, t}
	}
	return &tab
}()

// typeSlotCount is a power of two over four times the number of names, so that probes are
// short.
const typeSlotCount = 1024

type typeSlot struct {
	name string
	t    uint16
}

// typeNameHash mixes the length and the first and last eight bytes (all of a shorter name).
func typeNameHash(s string) uint32 {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	var w uint64
	if len(b) >= 8 {
		w = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[len(b)-8:])<<7
	} else {
		for _, c := range b {
			w = w<<8 | uint64(c)
		}
	}
	w ^= uint64(len(b)) << 56
	return uint32((w * 0x9e3779b97f4a7c15) >> (64 - 10))
}

// typeByNameFast is typeByName[name].
func typeByNameFast(name string) (uint16, bool) {
	if name == "" {
		return 0, false // "" marks an empty slot
	}
	for i := typeNameHash(name); ; i = (i + 1) % typeSlotCount {
		e := &typeSlots[i]
		if e.name == name {
			return e.t, true
		}
		if e.name == "" {
			return 0, false
		}
	}
}

func clip(b []byte) string {
	const max = 64
	if len(b) > max {
		return Escape(b[:max]) + "..."
	}
	return Escape(b)
}

// recordBuilder makes a Record's strings with one allocation for the text (Text, then the
// ENRICHED suffix, node and boot id behind it), one for the []Field of both Fields and
// Enriched, and one for all hex-decoded values.
type recordBuilder struct {
	text        string
	enriched    string
	node, boot  string
	bodyOff     int    // where the body starts in text
	spare       []byte // unused capacity after the strings, for hex-decoded values
	textEscaped bool   // the text was not valid UTF-8 and is in escaped form
	enrEscaped  bool   // the same for the ENRICHED suffix
}

func (b *recordBuilder) start(t uint16, stamp, body, enriched, node, boot []byte) {
	name := TypeName(t)
	n := len("type= msg=audit(): ") + len(name) + len(stamp) + len(body) + len(enriched) + len(node) + len(boot)
	// One byte slice turned into a string without a copy: strings.Builder's per-write checks
	// showed in the profile.
	// Records whose bodies are mostly hex also get room for the decoded values, so they take
	// one allocation less (finishHex uses the spare capacity when it fits).
	spare := 0
	switch t {
	case typeProctitle, typeExecve, typeSockaddr, typeTTY:
		spare = len(body) / 2
	}
	buf := make([]byte, 0, n+spare)
	buf = append(buf, "type="...)
	buf = append(buf, name...)
	buf = append(buf, " msg=audit("...)
	buf = append(buf, stamp...)
	buf = append(buf, "): "...)
	b.bodyOff = len(buf)
	buf = append(buf, body...)
	textLen := len(buf)
	buf = append(buf, enriched...)
	enrLen := len(buf)
	buf = append(buf, node...)
	nodeLen := len(buf)
	buf = append(buf, boot...)
	b.spare = buf[len(buf):]
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	b.text, b.enriched, b.node, b.boot = all[:textLen], all[textLen:enrLen], all[enrLen:nodeLen], all[nodeLen:]
	// Each part on its own: bytes of two parts can form a valid sequence across the seam.
	// Not UTF-8 is rare (the kernel hex-encodes such values, so only user-space garbage gets
	// here); a bad host name does not change the text. Not ASCII is rare too, so the body
	// and the ENRICHED suffix behind it are first checked for that in one pass.
	if !ascii.Is(buf[b.bodyOff:enrLen]) { // the header is ASCII
		if !utf8.ValidString(b.text[b.bodyOff:]) {
			b.text, b.textEscaped = escapeAlways(unsafe.Slice(unsafe.StringData(b.text), len(b.text))), true
		}
		if !utf8.ValidString(b.enriched) {
			b.enriched, b.enrEscaped = escapeAlways(enriched), true
		}
	}
	b.node = escapeString(b.node)
	b.boot = escapeString(b.boot)
}

// fields tokenizes the body (the part of Text after "): ") and the ENRICHED suffix.
func (b *recordBuilder) fields(t uint16, hasEnriched bool, pool *fieldPool) (fields, enriched []Field) {
	// The header is ASCII without backslashes (a type name and a checked stamp), so escaping
	// the text never moves the body.
	body := b.text[b.bodyOff:]
	n := strings.Count(body, "=") + strings.Count(body, "{") + strings.Count(b.enriched, "=")
	if n == 0 {
		return nil, nil
	}
	all := pool.get(n)
	var tk tokenizer
	tk.rtype = t
	tk.plainType = !adjustsTypes(t)
	tk.escapedSource = b.textEscaped
	tk.decode = true
	tk.backslash = strings.IndexByte(body, '\\') >= 0
	all = tk.run(body, all, t != typeUserTTY)
	nf := len(all)
	if hasEnriched {
		tk.decode = false
		tk.escapedSource = b.enrEscaped
		tk.backslash = strings.IndexByte(b.enriched, '\\') >= 0
		all = tk.run(b.enriched, all, false)
	}
	tk.finishHex(all[:nf], b.spare)
	fields = all[:nf]
	if len(all) > nf {
		// Capped, so that appending to the fields cannot overwrite the enriched ones.
		fields, enriched = all[:nf:nf], all[nf:]
	}
	if len(fields) == 0 {
		fields = nil
	}
	return fields, enriched
}
