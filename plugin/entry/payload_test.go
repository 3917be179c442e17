package entry

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gke-audit/auditd-cloud-logging/parser"
	"github.com/gke-audit/auditd-cloud-logging/plugin/filter"
)

// checkPayload asserts that an entry's encoded payload is a well-formed Struct (protobuf's
// own decoder accepts it, which includes UTF-8 validation of every string) that encodes back
// to the same size: a key written twice, a wrong length or stray bytes would decode to less.
func checkPayload(tb testing.TB, e *loggingpb.LogEntry) *structpb.Struct {
	tb.Helper()
	if e.GetJsonPayload() != nil {
		tb.Fatalf("entry has a JsonPayload Struct; the builder encodes payloads")
	}
	s, err := Payload(e)
	if err != nil || s == nil {
		tb.Fatalf("Payload: %v, %v", s, err)
	}
	d, err := Decoded(e)
	if err != nil {
		tb.Fatal(err)
	}
	if got, want := proto.Size(d), proto.Size(e); got != want {
		tb.Fatalf("decoded entry re-encodes to %d bytes, the built one has %d", got, want)
	}
	if d.GetJsonPayload() == nil || len(d.ProtoReflect().GetUnknown()) != 0 {
		tb.Fatalf("Decoded left the payload encoded")
	}
	// The wire form is what a Struct payload marshals to: the server cannot tell them apart.
	viaStruct, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	var back loggingpb.LogEntry
	if err := proto.Unmarshal(mustMarshal(tb, e, 1<<30), &back); err != nil {
		tb.Fatal(err)
	}
	again, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&back)
	if string(again) != string(viaStruct) {
		tb.Fatalf("the built entry's wire form decodes to a different entry")
	}
	return s
}

// TestPayloadWireForm: every kind of entry the builder makes carries a payload that decodes
// and re-encodes to the same size, with the values written.
func TestPayloadWireForm(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode, IncludeRaw: true})
	var entries []*loggingpb.LogEntry
	for _, ev := range append(mixedEvents(t), cosExec(t), fullExec(t), fullExec(t)) {
		entries = append(entries, build(t, b, ev))
	}
	entries = append(entries,
		b.Build(parser.Item{Kind: parser.ItemUnparsed, Unparsed: &parser.Unparsed{Text: "garbage", Reason: "no type="}}),
		b.Build(parser.Item{Kind: parser.ItemLost, Lost: &parser.Lost{From: 3, To: 5, Count: 3}}),
		b.Build(parser.Item{Kind: parser.ItemEvent}),
		b.BuildReport(&filter.Report{Start: testTime, End: testTime.Add(time.Minute), Filtered: map[string]int{"AVC": 2}}))
	for i, e := range entries {
		s := checkPayload(t, e)
		if sum := s.GetFields()["summary"].GetStringValue(); sum == "" {
			t.Errorf("entry %d: no summary in %v", i, s)
		}
	}
	// The full exec's shared user and syscall objects are copied in as encoded bytes.
	p := jsonOf(t, entries[len(entries)-5])
	if path(p, "user", "uid_name") != "root" || path(p, "syscall", "name") != "execve" || path(p, "process", "argv", 0) != "curl" {
		t.Errorf("full exec payload: %v", p)
	}
}

// TestPayloadBadBytes: Payload names a problem in the encoded bytes instead of returning a
// partial payload.
func TestPayloadBadBytes(t *testing.T) {
	good := build(t, NewBuilder(Options{}), cosExec(t)).ProtoReflect().GetUnknown()
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"cut short", good[:len(good)/2]},
		{"bad tag", []byte{0x00}},
		{"length past the end", []byte{6<<3 | 2, 0x7f, 1, 2}},
		{"invalid UTF-8 string", protowire.AppendBytes([]byte{6<<3 | 2}, []byte{1<<3 | 2, 7, 1<<3 | 2, 1, 'k', 2<<3 | 2, 2, 3<<3 | 2, 0xff})},
		{"bad varint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		e := &loggingpb.LogEntry{}
		e.ProtoReflect().SetUnknown(protoreflect.RawFields(tc.raw))
		if s, err := Payload(e); err == nil {
			t.Errorf("%s: Payload = %v, want an error", tc.name, s)
		}
		if _, err := Decoded(e); err == nil {
			t.Errorf("%s: Decoded gave no error", tc.name)
		}
	}
	// Other unknown fields are skipped; an entry without any is returned as it is.
	e := &loggingpb.LogEntry{}
	e.ProtoReflect().SetUnknown(protoreflect.RawFields(append(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 5), good...)))
	if s, err := Payload(e); err != nil || !strings.Contains(s.GetFields()["summary"].GetStringValue(), "ran") {
		t.Errorf("payload behind another unknown field: %v, %v", s, err)
	}
	plain := &loggingpb.LogEntry{InsertId: "x"}
	if d, err := Decoded(plain); err != nil || d != plain {
		t.Errorf("Decoded(plain) = %v, %v", d, err)
	}
}

