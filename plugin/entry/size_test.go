package entry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/proto"
)

// bigArgvEvent is an execve with about 3 MB of arguments, split over EXECVE records of at
// most ~7.5 KB each as the kernel writes them. Summary.Argv is uncapped (as with
// Argv_Max_Bytes=-1) so the builder's own argv cut is exercised.
func bigArgvEvent(tb testing.TB) *parser.Event {
	const nargs, argLen = 50000, 60
	lines := []string{
		`type=SYSCALL msg=audit(1795637127.000:2000): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="xargs" exe="/usr/bin/xargs" key="exec"`,
	}
	argv := make([]string, nargs)
	var b strings.Builder
	for i := range argv {
		argv[i] = fmt.Sprintf("%0*d", argLen, i)
		if b.Len() == 0 {
			b.WriteString(`type=EXECVE msg=audit(1795637127.000:2000):`)
			if i == 0 {
				fmt.Fprintf(&b, " argc=%d", nargs)
			}
		}
		fmt.Fprintf(&b, ` a%d="%s"`, i, argv[i])
		if b.Len() > 7500 {
			lines = append(lines, b.String())
			b.Reset()
		}
	}
	if b.Len() > 0 {
		lines = append(lines, b.String())
	}
	lines = append(lines, `type=PROCTITLE msg=audit(1795637127.000:2000): proctitle=7861726773`)
	recs := parseLines(tb, lines...)
	return &parser.Event{
		Key: recs[0].Key, Records: recs, Reason: parser.CompleteProctitle,
		Summary: parser.Summary{PID: "2", Exe: "/usr/bin/xargs", Comm: "xargs", Argv: argv, Argc: nargs,
			UID: root("root"), Syscall: "execve", Success: "yes", Exit: "0", Keys: []string{"exec"}},
	}
}

// manyRecordEvent is a syscall with thousands of PATH records.
func manyRecordEvent(tb testing.TB, n, npaths int) *parser.Event {
	lines := []string{`type=SYSCALL msg=audit(1795637127.000:2001): arch=c000003e syscall=82 success=yes exit=0 items=5000 ppid=1 pid=3 auid=0 uid=0 comm="mv" exe="/usr/bin/mv"`}
	var paths []parser.PathItem
	for i := range n {
		name := fmt.Sprintf("/var/lib/some/long/directory/name/for/testing/file-%06d", i)
		lines = append(lines, fmt.Sprintf(`type=PATH msg=audit(1795637127.000:2001): item=%d name="%s" inode=%d dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`, i, name, 1000+i))
		if i < npaths {
			paths = append(paths, parser.PathItem{Name: name, Nametype: "NORMAL"})
		}
	}
	recs := parseLines(tb, lines...)
	return &parser.Event{Key: recs[0].Key, Records: recs, Reason: parser.CompleteQuiet,
		Summary: parser.Summary{PID: "3", Exe: "/usr/bin/mv", UID: root("root"), Syscall: "rename", Success: "yes", Paths: paths}}
}

func TestSizeCapBigArgv(t *testing.T) {
	ev := bigArgvEvent(t)
	for _, raw := range []bool{false, true} {
		b := NewBuilder(Options{NodeName: testNode, IncludeRaw: raw})
		e := build(t, b, ev)
		size := len(mustMarshal(t, e, b.MaxEntryBytes()))
		p := jsonOf(t, e)
		if p["truncated"] != true {
			t.Errorf("raw=%v: truncated flag missing", raw)
		}
		argv := path(p, "process", "argv").([]any)
		if argv[0] != ev.Summary.Argv[0] || argv[len(argv)-1] != ev.Summary.Argv[len(ev.Summary.Argv)-1] {
			t.Errorf("raw=%v: first/last argument not kept: %v ... %v", raw, argv[0], argv[len(argv)-1])
		}
		var marker string
		for _, a := range argv {
			if s := a.(string); strings.HasPrefix(s, "[... ") {
				marker = s
			}
		}
		left := path(p, "process", "argv_truncated", "args").(float64)
		leftBytes := path(p, "process", "argv_truncated", "bytes").(float64)
		if want := fmt.Sprintf("[... %d arguments, %d bytes left out ...]", int(left), int(leftBytes)); marker != want {
			t.Errorf("raw=%v: marker %q, want %q", raw, marker, want)
		}
		if int(left)+len(argv)-1 != len(ev.Summary.Argv) {
			t.Errorf("raw=%v: %d kept + %d left out != %d arguments", raw, len(argv)-1, int(left), len(ev.Summary.Argv))
		}
		if path(p, "records", 0, "type") != "SYSCALL" || path(p, "summary") == nil || path(p, "user", "uid_name") != "root" {
			t.Errorf("raw=%v: the event's identity was cut: %v", raw, p["summary"])
		}
		t.Logf("raw=%v: %d bytes, %d of %d arguments kept", raw, size, len(argv)-1, len(ev.Summary.Argv))
	}
}

