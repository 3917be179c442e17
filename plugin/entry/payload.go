package entry

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/gke-audit/auditd-cloud-logging/internal/ascii"
	"github.com/gke-audit/auditd-cloud-logging/parser"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// The jsonPayload of an entry is written as protobuf wire bytes, straight from the event.
//
// A structpb.Struct tree costs a Go map per object plus two heap objects per value; the maps
// were about a third of the plugin's CPU per record, and replacing the tree took the COS
// workload of BenchmarkEndToEnd from 14.7 to 6.5 allocations and from 13.4 to 10.5 µs per
// record in the same run. Here the payload is written as google.protobuf.Struct wire bytes
// without maps or per-value allocations, in one of two ways. Nearly every event is streamed:
// each value written straight to bytes in order (see payload). An event over the size cap,
// whose planner fills objects in any order, and the other entry kinds are recorded as a tree
// of plain nodes in a reused scratch slice (a record's fields, most of a payload, written
// straight to bytes as one node, see flatObj), then encoded in two passes (sizes, then bytes).
//
// The bytes go into the LogEntry's unknown fields as field 6, json_payload. Unknown fields
// are part of the message: proto.Marshal, proto.Size, proto.Clone and gRPC's codec carry
// them verbatim, so the request on the wire is the one a JsonPayload Struct would make and
// the server sees an ordinary jsonPayload. Go code reading an entry built here gets nil from
// GetJsonPayload: use Payload (or Decoded for protojson) instead.

type pkind uint8

const (
	pObj pkind = iota + 1
	pList
	pStr
	pNum
	pBool
	pEncoded // s holds an encoded google.protobuf.Value (a shared object)
	pFlat    // an object of string fields already in wire form in payload.flat (see flatObj)
)

// pnode is one value of the payload tree: a field of its parent object (key set) or an
// element of its parent list. Children are a linked list of indices into payload.nodes;
// index 0 is the root object, so 0 also means "none".
type pnode struct {
	key               string
	s                 string
	f                 float64
	kind              pkind
	b                 bool
	first, last, next int32
	// size is the node's encoded size as a google.protobuf.Value: set when a leaf is added,
	// by the size pass for objects and lists (body is then their content's size).
	size, body int32
}

// payload is one entry's jsonPayload under construction: a tree, or a stream.
//
// Streaming: an event written without a plan (nearly every one, see buildEvent) has its
// fields written in order, each object complete before the next field of its parent, so it
// needs no tree: every value is written straight to out as wire bytes. An object or list
// starts with room for its head (tags, lengths, key) as for a body of 128 B to 16 KB; when
// it is complete (the next write to an outer level, or the end) the head is written with the
// real lengths, the body moved when they take more or fewer bytes (a few bytes, for the
// small objects). The bytes are the tree's, field for field (TestPlannedPathSame); writing
// them this way took the tree's node, size and encode passes out of the build.
type payload struct {
	nodes []pnode
	// flat holds the bodies of the pFlat objects: a pFlat node's first is the offset of
	// its body here and body its length.
	flat []byte

	stream bool
	out    []byte          // the streamed Struct body of the payload
	open   []openContainer // the objects and lists being written, outermost first
	head   []byte          // scratch of closeTop
}

// openContainer is an object or list being streamed.
type openContainer struct {
	start   int32  // offset in out of its head
	headLen int32  // bytes written for the head
	key     string // its key in the parent object; "" for a list element
	list    bool   // a ListValue, else a Struct
	elem    bool   // an element of a list
}

// reset empties the tree, keeping its capacity, and returns the root object.
func (p *payload) reset(est *int) obj {
	clear(p.nodes) // the scratch is pooled: do not keep the last event's strings alive
	p.nodes = append(p.nodes[:0], pnode{kind: pObj})
	p.flat = p.flat[:0]
	p.stream = false
	clear(p.open)
	p.open = p.open[:0]
	return obj{p: p, n: 0, est: est}
}

// resetStream empties the payload for streaming and returns the root object.
func (p *payload) resetStream(est *int) obj {
	o := p.reset(est)
	p.stream = true
	p.out = p.out[:0]
	return o
}

// obj is an object or list of the payload under construction, with the running size
// estimate of the entry (see costField). d is its depth when streaming (the root is 0).
type obj struct {
	p   *payload
	n   int32
	d   int32
	est *int
}

