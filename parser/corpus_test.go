package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The corpus (testdata/corpus, see its README) is one real workload captured twice from the
// kernel and auditd and reshaped into every input the parser accepts. These tests assemble
// each shape and check that the workload's actions, found by their markers, come out as the
// same events with the same decoded content in every shape, and that every input record is
// accounted for.

func corpusPath(name string) string { return filepath.Join("testdata", "corpus", name) }

// readLines returns the file's non-empty lines (without the newline).
func readLines(t testing.TB, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	var lines [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// journalFromJSON converts one in_systemd record (a JSON object of journal fields) into a
// JournalRecord. A field repeated in the journal arrives as a list; the first value is used.
func journalFromJSON(line []byte) (JournalRecord, error) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return JournalRecord{}, err
	}
	get := func(k string) []byte {
		switch v := m[k].(type) {
		case string:
			return []byte(v)
		case []any:
			if len(v) > 0 {
				if s, ok := v[0].(string); ok {
					return []byte(s)
				}
			}
		}
		return nil
	}
	j := JournalRecord{
		Message:        get("MESSAGE"),
		AuditType:      get("_AUDIT_TYPE"),
		AuditID:        get("_AUDIT_ID"),
		SourceRealtime: get("_SOURCE_REALTIME_TIMESTAMP"),
		BootID:         get("_BOOT_ID"),
		Hostname:       get("_HOSTNAME"),
	}
	// fluent-bit uses __REALTIME_TIMESTAMP (arrival in the journal) as the record's time.
	if us, err := strconv.ParseInt(string(get("__REALTIME_TIMESTAMP")), 10, 64); err == nil {
		j.RecordTime = time.UnixMicro(us)
	}
	return j, nil
}

// corpusInput is one input record of a shape: parsed, or not.
type corpusInput struct {
	rec      Record
	err      error
	raw      []byte
	recvTime time.Time // when a live pipeline would have read it
}

func loadShape(t testing.TB, name string) []corpusInput {
	t.Helper()
	var in []corpusInput
	for _, l := range readLines(t, corpusPath(name)) {
		ci := corpusInput{raw: l}
		if strings.HasSuffix(name, ".jsonl") {
			j, err := journalFromJSON(l)
			if err != nil {
				t.Fatalf("%s: bad JSON line %q: %v", name, l, err)
			}
			ci.rec, ci.err = ParseJournal(j)
			ci.recvTime = j.RecordTime
		} else {
			ci.rec, ci.err = ParseLine(l)
			ci.recvTime = ci.rec.Key.Time()
		}
		in = append(in, ci)
	}
	return in
}

// assembled is the output of one shape.
type assembled struct {
	inputs   int
	events   []*Event
	unparsed []*Unparsed
	lost     []*Lost
	stats    AssemblerStats
}

// assembleShape replays a shape as a live stream: each record arrives at its own time (wall
// clock = record time), Drain runs every few records, and a final Drain after the last record
// lets the quiet window and timeout pass before DrainAll.
func assembleShape(t testing.TB, name string, cfg AssemblerConfig) *assembled {
	return assembleShapeAt(t, name, cfg, false)
}

// assembleShapeAt with frozen set replays a backlog: the wall clock never moves (the whole
// file is read at once), so only record time and markers complete events.
func assembleShapeAt(t testing.TB, name string, cfg AssemblerConfig, frozen bool) *assembled {
	t.Helper()
	in := loadShape(t, name)
	a := NewAssembler(cfg)
	out := &assembled{inputs: len(in)}
	var items []Item
	var now time.Time
	for i, ci := range in {
		if ci.recvTime.After(now) && (!frozen || now.IsZero()) {
			now = ci.recvTime
		}
		if ci.err != nil {
			a.AddUnparsed(Unparsed{Text: Escape(ci.raw), Reason: ci.err.Error(), Time: now})
		} else {
			a.Add(ci.rec, now)
		}
		if i%16 == 15 {
			items = a.Drain(now, items)
		}
	}
	if !frozen {
		items = a.Drain(now.Add(time.Minute), items)
	}
	items = a.DrainAll(items)
	for _, it := range items {
		switch it.Kind {
		case ItemEvent:
			out.events = append(out.events, it.Event)
		case ItemUnparsed:
			out.unparsed = append(out.unparsed, it.Unparsed)
		case ItemLost:
			out.lost = append(out.lost, it.Lost)
		default:
			t.Fatalf("%s: item of unknown kind %d", name, it.Kind)
		}
	}
	out.stats = a.Stats()
	return out
}

var capture1 = []string{"audit.log", "kernel.log", "journal.jsonl", "journal-cos.jsonl"}
var capture2 = []string{"audit-enriched.log", "audit-dispatch.log"}
var allShapes = append(slices.Clone(capture1), capture2...)

