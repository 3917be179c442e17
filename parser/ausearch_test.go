package parser

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The reference for every decoded field is the real `ausearch -i` (Debian auditd) run on the
// committed corpus. Each record ausearch prints is paired with ours (same node, time, serial,
// and position within the event: ausearch prints an event's records last to first) and every
// field is compared: Interpret(rec, field, names) must equal the value ausearch printed.
//
// Rendering, not values, is normalized before comparing:
//   - ausearch prints bytes that are not UTF-8 raw; ours are escaped as Field.Value documents.
//     Their value goes through the same Escape, so a byte difference is still a difference.
//   - user-space records: ausearch prints the inner pairs inside msg='...'; ours are flattened.
//     The "msg='" before the first inner key and the closing quote are not part of a value.
//   - a bare word without '=' (the "tty" that opens a TTY record body, AVC's "avc:" and
//     "for") is skipped: it is no field on either side. AVC's "denied  { read write }" is
//     compared with our field "denied" = "read write".
//
// One event-level allowance: ausearch 3.0.9 prints nothing for an event whose AVC record is
// AppArmor's (no "avc:"), so the synthetic AppArmor events of TestAusearchMixed have no
// reference; they are counted as allowed, not compared.

// ausearchAllowed lists known, justified differences: record type ("" for any) and field.
// Every entry needs a reason; a difference not listed fails the test.
var ausearchAllowed = []struct {
	typ, key, reason string
}{}

func ausearchAllowedReason(typ, key string) (string, bool) {
	for _, a := range ausearchAllowed {
		if (a.typ == "" || a.typ == typ) && a.key == key {
			return a.reason, true
		}
	}
	return "", false
}

// ausRecord is one line of `ausearch -i` output.
type ausRecord struct {
	node, typ string
	time      string // "11/25/26 20:05:23.024" (TZ=UTC, LC_ALL=C)
	serial    string
	body      string // after ") : "
	line      string
}

// requireTool skips when a tool is missing, unless AUDIT_TESTS_REQUIRED=1 (CI) makes it fatal.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("AUDIT_TESTS_REQUIRED") == "1" {
			t.Fatalf("%s not found and AUDIT_TESTS_REQUIRED=1: install Debian's auditd package: %v", name, err)
		}
		t.Skipf("%s not installed (Debian package auditd); set AUDIT_TESTS_REQUIRED=1 to make this fatal", name)
	}
	return p
}

// runAusearch returns ausearch -i's events, each a list of records in printed order.
func runAusearch(t *testing.T, bin, file string) [][]ausRecord {
	t.Helper()
	cmd := exec.Command(bin, "-i", "--input", file)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ausearch -i --input %s: %v\n%s", file, err, stderr.String())
	}
	var events [][]ausRecord
	var cur []ausRecord
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if line == "----" {
			if len(cur) > 0 {
				events = append(events, cur)
			}
			cur = nil
			continue
		}
		rec, err := parseAusLine(line)
		if err != nil {
			t.Fatalf("ausearch output line %q: %v", line, err)
		}
		cur = append(cur, rec)
	}
	if len(cur) > 0 {
		events = append(events, cur)
	}
	return events
}

func parseAusLine(line string) (ausRecord, error) {
	r := ausRecord{line: line}
	rest := line
	if s, ok := strings.CutPrefix(rest, "node="); ok {
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return r, fmt.Errorf("node= without record")
		}
		r.node, rest = s[:sp], s[sp+1:]
	}
	s, ok := strings.CutPrefix(rest, "type=")
	if !ok {
		return r, fmt.Errorf("no type=")
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return r, fmt.Errorf("no header after type")
	}
	r.typ, rest = s[:sp], s[sp+1:]
	s, ok = strings.CutPrefix(rest, "msg=audit(")
	if !ok {
		return r, fmt.Errorf("no msg=audit(")
	}
	end := strings.Index(s, ") : ")
	if end < 0 {
		// A record with an empty body ends in ") : " with nothing after it, or just ")".
		if strings.HasSuffix(s, ") :") {
			end = len(s) - 3
		} else {
			return r, fmt.Errorf("no ') : ' after the header")
		}
	}
	hdr := s[:end]
	colon := strings.LastIndexByte(hdr, ':')
	if colon < 0 {
		return r, fmt.Errorf("no serial in header %q", hdr)
	}
	r.time, r.serial = hdr[:colon], hdr[colon+1:]
	if end+4 <= len(s) {
		r.body = s[end+4:]
	}
	return r, nil
}

// ausDiff is one field whose interpretation differs from ausearch's.
type ausDiff struct {
	kind          string // "TYPE.key", or "structure"
	ours, theirs  string
	record        string
	allowedReason string
}

