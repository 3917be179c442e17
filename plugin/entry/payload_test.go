package entry

import (
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