// TestCorpusAccounting: every input record ends up in exactly one output item.
func TestCorpusAccounting(t *testing.T) {
	for _, name := range allShapes {
		t.Run(name, func(t *testing.T) {
			in := loadShape(t, name)
			res := assembleShape(t, name, AssemblerConfig{})
			st := res.stats
			parsed := 0
			for _, ci := range in {
				if ci.err == nil {
					parsed++
				} else {
					t.Errorf("real corpus record not parsed: %v: %q", ci.err, clip(ci.raw))
				}
			}
			if int(st.Records) != parsed || int(st.Unparsed) != len(in)-parsed || len(res.unparsed) != len(in)-parsed {
				t.Errorf("stats count %d records + %d unparsed (%d unparsed items), %d inputs of which %d parsed", st.Records, st.Unparsed, len(res.unparsed), len(in), parsed)
			}
			if st.Pending != 0 || st.InFlight != 0 {
				t.Errorf("after DrainAll: Pending %d, InFlight %d, want 0", st.Pending, st.InFlight)
			}
			if st.Records != st.EventRecords+st.Duplicates+st.LateMarkers+st.Pending {
				t.Errorf("Records %d != EventRecords %d + Duplicates %d + LateMarkers %d + Pending %d", st.Records, st.EventRecords, st.Duplicates, st.LateMarkers, st.Pending)
			}
			// The records inside the events are exactly the inputs (as a multiset of texts):
			// nothing dropped, nothing invented, nothing counted twice.
			want := map[string]int{}
			for _, ci := range in {
				if ci.err == nil {
					want[ci.rec.Text]++
				}
			}
			got := map[string]int{}
			n := 0
			for _, ev := range res.events {
				dups := ev.Duplicates
				for i := range ev.Records {
					got[ev.Records[i].Text]++
					n++
				}
				if dups != 0 {
					t.Errorf("event %v has %d duplicates; the corpus has no repeated record", ev.Key, dups)
				}
			}
			if n != int(st.EventRecords) || len(res.events) != int(st.Events) {
				t.Errorf("items hold %d events / %d records, stats say %d / %d", len(res.events), n, st.Events, st.EventRecords)
			}
			lateEOE := 0
			for text, c := range want {
				g := got[text]
				if g == c {
					continue
				}
				if strings.HasPrefix(text, "type=EOE ") && g < c {
					lateEOE += c - g
					continue
				}
				t.Errorf("record in %d input(s) but %d event(s): %s", c, g, clip([]byte(text)))
			}
			for text := range got {
				if want[text] == 0 {
					t.Errorf("event holds a record that was never input: %s", clip([]byte(text)))
				}
			}
			if uint64(lateEOE) != st.LateMarkers {
				t.Errorf("%d EOE records are in no event, stats count %d late markers", lateEOE, st.LateMarkers)
			}
			// Replayed at its own pace, every event of a real log completes normally.
			for _, ev := range res.events {
				if ev.Incomplete {
					t.Errorf("event %v (%s, %d records, first %s) is Incomplete", ev.Key, ev.Reason, len(ev.Records), ev.Records[0].TypeName())
				}
			}
			// Serials the shape never carries are the only losses reported: gaps in this
			// input's kernel serials, computed here independently.
			wantLost := corpusGaps(in)
			var gotLost []uint64
			for _, l := range res.lost {
				for s := l.From; ; s++ {
					gotLost = append(gotLost, s)
					if s == l.To {
						break
					}
				}
			}
			slices.Sort(gotLost)
			if !slices.Equal(gotLost, wantLost) || st.Lost != uint64(len(wantLost)) {
				t.Errorf("lost serials %v (stats %d), want %v", gotLost, st.Lost, wantLost)
			}
			t.Logf("%d inputs → %d events, %d lost items, %d unparsed; late EOE %d", len(in), len(res.events), len(res.lost), len(res.unparsed), st.LateMarkers)
		})
	}
}

// corpusGaps returns the kernel serials missing between the smallest and largest one present
// (auditd's DAEMON_* records carry its own serials and are left out).
func corpusGaps(in []corpusInput) []uint64 {
	seen := map[uint64]bool{}
	var lo, hi uint64
	for _, ci := range in {
		if ci.err != nil || ci.rec.Type >= 1200 && ci.rec.Type <= 1299 {
			continue
		}
		s := ci.rec.Key.Serial
		if len(seen) == 0 || s < lo {
			lo = s
		}
		if len(seen) == 0 || s > hi {
			hi = s
		}
		seen[s] = true
	}
	var gaps []uint64
	for s := lo; s < hi; s++ {
		if !seen[s] {
			gaps = append(gaps, s)
		}
	}
	return gaps
}

// bySerial indexes a shape's events by serial (one boot, one node per file).
func bySerial(t *testing.T, name string, res *assembled) map[uint64]*Event {
	t.Helper()
	m := map[uint64]*Event{}
	for _, ev := range res.events {
		if m[ev.Key.Serial] != nil {
			t.Fatalf("%s: two events with serial %d", name, ev.Key.Serial)
		}
		m[ev.Key.Serial] = ev
	}
	return m
}

