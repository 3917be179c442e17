package delivery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gke-audit/auditd-cloud-logging/parser"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/entry"
)

// corpusEntries builds entries the way the plugin does: corpus lines → records → events →
// plugin/entry. Lines the parser refuses become unparsed entries, as in the plugin. Each
// file gets its own assembler: they hold the same events in different forms, which one
// assembler would de-duplicate.
func corpusEntries(tb testing.TB, o entry.Options, files ...string) []*loggingpb.LogEntry {
	tb.Helper()
	now := time.Unix(1795637200, 0)
	b := entry.NewBuilder(o)
	var out []*loggingpb.LogEntry
	for _, name := range files {
		a := parser.NewAssembler(parser.AssemblerConfig{})
		f, err := os.Open(filepath.Join("..", "..", "parser", "testdata", "corpus", name))
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			r, err := parser.ParseLine(line)
			if err != nil {
				a.AddUnparsed(parser.Unparsed{Text: string(line), Reason: err.Error(), Node: "n", Time: now})
				continue
			}
			a.Add(r, now)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
		for _, it := range a.DrainAll(nil) {
			if e := b.Build(it); e != nil {
				out = append(out, e)
			}
		}
	}
	if len(out) < 100 {
		tb.Fatalf("only %d entries from %v", len(out), files)
	}
	return out
}

// checkWire asserts the encoder agrees with protobuf-go on e: the same size, and bytes
// that decode to a message equal to e.
func checkWire(t testing.TB, e *loggingpb.LogEntry) {
	t.Helper()
	want := proto.Size(e)
	n, ok := entrySize(e)
	if !ok {
		t.Fatalf("entrySize refused a supported entry: %v", e)
	}
	prefix := []byte("prefix")
	b, ok := appendEntry(append([]byte(nil), prefix...), e)
	if !ok {
		t.Fatalf("appendEntry refused a supported entry: %v", e)
	}
	if !bytes.HasPrefix(b, prefix) {
		t.Fatal("appendEntry overwrote the bytes before it")
	}
	b = b[len(prefix):]
	if n != want || len(b) != want {
		t.Fatalf("entrySize %d, appendEntry wrote %d bytes, proto.Size %d", n, len(b), want)
	}
	var got loggingpb.LogEntry
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatalf("our encoding does not decode: %v", err)
	}
	if want := decoded(t, e); !proto.Equal(&got, want) {
		t.Fatalf("decoded entry differs:\n got %v\nwant %v", &got, want)
	}
	// Nothing left over as unknown fields anywhere (a wrong field number would land there
	// and proto.Equal would still see the rest).
	if u := got.ProtoReflect().GetUnknown(); len(u) != 0 {
		t.Fatalf("unknown fields in our encoding: %x", u)
	}
}

func TestWireCorpus(t *testing.T) {
	// The plugin's default entries, and the largest form (raw record text included).
	entries := corpusEntries(t, entry.Options{NodeName: "node-1"}, "audit.log", "audit-enriched.log", "kernel.log")
	entries = append(entries, corpusEntries(t, entry.Options{IncludeRaw: true}, "audit.log", "audit-enriched.log", "kernel.log")...)
	types := map[string]int{}
	for _, e := range entries {
		types[e.Labels["types"]+e.Labels["kind"]]++
		checkWire(t, e)
	}
	t.Logf("%d entries of %d kinds", len(entries), len(types))
}

func strv(s string) *structpb.Value { return structpb.NewStringValue(s) }

// decoded is e with the payload plugin/entry encoded into its unknown fields as a Struct:
// what a receiver decodes.
func decoded(tb testing.TB, e *loggingpb.LogEntry) *loggingpb.LogEntry {
	tb.Helper()
	d, err := entry.Decoded(e)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// withPayload puts s into e as plugin/entry carries a payload: encoded, in e's unknown
// fields as field 6 (json_payload).
func withPayload(tb testing.TB, e *loggingpb.LogEntry, s *structpb.Struct) *loggingpb.LogEntry {
	b, err := proto.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	e.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), b))
	return e
}

