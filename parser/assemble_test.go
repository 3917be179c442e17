package parser

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/benchdata"
)

const baseMs = benchdata.BaseMs // record time of the test events

var wall0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return wall0.Add(d) }

// auditLine formats one audit.log line.
func auditLine(typ string, ms int64, serial uint64, body string) string {
	return fmt.Sprintf("type=%s msg=audit(%d.%03d:%d): %s", typ, ms/1000, ms%1000, serial, body)
}

func mustParse(t testing.TB, line string) Record {
	t.Helper()
	r, err := ParseLine([]byte(line))
	if err != nil {
		t.Fatalf("ParseLine(%q): %v", line, err)
	}
	return r
}

// synth builds a Record without the line parser: type, key and "k=v" pairs (values used as
// both Raw and Value).
func synth(typ uint16, node, boot string, ms int64, serial uint64, kv ...string) Record {
	r := Record{Key: EventKey{Node: node, BootID: boot, UnixMilli: ms, Serial: serial}, Type: typ, Source: SourceAuditLog}
	var sb strings.Builder
	fmt.Fprintf(&sb, "type=%d msg=audit(%d.%03d:%d):", typ, ms/1000, ms%1000, serial)
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		r.Fields = append(r.Fields, Field{Key: k, Value: v})
		sb.WriteString(" " + p)
	}
	r.Text = sb.String()
	return r
}

func syscallBody(pid int) string { return benchdata.SyscallBody(pid) }

// auditdEvent: the full auditd shape of an execve.
func auditdEvent(ms int64, serial uint64) []string { return lines(benchdata.AuditdEvent(ms, serial)) }

// cosEvent: the COS journal shape (no EOE, PROCTITLE, PATH, CWD).
func cosEvent(ms int64, serial uint64) []string { return lines(benchdata.COSEvent(ms, serial)) }

func lines(recs []benchdata.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Line()
	}
	return out
}

func addLines(t testing.TB, a *Assembler, now time.Time, lines ...string) {
	t.Helper()
	for _, l := range lines {
		a.Add(mustParse(t, l), now)
	}
}

func events(items []Item) []*Event {
	var out []*Event
	for _, it := range items {
		if it.Kind == ItemEvent {
			out = append(out, it.Event)
		}
	}
	return out
}

func serials(items []Item) []uint64 {
	var out []uint64
	for _, e := range events(items) {
		out = append(out, e.Key.Serial)
	}
	return out
}

func checkAccounting(t testing.TB, a *Assembler) {
	t.Helper()
	s := a.Stats()
	if s.Records != s.EventRecords+s.Duplicates+s.LateMarkers+s.Pending {
		t.Fatalf("accounting: records %d != in events %d + duplicates %d + late markers %d + pending %d",
			s.Records, s.EventRecords, s.Duplicates, s.LateMarkers, s.Pending)
	}
}

func TestCompletionMarkers(t *testing.T) {
	full := auditdEvent(baseMs, 10)
	tests := []struct {
		name    string
		lines   []string
		reason  CompletionReason
		records int
	}{
		{"proctitle then eoe in one batch", full, CompleteProctitle, 7},
		{"eoe without proctitle", append(append([]string{}, full[:5]...), full[6]), CompleteEOE, 6},
		{"proctitle without eoe", full[:6], CompleteProctitle, 6},
		{"user record", []string{auditLine("USER_ACCT", baseMs, 10, `pid=1 uid=0 auid=1000 ses=3 msg='op=PAM:accounting acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=/dev/pts/0 res=success'`)}, CompleteStandalone, 1},
		{"daemon record", []string{auditLine("DAEMON_START", baseMs, 4975, `op=start ver=3.1 format=enriched kernel=6.1 auid=4294967295 pid=1 uid=0 ses=4294967295 res=success`)}, CompleteStandalone, 1},
		{"netfilter packet", []string{auditLine("NETFILTER_PKT", baseMs, 10, `mark=0x0 saddr=10.0.0.1 daddr=10.0.0.2 proto=6`)}, CompleteStandalone, 1},
		{"user avc (2100+ range)", []string{auditLine("USER_AVC", baseMs, 10, `pid=1 uid=0 msg='avc: denied'`)}, CompleteStandalone, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAssembler(AssemblerConfig{})
			addLines(t, a, wall0, tc.lines...)
			items := a.Drain(wall0, nil)
			evs := events(items)
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			if evs[0].Reason != tc.reason || len(evs[0].Records) != tc.records || evs[0].Incomplete {
				t.Fatalf("reason %v records %d incomplete %v; want %v %d false", evs[0].Reason, len(evs[0].Records), evs[0].Incomplete, tc.reason, tc.records)
			}
			if a.InFlight() != 0 {
				t.Fatalf("InFlight %d", a.InFlight())
			}
			checkAccounting(t, a)
		})
	}
}