func hasType(ev *Event, typ string) bool {
	for i := range ev.Records {
		if ev.Records[i].TypeName() == typ {
			return true
		}
	}
	return false
}

// TestCorpusShapesAgree: the same records in every shape give the same events.
func TestCorpusShapesAgree(t *testing.T) {
	names := machineNamesOrNil(t)
	cfg := AssemblerConfig{Names: names}
	res := map[string]map[uint64]*Event{}
	for _, name := range allShapes {
		res[name] = bySerial(t, name, assembleShape(t, name, cfg))
	}
	base := res["audit.log"]

	// Workload events: the system calls of the workload (auid 0; everything else on the
	// machine has an unset auid). The same serials in every shape of capture 1, COS included
	// (it keeps SYSCALL and EXECVE).
	workload := func(m map[uint64]*Event) []uint64 {
		var s []uint64
		for serial, ev := range m {
			if isWorkload(ev) && hasType(ev, "SYSCALL") {
				s = append(s, serial)
			}
		}
		slices.Sort(s)
		return s
	}
	baseWork := workload(base)
	if len(baseWork) < 30 {
		t.Fatalf("audit.log has %d workload events, want at least 30 (the README's workload)", len(baseWork))
	}
	for _, name := range capture1[1:] {
		if got := workload(res[name]); !slices.Equal(got, baseWork) {
			t.Errorf("%s: workload serials %v, audit.log %v", name, got, baseWork)
		}
	}

	// kernel.log and journal.jsonl carry every kernel record of audit.log: same events, same
	// summary (journald drops LOGIN (1006): the LOGIN event's summary may differ there).
	for _, name := range []string{"kernel.log", "journal.jsonl"} {
		m := res[name]
		for serial, ev := range base {
			if hasType(ev, "DAEMON_START") || hasType(ev, "DAEMON_END") {
				if m[serial] != nil {
					t.Errorf("%s: auditd's own %s event should not be there", name, ev.Records[0].TypeName())
				}
				continue
			}
			other := m[serial]
			if other == nil {
				t.Errorf("%s: no event for serial %d (%s)", name, serial, ev.Records[0].TypeName())
				continue
			}
			wantRecs := len(ev.Records)
			if name == "journal.jsonl" && hasType(ev, "LOGIN") {
				wantRecs--
				if other.Summary.Ses != ev.Summary.Ses || !reflect.DeepEqual(other.Summary.Argv, ev.Summary.Argv) {
					t.Errorf("%s: LOGIN event %d summary %+v, audit.log %+v", name, serial, other.Summary, ev.Summary)
				}
			} else if !reflect.DeepEqual(other.Summary, ev.Summary) {
				t.Errorf("%s: event %d summary differs:\n  %s: %+v\n  audit.log: %+v", name, serial, name, other.Summary, ev.Summary)
			}
			if len(other.Records) != wantRecs {
				t.Errorf("%s: event %d has %d records, audit.log %d", name, serial, len(other.Records), len(ev.Records))
			}
		}
		if len(m) != len(base)-2 {
			t.Errorf("%s: %d events, audit.log %d (2 of them auditd's own)", name, len(m), len(base))
		}
	}

	// journal-cos: the same process, syscall, result and keys; no cwd, paths, title or peer
	// (COS drops CWD, PATH, PROCTITLE and SOCKADDR).
	cos := res["journal-cos.jsonl"]
	for _, serial := range baseWork {
		a, c := base[serial].Summary, cos[serial].Summary
		type core struct {
			PID, PPID, Exe, Comm                  string
			Argv                                  []string
			Argc                                  int
			AUID, UID, EUID, GID                  ID
			Syscall, Arch, Success, Exit, ExitNam string
			Keys                                  []string
			TTY, Ses                              string
		}
		ca := core{a.PID, a.PPID, a.Exe, a.Comm, a.Argv, a.Argc, a.AUID, a.UID, a.EUID, a.GID, a.Syscall, a.Arch, a.Success, a.Exit, a.ExitName, a.Keys, a.TTY, a.Ses}
		cc := core{c.PID, c.PPID, c.Exe, c.Comm, c.Argv, c.Argc, c.AUID, c.UID, c.EUID, c.GID, c.Syscall, c.Arch, c.Success, c.Exit, c.ExitName, c.Keys, c.TTY, c.Ses}
		if !reflect.DeepEqual(ca, cc) {
			t.Errorf("journal-cos event %d:\n  cos:       %+v\n  audit.log: %+v", serial, cc, ca)
		}
		if c.Cwd != "" || c.Paths != nil || c.Title != "" || c.Peer != nil {
			t.Errorf("journal-cos event %d has cwd %q paths %v title %q peer %v: COS drops those records", serial, c.Cwd, c.Paths, c.Title, c.Peer)
		}
		if a.Syscall == "execve" && (a.Cwd == "" || len(a.Paths) == 0 || a.Title == "") {
			t.Errorf("audit.log execve event %d lacks cwd/paths/title: %+v", serial, a)
		}
	}

	// Capture 2: the dispatcher stream (with EOE) and the ENRICHED log give the same events.
	disp, enr := res["audit-dispatch.log"], res["audit-enriched.log"]
	if len(disp) != len(enr) {
		t.Errorf("audit-dispatch.log %d events, audit-enriched.log %d", len(disp), len(enr))
	}
	eoe := 0
	for serial, ev := range enr {
		d := disp[serial]
		if d == nil {
			t.Errorf("audit-dispatch.log: no event %d", serial)
			continue
		}
		if !reflect.DeepEqual(d.Summary, ev.Summary) {
			t.Errorf("capture 2 event %d summary differs:\n  dispatch: %+v\n  enriched: %+v", serial, d.Summary, ev.Summary)
		}
		n := len(d.Records)
		if hasType(d, "EOE") {
			eoe++
			n--
		}
		if n != len(ev.Records) {
			t.Errorf("capture 2 event %d: dispatch %d records (EOE excluded), enriched %d", serial, n, len(ev.Records))
		}
	}
	t.Logf("capture 2: %d events, %d with their EOE inside", len(enr), eoe)

	// Capture 1 and 2 ran the same workload (capture 2 without the big argv): the marked
	// executions decode the same.
	for _, marker := range []string{"corpus-odd-args", "corpus-long-arg", "corpus-long-hex-arg"} {
		e1, e2 := findArgv1(base, marker), findArgv1(enr, marker)
		if e1 == nil || e2 == nil {
			t.Errorf("%s: event missing in capture 1 (%v) or 2 (%v)", marker, e1 != nil, e2 != nil)
			continue
		}
		if !reflect.DeepEqual(e1.Summary.Argv, e2.Summary.Argv) || e1.Summary.Exe != e2.Summary.Exe || !slices.Equal(e1.Summary.Keys, e2.Summary.Keys) || e1.Summary.Title != e2.Summary.Title {
			t.Errorf("%s: captures differ:\n  1: %+v\n  2: %+v", marker, e1.Summary, e2.Summary)
		}
	}
}