func TestSizeCapManyRecords(t *testing.T) {
	ev := manyRecordEvent(t, 5000, 5000)
	b := NewBuilder(Options{NodeName: testNode, IncludeRaw: true})
	e := build(t, b, ev)
	mustMarshal(t, e, b.MaxEntryBytes())
	p := jsonOf(t, e)
	if p["truncated"] != true {
		t.Error("truncated flag missing")
	}
	recs := p["records"].([]any)
	if path(recs, 0, "type") != "SYSCALL" || path(recs, len(recs)-1, "fields", "item") != "4999" {
		t.Errorf("first/last record not kept: %v ... %v", recs[0], recs[len(recs)-1])
	}
	var marker string
	for _, r := range recs {
		if s, ok := r.(map[string]any)["truncated"].(string); ok {
			marker = s
		}
	}
	if !strings.HasPrefix(marker, "[... ") || !strings.Contains(marker, " records, ") {
		t.Errorf("no records marker (got %q)", marker)
	}
	paths := p["paths"].([]any)
	if len(paths) != maxPaths || !strings.Contains(path(paths, maxPaths/2, "name").(string), "4937 paths left out") {
		t.Errorf("paths: %d items, middle %v", len(paths), path(paths, maxPaths/2))
	}
}

func TestSizeCapLongValues(t *testing.T) {
	big := strings.Repeat("é", 150_000) // 300 KB, two bytes a rune: cuts must respect runes
	ev := fullExec(t)
	ev.Records[1] = parseLines(t, `type=EXECVE msg=audit(1795637125.200:1845): argc=2 a0="curl" a1="`+big+`"`)[0]
	ev.Summary.Argv = []string{"curl", big}
	b := NewBuilder(Options{NodeName: testNode, IncludeRaw: true})
	e := build(t, b, ev)
	mustMarshal(t, e, b.MaxEntryBytes())
	p := jsonOf(t, e)
	a1 := path(p, "process", "argv", 1).(string)
	if !strings.Contains(a1, "…[truncated ") || len(a1) > 250_000 {
		t.Errorf("long argument not cut with a marker: %d bytes, ends %q", len(a1), a1[max(0, len(a1)-40):])
	}
	raw := path(p, "records", 1, "raw").(string)
	if !strings.Contains(raw, "…[truncated ") {
		t.Errorf("raw text not cut first: %d bytes", len(raw))
	}
	if path(p, "records", 0, "fields", "comm") != "curl" {
		t.Error("short fields were cut")
	}
}

// TestSizeCapProperty: whatever the cap and the event, the entry fits, and an entry that
// fits without cutting is not marked truncated.
func TestSizeCapProperty(t *testing.T) {
	events := map[string]*parser.Event{
		"full": fullExec(t), "cos": cosExec(t), "connect": connectEvent(t),
		"argv": bigArgvEvent(t), "records": manyRecordEvent(t, 2000, 8),
	}
	for name, ev := range events {
		for _, limit := range []int{MinMaxEntryBytes, 20_000, 50_000, 100_000, DefaultMaxEntryBytes, 1 << 20} {
			for _, raw := range []bool{false, true} {
				b := NewBuilder(Options{NodeName: testNode, IncludeRaw: raw, MaxEntryBytes: limit})
				e := build(t, b, ev)
				size := proto.Size(e)
				if size > limit {
					t.Errorf("%s cap=%d raw=%v: %d bytes", name, limit, raw, size)
				}
				full := build(t, NewBuilder(Options{NodeName: testNode, IncludeRaw: raw, MaxEntryBytes: 1 << 30}), ev)
				truncated := jsonOf(t, e)["truncated"] == true
				if fits := proto.Size(full) <= limit; fits == truncated {
					t.Errorf("%s cap=%d raw=%v: uncut size %d, truncated=%v", name, limit, raw, proto.Size(full), truncated)
				}
			}
		}
	}
}