// Kernel records written inside a syscall share its serial: they must not complete alone.
func TestNotStandalone(t *testing.T) {
	for _, typ := range []string{"AVC", "CONFIG_CHANGE", "LOGIN", "ANOM_ABEND", "SECCOMP", "TTY", "INTEGRITY_RULE"} {
		t.Run(typ, func(t *testing.T) {
			a := NewAssembler(AssemblerConfig{})
			addLines(t, a, wall0, auditLine(typ, baseMs, 10, `pid=1 res=1`))
			if got := a.Drain(wall0, nil); len(got) != 0 {
				t.Fatalf("%s completed alone: %+v", typ, got)
			}
			// the SYSCALL of the same event joins it
			addLines(t, a, wall0, auditLine("SYSCALL", baseMs, 10, syscallBody(1)), auditLine("PROCTITLE", baseMs, 10, "proctitle=6C73"))
			evs := events(a.Drain(wall0, nil))
			if len(evs) != 1 || len(evs[0].Records) != 3 || evs[0].Records[0].TypeName() != typ {
				t.Fatalf("got %+v", evs)
			}
		})
	}
}

func TestQuiet(t *testing.T) {
	t.Run("record time", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, cosEvent(baseMs, 10)...)
		addLines(t, a, wall0, cosEvent(baseMs+499, 11)...)
		if got := a.Drain(wall0, nil); len(got) != 0 {
			t.Fatalf("completed before the quiet window: %v", serials(got))
		}
		addLines(t, a, wall0, cosEvent(baseMs+500, 12)...)
		got := a.Drain(wall0, nil)
		if s := serials(got); len(s) != 1 || s[0] != 10 {
			t.Fatalf("got %v, want [10]", s)
		}
		if e := events(got)[0]; e.Reason != CompleteQuiet || e.Incomplete || len(e.Records) != 2 {
			t.Fatalf("event %+v", e)
		}
		// 11 and 12 complete by wall time
		if got := a.Drain(wall0.Add(499*time.Millisecond), nil); len(got) != 0 {
			t.Fatalf("early: %v", serials(got))
		}
		got = a.Drain(wall0.Add(500*time.Millisecond), nil)
		if s := serials(got); len(s) != 1 || s[0] != 11 {
			t.Fatalf("got %v, want [11] (12 has no newer serial)", s)
		}
	})
	t.Run("wall time counts from the last record", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{Quiet: 100 * time.Millisecond})
		addLines(t, a, at(0), auditLine("SYSCALL", baseMs, 10, syscallBody(1)))
		addLines(t, a, at(0), auditLine("SYSCALL", baseMs, 11, syscallBody(2)))
		addLines(t, a, at(90*time.Millisecond), auditLine("EXECVE", baseMs, 10, `argc=1 a0="x"`))
		if got := a.Drain(at(150*time.Millisecond), nil); len(got) != 0 {
			t.Fatalf("completed 60ms after its last record: %v", serials(got))
		}
		got := a.Drain(at(190*time.Millisecond), nil)
		if s := serials(got); len(s) != 1 || s[0] != 10 || len(events(got)[0].Records) != 2 {
			t.Fatalf("got %v", s)
		}
	})
	t.Run("needs a newer serial", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, cosEvent(baseMs, 10)...)
		addLines(t, a, wall0, auditLine("USER_ACCT", baseMs+2000, 9, `pid=1 uid=0 res=success`)) // older serial, newer time
		got := a.Drain(at(4999*time.Millisecond), nil)
		if s := serials(got); len(s) != 1 || s[0] != 9 {
			t.Fatalf("got %v, want only the standalone 9", s)
		}
		got = a.Drain(at(5*time.Second), nil)
		e := events(got)
		if len(e) != 1 || e[0].Key.Serial != 10 || e[0].Reason != CompleteTimeout || e[0].Incomplete {
			t.Fatalf("got %+v, want 10 by timeout, complete", e)
		}
		if a.Stats().Timeouts != 1 {
			t.Fatalf("stats %+v", a.Stats())
		}
	})
}

