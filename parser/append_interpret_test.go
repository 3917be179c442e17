package parser

import (
	"fmt"
	"strings"
	"testing"
)

// AppendInterpret must give exactly what Interpret gave before it was rewritten on top of it
// (interpretRef, the old code), and Interpret must still give that too.

func checkInterpret(t testing.TB, r *Record, f *Field, names *Names) {
	t.Helper()
	want := interpretRef(r, f, names)
	if got := string(AppendInterpret([]byte("prefix"), r, f, names)); got != "prefix"+want {
		t.Fatalf("%s: %s=%q: AppendInterpret = %q, want %q", r.TypeName(), f.Key, f.Raw(), strings.TrimPrefix(got, "prefix"), want)
	}
	if got := Interpret(r, f, names); got != want {
		t.Fatalf("%s: %s=%q: Interpret = %q, want %q", r.TypeName(), f.Key, f.Raw(), got, want)
	}
}

func checkInterpretRecord(t testing.TB, r *Record, names *Names) int {
	for i := range r.Fields {
		checkInterpret(t, r, &r.Fields[i], names)
	}
	for i := range r.Enriched {
		checkInterpret(t, r, &r.Enriched[i], names)
	}
	return len(r.Fields) + len(r.Enriched)
}

func TestAppendInterpretCorpus(t *testing.T) {
	names := machineNamesOrNil(t)
	n := 0
	for _, name := range corpusShapes {
		for _, in := range loadShape(t, name) {
			if in.err == nil {
				n += checkInterpretRecord(t, &in.rec, nil)
				n += checkInterpretRecord(t, &in.rec, names)
			}
		}
	}
	for _, l := range handLog {
		r := mustParse(t, l)
		n += checkInterpretRecord(t, &r, names)
	}
	if n < 10000 {
		t.Fatalf("only %d fields compared", n)
	}
	t.Logf("%d fields compared", n)
}

// appendInterpretCases are values around the edges of the hand-written number parsing that
// replaced strconv's (no error values: they allocate).
var appendInterpretCases = []struct {
	body string
	want map[string]string // key → interpretation; checked beside the oracle
}{
	{`arch=c000003e syscall=41 exit=-9223372036854775808 a0=FFFFFFFFFFFFFFFFF a1=1 a2=6 a3=0 uid=4294967295 gid=-1 ses=4294967295 success=1`,
		map[string]string{"a0": "unknown-family(0xFFFFFFFFFFFFFFFFF)", "a1": "SOCK_STREAM", "a2": "tcp", "a3": "0x0", "uid": "unset", "gid": "unset", "ses": "unset", "syscall": "socket"}},
	{`arch=c000003e syscall=41 exit=+5 a0=G a1=1000000000000000000 a2=zz a3=-1`,
		map[string]string{"a0": "unknown-family(0xG)", "exit": "+5"}},
	{`arch=c000003e syscall=41 exit=-99999999999999999999 a0=0000000000000000000002 a1=00000000000000000000000000000102`,
		map[string]string{"a0": "inet", "a1": "SOCK_DGRAM"}},
	{`arch=c000003e syscall=257 success=no exit=-2 a0=ffffff9c a1=80241 a2=1b6 a3=0 mode=0100644`,
		map[string]string{"a0": "AT_FDCWD", "exit": "ENOENT(No such file or directory)", "syscall": "openat", "mode": "file,644"}},
	{`arch=c000003e syscall=2 a0=1 a1=41 a2=1ed a3=0`, map[string]string{"a2": "0755"}},
	{`arch=c000003e syscall=105 a0=3e8 a1=0 exit=-4095`, map[string]string{"a0": "unknown(1000)"}},
	{`arch=c000003e syscall=117 a0=0 a1=ffffffff a2=3e8`, map[string]string{"a0": "root", "a1": "unset", "a2": "unknown(1000)"}},
	{`arch=c000003e syscall=90 a0=1 a1=ffffffffffff8fff`, nil},
	{`arch=c000003e syscall=60 a0=0 exit=x`, map[string]string{"a0": "EXIT_SUCCESS", "exit": "x"}},
	{`arch=c000003e syscall=99999999999999999999 a0=1`, map[string]string{"a0": "0x1"}},
	{`arch=zz syscall=59 a0=1`, map[string]string{"arch": "unknown-elf-type(zz)", "syscall": "59", "a0": "0x1"}},
	{`arch=FFFFFFFFF syscall=59`, map[string]string{"arch": "unknown-elf-type(FFFFFFFFF)"}},
	{`arch=40000003 syscall=102 a0=3 a1=5`, map[string]string{"syscall": "socketcall(connect)", "a0": "connect"}},
	{`arch=c000003e syscall=-1 mode=7777777 ouid=x auid=1e3 exit=-0`, nil},
	{`a0=1 a1="q" mode="0644" exe="/bin/\x01x" key="a b"`, nil},
}

