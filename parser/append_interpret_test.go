package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
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
	// The type the tokenizer stored must be the one Interpret would look up, and a Field
	// without one (built by hand) must come out the same.
	if f.ftype != 0 {
		raw := "00"
		if f.enc != encHex || r.Type == typeTrustedApp {
			raw = f.Raw()
		}
		if lt := adjustType(r.Type, f.Key, raw, f.Quoted); f.ftype-1 != lt {
			t.Fatalf("%s: %s=%q: stored type %d, adjustType says %d", r.TypeName(), f.Key, f.Raw(), f.ftype-1, lt)
		}
		bare := *f
		bare.ftype = 0
		if got := string(AppendInterpret(nil, r, &bare, names)); got != want {
			t.Fatalf("%s: %s=%q: AppendInterpret without the stored type = %q, want %q", r.TypeName(), f.Key, f.Raw(), got, want)
		}
	}
}

// TestFieldSize: Field must stay 40 bytes (see its doc); the stored type lives in padding.
func TestFieldSize(t *testing.T) {
	if n := unsafe.Sizeof(Field{}); n != 40 {
		t.Errorf("Field is %d bytes, want 40", n)
	}
}

// TestFieldTypeByHand: a Field built by hand (no stored type) is interpreted by its key, and
// parsed fields carry a type for the common keys (the stored-type path is the one tested).
func TestFieldTypeByHand(t *testing.T) {
	r := mustParse(t, "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 uid=0 acct=\"x\" exit=-2")
	stored := 0
	for _, f := range r.Fields {
		if f.ftype != 0 {
			stored++
		}
	}
	if stored != len(r.Fields)-1 { // acct's type depends on its value: looked up each time
		t.Errorf("%d of %d fields have a stored type, want all but acct", stored, len(r.Fields))
	}
	for _, tc := range []struct{ key, value, want string }{
		{"syscall", "59", "execve"}, {"uid", "0", "root"}, {"exit", "-2", "ENOENT(No such file or directory)"},
		{"arch", "c000003e", "x86_64"}, {"a0", "ffffff9c", "0xffffff9c"}, {"pid", "7", "7"},
	} {
		f := Field{Key: tc.key, Value: tc.value}
		if got := Interpret(&r, &f, nil); got != tc.want {
			t.Errorf("hand-built %s=%s: %q, want %q", tc.key, tc.value, got, tc.want)
		}
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
	b.Run("AppendInterpret", func(b *testing.B) { benchAppendInterpret(b, recs, fields) })
}

// TestAllPlain: the word-at-a-time scan must find a control byte, a backslash or a
// non-ASCII byte at any position and length, alone or among others.
func TestAllPlain(t *testing.T) {
	want := func(b []byte) bool {
		for _, c := range b {
			if c < ' ' || c >= utf8.RuneSelf || c == '\\' {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a~ 0", 6)[:n])
				b[pos] = byte(c)
				if got := allPlain(b); got != want(b) {
					t.Fatalf("%q: allPlain = %v", b, got)
				}
			}
		}
	}
	// Short slices are read a word at a time from their spare capacity: what lies there must
	// not count.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, 48)
		for i := range b {
			b[i] = byte(' ' + rng.IntN(96)) // mostly plain, with DEL
			if rng.IntN(16) == 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		b = b[:rng.IntN(40)]
		if got := allPlain(b); got != want(b) {
			t.Fatalf("%q (then %q): allPlain = %v", b, b[len(b):cap(b)], got)
		}
		if got := allPlain(b[:len(b):len(b)]); got != want(b) {
			t.Fatalf("%q without spare capacity: allPlain = %v", b, got)
		}
	}
}

// TestExpandKeySep: several rule keys, at either end too, as strings.ReplaceAll gives them.
func TestExpandKeySep(t *testing.T) {
	for _, s := range []string{"", "k", "\x01", "a\x01b", "\x01a\x01\x01b\x01", "net\x01egress\x01x"} {
		want := "pre" + strings.ReplaceAll(s, "\x01", " key=")
		if got := string(expandKeySep([]byte("pre"+s), 3)); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

// TestAdjustTypeRef: adjustType, switched on the record type, must give what the case-by-case
// form gave, for every name auparse knows (read from ztables.go) and the ones the record-type
// corrections look at, in every record type they name and some they do not.
func TestAdjustTypeRef(t *testing.T) {
	src, err := os.ReadFile("ztables.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src[bytes.Index(src, []byte("func fieldTypeByName")):])
	body = body[:strings.Index(body, "\n}\n")]
	names := []string{"", "a", "a0", "a1_len", "a2[1]", "argc", "saddr", "msg", "acct", "flags", "mode", "fp", "id", "name", "x", "ACCT", "UID"}
	for _, m := range regexp.MustCompile(`case "([^"]*)":`).FindAllStringSubmatch(body, -1) {
		names = append(names, m[1])
	}
	if len(names) < 100 {
		t.Fatalf("only %d names read from fieldTypeByName", len(names))
	}
	types := []uint16{0, 1100, typeUserAcctForTest, typeExecve, typeAVC, typeUserTTY, typeNetfilterPkt, typePath, typeMQOpen,
		typeCryptoKeyUser, typeAddGroup, typeGrpMgmt, typeDelGroup, typeTrustedApp, typeKernModule, typeSyscall, typeSeccomp, 1327}
	raws := []string{"", "00", "12", "abc", "zz", "(null)", "C0FFEE:"}
	n := 0
	for _, rt := range types {
		for _, name := range names {
			for _, raw := range raws {
				for _, q := range []bool{false, true} {
					if got, want := adjustType(rt, name, raw, q), adjustTypeRef(rt, name, raw, q); got != want {
						t.Errorf("adjustType(%d, %q, %q, %v) = %d, want %d", rt, name, raw, q, got, want)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d combinations", n)
	// The tokenizer's shortcut: in record types adjustsTypes does not name, every key but acct
	// has fieldTypeByName's type.
	plain := 0
	for _, rt := range typeByName {
		if adjustsTypes(rt) {
			continue
		}
		plain++
		for _, name := range names {
			if name == "acct" {
				continue
			}
			for _, raw := range raws {
				for _, q := range []bool{false, true} {
					if got, want := fieldTypeByName(name), adjustType(rt, name, raw, q); got != want {
						t.Errorf("record type %d is not in adjustsTypes, but adjustType(%d, %q, %q, %v) = %d, not fieldTypeByName's %d", rt, rt, name, raw, q, want, got)
					}
				}
			}
		}
	}
	if plain < 100 {
		t.Fatalf("only %d record types without adjustments", plain)
	}
}

const typeUserAcctForTest = 1101 // USER_ACCT: no correction of its own
