// Package parser turns raw Linux audit records into decoded, assembled events.
//
// Data flows one way through this package:
//
//	input text (journal fields, audit.log line, kernel "audit:" line)
//	  → Record     (ParseLine, ParseJournal: one record, fields hex-decoded)
//	  → Assembler  (Add: records of one event grouped by node/boot, time and serial)
//	  → Item       (Drain/DrainAll: a complete Event, an Unparsed input, or a Lost-events notice)
//
// Every input ends up in exactly one Item: a record belongs to one Event, is counted as a
// duplicate of a record already seen (Event.Duplicates or Assembler stats), or is Unparsed.
//
// This file is the package's contract: the plugin, filters and entry builder depend on these
// types only. Keep it small and stable.
package parser

import "time"

// Source says which input shape a Record came from.
type Source uint8

const (
	SourceAuditLog Source = iota + 1 // auditd's audit.log line (in_tail)
	SourceKernel                     // kernel log line "audit: type=1300 audit(...): ..."
	SourceJournal                    // systemd journal record (in_systemd, COS)
)

func (s Source) String() string {
	switch s {
	case SourceAuditLog:
		return "audit.log"
	case SourceKernel:
		return "kernel"
	case SourceJournal:
		return "journal"
	}
	return "unknown"
}

// EventKey identifies one audit event. Serials restart at boot and roll over, so the
// serial alone is not enough: node (or boot id) and the event's own timestamp are part of it.
type EventKey struct {
	Node      string // node= prefix, journal _HOSTNAME, or "" when unknown
	BootID    string // journal _BOOT_ID; "" for audit.log and kernel lines
	UnixMilli int64  // audit(sec.msec:serial) as milliseconds since the epoch
	Serial    uint64
}

// Time returns the event's own timestamp.
func (k EventKey) Time() time.Time { return time.UnixMilli(k.UnixMilli).UTC() }

// Field is one key=value pair of a record, in the order it appeared.
//
// Value is the decoded value: hex-encoded fields (see IsEncodedField) are decoded, and any
// byte sequence that is not valid UTF-8 is escaped reversibly as \xNN (a literal backslash
// is written as \x5c only when escaping is needed), so Value is always valid UTF-8.
// When nothing needed decoding, Value is the raw value and shares memory with Record.Text.
// Absent marks "(null)" and "?" values (and an empty unquoted value).
//
// The raw value, exactly as written in the record without surrounding quotes, is Raw(). It
// differs from Value only for hex-decoded fields (Raw is the upper-case hex of the bytes
// Value stands for) and for text that would read as escaped form (Raw is Unescape(Value)),
// so it is computed from Value instead of being stored: Field is 40 bytes with two pointers
// instead of 56 with three. A SYSCALL record has about 28 fields; their allocation, the GC's
// scanning of it and the write barriers while the GC runs were about an eighth of the cost
// of parsing and assembling a record. A Field built by hand (Key and Value set) has Raw() ==
// Value.
//
// A parsed Field also remembers how Interpret treats its key in its record's type: the
// tokenizer needs that to decide on hex decoding, so it costs parsing little, and looking it
// up again on every Interpret was a sixth of Interpret's cost. A Field built by hand has none
// and Interpret looks it up.
// Copy a parsed Field freely, but build a new one rather than change the Key of a parsed one
// or move it to a record of another type.
type Field struct {
	Key    string
	Value  string
	Quoted bool // the raw value was in single or double quotes: it is text, never hex
	Absent bool
	enc    fieldEnc
	// ftype is adjustType for this key in this record type, plus one; 0 when not known (a
	// Field built by hand, or a key whose type depends on the value). It fits in the padding:
	// Field stays 40 bytes.
	ftype fieldType
}

// fieldEnc says how a Field's Value was made from its raw value.
type fieldEnc uint8

const (
	encNone    fieldEnc = iota // Value is the raw value
	encHex                     // hex-decoded
	encEscaped                 // the raw value would read as escaped form: Value escapes it
)

// Raw returns the value as written in the record, without surrounding quotes. It allocates
// only for the fields where it differs from Value; AppendRaw does not.
func (f *Field) Raw() string {
	if f.enc == encNone {
		return f.Value
	}
	return string(f.AppendRaw(nil))
}

// AppendRaw appends Raw() to dst.
func (f *Field) AppendRaw(dst []byte) []byte {
	switch f.enc {
	case encHex:
		return appendUpperHex(dst, f.Value)
	case encEscaped:
		return appendUnescape(dst, f.Value)
	}
	return append(dst, f.Value...)
}

// RawLen returns len(Raw()) without building it.
func (f *Field) RawLen() int {
	switch f.enc {
	case encHex:
		return 2 * unescapedLen(f.Value)
	case encEscaped:
		return unescapedLen(f.Value)
	}
	return len(f.Value)
}

// Record is one parsed audit record.
type Record struct {
	Key    EventKey
	Type   uint16 // the numeric record type (AUDIT_SYSCALL = 1300, ...)
	Source Source

	// Text is the record in audit.log form ("type=SYSCALL msg=audit(1.2:3): body"), without
	// any node= prefix or ENRICHED suffix; for journal records it is rebuilt from the fields.
	Text string
	// Fields are the body's key=value pairs. For USER_* records whose body holds
	// msg='k=v k=v', the inner pairs are flattened into Fields (the msg key itself is dropped).
	Fields []Field
	// Enriched are auditd's ENRICHED interpretations (after byte 0x1D, upper-case keys such
	// as UID="root"). They never overwrite Fields.
	Enriched []Field
}