// TestEmergency: an event whose summary fields alone exceed the cap still becomes an entry
// that fits and says what it left out.
func TestEmergency(t *testing.T) {
	ev := fullExec(t)
	ev.Summary.Paths = nil
	for i := range maxPaths {
		ev.Summary.Paths = append(ev.Summary.Paths, parser.PathItem{Name: strings.Repeat("p", 4000) + fmt.Sprint(i), Nametype: "NORMAL"})
	}
	b := NewBuilder(Options{NodeName: testNode, MaxEntryBytes: MinMaxEntryBytes})
	e := build(t, b, ev)
	mustMarshal(t, e, MinMaxEntryBytes)
	p := jsonOf(t, e)
	if p["truncated"] != true || p["paths_left_out"] != float64(maxPaths) || p["records_left_out"] != 7.0 ||
		path(p, "process", "exe") != "/usr/bin/curl" || p["summary"] != "uid=root ran /usr/bin/curl https://x in /root" {
		t.Errorf("emergency payload: %v", p)
	}
}

func TestWaterfill(t *testing.T) {
	for _, c := range []struct {
		lens              []int
		need, minL, m     int
		wantL, wantSavedG int // saved must be >= wantSavedG
	}{
		{[]int{100, 10, 10}, 50, 0, 10, 40, 50},
		{[]int{100, 100}, 100, 0, 0, 50, 100},
		{[]int{10, 10}, 100, 64, 10, -1, 0},  // nothing long enough to cut
		{[]int{1000}, 5000, 64, 10, 64, 926}, // not enough: cut to the minimum
	} {
		L, saved := waterfill(c.lens, c.need, c.minL, c.m)
		if L != c.wantL || saved < c.wantSavedG {
			t.Errorf("waterfill(%v, %d, %d, %d) = %d, %d; want %d, >= %d", c.lens, c.need, c.minL, c.m, L, saved, c.wantL, c.wantSavedG)
		}
	}
	var cut [2]int
	saved := cutMiddle(10, 25, func(int) int { return 10 }, 5, &cut)
	if cut != [2]int{4, 7} || saved != 25 {
		t.Errorf("cutMiddle = %v saved %d", cut, saved)
	}
	cut = [2]int{}
	if cutMiddle(2, 10, func(int) int { return 10 }, 5, &cut) != 0 || cut != [2]int{} {
		t.Errorf("cutMiddle of 2 items cut %v", cut)
	}
}

// TestQuickBound: the shortcut that skips planning is an upper bound of the exact costs, on
// every shape of event the tests build, with and without raw text, and on long values whose
// lengths take three- and four-byte varints.
func TestQuickBound(t *testing.T) {
	evs := append(mixedEvents(t), cosExec(t), fullExec(t))
	long := fullExec(t)
	long.Summary.Argv = []string{strings.Repeat("a", 200), strings.Repeat("b", 20000), strings.Repeat("c", 3<<20)}
	long.Records[0].Fields = append(long.Records[0].Fields, parser.Field{Key: strings.Repeat("k", 300), Value: strings.Repeat("v", 3<<20)})
	long.Records[0].Text = strings.Repeat("t", 3<<20)
	evs = append(evs, long)
	for i, ev := range evs {
		var a arena
		vals := a.interpretAll(ev, nil)
		for _, raw := range []bool{false, true} {
			x, y, z := costs(ev, vals, ev.Summary.Argv, raw)
			if q := quickBound(ev, vals, ev.Summary.Argv, raw); q < x+y+z {
				t.Errorf("event %d raw=%v: quick bound %d under the exact %d", i, raw, q, x+y+z)
			}
		}
	}
}