func decodedReq(tb testing.TB, req *loggingpb.WriteLogEntriesRequest) *loggingpb.WriteLogEntriesRequest {
	c := proto.CloneOf(req)
	for i, e := range c.Entries {
		c.Entries[i] = decoded(tb, e)
	}
	return c
}

// TestWireUnknownFields: an entry's own unknown fields (where plugin/entry puts the payload
// it encodes) are copied verbatim, last, as protobuf-go writes them.
func TestWireUnknownFields(t *testing.T) {
	e := &loggingpb.LogEntry{InsertId: "x", Severity: ltype.LogSeverity_NOTICE, Labels: map[string]string{"k": "v"}}
	e.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 7))
	n, ok := entrySize(e)
	b, ok2 := appendEntry(nil, e)
	want, err := proto.Marshal(e)
	if err != nil || !ok || !ok2 || n != len(want) || string(b) != string(want) {
		t.Fatalf("entrySize %d %v, appendEntry %x %v; protobuf-go %x %v", n, ok, b, ok2, want, err)
	}
}

func TestWireEdgeCases(t *testing.T) {
	ts := &timestamppb.Timestamp{Seconds: 1795637123, Nanos: 24000000}
	nested := &structpb.Struct{Fields: map[string]*structpb.Value{
		"empty_struct": structpb.NewStructValue(&structpb.Struct{}),
		"nil_fields":   structpb.NewStructValue(&structpb.Struct{Fields: nil}),
		"empty_list":   structpb.NewListValue(&structpb.ListValue{}),
		"nested_lists": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
			structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
				structpb.NewListValue(&structpb.ListValue{}), strv(""), structpb.NewNumberValue(0),
			}}),
			structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"k": structpb.NewBoolValue(false)}}),
			structpb.NewNullValue(),
			{}, // a Value with no kind set
		}}),
		"nan":      structpb.NewNumberValue(math.NaN()),
		"inf":      structpb.NewNumberValue(math.Inf(1)),
		"-inf":     structpb.NewNumberValue(math.Inf(-1)),
		"zero":     structpb.NewNumberValue(0),
		"negzero":  structpb.NewNumberValue(math.Copysign(0, -1)),
		"tiny":     structpb.NewNumberValue(math.SmallestNonzeroFloat64),
		"false":    structpb.NewBoolValue(false),
		"true":     structpb.NewBoolValue(true),
		"null":     structpb.NewNullValue(),
		"odd_null": {Kind: &structpb.Value_NullValue{NullValue: -5}}, // out of range enum, still encodable
		"empty":    strv(""),
		"":         strv("empty key"),
		"unicode":  strv("héllo ☃ 𝄞 \u0000 \u2028"),
		"long":     strv(strings.Repeat("x", 70000)), // three-byte length varint
		"nokind":   {},
	}}
	deep := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	cur := deep
	for i := 0; i < 40; i++ {
		next := &structpb.Struct{Fields: map[string]*structpb.Value{"leaf": strv(strings.Repeat("y", i*10))}}
		cur.Fields["d"] = structpb.NewStructValue(next)
		cur = next
	}
	cases := map[string]*loggingpb.LogEntry{
		"empty entry": {},
		"nil payload, zero severity, empty strings": {Timestamp: ts, Severity: 0, InsertId: ""},
		"empty encoded payload":                     withPayload(t, &loggingpb.LogEntry{}, &structpb.Struct{}),
		"text payload":                              {Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "hello ☃"}, Severity: ltype.LogSeverity_ERROR},
		"empty text payload":                        {Payload: &loggingpb.LogEntry_TextPayload{TextPayload: ""}},
		"empty timestamp":                           {Timestamp: &timestamppb.Timestamp{}},
		"negative timestamp":                        {Timestamp: &timestamppb.Timestamp{Seconds: -62135596800, Nanos: 999999999}},
		"negative nanos":                            {Timestamp: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}}, // invalid, still encodable
		"labels with empty keys and values":         {Labels: map[string]string{"": "v", "a": "", "node": "n1", "ü": "☃"}},
		"all supported fields": withPayload(t, &loggingpb.LogEntry{
			LogName:          "projects/p/logs/linux-auditd",
			Resource:         &monitoredres.MonitoredResource{Type: "k8s_node", Labels: map[string]string{"project_id": "p", "node_name": "n", "empty": ""}},
			Timestamp:        ts,
			ReceiveTimestamp: &timestamppb.Timestamp{Seconds: 5},
			Severity:         ltype.LogSeverity_EMERGENCY,
			InsertId:         "abc",
			Labels:           map[string]string{"kind": "event"},
			Trace:            "projects/p/traces/t",
			SpanId:           "000000000000004a",
			TraceSampled:     true,
		}, nested),
		"empty resource":     {Resource: &monitoredres.MonitoredResource{}},
		"deep nesting":       withPayload(t, &loggingpb.LogEntry{}, deep),
		"invalid severity":   {Severity: ltype.LogSeverity(-3)},
		"no payload, labels": {Labels: map[string]string{"kind": "lost"}, InsertId: strings.Repeat("i", 200)},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) { checkWire(t, e) })
	}
}