// TypeName returns the record type's name: "SYSCALL", or "UNKNOWN[1999]" for numbers the
// tables do not know (newer kernels).
func (r *Record) TypeName() string { return TypeName(r.Type) }

// Get returns the first field with the given key.
func (r *Record) Get(key string) (Field, bool) {
	for i := range r.Fields {
		if r.Fields[i].Key == key {
			return r.Fields[i], true
		}
	}
	return Field{}, false
}

// CompletionReason says why the assembler decided an event was complete.
type CompletionReason uint8

const (
	CompleteEOE        CompletionReason = iota + 1 // an EOE record arrived
	CompleteProctitle                              // PROCTITLE, the last record the kernel writes for a syscall event
	CompleteStandalone                             // a type that is always a single-record event
	CompleteQuiet                                  // newer serials seen and nothing new for the quiet window
	CompleteTimeout                                // the hard timeout since the event's first record
	CompleteEvicted                                // pushed out by the bound on events in flight (incomplete)
	CompleteDrained                                // DrainAll at shutdown (incomplete unless already quiet)
)

func (c CompletionReason) String() string {
	switch c {
	case CompleteEOE:
		return "eoe"
	case CompleteProctitle:
		return "proctitle"
	case CompleteStandalone:
		return "standalone"
	case CompleteQuiet:
		return "quiet"
	case CompleteTimeout:
		return "timeout"
	case CompleteEvicted:
		return "evicted"
	case CompleteDrained:
		return "drained"
	}
	return "unknown"
}

// ID is a user or group id with its name when one is known.
type ID struct {
	Num   uint32
	Name  string // from the ENRICHED suffix or the configured passwd/group file; "" if unknown
	Unset bool   // 4294967295 / -1: never set (e.g. auid of a daemon)
	Set   bool   // the field was present at all
}

// SockAddr is a decoded SOCKADDR saddr.
type SockAddr struct {
	Family string // "inet", "inet6", "local" (unix), "netlink", or the number for others
	Addr   string // IP address, unix path ("@name" for abstract sockets), netlink pid
	Port   int    // inet/inet6 only; 0 otherwise
	Raw    string // the raw hex, kept for families that are not decoded
}

// PathItem is one PATH record of an event.
type PathItem struct {
	Name     string
	Nametype string // NORMAL, PARENT, CREATE, DELETE, UNKNOWN
	Inode    string
	Mode     string
}

// Truncation records what a size cap left out.
type Truncation struct {
	Args  int // arguments left out
	Bytes int // bytes left out
}

// Summary holds the fields people query by, lifted from the event's records.
// Strings are "" and IDs unset (Set=false) when the records do not carry them.
type Summary struct {
	PID, PPID  string
	Exe, Comm  string
	Cwd        string
	Title      string   // proctitle, NUL separators as spaces
	Argv       []string // EXECVE argv across records and split arguments, capped (see Truncated)
	Argc       int      // argc as the kernel reported it
	ArgvMarker *Truncation
	AUID       ID
	UID, EUID  ID
	GID        ID
	Syscall    string // name for the event's arch ("execve"), or the number if unknown
	Arch       string // "x86_64", "i386", ...
	Success    string // "yes", "no" or "" (from success= or res=)
	Exit       string // raw exit value
	ExitName   string // errno name for a negative exit ("ENOENT"), else ""
	Paths      []PathItem
	Peer       *SockAddr
	Keys       []string // rule keys (key= split on 0x01)
	TTY, Ses   string
	Terminal   string // USER_* terminal=
	Hostname   string // USER_* hostname= / addr=
	Acct       string // USER_* acct=
	Op         string // USER_* / CONFIG op=
}

// Event is one assembled audit event.
type Event struct {
	Key     EventKey
	Records []Record // in arrival order within the event, duplicates removed
	Reason  CompletionReason
	// Incomplete is true when the event was flushed without evidence that all its records
	// arrived (evicted by the in-flight bound, or drained at shutdown before its quiet window).
	Incomplete bool
	Duplicates int // identical records seen again (re-reads) and counted once
	Summary    Summary
	// Repeats is set downstream of the parser (the plugin's collapse filter) on an event that
	// stands for several identical ones; nil otherwise.
	Repeats *Repeats

	owner *pending // the assembler's memory this Event lives in (see Assembler.Recycle)
}

// Repeats says how many identical events an event stands for, and over what time.
type Repeats struct {
	Count       int
	First, Last time.Time
}

// Unparsed is an input that is not an audit record, or could not be parsed.
type Unparsed struct {
	Text   string // the raw input (valid UTF-8, escaped like Field.Value)
	Reason string // why it was not parsed
	Node   string
	Time   time.Time // the input's own time when known, else when it was read
}

// Lost reports serials that never arrived within one boot of one node: events the kernel or
// the pipeline dropped before us.
type Lost struct {
	Node, BootID string
	From, To     uint64 // inclusive range of missing serials
	Count        uint64
	Time         time.Time // time of the event after the gap
}

// ItemKind tells which field of an Item is set.
type ItemKind uint8

const (
	ItemEvent ItemKind = iota + 1
	ItemUnparsed
	ItemLost
)

// Item is one output of the assembler.
type Item struct {
	Kind     ItemKind
	Event    *Event
	Unparsed *Unparsed
	Lost     *Lost
}