type ausStats struct {
	records, fields, escapedTheirs, msgQuoted, bareWords int
	compared                                             map[string]int             // "TYPE.key" → fields compared
	values                                               map[string]map[string]bool // "TYPE.key" → ausearch's values
}

func (st *ausStats) note(kind, theirs string) {
	if st.compared == nil {
		st.compared, st.values = map[string]int{}, map[string]map[string]bool{}
	}
	st.compared[kind]++
	if st.values[kind] == nil {
		st.values[kind] = map[string]bool{}
	}
	st.values[kind][theirs] = true
}

// compareAusRecord compares every field of r with ausearch's line for it.
func compareAusRecord(r *Record, a *ausRecord, names *Names, st *ausStats) []ausDiff {
	var diffs []ausDiff
	typ := r.TypeName()
	structural := func(format string, args ...any) []ausDiff {
		return append(diffs, ausDiff{kind: "structure", ours: r.Text, theirs: a.line, record: fmt.Sprintf(format, args...)})
	}
	if a.typ != typ {
		return structural("type %s, ausearch printed %s", typ, a.typ)
	}
	if want := r.Key.Time().Format("01/02/06 15:04:05.000"); a.time != want {
		return structural("time %s, ausearch printed %s", want, a.time)
	}
	if want := fmt.Sprint(r.Key.Serial); a.serial != want {
		return structural("serial %s, ausearch printed %s", want, a.serial)
	}
	body := strings.TrimSuffix(a.body, " ")
	pos := 0
	inMsg := false
	for i := range r.Fields {
		f := &r.Fields[i]
		for pos < len(body) && body[pos] == ' ' {
			pos++
		}
		rest := body[pos:]
		if f.Key != "msg" && !inMsg && strings.HasPrefix(rest, "msg='"+f.Key+"=") {
			pos += len("msg='")
			rest = body[pos:]
			inMsg = true
			st.msgQuoted++
		}
		braced := false
		for !strings.HasPrefix(rest, f.Key+"=") {
			if v, n, ok := bracedValue(rest, f.Key); ok {
				// AVC "denied  { read write }": ausearch prints the permission set as it came.
				st.fields++
				st.note(typ+"."+f.Key, v)
				if ours := Interpret(r, f, names); ours != v {
					d := ausDiff{kind: typ + "." + f.Key, ours: ours, theirs: v, record: r.Text}
					d.allowedReason, _ = ausearchAllowedReason(typ, f.Key)
					diffs = append(diffs, d)
				}
				pos += n
				braced = true
				break
			}
			// Skip a bare word (no '=') that ausearch keeps and our tokenizer drops.
			sp := strings.IndexByte(rest, ' ')
			if sp <= 0 || strings.IndexByte(rest[:sp], '=') >= 0 {
				return structural("field %s (#%d) not found in ausearch's line at %q", f.Key, i, clip([]byte(rest)))
			}
			st.bareWords++
			pos += sp + 1
			for pos < len(body) && body[pos] == ' ' {
				pos++
			}
			rest = body[pos:]
		}
		if braced {
			continue
		}
		pos += len(f.Key) + 1
		ours := Interpret(r, f, names)
		var theirs string
		if i == len(r.Fields)-1 {
			theirs = body[pos:]
			if inMsg {
				theirs = strings.TrimSuffix(theirs, "'")
			}
			pos = len(body)
		} else {
			next := r.Fields[i+1].Key
			delims := []string{" " + next + "=", " msg='" + next + "="}
			end := -1
			// Prefer our own value's extent when ausearch agrees with it: a value may contain
			// " next=" (a proctitle, a TTY line).
			for _, d := range delims {
				if strings.HasPrefix(body[pos:], ours+d) || strings.HasPrefix(body[pos:], ours+" ") && strings.HasPrefix(body[pos+len(ours)+1:], strings.TrimPrefix(d, " ")) {
					end = pos + len(ours)
					break
				}
			}
			if end < 0 {
				for _, d := range delims {
					if k := strings.Index(body[pos:], d); k >= 0 && (end < 0 || pos+k < end) {
						end = pos + k
					}
				}
			}
			if end < 0 {
				// The next key may follow a bare word: take up to the last space.
				return structural("value of %s: next field %s not found in ausearch's line at %q", f.Key, next, clip([]byte(body[pos:])))
			}
			theirs = body[pos:end]
			pos = end
		}
		st.fields++
		st.note(typ+"."+f.Key, theirs)
		if esc := Escape([]byte(theirs)); esc != theirs {
			st.escapedTheirs++
			theirs = esc
		}
		if ours != theirs {
			d := ausDiff{kind: typ + "." + f.Key, ours: ours, theirs: theirs, record: r.Text}
			d.allowedReason, _ = ausearchAllowedReason(typ, f.Key)
			diffs = append(diffs, d)
		}
	}
	if rest := strings.TrimSpace(body[pos:]); rest != "" && rest != "'" {
		return structural("ausearch printed more after the last field: %q", clip([]byte(rest)))
	}
	return diffs
}