// Drain stops at the first waiting event that is young on both clocks; an event behind it
// with an old record time completes by wall time instead.
func TestDrainStopsAtYoungEvent(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	addLines(t, a, wall0, auditLine("SYSCALL", baseMs+1000, 10, syscallBody(1)))
	addLines(t, a, wall0, auditLine("SYSCALL", baseMs, 11, syscallBody(2))) // a long syscall: old time, new serial
	addLines(t, a, wall0, auditLine("SYSCALL", baseMs+1000, 12, syscallBody(3)))
	if got := a.Drain(wall0, nil); len(got) != 0 {
		t.Fatalf("got %v", serials(got))
	}
	got := a.Drain(at(500*time.Millisecond), nil)
	if s := serials(got); len(s) != 2 || s[0] != 10 || s[1] != 11 {
		t.Fatalf("got %v, want [10 11]", s)
	}
}

func TestNoHeadOfLineBlocking(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	addLines(t, a, wall0, auditLine("SYSCALL", baseMs, 5, syscallBody(1))) // stuck: no marker, nothing newer in time
	addLines(t, a, wall0, auditdEvent(baseMs, 6)...)
	addLines(t, a, wall0, auditLine("USER_LOGIN", baseMs, 7, `pid=1 uid=0 res=success`))
	got := a.Drain(wall0, nil)
	if s := serials(got); len(s) != 2 || s[0] != 6 || s[1] != 7 {
		t.Fatalf("got %v, want [6 7] while 5 waits", s)
	}
	if a.InFlight() != 1 {
		t.Fatalf("InFlight = %d", a.InFlight())
	}
}

func TestInterleavedAndOutOfOrder(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	e5 := auditdEvent(baseMs, 5)
	e6 := auditdEvent(baseMs+1, 6)
	// 6 starts before 5; their records interleave; each event's own order is kept
	order := []string{e6[0], e5[0], e6[1], e5[1], e5[2], e6[2], e6[3], e5[3], e5[4], e6[4], e5[5], e5[6], e6[5], e6[6]}
	addLines(t, a, wall0, order...)
	got := events(a.Drain(wall0, nil))
	if len(got) != 2 {
		t.Fatalf("got %d events", len(got))
	}
	for _, e := range got {
		want := e5
		if e.Key.Serial == 6 {
			want = e6
		}
		if len(e.Records) != len(want) {
			t.Fatalf("serial %d: %d records", e.Key.Serial, len(e.Records))
		}
		for i := range want {
			if e.Records[i].Text != want[i] {
				t.Fatalf("serial %d record %d = %q, want %q", e.Key.Serial, i, e.Records[i].Text, want[i])
			}
		}
	}
	if s := a.Stats(); s.Lost != 0 || s.LostItems != 0 {
		t.Fatalf("reordering reported loss: %+v", s)
	}
}

func TestSameSerialDifferentTime(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	// serial 5 of two boots in one audit.log: different timestamps, two events
	addLines(t, a, wall0, auditLine("SYSCALL", baseMs, 5, syscallBody(1)), auditLine("SYSCALL", baseMs+86400000, 5, syscallBody(2)))
	addLines(t, a, wall0, auditLine("EOE", baseMs, 5, ""), auditLine("EOE", baseMs+86400000, 5, ""))
	got := events(a.Drain(wall0, nil))
	if len(got) != 2 || len(got[0].Records) != 2 || len(got[1].Records) != 2 || got[0].Key.UnixMilli == got[1].Key.UnixMilli {
		t.Fatalf("got %+v", got)
	}
}

