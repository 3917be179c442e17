package delivery

import (
	"math"
	"unicode/utf8"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A hand-written protobuf encoder for the entries this plugin builds. protobuf-go walks
// map fields through reflection (impl.appendMap, sizeMap), and a jsonPayload is almost
// all maps: sizing and marshalling entries was about half the plugin's CPU per record
// (BenchmarkEntryEncode and BenchmarkEntrySize show the gap). The encoder covers the
// LogEntry fields plugin/entry sets plus the plain ones next to them; an entry with
// anything else (http_request, operation, source_location, split, proto_payload, unknown
// fields on its nested messages, a nil pointer inside a oneof or a repeated field, invalid
// UTF-8) reports ok=false and the caller uses protobuf-go, which stays the reference: the
// tests compare every encoding against it. The LogEntry's own unknown fields are where
// plugin/entry puts the payload it encodes itself: they are copied verbatim, last, as
// protobuf-go does.
//
// Field numbers are those of the struct tags in loggingpb/log_entry.pb.go,
// structpb/struct.pb.go, timestamppb and monitoredres.

// LogEntry fields.
const (
	fnTextPayload      = 3
	fnInsertID         = 4
	fnJSONPayload      = 6
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

// One-byte tags (field<<3 | wire type) of the structpb messages, the hot path.
const (
	tagField1Bytes  = 1<<3 | 2 // Struct.fields, ListValue.values, map entry key
	tagField2Bytes  = 2<<3 | 2 // map entry value
	tagNullValue    = 1<<3 | 0 // Value.null_value (enum)
	tagNumberValue  = 2<<3 | 1 // Value.number_value (double)
	tagStringValue  = 3<<3 | 2 // Value.string_value
	tagBoolValue    = 4<<3 | 0 // Value.bool_value
	tagStructValue  = 5<<3 | 2 // Value.struct_value
	tagListValue    = 6<<3 | 2 // Value.list_value
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
	case *loggingpb.LogEntry_JsonPayload:
		if p == nil || p.JsonPayload == nil {
			return 0, false
		}
		s, ok := structSize(p.JsonPayload)
		if !ok {
			return 0, false
		}
		n += sizeBytesField(s)
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
// (invalid UTF-8): then ask protobuf-go. It walks e once: the length of a nested message
// is written after its body (see finishLen).
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
	case *loggingpb.LogEntry_JsonPayload:
		ok = p != nil && p.JsonPayload != nil
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
	if p, isJSON := e.Payload.(*loggingpb.LogEntry_JsonPayload); isJSON {
		b = protowire.AppendTag(b, fnJSONPayload, protowire.BytesType)
		slot := len(b)
		b, ok = appendStructBody(append(b, 0, 0), p.JsonPayload)
		if !ok {
			return b[:start], false
		}
		b = finishLen(b, slot)
	}
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

// supported reports whether e sets only fields the encoder knows. Unknown fields are
// looked for on the messages an entry owns directly, not on the structpb nodes of a Struct
// payload: the check costs ~6 ns a node (~15% of encoding), and a decoded payload carrying
// unknown fields would lose them. The entry's own unknown fields are copied.
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

// structSize is the body size of s.
func structSize(s *structpb.Struct) (int, bool) {
	n := 0
	for k, v := range s.Fields {
		vs, ok := valueSize(v)
		if !ok {
			return 0, false
		}
		n += sizeBytesField(sizeBytesField(len(k)) + sizeBytesField(vs))
	}
	return n, true
}

// valueSize is the body size of v. A oneof member is written even when it holds its
// zero value (number 0, "", false), so every set kind has a tag.
func valueSize(v *structpb.Value) (int, bool) {
	if v == nil {
		return 0, false
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_StringValue:
		if k == nil {
			return 0, false
		}
		return sizeBytesField(len(k.StringValue)), true
	case *structpb.Value_NumberValue:
		if k == nil {
			return 0, false
		}
		return 1 + 8, true
	case *structpb.Value_BoolValue:
		if k == nil {
			return 0, false
		}
		return 1 + 1, true
	case *structpb.Value_StructValue:
		if k == nil || k.StructValue == nil {
			return 0, false
		}
		s, ok := structSize(k.StructValue)
		return sizeBytesField(s), ok
	case *structpb.Value_ListValue:
		if k == nil || k.ListValue == nil {
			return 0, false
		}
		n := 0
		for _, el := range k.ListValue.Values {
			es, ok := valueSize(el)
			if !ok {
				return 0, false
			}
			n += sizeBytesField(es)
		}
		return sizeBytesField(n), true
	case *structpb.Value_NullValue:
		if k == nil {
			return 0, false
		}
		return 1 + protowire.SizeVarint(uint64(int64(k.NullValue))), true
	case nil:
		return 0, true
	}
	return 0, false
}

// finishLen writes the length of a nested message whose body follows a two-byte slot at
// b[slot:]. Two varint bytes hold 128..16383, the usual size of an entry's nested
// objects, so most bodies stay where they are; a smaller one moves down a byte and a
// larger one up. Either way the move is a copy of that body, once per nesting level.
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

// appendStructBody writes the fields of s.
func appendStructBody(b []byte, s *structpb.Struct) ([]byte, bool) {
	for k, v := range s.Fields {
		if v == nil || !validUTF8(k) {
			return b, false
		}
		b = append(b, tagField1Bytes)
		if vs, leaf := leafSize(v); leaf {
			// A scalar's size is known up front: no slot, nothing to move.
			b = protowire.AppendVarint(b, uint64(sizeBytesField(len(k))+sizeBytesField(vs)))
			b = append(b, tagField1Bytes)
			b = protowire.AppendString(b, k)
			b = append(b, tagField2Bytes)
			var ok bool
			if b, ok = appendValue(b, v); !ok {
				return b, false
			}
			continue
		}
		slot := len(b)
		b = append(b, 0, 0, tagField1Bytes)
		b = protowire.AppendString(b, k)
		b = append(b, tagField2Bytes)
		var ok bool
		if b, ok = appendValue(b, v); !ok {
			return b, false
		}
		b = finishLen(b, slot)
	}
	return b, true
}

// leafSize is the body size of v when it holds a scalar (leaf false for a Struct, a
// ListValue or anything appendValue refuses).
func leafSize(v *structpb.Value) (size int, leaf bool) {
	switch k := v.Kind.(type) {
	case *structpb.Value_StringValue:
		if k != nil {
			return sizeBytesField(len(k.StringValue)), true
		}
	case *structpb.Value_NumberValue:
		return 1 + 8, true
	case *structpb.Value_BoolValue:
		return 1 + 1, true
	case *structpb.Value_NullValue:
		if k != nil {
			return 1 + protowire.SizeVarint(uint64(int64(k.NullValue))), true
		}
	case nil:
		return 0, true
	}
	return 0, false
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

// appendValue writes the length and body of v. A oneof member is written even when it
// holds its zero value (number 0, "", false).
func appendValue(b []byte, v *structpb.Value) ([]byte, bool) {
	switch k := v.Kind.(type) {
	case *structpb.Value_StringValue:
		if k == nil || !validUTF8(k.StringValue) {
			return b, false
		}
		b = protowire.AppendVarint(b, uint64(sizeBytesField(len(k.StringValue))))
		b = append(b, tagStringValue)
		return protowire.AppendString(b, k.StringValue), true
	case *structpb.Value_NumberValue:
		if k == nil {
			return b, false
		}
		b = append(b, 1+8, tagNumberValue)
		return protowire.AppendFixed64(b, math.Float64bits(k.NumberValue)), true
	case *structpb.Value_BoolValue:
		if k == nil {
			return b, false
		}
		return append(b, 1+1, tagBoolValue, byte(protowire.EncodeBool(k.BoolValue))), true
	case *structpb.Value_StructValue:
		if k == nil || k.StructValue == nil {
			return b, false
		}
		slot := len(b)
		b = append(b, 0, 0, tagStructValue)
		inner := len(b)
		b, ok := appendStructBody(append(b, 0, 0), k.StructValue)
		if !ok {
			return b, false
		}
		return finishLen(finishLen(b, inner), slot), true
	case *structpb.Value_ListValue:
		if k == nil || k.ListValue == nil {
			return b, false
		}
		slot := len(b)
		b = append(b, 0, 0, tagListValue)
		inner := len(b)
		b = append(b, 0, 0)
		for _, el := range k.ListValue.Values {
			if el == nil {
				return b, false
			}
			b = append(b, tagField1Bytes)
			var ok bool
			if b, ok = appendValue(b, el); !ok {
				return b, false
			}
		}
		return finishLen(finishLen(b, inner), slot), true
	case *structpb.Value_NullValue:
		if k == nil {
			return b, false
		}
		n := uint64(int64(k.NullValue))
		b = append(b, byte(1+protowire.SizeVarint(n)), tagNullValue)
		return protowire.AppendVarint(b, n), true
	case nil:
		return append(b, 0), true
	}
	return b, false
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