func machineNamesOrNil(t *testing.T) *Names {
	n, err := NewNames("/etc/passwd", "/etc/group", 256)
	if err != nil {
		t.Logf("no uid names: %v", err)
		return nil
	}
	return n
}

func findArgv1(m map[uint64]*Event, marker string) *Event {
	for _, ev := range m {
		if len(ev.Summary.Argv) > 1 && ev.Summary.Argv[1] == marker {
			return ev
		}
	}
	return nil
}

// isWorkload: the capture's workload runs with loginuid 0; everything else on the machine
// (auditctl's rule loading, daemons) has an unset auid.
func isWorkload(ev *Event) bool {
	a := ev.Summary.AUID
	return a.Set && !a.Unset && a.Num == 0
}

// findEvents returns the workload events that pred accepts, by serial.
func findEvents(m map[uint64]*Event, pred func(*Event) bool) []*Event {
	var evs []*Event
	for _, ev := range m {
		if isWorkload(ev) && pred(ev) {
			evs = append(evs, ev)
		}
	}
	slices.SortFunc(evs, func(a, b *Event) int { return int(a.Key.Serial) - int(b.Key.Serial) })
	return evs
}

// TestCorpusWorkload checks each workload item's decoded content in the shapes that carry it.
func TestCorpusWorkload(t *testing.T) {
	names := machineNamesOrNil(t)
	for _, name := range allShapes {
		t.Run(name, func(t *testing.T) {
			m := bySerial(t, name, assembleShape(t, name, AssemblerConfig{Names: names}))
			cos := name == "journal-cos.jsonl"
			checkWorkload(t, name, m, cos)
		})
	}
}