// TestWireLengthBoundaries: nested bodies whose lengths straddle the varint widths, where
// the encoder moves a body after writing it (finishLen).
func TestWireLengthBoundaries(t *testing.T) {
	var sizes []int
	for _, edge := range []int{1 << 7, 1 << 14} {
		for d := -12; d <= 12; d++ {
			sizes = append(sizes, edge+d)
		}
	}
	sizes = append(sizes, 1<<21-3, 1<<21+1)
	for _, n := range append(sizes, 0, 1, 2) {
		s := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
		payloads := []*structpb.Struct{
			{Fields: map[string]*structpb.Value{"s": strv(s)}},
			{Fields: map[string]*structpb.Value{"o": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"s": strv(s)}})}},
			{Fields: map[string]*structpb.Value{"l": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
				strv(s), structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{strings.Repeat("k", n): structpb.NewNumberValue(1)}}),
			}})}},
		}
		for _, p := range payloads {
			e := withPayload(t, &loggingpb.LogEntry{InsertId: "i", Resource: &monitoredres.MonitoredResource{Type: s}}, p)
			checkWire(t, e)
			// The codec frames each entry the same way.
			req := &loggingpb.WriteLogEntriesRequest{Entries: []*loggingpb.LogEntry{e, e}}
			b, err := encodeRequest(req, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != proto.Size(req) {
				t.Fatalf("n=%d: request of %d bytes, proto.Size %d", n, len(b), proto.Size(req))
			}
			var got loggingpb.WriteLogEntriesRequest
			if err := proto.Unmarshal(b, &got); err != nil || !proto.Equal(&got, decodedReq(t, req)) {
				t.Fatalf("n=%d: request decodes differently (%v)", n, err)
			}
		}
	}
}

