package parser

import (
	"reflect"
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
		for _, l := range lines {
			// The assembler's own parse: field arrays come from recycled events.
			r, err := a.ParseLine([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			a.Add(r, at(time.Duration(round)*time.Millisecond))
		}
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
				if w := mustParse(t, want[i]); !reflect.DeepEqual(r.Fields, w.Fields) {
					t.Fatalf("event %d record %d fields:\n%+v\nwant\n%+v", e.Key.Serial, i, r.Fields, w.Fields)
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

// TestRecycleFieldArrays: records parsed by the assembler after a Recycle are stored in the
// recycled records' field arrays, read the same as the package functions' records, and a
// record whose fields share their array with ENRICHED fields neither gives nor takes one
// that could overlap.
func TestRecycleFieldArrays(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	lines := auditdEvent(baseMs, 10)
	for _, l := range lines {
		r, err := a.ParseLine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		a.Add(r, wall0)
	}
	items := a.Drain(wall0, nil)
	if len(items) != 1 {
		t.Fatalf("got %d items", len(items))
	}
	arrays := map[*Field]bool{}
	for _, r := range items[0].Event.Records {
		if cap(r.Fields) > 0 {
			arrays[&r.Fields[:1][0]] = true
		}
	}
	a.Recycle(items)

	// The next event's records land in those arrays, in full.
	syscall := cosEvent(baseMs+1000, 11)[0]
	r, err := a.ParseLine([]byte(syscall))
	if err != nil {
		t.Fatal(err)
	}
	if !arrays[&r.Fields[:1][0]] {
		t.Fatal("the record's fields are not in a recycled array")
	}
	if w := mustParse(t, syscall); !reflect.DeepEqual(r.Fields, w.Fields) {
		t.Fatalf("fields in a recycled array:\n%+v\nwant\n%+v", r.Fields, w.Fields)
	}
	j, err := a.ParseJournal(JournalRecord{Message: []byte(`SYSCALL arch=c000003e syscall=59 success=yes exit=0 pid=7 comm="ls"`),
		AuditType: []byte("1300"), AuditID: []byte("12"), SourceRealtime: []byte("1795635276000000")})
	if err != nil {
		t.Fatal(err)
	}
	if !arrays[&j.Fields[:1][0]] || len(j.Fields) != 6 || j.Fields[5].Key != "comm" || j.Fields[5].Value != "ls" {
		t.Fatalf("journal record in a recycled array: %v, %+v", arrays[&j.Fields[:1][0]], j.Fields)
	}

	// ENRICHED: fields and enriched fields share an array; the fields are capped so that
	// appending to them cannot reach the enriched ones, and that capped slice is not kept.
	enr := "type=SYSCALL msg=audit(1795635275.000:20): arch=c000003e syscall=59 uid=0 auid=1000\x1dARCH=x86_64 SYSCALL=execve UID=\"root\" AUID=\"user\""
	er, err := a.ParseLine([]byte(enr))
	if err != nil {
		t.Fatal(err)
	}
	if len(er.Enriched) != 4 || cap(er.Fields) != len(er.Fields) {
		t.Fatalf("enriched record: %d fields (cap %d), %d enriched", len(er.Fields), cap(er.Fields), len(er.Enriched))
	}
	before := len(a.fields.free[fieldClass(cap(er.Fields))])
	a.fields.put(er.Fields)
	if len(a.fields.free[fieldClass(cap(er.Fields))]) != before {
		t.Fatal("a capped field slice sharing its array with enriched fields was kept for reuse")
	}
	if er.Enriched[0].Key != "ARCH" || er.Enriched[3].Value != "user" {
		t.Fatalf("enriched fields changed: %+v", er.Enriched)
	}

	// A nil assembler parses like the package functions.
	var none *Assembler
	if n, err := none.ParseLine([]byte(syscall)); err != nil || !reflect.DeepEqual(n.Fields, r.Fields) {
		t.Fatalf("nil assembler: %v, %+v", err, n.Fields)
	}
}

func TestFieldClass(t *testing.T) {
	for _, tc := range []struct{ n, class int }{{0, 0}, {1, 0}, {8, 0}, {9, 1}, {16, 1}, {25, 2}, {256, 5}, {257, -1}} {
		if c := fieldClass(tc.n); c != tc.class {
			t.Errorf("fieldClass(%d) = %d, want %d", tc.n, c, tc.class)
		}
	}
}