func TestDuplicates(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		e := auditdEvent(baseMs, 10)
		addLines(t, a, wall0, e[0], e[1], e[0], e[1], e[2], e[3], e[4], e[5], e[6])
		got := events(a.Drain(wall0, nil))
		if len(got) != 1 || len(got[0].Records) != 7 || got[0].Duplicates != 2 {
			t.Fatalf("got %d events; records %d duplicates %d", len(got), len(got[0].Records), got[0].Duplicates)
		}
		if s := a.Stats(); s.Duplicates != 2 || s.DupAfterEmit != 0 {
			t.Fatalf("stats %+v", s)
		}
		checkAccounting(t, a)
	})
	t.Run("same key and type, different text is not a duplicate", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		e := auditdEvent(baseMs, 10)
		addLines(t, a, wall0, e...)
		got := events(a.Drain(wall0, nil))
		if got[0].Duplicates != 0 || len(got[0].Records) != 7 { // two PATH records
			t.Fatalf("%+v", got[0])
		}
	})
	t.Run("after emission (chunk replay)", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		var batch []string
		for s := uint64(1); s <= 20; s++ {
			batch = append(batch, auditdEvent(baseMs+int64(s), s)...)
		}
		addLines(t, a, wall0, batch...)
		first := a.Drain(wall0, nil)
		if len(first) != 20 {
			t.Fatalf("first pass %d items", len(first))
		}
		addLines(t, a, at(time.Second), batch...)
		if got := a.DrainAll(nil); len(got) != 0 {
			t.Fatalf("replay produced %d items: %v", len(got), serials(got))
		}
		s := a.Stats()
		if s.Duplicates != uint64(len(batch)) || s.DupAfterEmit != uint64(len(batch)) || s.Events != 20 {
			t.Fatalf("stats %+v", s)
		}
		checkAccounting(t, a)
	})
	t.Run("replay of an older boot after a reboot", func(t *testing.T) {
		// audit.log without boot id: boot 1 ran to serial 100000, boot 2 restarts at 1; then
		// the reader replays boot 1's last records. They are still duplicates.
		a := NewAssembler(AssemblerConfig{})
		old := auditdEvent(baseMs, 100000)
		addLines(t, a, wall0, old...)
		addLines(t, a, wall0, auditdEvent(baseMs+3600000, 1)...)
		if got := serials(a.Drain(wall0, nil)); len(got) != 2 {
			t.Fatalf("got %v", got)
		}
		addLines(t, a, wall0, old...)
		addLines(t, a, wall0, auditdEvent(baseMs+3600001, 2)...)
		if got := serials(a.DrainAll(nil)); len(got) != 1 || got[0] != 2 {
			t.Fatalf("got %v, want only the new event 2", got)
		}
		if s := a.Stats(); s.DupAfterEmit != uint64(len(old)) {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("window bound", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{SeenWindow: 7})
		addLines(t, a, wall0, auditdEvent(baseMs, 1)...)
		addLines(t, a, wall0, auditdEvent(baseMs, 2)...)
		a.Drain(wall0, nil)
		// event 1's identities fell out of the 7-record window: a replay is new again
		addLines(t, a, wall0, auditdEvent(baseMs, 1)...)
		addLines(t, a, wall0, auditdEvent(baseMs, 2)...)
		got := a.Drain(wall0, nil)
		if s := serials(got); len(s) != 1 || s[0] != 1 {
			t.Fatalf("got %v, want [1] again", s)
		}
		if len(a.seen.recs) > 7 || len(a.seen.evs) > 7 || a.seen.used() > 7 || len(a.seen.idx) > seenMinSlots {
			t.Fatalf("seen set grew: %d records, %d events, %d slots used of %d", len(a.seen.recs), len(a.seen.evs), a.seen.used(), len(a.seen.idx))
		}
	})
	t.Run("disabled", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{SeenWindow: -1})
		addLines(t, a, wall0, auditdEvent(baseMs, 1)...)
		a.Drain(wall0, nil)
		addLines(t, a, wall0, auditdEvent(baseMs, 1)...)
		if got := a.Drain(wall0, nil); len(got) != 1 {
			t.Fatalf("got %d items", len(got))
		}
	})
}