// TestWireFallback: whatever the encoder does not handle it refuses, and the codec then
// still encodes the request exactly (through protobuf-go).
func TestWireFallback(t *testing.T) {
	plain := func() *loggingpb.LogEntry {
		return &loggingpb.LogEntry{InsertId: "x", Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{
			Fields: map[string]*structpb.Value{"a": strv("b")}}}}
	}
	tsUnknown := plain()
	tsUnknown.Timestamp = &timestamppb.Timestamp{Seconds: 1}
	tsUnknown.Timestamp.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7))
	nilMapValue := plain()
	nilMapValue.GetJsonPayload().Fields["nil"] = nil
	nilListElem := plain()
	nilListElem.GetJsonPayload().Fields["l"] = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{nil}})
	nilStruct := plain()
	nilStruct.GetJsonPayload().Fields["s"] = &structpb.Value{Kind: &structpb.Value_StructValue{}}
	nilList := plain()
	nilList.GetJsonPayload().Fields["l"] = &structpb.Value{Kind: &structpb.Value_ListValue{}}
	cases := map[string]struct {
		e *loggingpb.LogEntry
		// sized: entrySize still answers (proto.Size does not check UTF-8 either)
		sized bool
		// encodable: protobuf-go marshals it (we must then produce what it produces)
		encodable bool
	}{
		"http_request":             {e: &loggingpb.LogEntry{InsertId: "x", HttpRequest: &ltype.HttpRequest{RequestMethod: "GET", Status: 200}}, encodable: true},
		"operation":                {e: &loggingpb.LogEntry{Operation: &loggingpb.LogEntryOperation{Id: "op", First: true}}, encodable: true},
		"source_location":          {e: &loggingpb.LogEntry{SourceLocation: &loggingpb.LogEntrySourceLocation{File: "f.go", Line: 3}}, encodable: true},
		"split":                    {e: &loggingpb.LogEntry{Split: &loggingpb.LogSplit{Uid: "u", Index: 1, TotalSplits: 2}}, encodable: true},
		"proto_payload":            {e: &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: &anypb.Any{TypeUrl: "t/x", Value: []byte{1}}}}, encodable: true},
		"timestamp unknown fields": {e: tsUnknown, encodable: true},
		"nil map value":            {e: nilMapValue, encodable: true},
		"nil list element":         {e: nilListElem, encodable: true},
		"nil struct in value":      {e: nilStruct, encodable: true},
		"nil list in value":        {e: nilList, encodable: true},
		"nil json payload":         {e: &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_JsonPayload{}}, encodable: true},
		"struct payload":           {e: plain(), encodable: true},
		"invalid utf8 key":         {e: &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{"\xff": strv("")}}}}},
		"invalid utf8 value":       {e: &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{"k": strv("a\xc0")}}}}},
		"invalid utf8 label":       {e: &loggingpb.LogEntry{Labels: map[string]string{"k": "\xfe"}}, sized: true},
		"invalid utf8 insertId":    {e: &loggingpb.LogEntry{InsertId: "\xfe"}, sized: true},
		"invalid utf8 text":        {e: &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "\xfe"}}, sized: true},
		"invalid utf8 log name":    {e: &loggingpb.LogEntry{LogName: "\xfe"}, sized: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n, ok := entrySize(tc.e)
			if ok != tc.sized {
				t.Fatalf("entrySize ok=%v, want %v", ok, tc.sized)
			}
			if ok && n != proto.Size(tc.e) {
				t.Fatalf("entrySize %d, proto.Size %d", n, proto.Size(tc.e))
			}
			if b, ok := appendEntry([]byte("keep"), tc.e); ok || string(b) != "keep" {
				t.Fatalf("appendEntry ok=%v, wrote %q", ok, b)
			}
			req := requestTemplate(testConfig(t, "127.0.0.1:1", nil))
			req.Entries = []*loggingpb.LogEntry{plain(), tc.e, plain()}
			b, err := encodeRequest(req, 0)
			if !tc.encodable {
				if err == nil {
					t.Fatal("the codec encoded what protobuf-go refuses")
				}
				if _, lerr := proto.Marshal(req); lerr == nil {
					t.Fatal("protobuf-go marshals it after all")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != len(want) {
				t.Fatalf("codec wrote %d bytes, protobuf-go %d", len(b), len(want))
			}
			var got, wantReq loggingpb.WriteLogEntriesRequest
			if err := proto.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(want, &wantReq); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, &wantReq) {
				t.Fatalf("codec's request decodes differently:\n got %v\nwant %v", &got, &wantReq)
			}
		})
	}
}

