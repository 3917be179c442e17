// Package entry turns the parser's items (assembled audit events, unparsed inputs,
// lost-event notices) into Cloud Logging entries.
//
// The jsonPayload is written directly as protobuf wire bytes (see payload.go), never through
// JSON or structpb.NewStruct; read it with Payload. Every string put into an entry is
// valid UTF-8, and no entry's encoded size exceeds Options.MaxEntryBytes: the largest parts
// are cut first, with explicit markers, and the event is never dropped. docs/entry.md
// describes the payload fields, the severity map and the summary line templates.
package entry

import (
	"math/bits"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	ltype "google.golang.org/genproto/googleapis/logging/type"
)

// DefaultMaxEntryBytes leaves margin under the API's 256 KiB entry limit for the log name,
// resource and request-level labels the delivery writer adds per request.
const DefaultMaxEntryBytes = 250_000

// MinMaxEntryBytes is the smallest cap honoured: below it even the emergency form of a
// large event (summary, process, user, syscall) might not fit.
const MinMaxEntryBytes = 16 << 10

// Options configure a Builder.
type Options struct {
	IncludeRaw    bool          // put each record's raw text in records[].raw
	NodeName      string        // the node's name, used when an item carries none
	Names         *parser.Names // uid/gid names for the records' interpreted fields; may be nil
	MaxEntryBytes int           // cap on proto.Size of an entry; 0 means DefaultMaxEntryBytes
	// OmitRecords leaves the records list out of event payloads (config Payload_Records off):
	// the summary fields stay, each record's own fields (and raw text) are not shipped.
	OmitRecords bool
}

// Builder builds entries. It is safe for concurrent use.
type Builder struct {
	o   Options
	max int

	mu         sync.Mutex
	typeLabels map[typeSeq]string
	labelSets  map[labelKey]labelSet
	users      map[userKey]sharedObj
	syscalls   map[syscallKey]sharedObj
	// sharedTree builds the cached objects; used under mu only.
	sharedTree payload
}

// NewBuilder returns a Builder with o's settings; a MaxEntryBytes of 0 means
// DefaultMaxEntryBytes, and values under MinMaxEntryBytes are raised to it.
func NewBuilder(o Options) *Builder {
	b := &Builder{o: o, max: o.MaxEntryBytes, typeLabels: make(map[typeSeq]string),
		labelSets: make(map[labelKey]labelSet), users: make(map[userKey]sharedObj),
		syscalls: make(map[syscallKey]sharedObj)}
	if b.max == 0 {
		b.max = DefaultMaxEntryBytes
	}
	if b.max < MinMaxEntryBytes {
		b.max = MinMaxEntryBytes
	}
	b.o.NodeName = clean(cutUTF8(o.NodeName, maxLabelValue))
	return b
}

// MaxEntryBytes returns the cap the builder enforces.
func (b *Builder) MaxEntryBytes() int { return b.max }

// Build returns the entry for one item. LogName and Resource are left empty: the delivery
// writer sets them per request. Build never returns nil; an item that is not well formed
// (a kind without its pointer) becomes a WARNING entry saying so.
//
// Entries are read-only: event entries with the same label values share one Labels map,
// and entries with the same user or syscall values share those payload objects. Copy an
// entry (proto.Clone) before changing it.
func (b *Builder) Build(it parser.Item) *loggingpb.LogEntry {
	a := arenas.Get().(*arena)
	defer arenas.Put(a)
	switch {
	case it.Kind == parser.ItemEvent && it.Event != nil:
		return b.buildEvent(a, it.Event)
	case it.Kind == parser.ItemUnparsed && it.Unparsed != nil:
		return b.buildUnparsed(a, it.Unparsed)
	case it.Kind == parser.ItemLost && it.Lost != nil:
		return b.buildLost(a, it.Lost)
	}
	return b.buildMalformed(a, it)
}

// Payload keys. Documented in docs/entry.md; the names are what people query by.
const (
	kSummary    = "summary"
	kType       = "type"
	kSerial     = "serial"
	kNode       = "node"
	kBootID     = "boot_id"
	kIncomplete = "incomplete"
	kCompletion = "completion"
	kTruncated  = "truncated"
	kProcess    = "process"
	kUser       = "user"
	kSyscall    = "syscall"
	kPaths      = "paths"
	kPeer       = "peer"
	kKeys       = "keys"
	kTTY        = "tty"
	kSes        = "ses"
	kTerminal   = "terminal"
	kHostname   = "hostname"
	kOp         = "op"
	kResult     = "result"
	kRecords    = "records"
	kRepeats    = "repeats"
	kFields     = "fields"
	kRaw        = "raw"
	kReason     = "reason"
	kLost       = "lost"
	kFrom       = "from"
	kTo         = "to"
)