// appendEntryHead appends the start of a Struct field (a map entry of Struct.fields) with
// key k whose Value takes vs bytes: the entry's tag and length, the key, the value's tag
// and length. The Value's bytes follow.
func appendEntryHead(b []byte, k string, vs int) []byte {
	b = append(b, tagField1Bytes)
	b = appendVarint(b, int32(sizeBytes(len(k))+sizeBytes(vs)))
	b = append(b, tagField1Bytes)
	b = appendVarint(b, int32(len(k)))
	b = append(b, k...)
	b = append(b, tagField2Bytes)
	return appendVarint(b, int32(vs))
}

// headFor appends the head of c for a body of n bytes.
func headFor(b []byte, c *openContainer, n int) []byte {
	v := sizeBytes(n) // the Value holding the Struct or ListValue
	if c.elem {
		b = append(b, tagField1Bytes)
		b = appendVarint(b, int32(v))
	} else {
		b = appendEntryHead(b, c.key, v)
	}
	if c.list {
		b = append(b, tagListValue)
	} else {
		b = append(b, tagStructValue)
	}
	return appendVarint(b, int32(n))
}

// openAt starts a container as the child of the object or list o.
func (o obj) openAt(key string, list, elem bool) obj {
	p := o.p
	p.sync(o.d)
	c := openContainer{start: int32(len(p.out)), key: key, list: list, elem: elem}
	// Room for the head with two-byte lengths, the usual case for the larger bodies; closeTop
	// writes it (a guess: closeTop moves the body when the real head differs).
	n := 6 // tag, length, tag, length
	if !elem {
		n = 10 + sizeVarint(len(key)) + len(key) // and the map entry's tags, lengths and key
	}
	p.out = append(p.out, make([]byte, n)...) // no allocation: the compiler grows and clears
	c.headLen = int32(n)
	p.open = append(p.open, c)
	return obj{p: p, d: o.d + 1, est: o.est}
}

// sync completes the containers deeper than depth d, so that d's container can be written.
func (p *payload) sync(d int32) {
	for int32(len(p.open)) > d {
		p.closeTop()
	}
}

// closeTop completes the innermost open container: its head gets the real lengths.
func (p *payload) closeTop() {
	c := &p.open[len(p.open)-1]
	bodyAt := int(c.start + c.headLen)
	n := len(p.out) - bodyAt
	h := headFor(p.head[:0], c, n)
	p.head = h[:0]
	if d := len(h) - int(c.headLen); d != 0 {
		if d > 0 {
			p.out = append(p.out, make([]byte, d)...)
		}
		copy(p.out[bodyAt+d:], p.out[bodyAt:bodyAt+n])
		p.out = p.out[:bodyAt+d+n]
	}
	copy(p.out[c.start:], h)
	*c = openContainer{}
	p.open = p.open[:len(p.open)-1]
}

// streamEntry starts the map entry of a field of o whose Value takes vs bytes; the Value
// follows.
func (o obj) streamEntry(k string, vs int) {
	o.p.sync(o.d)
	o.p.out = appendEntryHead(o.p.out, k, vs)
}

func (o obj) add(k string, kind pkind) *pnode {
	i := int32(len(o.p.nodes))
	o.p.nodes = append(o.p.nodes, pnode{key: k, kind: kind})
	parent := &o.p.nodes[o.n]
	if parent.last == 0 {
		parent.first = i
	} else {
		o.p.nodes[parent.last].next = i
	}
	parent.last = i
	return &o.p.nodes[i]
}

// str adds a string field; empty strings are left out (an absent field says the same and
// costs nothing).
func (o obj) str(k, v string) {
	if v == "" {
		return
	}
	o.field(k, v)
}

// field adds a string field even when it is empty (a record's fields are kept as written).
func (o obj) field(k, v string) {
	if o.p.stream {
		o.streamEntry(k, sizeBytes(len(v)))
		b := append(o.p.out, tagStringValue)
		b = appendVarint(b, int32(len(v)))
		o.p.out = append(b, v...)
		*o.est += fieldSize(len(k), strValueSize(len(v)))
		return
	}
	n := o.add(k, pStr)
	n.s, n.size = v, int32(sizeBytes(len(v)))
	*o.est += fieldSize(len(k), strValueSize(len(v)))
}