// TestWireSplitMatchesCodec: split's per-batch size (from entrySize) is exactly what the
// codec writes, on corpus entries mixed with entries that take the fallback.
func TestWireSplitMatchesCodec(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1", nil)
	tmpl := requestTemplate(cfg)
	entries := corpusEntries(t, entry.Options{IncludeRaw: true}, "audit.log")
	for i := 0; i < len(entries); i += 7 {
		c := proto.CloneOf(entries[i])
		c.HttpRequest = &ltype.HttpRequest{Status: int32(i)}
		entries[i] = c
	}
	batches, rejected := split(entries, proto.Size(tmpl), 300<<10)
	if len(rejected) != 0 || len(batches) < 2 {
		t.Fatalf("%d batches, %d rejected", len(batches), len(rejected))
	}
	for i, bt := range batches {
		req := requestTemplate(cfg)
		req.Entries = bt.entries
		b, err := encodeRequest(req, bt.size)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != bt.size || len(b) != proto.Size(req) {
			t.Fatalf("batch %d: split says %d bytes, codec wrote %d, proto.Size %d", i, bt.size, len(b), proto.Size(req))
		}
		var got loggingpb.WriteLogEntriesRequest
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, decodedReq(t, req)) {
			t.Fatalf("batch %d decodes differently", i)
		}
		// The pooled buffer the gRPC codec uses: exact hint, a short one (the bytes move
		// out of the pooled buffer) and none.
		for _, hint := range []int{bt.size, 2000, 0} {
			buf, err := encodePooled(req, hint)
			if err != nil {
				t.Fatal(err)
			}
			var got loggingpb.WriteLogEntriesRequest
			if err := proto.Unmarshal(buf.ReadOnlyData(), &got); err != nil || buf.Len() != bt.size || !proto.Equal(&got, decodedReq(t, req)) {
				t.Fatalf("batch %d, hint %d: pooled encoding of %d bytes differs (%v)", i, hint, buf.Len(), err)
			}
			buf.Free()
		}
	}
}

// FuzzWire builds entry fields and an encoded payload (a Struct tree, marshalled the way
// plugin/entry carries it) from the fuzz bytes and checks the encoder against protobuf-go.
func FuzzWire(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x01a\x02\x03bc\x04\x00\x06\x01\x02"))
	f.Add([]byte("\x04\x04\x04\x04\x05\x05\x05\x00\x01\x02\x03\xff\xfe"))
	f.Add([]byte(strings.Repeat("\x04k\x05", 30)))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &treeGen{data: data}
		e := &loggingpb.LogEntry{
			InsertId: g.str(),
			Severity: ltype.LogSeverity(int32(g.byte()) - 8),
			Trace:    g.str(),
		}
		if g.byte()&1 == 1 {
			e.Timestamp = &timestamppb.Timestamp{Seconds: int64(g.byte()) << 30, Nanos: int32(g.byte()) << 20}
		}
		if n := int(g.byte() % 4); n > 0 {
			e.Labels = map[string]string{}
			for range n {
				e.Labels[g.str()] = g.str()
			}
		}
		switch g.byte() % 4 {
		case 0:
			e.Payload = &loggingpb.LogEntry_TextPayload{TextPayload: g.str()}
		case 1:
		default:
			// A payload encoded ahead, as plugin/entry does (when protobuf-go can encode it).
			if b, err := proto.Marshal(g.structv(0)); err == nil {
				e.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), b))
			}
		}
		want := proto.Size(e)
		if n, ok := entrySize(e); !ok || n != want {
			t.Fatalf("entrySize %d %v, proto.Size %d", n, ok, want)
		}
		b, ok := appendEntry(nil, e)
		libBytes, libErr := proto.Marshal(e)
		if !ok {
			// Only invalid UTF-8 is refused among what this generator makes, and protobuf-go
			// must refuse it too.
			if libErr == nil {
				t.Fatalf("appendEntry refused an entry protobuf-go encodes: %v", e)
			}
			return
		}
		if libErr != nil {
			t.Fatalf("appendEntry encoded an entry protobuf-go refuses (%v)", libErr)
		}
		if len(b) != want || len(libBytes) != want {
			t.Fatalf("wrote %d bytes, protobuf-go %d, proto.Size %d", len(b), len(libBytes), want)
		}
		var got loggingpb.LogEntry
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if want := decoded(t, e); !proto.Equal(&got, want) {
			t.Fatalf("decoded entry differs:\n got %v\nwant %v", &got, want)
		}
	})
}