func checkWorkload(t *testing.T, name string, m map[uint64]*Event, cos bool) {
	// Odd arguments: the invalid UTF-8 bytes escaped as \xNN, everything else exact.
	if ev := findArgv1(m, "corpus-odd-args"); ev == nil {
		t.Errorf("no corpus-odd-args execve")
	} else {
		want := []string{"/bin/echo", "corpus-odd-args", "hello world", "it's", `"double"`, "line1\nline2", "tab\there", "ünïcødé ✓ 日本", `bad \xff\xfe utf8`, ""}
		s := ev.Summary
		if !slices.Equal(s.Argv, want) || s.Argc != 10 || s.ArgvMarker != nil {
			t.Errorf("odd args: argv %q argc %d marker %v, want %q argc 10", s.Argv, s.Argc, s.ArgvMarker, want)
		}
		if s.Exe != "/usr/bin/echo" || s.Syscall != "execve" || s.Arch != "x86_64" || s.Success != "yes" || !slices.Equal(s.Keys, []string{"exec"}) {
			t.Errorf("odd args: exe %q syscall %q arch %q success %q keys %q", s.Exe, s.Syscall, s.Arch, s.Success, s.Keys)
		}
		if s.AUID.Num != 0 || !s.AUID.Set || s.AUID.Unset {
			t.Errorf("odd args: auid %+v, want 0 (the workload's loginuid)", s.AUID)
		}
		if !cos {
			if !strings.HasSuffix(s.Cwd, "/dir with spaces ü") || !strings.HasPrefix(s.Cwd, "/tmp/audit-corpus.") {
				t.Errorf("odd args: cwd %q", s.Cwd)
			}
			wantTitle := "/bin/echo corpus-odd-args hello world it's \"double\" line1\nline2 tab\there ünïcødé ✓ 日本 bad \\xff\\xfe utf8"
			if s.Title != wantTitle && s.Title != wantTitle+" " {
				t.Errorf("odd args: title %q, want %q", s.Title, wantTitle)
			}
		}
	}
	// Arguments over 8 KB, split by the kernel into hex pieces.
	for marker, want := range map[string]string{"corpus-long-arg": strings.Repeat("x", 9000), "corpus-long-hex-arg": strings.Repeat("y z", 3000)} {
		ev := findArgv1(m, marker)
		if ev == nil {
			t.Errorf("no %s execve", marker)
			continue
		}
		s := ev.Summary
		if len(s.Argv) != 3 || s.Argv[0] != "/bin/true" || s.Argv[2] != want || s.Argc != 3 {
			got := ""
			if len(s.Argv) == 3 {
				got = s.Argv[2]
			}
			t.Errorf("%s: argc %d, %d arguments, a2 (%d bytes, want %d) starts %q ends %q", marker, s.Argc, len(s.Argv), len(got), len(want), got[:min(len(got), 40)], got[max(0, len(got)-60):])
		}
	}
	// 2050 arguments, ~133 KB: capture 1 only (every shape of it keeps EXECVE).
	if !strings.HasPrefix(name, "audit-") || name == "audit.log" {
		checkBigArgv(t, m)
	}
	// Failed opens.
	noent := findEvents(m, func(ev *Event) bool { return slices.Contains(ev.Summary.Keys, "noent") })
	if len(noent) < 2 {
		t.Errorf("%d noent events, want at least 2", len(noent))
	}
	sawMissing, sawHexMissing := false, false
	for _, ev := range noent {
		s := ev.Summary
		if s.Exit != "-2" || s.ExitName != "ENOENT" || s.Success != "no" {
			t.Errorf("noent event %d: exit %q %q success %q", ev.Key.Serial, s.Exit, s.ExitName, s.Success)
		}
		for _, p := range s.Paths {
			sawMissing = sawMissing || p.Name == "/nonexistent/corpus-missing"
			sawHexMissing = sawHexMissing || p.Name == "missing ü file" || strings.HasSuffix(p.Name, "/missing ü file")
		}
	}
	if !cos && (!sawMissing || !sawHexMissing) {
		t.Errorf("PATH names: /nonexistent/corpus-missing seen %v, hex 'missing ü file' seen %v", sawMissing, sawHexMissing)
	}
	access := findEvents(m, func(ev *Event) bool { return slices.Contains(ev.Summary.Keys, "access") })
	if len(access) != 2 {
		t.Errorf("%d EACCES events, want 2 (runuser and su)", len(access))
	}
	for _, ev := range access {
		s := ev.Summary
		if s.Exit != "-13" || s.ExitName != "EACCES" || s.UID.Num != 65534 || s.AUID.Num != 0 || s.Syscall != "openat" && s.Syscall != "open" {
			t.Errorf("EACCES event %d: exit %q %q uid %+v auid %+v syscall %q", ev.Key.Serial, s.Exit, s.ExitName, s.UID, s.AUID, s.Syscall)
		}
		if s.UID.Name != "nobody" {
			t.Errorf("EACCES event %d: uid name %q, want nobody (ENRICHED suffix or /etc/passwd)", ev.Key.Serial, s.UID.Name)
		}
		if !cos && (len(s.Paths) != 1 || !strings.HasSuffix(s.Paths[0].Name, "/secret")) {
			t.Errorf("EACCES event %d: paths %+v, want .../secret", ev.Key.Serial, s.Paths)
		}
	}
	// Connects: two keys split; peers decoded (not in COS, which drops SOCKADDR).
	// The helper's own connects (su and runuser also connect to nscd and /dev/log).
	net := findEvents(m, func(ev *Event) bool { return slices.Contains(ev.Summary.Keys, "net") && ev.Summary.Comm == "python3" })
	if len(net) != 6 {
		t.Errorf("%d connect events, want 6 (tcp 127.0.0.1, tcp ::1, refused, udp :53, unix path, abstract)", len(net))
	}
	peers := map[string]bool{}
	for _, ev := range net {
		s := ev.Summary
		if !slices.Equal(s.Keys, []string{"net", "egress"}) || s.Syscall != "connect" {
			t.Errorf("connect event %d: keys %q syscall %q", ev.Key.Serial, s.Keys, s.Syscall)
		}
		if cos {
			if s.Peer != nil {
				t.Errorf("journal-cos connect event %d has a peer %+v though COS drops SOCKADDR", ev.Key.Serial, s.Peer)
			}
			continue
		}
		if s.Peer == nil {
			t.Errorf("connect event %d: no peer", ev.Key.Serial)
			continue
		}
		p := *s.Peer
		switch {
		case p.Family == "inet" && p.Addr == "127.0.0.1" && p.Port == 53:
			peers["udp53"] = s.Success == "yes"
		case p.Family == "inet" && p.Addr == "127.0.0.1" && s.ExitName == "ECONNREFUSED" && p.Port > 0:
			peers["refused"] = s.Exit == "-111" && s.Success == "no"
		case p.Family == "inet" && p.Addr == "127.0.0.1" && p.Port > 0:
			peers["tcp4"] = s.Success == "yes"
		case p.Family == "inet6" && p.Addr == "::1" && p.Port > 0:
			peers["tcp6"] = s.Success == "yes"
		case p.Family == "local" && strings.HasPrefix(p.Addr, "/tmp/audit-corpus.") && strings.HasSuffix(p.Addr, "/corpus sock ü"):
			peers["unix"] = s.Success == "yes"
		case p.Family == "local" && p.Addr == "@corpus-abstract":
			peers["abstract"] = s.Success == "yes"
		default:
			t.Errorf("connect event %d: unexpected peer %+v exit %s", ev.Key.Serial, p, s.Exit)
		}
	}
	if !cos {
		for _, k := range []string{"tcp4", "tcp6", "refused", "udp53", "unix", "abstract"} {
			if !peers[k] {
				t.Errorf("connect %s: missing or wrong result (%v)", k, peers)
			}
		}
	}
	// AF_VSOCK socket().
	if vs := findEvents(m, func(ev *Event) bool { return slices.Contains(ev.Summary.Keys, "funky_socket") }); len(vs) != 1 || vs[0].Summary.Syscall != "socket" {
		t.Errorf("funky_socket events %d, want 1 socket()", len(vs))
	}
	// Deletes in the work dir (COS keeps the SYSCALL, not the PATHs).
	del := findEvents(m, func(ev *Event) bool { return slices.Contains(ev.Summary.Keys, "delete") })
	if len(del) == 0 {
		t.Errorf("no delete events")
	}
	for _, ev := range del {
		if cos {
			continue
		}
		types := map[string]bool{}
		for _, p := range ev.Summary.Paths {
			types[p.Nametype] = true
		}
		if !types["PARENT"] || !types["DELETE"] {
			t.Errorf("delete event %d: path nametypes %v, want PARENT and DELETE", ev.Key.Serial, types)
		}
	}
	// su and runuser through PAM.
	user := map[string]int{}
	for _, ev := range findEvents(m, func(ev *Event) bool {
		return strings.HasPrefix(ev.Records[0].TypeName(), "USER_") || strings.HasPrefix(ev.Records[0].TypeName(), "CRED_")
	}) {
		s := ev.Summary
		typ := ev.Records[0].TypeName()
		if len(ev.Records) != 1 || ev.Reason != CompleteStandalone {
			t.Errorf("%s event %d: %d records, reason %s; want a standalone single record", typ, ev.Key.Serial, len(ev.Records), ev.Reason)
		}
		if s.Acct != "nobody" || s.Success != "yes" || !strings.HasPrefix(s.Op, "PAM:") || s.AUID.Num != 0 || s.Exe != "/usr/bin/su" && s.Exe != "/usr/sbin/runuser" {
			t.Errorf("%s event %d: acct %q success %q op %q auid %+v exe %q", typ, ev.Key.Serial, s.Acct, s.Success, s.Op, s.AUID, s.Exe)
		}
		user[typ+" "+filepath.Base(s.Exe)]++
	}
	want := map[string]int{"USER_AUTH su": 1, "USER_ACCT su": 1, "CRED_ACQ su": 1, "USER_START su": 1, "USER_END su": 1, "CRED_DISP su": 1,
		"CRED_ACQ runuser": 1, "USER_START runuser": 1, "USER_END runuser": 1, "CRED_DISP runuser": 1}
	if cos {
		// COS keeps USER_ACCT, USER_START and USER_END only.
		for k := range want {
			if !strings.HasPrefix(k, "USER_ACCT") && !strings.HasPrefix(k, "USER_START") && !strings.HasPrefix(k, "USER_END") {
				delete(want, k)
			}
		}
	}
	if !reflect.DeepEqual(user, want) {
		t.Errorf("PAM events %v, want %v", user, want)
	}
	// TTY auditing: the typed lines, decoded.
	tty := findEvents(m, func(ev *Event) bool { return hasType(ev, "TTY") })
	if len(tty) != 1 {
		t.Errorf("%d TTY events, want 1", len(tty))
	} else {
		for i := range tty[0].Records {
			r := &tty[0].Records[i]
			if r.TypeName() != "TTY" {
				continue
			}
			if f, ok := r.Get("data"); !ok || f.Value != "echo corpus-tty-marker\nexit\n" {
				t.Errorf("TTY data %+v, want the typed lines", f)
			}
			if f, ok := r.Get("comm"); !ok || f.Value != "bash" {
				t.Errorf("TTY comm %+v", f)
			}
		}
	}
}