// bracedValue reads "key  { a b }" at the start of s: the value "a b" and the bytes consumed.
func bracedValue(s, key string) (string, int, bool) {
	rest, ok := strings.CutPrefix(s, key)
	if !ok {
		return "", 0, false
	}
	trimmed := strings.TrimLeft(rest, " ")
	if len(trimmed) == len(rest) || !strings.HasPrefix(trimmed, "{") {
		return "", 0, false
	}
	end := strings.IndexByte(trimmed, '}')
	if end < 0 {
		return "", 0, false
	}
	used := len(s) - len(trimmed) + end + 1
	return strings.TrimSpace(trimmed[1:end]), used, true
}

// machineNames resolves ids with the machine's files, as ausearch does.
func machineNames(t testing.TB) *Names {
	t.Helper()
	n, err := NewNames("/etc/passwd", "/etc/group", 1024)
	if err != nil {
		t.Fatalf("NewNames(/etc/passwd, /etc/group): %v", err)
	}
	return n
}

// compareWithAusearch runs ausearch on file and compares it with ParseLine of the same lines.
func compareWithAusearch(t *testing.T, file string) ausStats {
	bin := requireTool(t, "ausearch")
	names := machineNames(t)
	lines := readLines(t, file)
	byKey := map[EventKey][]*Record{}
	for i, l := range lines {
		r, err := ParseLine(l)
		if err != nil {
			t.Errorf("%s:%d: ParseLine: %v", file, i+1, err)
			continue
		}
		byKey[r.Key] = append(byKey[r.Key], &r)
	}
	events := runAusearch(t, bin, file)
	if len(events) == 0 {
		t.Fatalf("ausearch printed no events for %s", file)
	}
	var st ausStats
	var diffs []ausDiff
	used := map[*Record]bool{}
	for _, ev := range events {
		a0 := ev[0]
		ms, err := time.ParseInLocation("01/02/06 15:04:05.000", a0.time, time.UTC)
		if err != nil {
			t.Fatalf("ausearch time %q: %v", a0.time, err)
		}
		var serial uint64
		fmt.Sscan(a0.serial, &serial)
		key := EventKey{Node: a0.node, UnixMilli: ms.UnixMilli(), Serial: serial}
		// ausearch prints an event's records last to first, and may split one serial into
		// several events (LOGIN on its own): pair each printed record with our first unused
		// record of the same key and type, in file order.
		for i := len(ev) - 1; i >= 0; i-- {
			var r *Record
			for _, c := range byKey[key] {
				if !used[c] && c.TypeName() == ev[i].typ {
					r = c
					break
				}
			}
			if r == nil {
				diffs = append(diffs, ausDiff{kind: "structure", theirs: ev[i].line, record: fmt.Sprintf("ausearch printed a record we do not have: event %+v type %s", key, ev[i].typ)})
				continue
			}
			used[r] = true
			st.records++
			diffs = append(diffs, compareAusRecord(r, &ev[i], names, &st)...)
		}
	}
	for _, rs := range byKey {
		apparmor := false
		for _, r := range rs {
			if _, ok := r.Get("apparmor"); ok && r.TypeName() == "AVC" {
				apparmor = true
			}
		}
		for _, r := range rs {
			if !used[r] {
				d := ausDiff{kind: "structure", ours: r.Text, record: "record not printed by ausearch"}
				if apparmor {
					d.kind = "event not printed"
					d.allowedReason = "ausearch 3.0.9 drops events whose AVC is AppArmor's (no \"avc:\"): nothing to compare"
				}
				diffs = append(diffs, d)
			}
		}
	}
	report(t, file, st, diffs)
	return st
}

// ausearchMustCover are fields whose interpretation the comparison must have exercised on the
// real corpus, with a value ausearch printed for at least one of them.
var ausearchMustCover = []struct{ kind, sample string }{
	{"PROCTITLE.proctitle", ""},
	{"EXECVE.a0", ""},
	{"EXECVE.a2[0]", ""},
	{"SOCKADDR.saddr", "saddr_fam=inet6"},
	{"SOCKADDR.saddr", "saddr_fam=local"},
	{"SYSCALL.exit", "ENOENT(No such file or directory)"},
	{"SYSCALL.exit", "EACCES(Permission denied)"},
	{"SYSCALL.syscall", "execve"},
	{"SYSCALL.arch", "x86_64"},
	{"SYSCALL.uid", "nobody"},
	{"SYSCALL.auid", "unset"},
	{"SYSCALL.ses", "unset"},
	{"SYSCALL.key", "net key=egress"},
	{"CWD.cwd", ""},
	{"PATH.name", ""},
	{"PATH.mode", ""},
	{"TTY.data", ""},
	{"USER_ACCT.acct", "nobody"},
	{"CONFIG_CHANGE.op", ""},
}