// treeGen turns bytes into values; it runs out gracefully (zeros) when data ends.
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

// str takes a length byte and that many bytes, as is (possibly invalid UTF-8).
func (g *treeGen) str() string {
	n := int(g.byte() % 16)
	if n == 15 { // now and then a long string, for multi-byte length varints
		n = 200 + int(g.byte())
		return strings.Repeat(string(rune('a'+n%26)), n)
	}
	n = min(n, len(g.data))
	s := string(g.data[:n])
	g.data = g.data[n:]
	return s
}

func (g *treeGen) value(depth int) *structpb.Value {
	g.nodes++
	op := g.byte()
	if depth > 8 || g.nodes > 400 {
		op %= 5
	}
	switch op % 8 {
	case 0:
		return structpb.NewStringValue(g.str())
	case 1:
		var bits uint64
		for range 8 {
			bits = bits<<8 | uint64(g.byte())
		}
		return structpb.NewNumberValue(math.Float64frombits(bits))
	case 2:
		return structpb.NewBoolValue(g.byte()&1 == 1)
	case 3:
		return &structpb.Value{Kind: &structpb.Value_NullValue{NullValue: structpb.NullValue(int32(int8(g.byte())))}}
	case 4:
		return &structpb.Value{}
	case 5, 6:
		return structpb.NewStructValue(g.structv(depth + 1))
	default:
		n := int(g.byte() % 6)
		l := &structpb.ListValue{}
		for range n {
			l.Values = append(l.Values, g.value(depth+1))
		}
		return structpb.NewListValue(l)
	}
}

func (g *treeGen) structv(depth int) *structpb.Struct {
	n := int(g.byte() % 8)
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, n)}
	for range n {
		s.Fields[g.str()] = g.value(depth)
	}
	return s
}

// TestEncodeWriter: the requests it hands out are the cloud writer's (split sizes, exact
// encodings of every entry, template fields), and a send error is Retry with nothing lost.
func TestEncodeWriter(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1", config.MapGetter{"Max_Request_Bytes": "512K"})
	entries := corpusEntries(t, entry.Options{IncludeRaw: true}, "audit.log", "audit-enriched.log", "kernel.log")
	var reqs []*loggingpb.WriteLogEntriesRequest
	total := 0
	w := NewEncodeWriter(cfg, func(b []byte) error {
		if len(b) > 512<<10 {
			t.Errorf("request of %d bytes over Max_Request_Bytes", len(b))
		}
		total += len(b)
		var r loggingpb.WriteLogEntriesRequest
		if err := proto.Unmarshal(b, &r); err != nil {
			return err
		}
		reqs = append(reqs, &r)
		return nil
	})
	res := w.Write(context.Background(), entries)
	checkAccounted(t, entries, res)
	if res.Outcome != OK || res.Written != len(entries) || res.Requests != len(reqs) || len(reqs) < 3 || res.Bytes != total {
		t.Fatalf("%+v for %d entries, %d requests, %d bytes", res, len(entries), len(reqs), total)
	}
	tmpl := requestTemplate(cfg)
	var got []*loggingpb.LogEntry
	for _, r := range reqs {
		if r.LogName != tmpl.LogName || !proto.Equal(r.Resource, tmpl.Resource) || !r.PartialSuccess || r.Labels["env"] != "test" {
			t.Fatalf("request head %v", r)
		}
		got = append(got, r.Entries...)
	}
	for i := range entries {
		if !proto.Equal(got[i], decoded(t, entries[i])) {
			t.Fatalf("entry %d differs after the round trip", i)
		}
	}

	calls := 0
	w = NewEncodeWriter(cfg, func([]byte) error {
		if calls++; calls == 2 {
			return errors.New("sink full")
		}
		return nil
	})
	res = w.Write(context.Background(), entries)
	checkAccounted(t, entries, res)
	if res.Outcome != Retry || res.Written == 0 || len(res.Unsent) == 0 || !strings.Contains(res.Err.Error(), "sink full") {
		t.Fatalf("%+v", res)
	}
	if res.Unsent[0] != entries[res.Written] {
		t.Fatal("Unsent does not start where Written stops")
	}
}

