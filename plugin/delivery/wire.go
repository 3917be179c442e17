package delivery

import (
	"math"
	"unicode/utf8"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A hand-written protobuf encoder for the entries this plugin builds. plugin/entry encodes
// each entry's jsonPayload itself and keeps the bytes in the entry's unknown fields (see
// plugin/entry/payload.go); what is left is a handful of scalars, a timestamp, the resource
// and the labels maps, which protobuf-go sizes and marshals through reflection at about five
// times the cost and eleven allocations per entry (BenchmarkEntryEncode, BenchmarkEntrySize).
// The encoder covers the LogEntry fields plugin/entry sets plus the plain ones next to them
// and copies the entry's unknown fields verbatim, last, as protobuf-go does. An entry with
// anything else (a Struct jsonPayload, http_request, operation, source_location, split,
// proto_payload, unknown fields on a nested message, invalid UTF-8) reports ok=false and the
// caller uses protobuf-go, which stays the reference: the tests compare every encoding
// against it.
//
// Field numbers are those of the struct tags in loggingpb/log_entry.pb.go, timestamppb and
// monitoredres.

// LogEntry fields.
const (
	fnTextPayload      = 3
	fnInsertID         = 4
	fnResource         = 8
	fnTimestamp        = 9
	fnSeverity         = 10
	fnLabels           = 11
	fnLogName          = 12
	fnTrace            = 22
	fnReceiveTimestamp = 24
	fnSpanID           = 27
	fnTraceSampled     = 30
)

// One-byte tags (field<<3 | wire type) of the nested messages.
const (
	tagField1Bytes  = 1<<3 | 2 // map entry key
	tagField2Bytes  = 2<<3 | 2 // map entry value
	tagTsSeconds    = 1<<3 | 0 // Timestamp.seconds
	tagTsNanos      = 2<<3 | 0 // Timestamp.nanos
	tagResourceType = 1<<3 | 2 // MonitoredResource.type
	tagResourceLbl  = 2<<3 | 2 // MonitoredResource.labels
	tagLabels       = fnLabels<<3 | 2
)

func sov(n int) int {
	if n < 1<<7 { // most lengths in an entry: skip the bit arithmetic
		return 1
	}
	return protowire.SizeVarint(uint64(n))
}

// sizeBytesField is the size of a length-delimited field with a one-byte tag.
func sizeBytesField(n int) int { return 1 + sov(n) + n }

// entrySize is proto.Size(e), or ok=false when e has something the encoder does not
// handle (then ask protobuf-go). It allocates nothing.
func entrySize(e *loggingpb.LogEntry) (int, bool) {
	if !supported(e) {
		return 0, false
	}
	n := 0
	switch p := e.Payload.(type) {
	case nil:
	case *loggingpb.LogEntry_TextPayload:
		if p == nil {
			return 0, false
		}
		n += sizeBytesField(len(p.TextPayload))
	default:
		return 0, false
	}
	n += scalarsSize(e) + len(e.ProtoReflect().GetUnknown())
	return n, n <= math.MaxInt32
}

// appendEntry appends proto.Marshal(e) (up to map order), or returns b unchanged and
// ok=false when e has something the encoder does not handle or protobuf-go would refuse
// (invalid UTF-8): then ask protobuf-go. The length of the resource is written after its
// body (see finishLen).
func appendEntry(b []byte, e *loggingpb.LogEntry) ([]byte, bool) {
	start := len(b)
	if !supported(e) {
		return b, false
	}
	ok := true
	switch p := e.Payload.(type) {
	case nil:
	case *loggingpb.LogEntry_TextPayload:
		if p == nil || !validUTF8(p.TextPayload) {
			return b, false
		}
		b = protowire.AppendTag(b, fnTextPayload, protowire.BytesType)
		b = protowire.AppendString(b, p.TextPayload)
	default:
		return b, false
	}
	for _, s := range [...]string{e.InsertId, e.LogName, e.Trace, e.SpanId} {
		ok = ok && validUTF8(s)
	}
	if !ok {
		return b, false
	}
	b = appendString(b, fnInsertID, e.InsertId)
	if r := e.Resource; r != nil {
		if !validUTF8(r.Type) {
			return b[:start], false
		}
		b = protowire.AppendTag(b, fnResource, protowire.BytesType)
		slot := len(b)
		b = appendString(append(b, 0, 0), 1, r.Type)
		if b, ok = appendStringMap(b, tagResourceLbl, r.Labels); !ok {
			return b[:start], false
		}
		b = finishLen(b, slot)
	}
	b = appendTimestamp(b, fnTimestamp, e.Timestamp)
	if e.Severity != 0 {
		b = protowire.AppendTag(b, fnSeverity, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(e.Severity)))
	}
	if b, ok = appendStringMap(b, tagLabels, e.Labels); !ok {
		return b[:start], false
	}
	b = appendString(b, fnLogName, e.LogName)
	b = appendString(b, fnTrace, e.Trace)
	b = appendTimestamp(b, fnReceiveTimestamp, e.ReceiveTimestamp)
	b = appendString(b, fnSpanID, e.SpanId)
	if e.TraceSampled {
		b = protowire.AppendTag(b, fnTraceSampled, protowire.VarintType)
		b = append(b, 1)
	}
	b = append(b, e.ProtoReflect().GetUnknown()...)
	if len(b)-start > math.MaxInt32 {
		return b[:start], false
	}
	return b, true
}