// bigArg is the capture script's argument i (1-based) of the 2050-argument execve.
func bigArg(i int) string { return fmt.Sprintf("arg-%04d-%s", i, strings.Repeat("z", 55)) }

func checkBigArgv(t *testing.T, m map[uint64]*Event) {
	ev := findArgv1(m, "corpus-big-argv")
	if ev == nil {
		t.Errorf("no corpus-big-argv execve")
		return
	}
	full := []string{"/bin/true", "corpus-big-argv"}
	total := len(full[0]) + len(full[1])
	for i := 1; i <= 2048; i++ {
		full = append(full, bigArg(i))
		total += len(bigArg(i))
	}
	s := ev.Summary
	if s.Argc != 2050 {
		t.Errorf("big argv: argc %d, want 2050", s.Argc)
	}
	// Default cap (64 KiB): a middle cut with one marker element.
	mk := s.ArgvMarker
	if mk == nil {
		t.Fatalf("big argv (%d bytes): no truncation marker with the default cap; %d arguments", total, len(s.Argv))
	}
	mi := -1
	for i, a := range s.Argv {
		if strings.HasPrefix(a, "[... ") {
			if mi >= 0 {
				t.Errorf("big argv: two marker elements (%d and %d)", mi, i)
			}
			mi = i
		}
	}
	if mi <= 1 || mi >= len(s.Argv)-1 {
		t.Fatalf("big argv: marker at %d of %d: not a middle cut", mi, len(s.Argv))
	}
	head, tail := s.Argv[:mi], s.Argv[mi+1:]
	if !slices.Equal(head, full[:len(head)]) || !slices.Equal(tail, full[len(full)-len(tail):]) {
		t.Errorf("big argv: kept arguments are not the first %d and last %d", len(head), len(tail))
	}
	cutBytes := 0
	for _, a := range full[len(head) : len(full)-len(tail)] {
		cutBytes += len(a)
	}
	if mk.Args != len(full)-len(head)-len(tail) || mk.Bytes != cutBytes {
		t.Errorf("big argv: marker %+v, want %d args, %d bytes", *mk, len(full)-len(head)-len(tail), cutBytes)
	}
	wantMarker := fmt.Sprintf("[... %d arguments, %d bytes left out ...]", mk.Args, mk.Bytes)
	if s.Argv[mi] != wantMarker {
		t.Errorf("big argv: marker element %q, want %q", s.Argv[mi], wantMarker)
	}
	kept := 0
	for _, a := range s.Argv {
		kept += len(a)
	}
	// The documented cap counts the marker too.
	if kept > DefaultArgvMaxBytes || kept < DefaultArgvMaxBytes-2*80 {
		t.Errorf("big argv: %d bytes kept (marker included), want at most and close to the cap %d", kept, DefaultArgvMaxBytes)
	}
}