// treeGen builds the same tree twice from fuzz bytes: as a payload (the builder's encoder)
// and as a structpb.Struct (protobuf-go's, the reference). It runs out gracefully (zeros).
type treeGen struct {
	data  []byte
	nodes int
}

func (g *treeGen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	c := g.data[0]
	g.data = g.data[1:]
	return c
}

// str is a valid UTF-8 string (the builder cleans everything it writes); a long one now and
// then crosses the one- and two-byte length varints.
func (g *treeGen) str() string {
	n := int(g.byte())
	switch n {
	case 0xff:
		n = 1 << 14
	case 0xfe:
		n = 1<<7 + int(g.byte()%4)
	}
	b := make([]byte, 0, n)
	for len(b) < n && len(g.data) > 0 {
		b = append(b, g.byte())
	}
	for len(b) < n {
		b = append(b, 'x')
	}
	return clean(string(b))
}

func (g *treeGen) object(o obj, s *structpb.Struct, depth int) {
	n := int(g.byte() % 8)
	for range n {
		if g.nodes++; g.nodes > 200 {
			return
		}
		k := g.str()
		if _, dup := s.Fields[k]; dup {
			continue // a Struct holds a key once; the builder never repeats one
		}
		s.Fields[k] = g.value(o, k, depth, false)
	}
}

// value adds one value under key k of o (or to o when it is a list) and returns it.
func (g *treeGen) value(o obj, k string, depth int, inList bool) *structpb.Value {
	kind := g.byte() % 6
	if depth > 6 && kind >= 3 {
		kind = 0
	}
	switch kind {
	case 0, 1:
		v := g.str()
		if inList {
			o.elemStr(v)
		} else {
			o.field(k, v)
		}
		return structpb.NewStringValue(v)
	case 2:
		f := math.Float64frombits(uint64(g.byte())<<56 | uint64(g.byte())<<8 | uint64(g.byte()))
		if g.byte()&1 == 1 {
			f = []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64}[g.byte()%6]
		}
		if inList { // lists of numbers do not occur in payloads; store it in an object
			c := o.elem(1)
			c.num("n", f)
			return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"n": structpb.NewNumberValue(f)}})
		}
		if g.byte()&1 == 1 {
			o.boolean(k, f > 0)
			return structpb.NewBoolValue(f > 0)
		}
		o.num(k, f)
		return structpb.NewNumberValue(f)
	case 3, 4:
		if !inList && g.byte()%4 == 0 {
			// An object encoded ahead and copied in (the shared user and syscall objects).
			var sub payload
			est := 0
			c := sub.reset(&est).child(k, 0)
			s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
			g.object(c, s, depth+1)
			o.encoded(k, sub.encodeValue(sub.nodes[0].first), est)
			return structpb.NewStructValue(s)
		}
		if !inList && g.byte()&1 == 1 {
			// A flat object: string fields written straight to bytes (the records' fields).
			f := o.flatChild(k)
			s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
			for range int(g.byte() % 8) {
				fk, fv := g.str(), g.str()
				if _, dup := s.Fields[fk]; dup {
					continue
				}
				f.field(fk, fv)
				s.Fields[fk] = structpb.NewStringValue(fv)
			}
			f.end()
			return structpb.NewStructValue(s)
		}
		var c obj
		if inList {
			c = o.elem(0)
		} else {
			c = o.child(k, 0)
		}
		s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
		g.object(c, s, depth+1)
		return structpb.NewStructValue(s)
	default:
		var l obj
		if inList {
			l = o.elem(1).list("l", 0)
		} else {
			l = o.list(k, 0)
		}
		lv := &structpb.ListValue{}
		for range int(g.byte() % 6) {
			if g.nodes++; g.nodes > 200 {
				break
			}
			lv.Values = append(lv.Values, g.value(l, "", depth+1, true))
		}
		if inList {
			return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"l": structpb.NewListValue(lv)}})
		}
		return structpb.NewListValue(lv)
	}
}