// TestRequestBuffers: the codec's buffer list hands buffers back without zeroing them, so a
// request encoded into one that held other bytes must still be exact; it keeps only a few
// buffers, none over maxKeptBuffer, preferring the larger ones.
func TestRequestBuffers(t *testing.T) {
	l := &bufferList{}
	dirty := make([]byte, 64<<10)
	for i := range dirty {
		dirty[i] = 0xff
	}
	l.Put(&dirty)
	if b := l.Get(1000); len(*b) != 1000 || &(*b)[0] != &dirty[0] {
		t.Fatalf("Get(1000): len %d, not the kept buffer", len(*b))
	} else {
		l.Put(b)
	}
	if b := l.Get(128 << 10); len(*b) != 128<<10 || &(*b)[0] == &dirty[0] {
		t.Fatal("Get larger than every kept buffer must allocate")
	}
	big := make([]byte, maxKeptBuffer+1)
	l.Put(&big)
	small := make([]byte, 2048)
	l.Put(&small)
	mid := make([]byte, 1<<20)
	l.Put(&mid) // full: replaces the smallest
	if len(l.bufs) != keptBuffers {
		t.Fatalf("%d buffers kept, want %d", len(l.bufs), keptBuffers)
	}
	for _, b := range l.bufs {
		if cap(*b) > maxKeptBuffer || cap(*b) == 2048 {
			t.Fatalf("kept a buffer of %d bytes", cap(*b))
		}
	}
	// The smallest that fits: a small request leaves the large buffer for a large one.
	if b := l.Get(100); cap(*b) != 64<<10 {
		t.Fatalf("Get(100) took a buffer of %d bytes, want the 64 KiB one", cap(*b))
	} else {
		l.Put(b)
	}

	// Through the codec's path: a dirty kept buffer gives the same bytes as a fresh encode.
	requestBuffers.mu.Lock()
	saved := requestBuffers.bufs
	requestBuffers.bufs = nil
	requestBuffers.mu.Unlock()
	defer func() {
		requestBuffers.mu.Lock()
		requestBuffers.bufs = saved
		requestBuffers.mu.Unlock()
	}()
	junk := make([]byte, 256<<10)
	for i := range junk {
		junk[i] = byte(i*7 + 1)
	}
	requestBuffers.Put(&junk)
	req := requestTemplate(config.Config{ProjectID: "p", LogName: "l"})
	for i := 0; i < 100; i++ {
		req.Entries = append(req.Entries, &loggingpb.LogEntry{InsertId: strings.Repeat("x", i), Severity: ltype.LogSeverity_INFO})
	}
	want, err := encodeRequest(req, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 2048 {
		t.Fatalf("request of %d bytes is below gRPC's pooling threshold: the test needs a larger one", len(want))
	}
	buf, err := encodePooled(req, len(want))
	if err != nil {
		t.Fatal(err)
	}
	got := buf.ReadOnlyData()
	var dec loggingpb.WriteLogEntriesRequest
	if err := proto.Unmarshal(got, &dec); err != nil || len(got) != len(want) || !proto.Equal(&dec, req) || &got[0] != &junk[0] {
		// (bytes may differ in the resource labels' map order, hence the decode)
		t.Fatalf("encoded into a reused buffer: %d bytes (reused %v), want %d: %v", len(got), &got[0] == &junk[0], len(want), err)
	}
	buf.Free()
	requestBuffers.mu.Lock()
	back := len(requestBuffers.bufs) == 1 && &(*requestBuffers.bufs[0])[0] == &junk[0]
	requestBuffers.mu.Unlock()
	if !back {
		t.Fatal("Free did not return the buffer to the list")
	}
}