// Size accounting. The builder keeps a running size of the entry it builds: exact for
// strings and numbers (sizeVarint-aware), and an upper bound for the framing of nested
// objects and list elements (costField, costElem: tags and three-byte length prefixes, which
// hold for entries under 2 MiB; the cap is far below). The running size is therefore never below proto.Size, and an entry whose
// running size is under the cap needs no exact check.
const (
	costField   = 16 // framing of a Struct field holding an object or list, beside its key
	costElem    = 12 // framing of a list element holding an object
	costEntry   = 96 // LogEntry scalars: insertId, timestamp, severity, payload wrapper
	markerBytes = 48 // the longest truncation marker we write
)

// sizeVarint is the length of n as a protobuf varint.
func sizeVarint(n int) int { return (bits.Len64(uint64(n)|1) + 6) / 7 }

// strValueSize is the size of a Value holding a string of n bytes.
func strValueSize(n int) int { return 1 + sizeVarint(n) + n }

// fieldSize is the size of a Struct field (a map entry in Struct.fields) with a key of k
// bytes and a Value of inner bytes.
func fieldSize(k, inner int) int {
	e := 1 + sizeVarint(k) + k + 1 + sizeVarint(inner) + inner
	return 1 + sizeVarint(e) + e
}

// elemSize is the size of a list element holding a Value of inner bytes.
func elemSize(inner int) int { return 1 + sizeVarint(inner) + inner }

func (b *Builder) start(a *arena, ts time.Time, id string, sev ltype.LogSeverity) (*entryNode, *loggingpb.LogEntry) {
	en := a.entry(b)
	e := &en.e
	e.InsertId = id
	en.ts.Seconds = ts.Unix()
	en.ts.Nanos = int32(ts.Nanosecond())
	e.Timestamp = &en.ts
	e.Severity = sev
	return en, e
}

// finish encodes the payload tree of the build into e.
func (a *arena) finish(e *loggingpb.LogEntry) { setPayload(e, a.tree.encodeField(a, nodeOf(e))) }

func (b *Builder) buildUnparsed(a *arena, u *parser.Unparsed) *loggingpb.LogEntry {
	_, e := b.start(a, u.Time, unparsedID(u), ltype.LogSeverity_WARNING)
	node := clean(u.Node)
	if node == "" {
		node = b.o.NodeName
	}
	reason := clean(u.Reason)
	if reason == "" {
		reason = "unknown"
	}
	e.Labels = map[string]string{labelKind: "unparsed"}
	if node != "" {
		e.Labels[labelNode] = cutUTF8(node, maxLabelValue)
	}
	est := costEntry + 64 + len(node)
	o := a.tree.reset(&est)
	reason = cutUTF8(reason, 1024)
	o.str(kSummary, "unparsed input: "+reason)
	o.str(kReason, reason)
	o.str(kNode, node)
	raw := clean(u.Text)
	if room := b.max - est - costField - 8; len(raw) > room {
		raw = truncated(raw, room-markerBytes)
		o.boolean(kTruncated, true)
	}
	o.str(kRaw, raw)
	a.finish(e)
	return e
}

func (b *Builder) buildLost(a *arena, l *parser.Lost) *loggingpb.LogEntry {
	_, e := b.start(a, l.Time, lostID(l), ltype.LogSeverity_WARNING)
	node := clean(cutUTF8(l.Node, 1024))
	if node == "" {
		node = b.o.NodeName
	}
	e.Labels = map[string]string{labelKind: "lost"}
	if node != "" {
		e.Labels[labelNode] = cutUTF8(node, maxLabelValue)
	}
	est := 0
	o := a.tree.reset(&est)
	o.str(kSummary, lostSummary(l))
	o.num(kLost, float64(l.Count))
	o.num(kFrom, float64(l.From))
	o.num(kTo, float64(l.To))
	o.str(kNode, node)
	o.str(kBootID, clean(cutUTF8(l.BootID, 1024)))
	a.finish(e)
	return e
}

// lostSummary: "3 audit events lost (serials 1041–1043)".
func lostSummary(l *parser.Lost) string {
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, l.Count, 10)
	if l.Count == 1 {
		b = append(b, " audit event lost (serial "...)
	} else {
		b = append(b, " audit events lost (serials "...)
	}
	b = strconv.AppendUint(b, l.From, 10)
	if l.To != l.From {
		b = append(b, "–"...)
		b = strconv.AppendUint(b, l.To, 10)
	}
	b = append(b, ')')
	return string(b)
}

func (b *Builder) buildMalformed(a *arena, it parser.Item) *loggingpb.LogEntry {
	id := hashID([]byte{'m', byte(it.Kind)})
	_, e := b.start(a, time.Now(), id, ltype.LogSeverity_WARNING)
	e.Labels = map[string]string{labelKind: "malformed"}
	est := 0
	o := a.tree.reset(&est)
	o.str(kSummary, "malformed item of kind "+strconv.Itoa(int(it.Kind))+" with no content")
	a.finish(e)
	return e
}