func (o obj) num(k string, v float64) {
	if o.p.stream {
		o.streamEntry(k, 1+8)
		o.p.out = binary.LittleEndian.AppendUint64(append(o.p.out, tagNumberValue), math.Float64bits(v))
		*o.est += fieldSize(len(k), 9)
		return
	}
	n := o.add(k, pNum)
	n.f, n.size = v, 1+8
	*o.est += fieldSize(len(k), 9)
}

func (o obj) boolean(k string, v bool) {
	if o.p.stream {
		o.streamEntry(k, 1+1)
		bit := byte(0)
		if v {
			bit = 1
		}
		o.p.out = append(o.p.out, tagBoolValue, bit)
		*o.est += fieldSize(len(k), 2)
		return
	}
	n := o.add(k, pBool)
	n.b, n.size = v, 1+1
	*o.est += fieldSize(len(k), 2)
}

// numOrStr stores a decimal value as a number (queryable as one) when it is one.
func (o obj) numOrStr(k, v string) {
	if v == "" {
		return
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > -1<<53 && n < 1<<53 {
		o.num(k, float64(n))
		return
	}
	if len(v) > 256 {
		v = truncated(v, 256)
	}
	o.str(k, clean(v))
}

// child adds an object field. size is only a hint kept for the callers' readability.
func (o obj) child(k string, _ int) obj { return o.container(k, false) }

// list adds a list field; fill it with elem and elemStr.
func (o obj) list(k string, _ int) obj { return o.container(k, true) }

func (o obj) container(k string, list bool) obj {
	*o.est += costField + len(k)
	if o.p.stream {
		return o.openAt(k, list, false)
	}
	kind := pObj
	if list {
		kind = pList
	}
	i := int32(len(o.p.nodes))
	o.add(k, kind)
	return obj{p: o.p, n: i, est: o.est}
}

// elem appends an object to list l.
func (l obj) elem(_ int) obj {
	if l.p.stream {
		*l.est += costElem
		return l.openAt("", false, true)
	}
	i := int32(len(l.p.nodes))
	l.add("", pObj)
	*l.est += costElem
	return obj{p: l.p, n: i, est: l.est}
}

// elemStr appends a string to list l.
func (l obj) elemStr(s string) {
	if p := l.p; p.stream {
		p.sync(l.d)
		b := append(p.out, tagField1Bytes)
		b = appendVarint(b, int32(sizeBytes(len(s))))
		b = append(b, tagStringValue)
		b = appendVarint(b, int32(len(s)))
		p.out = append(b, s...)
		*l.est += elemSize(strValueSize(len(s)))
		return
	}
	n := l.add("", pStr)
	n.s, n.size = s, int32(sizeBytes(len(s)))
	*l.est += elemSize(strValueSize(len(s)))
}

// encoded adds a field whose value is already encoded (a shared object).
func (o obj) encoded(k, value string, cost int) {
	if o.p.stream {
		o.streamEntry(k, len(value))
		o.p.out = append(o.p.out, value...)
		*o.est += cost
		return
	}
	n := o.add(k, pEncoded)
	n.s, n.size = value, int32(len(value))
	*o.est += cost
}

// flatObj is an object of string fields written straight to wire bytes, without a node per
// field: the records' fields, most of a payload, cost a single node this way. Only one
// flatObj may be open at a time (between flatChild and end nothing else writes flat).
type flatObj struct {
	p   *payload
	n   int32 // its node in the tree; streaming, its depth
	est *int
	// to is where the fields go: the tree's flat bodies, or the stream itself.
	to *[]byte
}

// flatChild adds a flat object field; call end when its fields are written.
func (o obj) flatChild(k string) flatObj {
	if o.p.stream {
		*o.est += costField + len(k)
		c := o.openAt(k, false, false)
		return flatObj{p: o.p, n: c.d, est: o.est, to: &o.p.out}
	}
	i := int32(len(o.p.nodes))
	o.add(k, pFlat).first = int32(len(o.p.flat))
	*o.est += costField + len(k)
	return flatObj{p: o.p, n: i, est: o.est, to: &o.p.flat}
}

// field adds a string field even when it is empty.
func (f flatObj) field(k, v string) {
	vs := sizeBytes(len(v))
	b := *f.to
	start := len(b)
	b = appendEntryHead(b, k, vs)
	b = append(b, tagStringValue)
	b = appendVarint(b, int32(len(v)))
	*f.to = append(b, v...)
	*f.est += len(*f.to) - start // exact
}

// interpreted adds field fl of record r (whose key is valid UTF-8) with its value
// interpreted (parser.AppendInterpret) straight into the wire bytes, as interpretAll and
// field would write it: a quoted value left as it was is stored bare, a value that is not
// valid UTF-8 is cleaned. The three lengths that depend on the value are written as one
// byte each and set once the value is there; a value too long for that (rare) is moved.
func (f flatObj) interpreted(r *parser.Record, fl *parser.Field, names *parser.Names) {
	k := fl.Key
	b := *f.to
	start := len(b)
	b = append(b, tagField1Bytes, 0, tagField1Bytes)
	b = appendVarint(b, int32(len(k)))
	b = append(b, k...)
	b = append(b, tagField2Bytes, 0, tagStringValue, 0)
	vstart := len(b)
	b = parser.AppendInterpret(b, r, fl, names)
	v := b[vstart:]
	if fl.Quoted && len(v) == len(fl.Value)+2 && v[0] == '"' && v[len(v)-1] == '"' && string(v[1:len(v)-1]) == fl.Value {
		b = b[:vstart+copy(v, v[1:len(v)-1])]
	} else if !ascii.Is(v) {
		if c := clean(string(v)); len(c) != len(v) {
			b = append(b[:vstart], c...)
		}
	}
	n := len(b) - vstart
	vs := sizeBytes(n)                      // the Value: string_value's tag, length, bytes
	es := sizeBytes(len(k)) + sizeBytes(vs) // the map entry: key and value fields
	if n < 1<<7 && vs < 1<<7 && es < 1<<7 {
		b[start+1], b[vstart-3], b[vstart-1] = byte(es), byte(vs), byte(n)
	} else {
		// Lay the head out again with full-width lengths and move the value behind it.
		var head [64]byte
		h := appendEntryHead(head[:0], k, vs)
		h = append(h, tagStringValue)
		h = appendVarint(h, int32(n))
		grow := len(h) - (vstart - start)
		b = append(b, make([]byte, grow)...)
		copy(b[start+len(h):], b[vstart:vstart+n])
		copy(b[start:], h)
	}
	*f.to = b
	*f.est += len(b) - start // exact
}

// str adds a string field unless it is empty.
func (f flatObj) str(k, v string) {
	if v != "" {
		f.field(k, v)
	}
}

func (f flatObj) end() {
	if f.p.stream {
		f.p.sync(f.n - 1) // f.n is its depth: complete it
		return
	}
	n := &f.p.nodes[f.n]
	n.body = int32(len(f.p.flat)) - n.first
	n.size = int32(sizeBytes(int(n.body)))
}

// sizeTree sets the sizes of the objects and lists at and below node i (leaves have theirs)
// and returns node i's.
func (p *payload) sizeTree(i int32) int32 {
	n := &p.nodes[i]
	if n.kind != pObj && n.kind != pList {
		return n.size
	}
	body := 0
	for c := n.first; c != 0; c = p.nodes[c].next {
		vs := int(p.sizeTree(c))
		if n.kind == pObj {
			body += sizeBytes(sizeBytes(len(p.nodes[c].key)) + sizeBytes(vs))
		} else {
			body += sizeBytes(vs)
		}
	}
	n = &p.nodes[i]
	n.body, n.size = int32(body), int32(sizeBytes(body))
	return n.size
}

// Tags of the structpb messages (field number << 3 | wire type).
const (
	tagField1Bytes = 1<<3 | 2 // Struct.fields, ListValue.values, map entry key
	tagField2Bytes = 2<<3 | 2 // map entry value
	tagNumberValue = 2<<3 | 1 // Value.number_value (double)
	tagStringValue = 3<<3 | 2 // Value.string_value
	tagBoolValue   = 4<<3 | 0 // Value.bool_value
	tagStructValue = 5<<3 | 2 // Value.struct_value
	tagListValue   = 6<<3 | 2 // Value.list_value
	tagJSONPayload = 6<<3 | 2 // LogEntry.json_payload
)

// sizeBytes is the size of a length-delimited field of n bytes with a one-byte tag.
func sizeBytes(n int) int {
	if n < 1<<7 { // nearly every length in a payload
		return 2 + n
	}
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

// appendVarint is protowire.AppendVarint with the one- and two-byte cases (nearly every
// length in a payload) inline.
func appendVarint(b []byte, v int32) []byte {
	if v < 1<<7 {
		return append(b, byte(v))
	}
	if v < 1<<14 {
		return append(b, byte(v)|0x80, byte(v>>7))
	}
	return protowire.AppendVarint(b, uint64(v))
}

// appendValue appends node i as a google.protobuf.Value body; sizeTree must have run.
func (p *payload) appendValue(b []byte, i int32) []byte {
	n := &p.nodes[i]
	switch n.kind {
	case pStr:
		b = append(b, tagStringValue)
		b = appendVarint(b, int32(len(n.s)))
		return append(b, n.s...)
	case pNum:
		b = append(b, tagNumberValue)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(n.f))
	case pBool:
		v := byte(0)
		if n.b {
			v = 1
		}
		return append(b, tagBoolValue, v)
	case pEncoded:
		return append(b, n.s...)
	case pFlat:
		b = append(b, tagStructValue)
		b = appendVarint(b, n.body)
		return append(b, p.flat[n.first:n.first+n.body]...)
	case pObj:
		b = append(b, tagStructValue)
		b = appendVarint(b, n.body)
		return p.appendObjBody(b, i)
	case pList:
		b = append(b, tagListValue)
		b = appendVarint(b, n.body)
		for c := n.first; c != 0; c = p.nodes[c].next {
			b = append(b, tagField1Bytes)
			b = appendVarint(b, p.nodes[c].size)
			b = p.appendValue(b, c)
		}
	}
	return b
}

func (p *payload) appendObjBody(b []byte, i int32) []byte {
	for c := p.nodes[i].first; c != 0; c = p.nodes[c].next {
		n := &p.nodes[c]
		b = appendEntryHead(b, n.key, int(n.size))
		b = p.appendValue(b, c)
	}
	return b
}

// encodeField returns the tree as LogEntry field 6 (json_payload) of en, in a's byte chunks.
func (p *payload) encodeField(a *arena, en *entryNode) []byte {
	if p.stream {
		p.sync(0)
		b := a.takePayload(en, sizeBytes(len(p.out)))
		b = append(b, tagJSONPayload)
		b = appendVarint(b, int32(len(p.out)))
		b = append(b, p.out...)
		return b[:len(b):len(b)]
	}
	p.sizeTree(0)
	body := p.nodes[0].body
	b := a.takePayload(en, sizeBytes(int(body)))
	b = append(b, tagJSONPayload)
	b = appendVarint(b, body)
	b = p.appendObjBody(b, 0)
	return b[:len(b):len(b)] // capped: an append to the entry's unknown fields must not reach the next entry's bytes
}

// encodeValue returns node i encoded as a google.protobuf.Value (for the shared objects).
func (p *payload) encodeValue(i int32) string {
	n := p.sizeTree(i)
	return string(p.appendValue(make([]byte, 0, n), i))
}

// setPayload stores the encoded payload field in e.
func setPayload(e *loggingpb.LogEntry, field []byte) {
	e.Payload = nil
	e.ProtoReflect().SetUnknown(protoreflect.RawFields(field))
}

// Payload returns an entry's jsonPayload: the Struct set in it, or the one this package
// encoded into its unknown fields. It returns nil when the entry has no jsonPayload and an
// error when the encoded bytes do not decode.
func Payload(e *loggingpb.LogEntry) (*structpb.Struct, error) {
	if s := e.GetJsonPayload(); s != nil {
		return s, nil
	}
	var s *structpb.Struct
	b := e.ProtoReflect().GetUnknown()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num != 6 || typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[m:]
		if s == nil {
			s = new(structpb.Struct)
		}
		// Merging is what protobuf does with a repeated message field.
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(v, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Decoded returns a copy of e with its payload as an ordinary JsonPayload (for protojson,
// which leaves unknown fields out, and for tests that compare messages). e itself is
// returned when it has nothing encoded.
func Decoded(e *loggingpb.LogEntry) (*loggingpb.LogEntry, error) {
	if e == nil || len(e.ProtoReflect().GetUnknown()) == 0 {
		return e, nil
	}
	s, err := Payload(e)
	if err != nil {
		return nil, err
	}
	c := proto.Clone(e).(*loggingpb.LogEntry)
	c.ProtoReflect().SetUnknown(nil)
	if s != nil {
		c.Payload = &loggingpb.LogEntry_JsonPayload{JsonPayload: s}
	}
	return c, nil
}