// TestCorpusBigArgvUncapped: with ArgvMaxBytes -1 the 2050 arguments come out exact.
func TestCorpusBigArgvUncapped(t *testing.T) {
	for _, name := range capture1 {
		t.Run(name, func(t *testing.T) {
			m := bySerial(t, name, assembleShape(t, name, AssemblerConfig{ArgvMaxBytes: -1}))
			ev := findArgv1(m, "corpus-big-argv")
			if ev == nil {
				t.Fatal("no corpus-big-argv execve")
			}
			s := ev.Summary
			if s.ArgvMarker != nil || len(s.Argv) != 2050 || s.Argc != 2050 {
				t.Fatalf("uncapped big argv: %d arguments, argc %d, marker %v", len(s.Argv), s.Argc, s.ArgvMarker)
			}
			for i := 2; i < 2050; i++ {
				if s.Argv[i] != bigArg(i-1) {
					t.Fatalf("argv[%d] = %q, want %q", i, s.Argv[i], bigArg(i-1))
				}
			}
			if n := len(ev.Records); name != "journal-cos.jsonl" && n != 26 || name == "journal-cos.jsonl" && n != 21 {
				t.Errorf("big argv event has %d records (26 in audit.log: SYSCALL, BPRM_FCAPS, 20 EXECVE, CWD, 2 PATH, PROCTITLE; COS keeps SYSCALL and EXECVE)", n)
			}
		})
	}
}