func TestLateRecords(t *testing.T) {
	t.Run("late record starts an incomplete fragment", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, auditLine("AVC", baseMs, 10, `avc:  denied  { read } for pid=1 comm="x"`))
		addLines(t, a, wall0, cosEvent(baseMs+600, 11)...)
		got := events(a.Drain(wall0, nil))
		if len(got) != 1 || got[0].Key.Serial != 10 || got[0].Incomplete {
			t.Fatalf("first: %+v", got)
		}
		// the SYSCALL of serial 10 arrives after the AVC was handed out
		addLines(t, a, at(time.Second), auditLine("SYSCALL", baseMs, 10, syscallBody(1)), auditLine("PROCTITLE", baseMs, 10, "proctitle=6C73"))
		got = events(a.Drain(at(time.Second), nil))
		var frag *Event
		for _, e := range got {
			if e.Key.Serial == 10 {
				frag = e
			}
		}
		if frag == nil || !frag.Incomplete || len(frag.Records) != 2 || frag.Reason != CompleteProctitle {
			t.Fatalf("fragment %+v", frag)
		}
		if a.Stats().Late != 1 {
			t.Fatalf("stats %+v", a.Stats())
		}
		checkAccounting(t, a)
	})
	t.Run("late EOE is a marker only", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		e := auditdEvent(baseMs, 10)
		addLines(t, a, wall0, e[:6]...)
		if got := a.Drain(wall0, nil); len(got) != 1 {
			t.Fatalf("got %d", len(got))
		}
		addLines(t, a, wall0, e[6])
		if got := a.DrainAll(nil); len(got) != 0 {
			t.Fatalf("late EOE produced %v", got)
		}
		if s := a.Stats(); s.LateMarkers != 1 || s.Late != 0 {
			t.Fatalf("stats %+v", s)
		}
		checkAccounting(t, a)
	})
}

func lostItems(items []Item) []Lost {
	var out []Lost
	for _, it := range items {
		if it.Kind == ItemLost {
			out = append(out, *it.Lost)
		}
	}
	return out
}