func TestAppendInterpretTable(t *testing.T) {
	for _, tc := range appendInterpretCases {
		r := mustParse(t, "type=SYSCALL msg=audit(1.000:1): "+tc.body)
		checkInterpretRecord(t, &r, nil)
		for k, want := range tc.want {
			f := r.field(k)
			if f == nil {
				t.Fatalf("%s: no field %s", tc.body, k)
			}
			if got := Interpret(&r, f, nil); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.body, k, got, want)
			}
		}
	}
}

func TestAppendInterpretAllocs(t *testing.T) {
	r := mustParse(t, "type=SYSCALL msg=audit(1795635276.000:6): arch=c000003e syscall=257 success=no exit=-2 a0=ffffff9c a1=80241 a2=1b6 a3=0 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=(null)")
	p := mustParse(t, `type=PATH msg=audit(1795635276.000:6): item=0 name="/etc/x" inode=5 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`)
	x := mustParse(t, `type=SYSCALL msg=audit(1795635276.000:6): arch=c000003e syscall=59 a0=55d a1=55e a2=55f a3=0 comm=6C73 exe=2F62696E2F6D79206C73 key=6B31`)
	pt := mustParse(t, `type=PROCTITLE msg=audit(1795635276.000:6): proctitle=6C73002D6C`)
	buf := make([]byte, 0, 256)
	for _, rec := range []*Record{&r, &p, &x, &pt} {
		for i := range rec.Fields {
			f := &rec.Fields[i]
			if n := testing.AllocsPerRun(50, func() { buf = AppendInterpret(buf[:0], rec, f, nil) }); n != 0 {
				t.Errorf("%s %s=%s: %.0f allocations", rec.TypeName(), f.Key, f.Raw(), n)
			}
		}
	}
}

func FuzzAppendInterpret(f *testing.F) {
	for _, l := range handLog {
		f.Add(l, "", "", "", "", "")
	}
	for _, tc := range appendInterpretCases {
		f.Add("type=SYSCALL msg=audit(1.000:1): "+tc.body, "", "", "", "", "")
	}
	f.Add("", "c000003e", "41", "-13", "2", "ffffff9c")
	f.Add("", "40000003", "102", "-0", "FFFFFFFFFFFFFFFFFFFFFF", "0")
	f.Fuzz(func(t *testing.T, line, arch, syscall, exit, a0, a1 string) {
		if line == "" {
			clean := func(s string) string {
				return strings.Map(func(c rune) rune { return map[bool]rune{true: '_', false: c}[c <= ' ' || c == '"' || c == '\''] }, s)
			}
			line = fmt.Sprintf("type=SYSCALL msg=audit(1.000:1): arch=%s syscall=%s exit=%s a0=%s a1=%s a2=%s a3=%s uid=%s mode=%s ses=%s success=%s",
				clean(arch), clean(syscall), clean(exit), clean(a0), clean(a1), clean(a0), clean(a1), clean(a0), clean(a1), clean(exit), clean(a1))
		}
		r, err := ParseLine([]byte(line))
		if err != nil {
			return
		}
		checkInterpretRecord(t, &r, nil)
	})
}

// BenchmarkInterpretCorpus interprets every field of the corpus (audit.log) once per op:
// Interpret (a string per field) beside AppendInterpret (into one reused buffer), and the
// code they replaced.
func BenchmarkInterpretCorpus(b *testing.B) {
	var recs []Record
	fields := 0
	for _, in := range loadShape(b, "audit.log") {
		if in.err == nil {
			recs = append(recs, in.rec)
			fields += len(in.rec.Fields)
		}
	}
	b.Run("InterpretBefore", func(b *testing.B) { // the string-building code AppendInterpret replaced
		b.ReportAllocs()
		for b.Loop() {
			for i := range recs {
				r := &recs[i]
				for j := range r.Fields {
					_ = interpretRef(r, &r.Fields[j], nil)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(fields), "ns/field")
	})
	b.Run("Interpret", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range recs {
				r := &recs[i]
				for j := range r.Fields {
					_ = Interpret(r, &r.Fields[j], nil)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(fields), "ns/field")
	})
	b.Run("AppendInterpret", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			for i := range recs {
				r := &recs[i]
				for j := range r.Fields {
					buf = AppendInterpret(buf[:0], r, &r.Fields[j], nil)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(fields), "ns/field")
	})
}