// checkTree encodes the tree both ways and compares.
func checkTree(t *testing.T, data []byte) {
	t.Helper()
	est := 0
	var p payload
	root := p.reset(&est)
	want := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	g := &treeGen{data: data}
	g.object(root, want, 0)
	a := new(arena)
	field := p.encodeField(a, new(entryNode))

	// Streamed, the same calls give the same bytes and estimate.
	streamEst := 0
	var sp payload
	(&treeGen{data: data}).object(sp.resetStream(&streamEst), &structpb.Struct{Fields: map[string]*structpb.Value{}}, 0)
	if streamed := sp.encodeField(a, new(entryNode)); !bytes.Equal(streamed, field) || streamEst != est {
		t.Fatalf("streamed payload differs from the tree's:\n%x (estimate %d)\n%x (estimate %d)", streamed, streamEst, field, est)
	}
	// The field is LogEntry.json_payload: tag, length, Struct.
	num, typ, n := protowire.ConsumeTag(field)
	body, m := protowire.ConsumeBytes(field[max(n, 0):])
	if num != 6 || typ != protowire.BytesType || n < 0 || m < 0 || n+m != len(field) {
		t.Fatalf("not one json_payload field: %x", field)
	}
	if len(body) != proto.Size(want) {
		t.Fatalf("encoded %d bytes, protobuf-go would write %d", len(body), proto.Size(want))
	}
	got := new(structpb.Struct)
	if err := proto.Unmarshal(body, got); err != nil {
		t.Fatalf("does not decode: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("decodes to\n%v\nwant\n%v", got, want)
	}
	// The estimate covers the Struct; its framing in the entry is part of costEntry.
	if est < len(body) {
		t.Fatalf("running estimate %d under the encoded size %d", est, len(body))
	}
}

// TestPayloadEncoderEdges: values protobuf-go encodes specially (NaN, ±Inf, -0, empty
// strings and keys, empty objects and lists), lengths around the varint widths, deep nesting.
func TestPayloadEncoderEdges(t *testing.T) {
	for _, data := range [][]byte{
		{},
		{1, 0, 0},                           // one empty key with an empty string
		{7, 1, 'a', 2, 1, 0, 0, 0, 1, 4},    // NaN
		{7, 1, 'b', 2, 0, 0, 0, 1, 2},       // -0
		{3, 0xff, 0, 0xfe, 1, 3, 0, 0, 5},   // 16 KiB key, 129-byte string, empty object
		{2, 1, 'l', 5, 5, 0, 3, 0, 2, 0, 0}, // lists of strings, numbers, objects
		bytesRepeat([]byte{1, 1, 'd', 3}, 40),
		bytesRepeat([]byte{7, 0xfe, 2, 4, 0xfe, 3, 5, 4, 2, 1, 'x'}, 30),
	} {
		checkTree(t, data)
	}
}

func bytesRepeat(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

// FuzzPayloadEncoder: any tree the builder's API can make encodes to what protobuf-go
// decodes as the same Struct, with protobuf-go's size, under the running estimate.
func FuzzPayloadEncoder(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{7, 1, 'a', 2, 1, 0, 0, 0, 1, 4, 3, 0xff})
	f.Add(bytesRepeat([]byte{1, 1, 'd', 3}, 12))
	f.Add(bytesRepeat([]byte{4, 2, 'k', 'v', 5, 3, 0, 1, 'x', 1}, 10))
	f.Fuzz(func(t *testing.T, data []byte) { checkTree(t, data) })
}