func checkAusearchCoverage(t *testing.T, st ausStats, values map[string]map[string]bool) {
	for _, c := range ausearchMustCover {
		if st.compared[c.kind] == 0 {
			t.Errorf("no %s field was compared with ausearch", c.kind)
			continue
		}
		if c.sample != "" && !values[c.kind][c.sample] {
			found := false
			for v := range values[c.kind] {
				if strings.Contains(v, c.sample) {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s compared with ausearch's value %q", c.kind, c.sample)
			}
		}
	}
}

func report(t *testing.T, file string, st ausStats, diffs []ausDiff) {
	t.Helper()
	kinds := map[string]int{}
	allowed := map[string]int{}
	var msg strings.Builder
	bad := 0
	for _, d := range diffs {
		if d.allowedReason != "" {
			allowed[d.kind+" ("+d.allowedReason+")"]++
			continue
		}
		bad++
		kinds[d.kind]++
		if kinds[d.kind] <= 5 { // every kind is listed; long runs of one kind are shortened
			fmt.Fprintf(&msg, "  %s: ours %q, ausearch %q\n      record: %s\n", d.kind, d.ours, d.theirs, clip200(d.record))
		} else if kinds[d.kind] == 6 {
			fmt.Fprintf(&msg, "  %s: ... (more of this kind, counted below)\n", d.kind)
		}
	}
	t.Logf("%s: %d records, %d fields compared with ausearch -i; %d of ausearch's values had non-UTF-8 bytes (escaped before comparing), %d msg='...' openings and %d bare words skipped",
		filepath.Base(file), st.records, st.fields, st.escapedTheirs, st.msgQuoted, st.bareWords)
	for _, k := range sortedKeys(allowed) {
		t.Logf("  allowed difference: %s ×%d", k, allowed[k])
	}
	if bad > 0 {
		var sum strings.Builder
		for _, k := range sortedKeys(kinds) {
			fmt.Fprintf(&sum, "  %-28s %d\n", k, kinds[k])
		}
		t.Errorf("%s: %d of %d fields differ from ausearch -i:\n%s\nby kind:\n%s", filepath.Base(file), bad, st.fields, msg.String(), sum.String())
	}
}

func clip200(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestAusearchRaw(t *testing.T) {
	st := compareWithAusearch(t, corpusPath("audit.log"))
	checkAusearchCoverage(t, st, st.values)
}

func TestAusearchEnriched(t *testing.T) {
	compareWithAusearch(t, corpusPath("audit-enriched.log"))
}

// TestAusearchMixed covers the synthetic AVC lines (no SELinux on the capture machine) with
// the same reference.
func TestAusearchMixed(t *testing.T) {
	compareWithAusearch(t, filepath.Join("testdata", "bench", "avc.log"))
}

// TestAusearchHarness checks the comparison itself on hand-written ausearch output: an equal
// line gives no difference, a changed value, a missing field and an extra field each give one.
func TestAusearchHarness(t *testing.T) {
	rec, err := ParseLine([]byte(`type=USER_ACCT msg=audit(1795637123.396:1760): pid=17281 uid=0 auid=0 ses=13 msg='op=PAM:accounting grantors=pam_permit acct="nobody" exe="/usr/bin/su" hostname=? addr=? terminal=? res=success'`))
	if err != nil {
		t.Fatal(err)
	}
	const hdr = "type=USER_ACCT msg=audit(11/25/26 20:05:23.396:1760) : "
	good := "pid=17281 uid=root auid=root ses=13 msg='op=PAM:accounting grantors=pam_permit acct=nobody exe=/usr/bin/su hostname=? addr=? terminal=? res=success' "
	for _, tc := range []struct {
		name, body string
		want       []string // diff kinds
	}{
		{"equal", good, nil},
		{"value", strings.Replace(good, "acct=nobody", "acct=nobodx", 1), []string{"USER_ACCT.acct"}},
		{"last value", strings.Replace(good, "res=success'", "res=failed'", 1), []string{"USER_ACCT.res"}},
		{"extra field", strings.Replace(good, "ses=13 ", "ses=13 extra=1 ", 1), []string{"USER_ACCT.ses"}},
		{"missing field", strings.Replace(good, "grantors=pam_permit ", "", 1), []string{"structure"}},
		{"trailing field", strings.Replace(good, "res=success'", "res=success' more=1", 1), []string{"USER_ACCT.res"}},
	} {
		a, err := parseAusLine(hdr + tc.body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var st ausStats
		var got []string
		for _, d := range compareAusRecord(&rec, &a, nil, &st) {
			got = append(got, d.kind)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: differences %q, want %q", tc.name, got, tc.want)
		}
	}
}