func TestLost(t *testing.T) {
	user := func(ms int64, s uint64) string { return auditLine("USER_CMD", ms, s, `pid=1 uid=0 res=success`) }
	t.Run("gap reported after the window", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, user(baseMs, 1), user(baseMs, 2), user(baseMs+10, 5))
		if l := lostItems(a.Drain(wall0, nil)); len(l) != 0 {
			t.Fatalf("gap reported before the window: %+v", l)
		}
		l := lostItems(a.Drain(at(500*time.Millisecond), nil))
		if len(l) != 1 || l[0].From != 3 || l[0].To != 4 || l[0].Count != 2 || !l[0].Time.Equal(time.UnixMilli(baseMs+10)) {
			t.Fatalf("lost %+v", l)
		}
		if s := a.Stats(); s.Lost != 2 || s.LostItems != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("gap by record time", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, user(baseMs, 1), user(baseMs, 3), user(baseMs+499, 4))
		if l := lostItems(a.Drain(wall0, nil)); len(l) != 0 {
			t.Fatalf("early: %+v", l)
		}
		addLines(t, a, wall0, user(baseMs+500, 5))
		if l := lostItems(a.Drain(wall0, nil)); len(l) != 1 || l[0].From != 2 || l[0].Count != 1 {
			t.Fatalf("lost %+v", l)
		}
	})
	t.Run("reordering is no loss", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, user(baseMs, 1), user(baseMs, 4), user(baseMs, 6), user(baseMs, 3), user(baseMs, 2), user(baseMs, 5))
		items := a.Drain(at(time.Hour), nil)
		items = a.DrainAll(items)
		if l := lostItems(items); len(l) != 0 {
			t.Fatalf("false loss %+v", l)
		}
	})
	t.Run("partly filled gap", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, user(baseMs, 1), user(baseMs, 10), user(baseMs, 5), user(baseMs, 2), user(baseMs, 9))
		l := lostItems(a.DrainAll(nil))
		if len(l) != 2 || l[0].From != 3 || l[0].To != 4 || l[1].From != 6 || l[1].To != 8 || l[0].Count+l[1].Count != 5 {
			t.Fatalf("lost %+v", l)
		}
	})
	t.Run("multi-record events and daemon serials", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, auditdEvent(baseMs, 1)...)
		addLines(t, a, wall0, auditLine("DAEMON_ROTATE", baseMs, 9000, `op=rotate auid=4294967295 pid=1 res=success`))
		addLines(t, a, wall0, auditdEvent(baseMs, 2)...)
		if l := lostItems(a.DrainAll(nil)); len(l) != 0 {
			t.Fatalf("false loss %+v", l)
		}
	})
	t.Run("boot change", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		r1 := synth(1101, "n1", "boot-a", baseMs, 50000, "res=success")
		r2 := synth(1101, "n1", "boot-b", baseMs+60000, 3, "res=success")
		r3 := synth(1101, "n1", "boot-a", baseMs+1, 50001, "res=success")
		a.Add(r1, wall0)
		a.Add(r2, wall0)
		a.Add(r3, wall0)
		if l := lostItems(a.DrainAll(nil)); len(l) != 0 {
			t.Fatalf("false loss %+v", l)
		}
	})
	t.Run("serial going back a lot", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, user(baseMs, 500000), user(baseMs+90000, 1), user(baseMs+90000, 2), user(baseMs+90000, 4))
		l := lostItems(a.DrainAll(nil))
		if len(l) != 1 || l[0].From != 3 || l[0].Count != 1 {
			t.Fatalf("lost %+v (want only serial 3 of the new baseline)", l)
		}
	})
	t.Run("daemon start rebaselines", func(t *testing.T) {
		a := NewAssembler(AssemblerConfig{})
		addLines(t, a, wall0, user(baseMs, 100), auditLine("DAEMON_START", baseMs+1, 1, `op=start res=success`), user(baseMs+2, 200))
		if l := lostItems(a.DrainAll(nil)); len(l) != 0 {
			t.Fatalf("lost %+v", l)
		}
	})
	t.Run("rollover", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			seq    []uint64
			from   uint64
			to     uint64
			count  uint64
			nItems int
		}{
			{"through zero", []uint64{4294967294, 4294967295, 0, 1, 2}, 0, 0, 0, 0},
			{"old kernels skip zero", []uint64{4294967294, 4294967295, 1, 2}, 0, 0, 0, 0},
			{"gap across rollover", []uint64{4294967293, 2}, 4294967294, 1, 4, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := NewAssembler(AssemblerConfig{})
				for i, s := range tc.seq {
					addLines(t, a, wall0, user(baseMs+int64(i), s))
				}
				l := lostItems(a.DrainAll(nil))
				if len(l) != tc.nItems {
					t.Fatalf("lost %+v", l)
				}
				if tc.nItems == 1 && (l[0].From != tc.from || l[0].To != tc.to || l[0].Count != tc.count) {
					t.Fatalf("lost %+v", l)
				}
			})
		}
	})
}

func TestEviction(t *testing.T) {
	a := NewAssembler(AssemblerConfig{MaxInFlight: 2})
	for s := uint64(1); s <= 3; s++ {
		addLines(t, a, wall0, auditLine("SYSCALL", baseMs, s, syscallBody(1)))
		if a.InFlight() > 2 {
			t.Fatalf("InFlight %d > 2", a.InFlight())
		}
	}
	got := events(a.Drain(wall0, nil))
	if len(got) != 1 || got[0].Key.Serial != 1 || got[0].Reason != CompleteEvicted || !got[0].Incomplete {
		t.Fatalf("got %+v", got)
	}
	if s := a.Stats(); s.Evicted != 1 || s.Incomplete != 1 || s.InFlight != 2 {
		t.Fatalf("stats %+v", s)
	}
	// an oldest event that is already quiet is completed, not evicted
	addLines(t, a, wall0, auditLine("SYSCALL", baseMs+1000, 4, syscallBody(1)))
	got = events(a.Drain(wall0, nil))
	if len(got) < 1 || got[0].Key.Serial != 2 || got[0].Reason != CompleteQuiet || got[0].Incomplete {
		t.Fatalf("got %+v", got[0])
	}
}