// TestCorpusRecordsAgree: a record read from the journal or the kernel log is the record read
// from audit.log: same key (serial, time), type, Text and fields, in the same order. journald
// and printk carry no LOGIN (1006) and no auditd DAEMON_* record; COS keeps fewer types.
func TestCorpusRecordsAgree(t *testing.T) {
	base := loadShape(t, "audit.log")
	for _, name := range []string{"kernel.log", "journal.jsonl", "journal-cos.jsonl"} {
		t.Run(name, func(t *testing.T) {
			var want []Record
			for _, ci := range base {
				typ := ci.rec.TypeName()
				switch {
				case ci.err != nil:
					t.Fatalf("audit.log: %v", ci.err)
				case ci.rec.Type >= 1200 && ci.rec.Type <= 1299:
					continue
				case name != "kernel.log" && ci.rec.Type < 1100 && ci.rec.Type != 1005:
					continue // journald takes kernel records ≥ 1100 and AUDIT_USER only
				case name == "journal-cos.jsonl" && !slices.Contains([]string{"AVC", "EXECVE", "INTEGRITY_RULE", "SYSCALL", "TTY", "USER_ACCT", "USER_END", "USER_START"}, typ):
					continue
				}
				want = append(want, ci.rec)
			}
			got := loadShape(t, name)
			if len(got) != len(want) {
				t.Fatalf("%d records, audit.log has %d of the kept types", len(got), len(want))
			}
			for i, ci := range got {
				if ci.err != nil {
					t.Errorf("record %d: %v", i, ci.err)
					continue
				}
				g, w := ci.rec, want[i]
				// journald skips the blank after "audit(...): " (EXECVE continuation records
				// start with one): the same record, one space shorter.
				if g.Key.Serial != w.Key.Serial || g.Key.UnixMilli != w.Key.UnixMilli || g.Type != w.Type || trimBody(g.Text) != trimBody(w.Text) || name == "kernel.log" && g.Text != w.Text {
					t.Errorf("record %d: %v %s %q\n  audit.log: %v %s %q", i, g.Key, g.TypeName(), clip200(g.Text), w.Key, w.TypeName(), clip200(w.Text))
					continue
				}
				if !reflect.DeepEqual(g.Fields, w.Fields) {
					t.Errorf("record %d (%s %d): fields differ from audit.log's", i, g.TypeName(), g.Key.Serial)
				}
				wantSrc := SourceKernel
				if name != "kernel.log" {
					wantSrc = SourceJournal
					if g.Key.Node != "vm" || g.Key.BootID != "e2bde05ef9f343829efbfc074ead0c4d" {
						t.Errorf("record %d: node %q boot %q, want the capture's (capture-info.txt)", i, g.Key.Node, g.Key.BootID)
					}
				}
				if g.Source != wantSrc {
					t.Errorf("record %d: source %s, want %s", i, g.Source, wantSrc)
				}
			}
		})
	}
}

// trimBody drops the blanks at the start of a record's body.
func trimBody(text string) string {
	if i := strings.Index(text, "): "); i >= 0 {
		return text[:i+3] + strings.TrimLeft(text[i+3:], " ")
	}
	return text
}

// TestCorpusBacklogReplay: a backlog read at once (wall clock frozen) assembles into the same
// events as the live stream; only events within the quiet window of the last record may be
// flushed Incomplete by DrainAll.
func TestCorpusBacklogReplay(t *testing.T) {
	for _, name := range allShapes {
		t.Run(name, func(t *testing.T) {
			live := bySerial(t, name, assembleShape(t, name, AssemblerConfig{}))
			res := assembleShapeAt(t, name, AssemblerConfig{}, true)
			replay := bySerial(t, name, res)
			if len(live) != len(replay) {
				t.Errorf("replay %d events, live %d", len(replay), len(live))
			}
			var last int64
			for _, ev := range replay {
				last = max(last, ev.Key.UnixMilli)
			}
			incomplete := 0
			for serial, ev := range replay {
				l := live[serial]
				if l == nil {
					t.Errorf("replay event %d not in the live run", serial)
					continue
				}
				if len(ev.Records) != len(l.Records) || !reflect.DeepEqual(ev.Summary, l.Summary) {
					t.Errorf("event %d: replay %d records %+v\n  live %d records %+v", serial, len(ev.Records), ev.Summary, len(l.Records), l.Summary)
				}
				if ev.Incomplete {
					incomplete++
					if ev.Key.UnixMilli < last-DefaultQuiet.Milliseconds() {
						t.Errorf("event %d (%s) flushed Incomplete (%s) though newer records came %d ms later", serial, ev.Records[0].TypeName(), ev.Reason, last-ev.Key.UnixMilli)
					}
				}
			}
			t.Logf("%d events, %d incomplete at the end of the backlog", len(replay), incomplete)
		})
	}
}
