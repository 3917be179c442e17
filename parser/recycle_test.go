package parser

import (
	"strconv"
	"testing"
	"time"
)

func TestRecycle(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	addLines(t, a, wall0, auditdEvent(baseMs, 10)...)
	items := a.Drain(wall0, nil)
	if len(items) != 1 {
		t.Fatalf("got %d items", len(items))
	}
	first := items[0].Event
	exe := first.Summary.Exe

	// copies, foreign events, non-events and nil are ignored
	cp := *first
	a.Recycle([]Item{{Kind: ItemEvent, Event: &cp}, {Kind: ItemEvent, Event: &Event{}}, {Kind: ItemLost, Lost: &Lost{}}, {}})
	if len(a.free) != 0 {
		t.Fatalf("recycled %d events that are not the assembler's", len(a.free))
	}
	a.Recycle(items)
	if items[0].Event != nil || len(a.free) != 1 {
		t.Fatalf("Recycle: item %+v, %d free", items[0], len(a.free))
	}
	a.Recycle([]Item{{Kind: ItemEvent, Event: first}}) // twice: ignored
	if len(a.free) != 1 {
		t.Fatalf("recycled twice: %d free", len(a.free))
	}

	// the next event reuses the memory and is complete and correct
	addLines(t, a, at(time.Second), cosEvent(baseMs+1000, 11)...)
	addLines(t, a, at(time.Second), auditLine("USER_ACCT", baseMs+1001, 12, `pid=1 uid=0 auid=1000 ses=3 msg='op=PAM:accounting acct="root" exe="/usr/bin/su" res=success'`))
	if len(a.free) != 0 {
		t.Fatalf("%d free after reuse", len(a.free))
	}
	got := events(a.Drain(at(3*time.Second), nil))
	if len(got) != 2 {
		t.Fatalf("got %d events", len(got))
	}
	if got[1] != first && got[0] != first {
		t.Fatal("the recycled memory was not reused")
	}
	var cos *Event
	for _, e := range got {
		if e.Key.Serial == 11 {
			cos = e
		}
	}
	if cos == nil || len(cos.Records) != 2 || cos.Duplicates != 0 || cos.Incomplete || len(cos.Summary.Argv) != 2 || cos.Summary.Keys[0] != "exec" || cos.Summary.Paths != nil || cos.Repeats != nil {
		t.Fatalf("event in recycled memory: %+v", cos)
	}
	if exe != "/usr/bin/ls" {
		t.Fatalf("a string taken before Recycle changed: %q", exe)
	}
	checkAccounting(t, a)
}

// TestRecycleRandom assembles a run of events with every other drained batch recycled, and
// checks each event right after it is handed out against the records that went into it.
func TestRecycleRandom(t *testing.T) {
	a := NewAssembler(AssemblerConfig{MaxInFlight: 8})
	var out []Item
	given := map[*Event]bool{}
	reused := 0
	for round := 0; round < 300; round++ {
		s := uint64(1000 + round)
		lines := cosEvent(baseMs+int64(round), s)
		if round%3 == 0 {
			lines = auditdEvent(baseMs+int64(round), s)
		}
		addLines(t, a, at(time.Duration(round)*time.Millisecond), lines...)
		out = a.Drain(at(time.Duration(round)*time.Millisecond+time.Second), out[:0])
		for _, e := range events(out) {
			if given[e] {
				reused++
				delete(given, e)
			}
			want := cosEvent(e.Key.UnixMilli, e.Key.Serial)
			if (e.Key.Serial-1000)%3 == 0 {
				want = auditdEvent(e.Key.UnixMilli, e.Key.Serial)
			}
			if len(e.Records) != len(want) || e.Summary.PID != strconv.FormatUint(100+e.Key.Serial, 10) || len(e.Summary.Argv) != 2 {
				t.Fatalf("event %d: %d records, pid %q, argv %q", e.Key.Serial, len(e.Records), e.Summary.PID, e.Summary.Argv)
			}
			for i, r := range e.Records {
				if r.Text != want[i] {
					t.Fatalf("event %d record %d: %q, want %q", e.Key.Serial, i, r.Text, want[i])
				}
			}
		}
		if round%2 == 0 {
			for _, e := range events(out) {
				given[e] = true
			}
			a.Recycle(out)
		}
	}
	if reused < 50 {
		t.Fatalf("only %d events reused recycled memory", reused)
	}
	checkAccounting(t, a)
}