func TestDrainAll(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	addLines(t, a, wall0, cosEvent(baseMs, 1)...)
	addLines(t, a, wall0, cosEvent(baseMs+600, 3)...)
	a.AddUnparsed(Unparsed{Text: "garbage", Reason: "not an audit record"})
	items := a.DrainAll(nil)
	var kinds []ItemKind
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	evs := events(items)
	if len(items) != 4 || len(evs) != 2 || len(lostItems(items)) != 1 {
		t.Fatalf("items %v", kinds)
	}
	if items[0].Kind != ItemUnparsed || items[0].Unparsed.Text != "garbage" {
		t.Fatalf("unparsed should come first (added before the drain): %v", kinds)
	}
	if evs[0].Key.Serial != 1 || evs[0].Reason != CompleteQuiet || evs[0].Incomplete {
		t.Fatalf("serial 1 is quiet by record time: %+v", evs[0])
	}
	if evs[1].Key.Serial != 3 || evs[1].Reason != CompleteDrained || !evs[1].Incomplete {
		t.Fatalf("serial 3 drained early: %+v", evs[1])
	}
	s := a.Stats()
	if s.Drained != 1 || s.Unparsed != 1 || s.Pending != 0 || s.InFlight != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkAccounting(t, a)
}

func TestStreamsAreSeparate(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	r1 := synth(1300, "node-a", "", baseMs, 7, "pid=1")
	r2 := synth(1300, "node-b", "", baseMs, 7, "pid=2")
	a.Add(r1, wall0)
	a.Add(r2, wall0)
	a.Add(synth(1320, "node-a", "", baseMs, 7), wall0)
	got := events(a.Drain(wall0, nil))
	if len(got) != 1 || got[0].Key.Node != "node-a" || len(got[0].Records) != 2 {
		t.Fatalf("got %+v", got)
	}
	if a.InFlight() != 1 {
		t.Fatalf("node-b's event should wait")
	}
}

func TestStreamLimit(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	for i := 0; i < 3*maxStreams; i++ {
		a.Add(synth(1101, fmt.Sprintf("n%d", i), "", baseMs, 1), wall0)
		a.Drain(wall0, nil)
	}
	if n := a.Stats().Streams; n > maxStreams {
		t.Fatalf("%d streams kept", n)
	}
}

// randomOps drives an assembler with a random mix of records, repeats, reordering, drains.
func randomOps(t testing.TB, rng *rand.Rand, a *Assembler, steps int) (emitted int) {
	types := []uint16{1300, 1309, 1307, 1302, 1327, 1320, 1101, 1400, 1306, 1201}
	var history []Record
	now := wall0
	serial := uint64(rng.IntN(1000))
	check := func(items []Item) {
		for _, it := range items {
			if it.Kind == ItemEvent {
				emitted += len(it.Event.Records)
				if len(it.Event.Records) == 0 {
					t.Fatalf("empty event")
				}
			}
		}
	}
	for i := 0; i < steps; i++ {
		switch op := rng.IntN(20); {
		case op < 12:
			serial += uint64(rng.IntN(3))
			s := serial - uint64(rng.IntN(3))
			node := []string{"", "a", "b"}[rng.IntN(3)]
			r := synth(types[rng.IntN(len(types))], node, "", baseMs+int64(s)*7, s, fmt.Sprintf("x=%d", rng.IntN(4)))
			history = append(history, r)
			a.Add(r, now)
		case op < 15 && len(history) > 0:
			a.Add(history[rng.IntN(len(history))], now)
		case op < 16:
			a.AddUnparsed(Unparsed{Text: "x"})
		default:
			now = now.Add(time.Duration(rng.IntN(700)) * time.Millisecond)
			check(a.Drain(now, nil))
		}
		checkAccounting(t, a)
		if a.InFlight() > a.cfg.MaxInFlight {
			t.Fatalf("InFlight %d > %d", a.InFlight(), a.cfg.MaxInFlight)
		}
	}
	check(a.DrainAll(nil))
	return emitted
}

func TestAccountingRandom(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		a := NewAssembler(AssemblerConfig{MaxInFlight: 1 + rng.IntN(20), SeenWindow: rng.IntN(50) - 5})
		emitted := randomOps(t, rng, a, 2000)
		s := a.Stats()
		checkAccounting(t, a)
		if s.Pending != 0 || s.InFlight != 0 || uint64(emitted) != s.EventRecords {
			t.Fatalf("seed %d: after DrainAll: %+v, emitted %d", seed, s, emitted)
		}
	}
}
