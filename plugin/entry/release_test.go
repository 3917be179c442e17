package entry

import (
	"bytes"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestRelease: entries given back are reused, and reusing them disturbs neither the entries
// still held (their payload chunks are shared with the released ones) nor the new ones;
// another builder's Release leaves the entries alone.
func TestRelease(t *testing.T) {
	events := append([]*parser.Event{cosExec(t), fullExec(t)}, mixedEvents(t)...)
	// serial makes each built event distinct (insertId, payload)
	build := func(b *Builder, serial uint64) *loggingpb.LogEntry {
		ev := *events[serial%uint64(len(events))]
		ev.Key.Serial = serial
		return b.Build(parser.Item{Kind: parser.ItemEvent, Event: &ev})
	}
	wire := func(e *loggingpb.LogEntry) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(e) // labels are a map
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ref := NewBuilder(Options{NodeName: testNode}) // never releases: the expected bytes
	b := NewBuilder(Options{NodeName: testNode})
	const n = 300 // several payload chunks
	held := map[*loggingpb.LogEntry][]byte{}
	released := map[*loggingpb.LogEntry]bool{}
	var give []*loggingpb.LogEntry
	for s := uint64(0); s < n; s++ {
		e := build(b, s)
		if s%3 == 0 {
			held[e] = wire(build(ref, s))
		} else {
			give = append(give, e)
			released[e] = true
		}
	}
	NewBuilder(Options{NodeName: testNode}).Release(give) // not its entries: ignored
	// Entries no Builder made are ignored without being read past their end (checkptr
	// under -race would catch that).
	b.Release([]*loggingpb.LogEntry{{InsertId: "x", Timestamp: timestamppb.Now()}, {}, nil})
	for _, e := range give {
		if len(e.ProtoReflect().GetUnknown()) == 0 {
			t.Fatal("another builder's Release cleared an entry")
		}
	}
	b.Release(give)

	reused := 0
	for s := uint64(n); s < 2*n; s++ {
		// Both builders take from the released memory (it is the package's).
		e, r := build(b, s), build(ref, s)
		if released[e] || released[r] {
			reused++
		}
		if got, want := wire(e), wire(r); !bytes.Equal(got, want) {
			d1, _ := Decoded(e)
			d2, _ := Decoded(r)
			t.Fatalf("entry %d built in reused memory differs from a fresh build:\n%v\n%v", s, d1, d2)
		}
		if s%2 == 0 {
			b.Release([]*loggingpb.LogEntry{e})
			released[e] = true
		}
	}
	if reused < n/2 {
		t.Fatalf("only %d of %d new entries reused released ones", reused, n)
	}
	for e, want := range held {
		if !bytes.Equal(wire(e), want) {
			t.Fatalf("held entry %s changed while released memory was reused", e.GetInsertId())
		}
	}
}