// supported reports whether e sets only fields the encoder knows. The entry's own unknown
// fields are copied; a nested message's would be lost, so they are left to protobuf-go.
func supported(e *loggingpb.LogEntry) bool {
	return e != nil && e.HttpRequest == nil && e.Operation == nil && e.SourceLocation == nil && e.Split == nil &&
		(e.Timestamp == nil || len(e.Timestamp.ProtoReflect().GetUnknown()) == 0) &&
		(e.ReceiveTimestamp == nil || len(e.ReceiveTimestamp.ProtoReflect().GetUnknown()) == 0) &&
		(e.Resource == nil || len(e.Resource.ProtoReflect().GetUnknown()) == 0)
}

// scalarsSize sizes every field but the payload.
func scalarsSize(e *loggingpb.LogEntry) int {
	n := 0
	if e.LogName != "" {
		n += protowire.SizeTag(fnLogName) + protowire.SizeBytes(len(e.LogName))
	}
	if e.Resource != nil {
		n += protowire.SizeTag(fnResource) + protowire.SizeBytes(resourceSize(e.Resource))
	}
	if e.Timestamp != nil {
		n += protowire.SizeTag(fnTimestamp) + protowire.SizeBytes(timestampSize(e.Timestamp))
	}
	if e.ReceiveTimestamp != nil {
		n += protowire.SizeTag(fnReceiveTimestamp) + protowire.SizeBytes(timestampSize(e.ReceiveTimestamp))
	}
	if e.Severity != 0 {
		n += protowire.SizeTag(fnSeverity) + protowire.SizeVarint(uint64(int64(e.Severity)))
	}
	if e.InsertId != "" {
		n += protowire.SizeTag(fnInsertID) + protowire.SizeBytes(len(e.InsertId))
	}
	if e.Trace != "" {
		n += protowire.SizeTag(fnTrace) + protowire.SizeBytes(len(e.Trace))
	}
	if e.SpanId != "" {
		n += protowire.SizeTag(fnSpanID) + protowire.SizeBytes(len(e.SpanId))
	}
	n += stringMapSize(e.Labels, protowire.SizeTag(fnLabels))
	if e.TraceSampled {
		n += protowire.SizeTag(fnTraceSampled) + 1
	}
	return n
}

func timestampSize(t *timestamppb.Timestamp) int {
	n := 0
	if t.Seconds != 0 {
		n += 1 + protowire.SizeVarint(uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(t.Nanos)))
	}
	return n
}

func resourceSize(r *monitoredres.MonitoredResource) int {
	n := 0
	if r.Type != "" {
		n += sizeBytesField(len(r.Type))
	}
	return n + stringMapSize(r.Labels, 1)
}

// stringMapSize sizes a map<string,string> field with a tag of tagSize bytes. Map
// entries always carry both key and value, even empty ones (as protobuf-go writes them).
func stringMapSize(m map[string]string, tagSize int) int {
	n := 0
	for k, v := range m {
		n += tagSize + protowire.SizeBytes(sizeBytesField(len(k))+sizeBytesField(len(v)))
	}
	return n
}

// finishLen writes the length of a nested message whose body follows a two-byte slot at
// b[slot:]. Two varint bytes hold 128..16383; a smaller body moves down a byte and a
// larger one up.
func finishLen(b []byte, slot int) []byte {
	n := len(b) - slot - 2
	switch w := sov(n); w {
	case 2:
		b[slot] = byte(n) | 0x80
		b[slot+1] = byte(n >> 7)
	case 1:
		b[slot] = byte(n)
		copy(b[slot+1:], b[slot+2:])
		b = b[:len(b)-1]
	default:
		var tmp [10]byte // the longest varint
		b = append(b, tmp[:w-2]...)
		copy(b[slot+w:], b[slot+2:len(b)-(w-2)])
		protowire.AppendVarint(b[slot:slot], uint64(n))
	}
	return b
}

// validUTF8 is utf8.ValidString with a branch-free ASCII check first for short strings
// (struct keys, most values), where the call costs more than the check.
func validUTF8(s string) bool {
	if len(s) > 32 {
		return utf8.ValidString(s)
	}
	var or byte
	for i := 0; i < len(s); i++ {
		or |= s[i]
	}
	return or < utf8.RuneSelf || utf8.ValidString(s)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendTimestamp(b []byte, num protowire.Number, t *timestamppb.Timestamp) []byte {
	if t == nil {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(timestampSize(t)))
	if t.Seconds != 0 {
		b = append(b, tagTsSeconds)
		b = protowire.AppendVarint(b, uint64(t.Seconds))
	}
	if t.Nanos != 0 {
		b = append(b, tagTsNanos)
		b = protowire.AppendVarint(b, uint64(int64(t.Nanos)))
	}
	return b
}

// appendStringMap writes m as a map<string,string> field with a one-byte tag.
func appendStringMap(b []byte, tag byte, m map[string]string) ([]byte, bool) {
	for k, v := range m {
		if !validUTF8(k) || !validUTF8(v) {
			return b, false
		}
		b = append(b, tag)
		b = protowire.AppendVarint(b, uint64(sizeBytesField(len(k))+sizeBytesField(len(v))))
		b = append(b, tagField1Bytes)
		b = protowire.AppendString(b, k)
		b = append(b, tagField2Bytes)
		b = protowire.AppendString(b, v)
	}
	return b, true
}
