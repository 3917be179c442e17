package parser

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func checkRecord(t *testing.T, r Record) {
	t.Helper()
	if !utf8.ValidString(r.Text) || !utf8.ValidString(r.Key.Node) || !utf8.ValidString(r.Key.BootID) {
		t.Fatalf("Text/Node/BootID not UTF-8: %q %q %q", r.Text, r.Key.Node, r.Key.BootID)
	}
	if !strings.HasPrefix(r.Text, "type="+r.TypeName()+" msg=audit(") {
		t.Fatalf("Text %q does not start with its type %s", r.Text, r.TypeName())
	}
	for _, fs := range [][]Field{r.Fields, r.Enriched} {
		for _, f := range fs {
			if !utf8.ValidString(f.Key) || !utf8.ValidString(f.Raw()) || !utf8.ValidString(f.Value) {
				t.Fatalf("field not UTF-8: %+v", f)
			}
			if f.Key == "" {
				t.Fatalf("empty key: %+v", f)
			}
			_ = Interpret(&r, &f, nil)
		}
	}
	checkRaw(t, &r)
}

func FuzzParseLine(f *testing.F) {
	for _, l := range handLog {
		f.Add([]byte(l))
	}
	for _, l := range []string{
		"node=n1 type=SYSCALL msg=audit(1.000:1): a=b\x1dUID=\"root\"",
		"audit: type=1300 audit(1.000:1): arch=c000003e",
		"[ 1.0] audit: type=1999 audit(1.000:1): x=1",
		"type=UNKNOWN[1999] msg=audit(1.000:1): x=y",
		"type=USER_CMD msg=audit(1.000:1): msg='cmd=6C73 a=\"b",
		"type=EXECVE msg=audit(1.000:1): argc=1 a0=FF5C78",
		"type=AVC msg=audit(1.000:1): avc:  denied  { read",
		"\x1d\x1d",
	} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		in := bytes.Clone(line)
		r, err := ParseLine(line)
		if !bytes.Equal(in, line) {
			t.Fatal("ParseLine modified its input")
		}
		if err != nil {
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error not UTF-8: %q", err)
			}
			return
		}
		checkRecord(t, r)
		// Parsing the record's own Text gives the same fields.
		r2, err := ParseLine([]byte(r.Text))
		if err != nil {
			t.Fatalf("re-parse of Text %q: %v", r.Text, err)
		}
		if len(r2.Fields) != len(r.Fields) || r2.Key.Serial != r.Key.Serial || r2.Type != r.Type {
			t.Fatalf("re-parse differs: %+v vs %+v", r2, r)
		}
	})
}

func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`SYSCALL arch=c000003e syscall=59 comm="ls"`), []byte("1300"), []byte("5"), []byte("1795635275481123"), []byte("boot"), []byte("host"))
	f.Add([]byte(`EXECVE argc=1 a0=6C73`), []byte(""), []byte("5"), []byte(""), []byte(""), []byte("h\xff"))
	f.Add([]byte(`AUDIT1999 x=y`), []byte(""), []byte("1"), []byte("1"), []byte("b"), []byte(""))
	f.Fuzz(func(t *testing.T, msg, typ, id, ts, boot, host []byte) {
		r, err := ParseJournal(JournalRecord{Message: msg, AuditType: typ, AuditID: id, SourceRealtime: ts, BootID: boot, Hostname: host})
		if err != nil {
			return
		}
		checkRecord(t, r)
		if r.Source != SourceJournal {
			t.Fatalf("Source = %v", r.Source)
		}
	})
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a", `\`, `\x41`, "\xff", "a\\xff\xfe", "é\xe2\x82", `\x5c`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Escape(b)
		if !utf8.ValidString(s) {
			t.Fatalf("Escape(%q) = %q: not UTF-8", b, s)
		}
		if got := Unescape(s); !bytes.Equal(got, b) {
			t.Fatalf("Unescape(Escape(%q)) = %q", b, got)
		}
		if utf8.Valid(b) && !looksEscaped(string(b)) && s != string(b) {
			t.Fatalf("Escape changed text that needed no escaping: %q → %q", b, s)
		}
		// The hex path must agree with the direct one.
		hex := make([]byte, 0, 2*len(b))
		for _, c := range b {
			hex = append(hex, "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		}
		if len(hex) > 0 {
			r, err := ParseLine([]byte("type=EXECVE msg=audit(1.000:1): argc=1 a0=" + string(hex)))
			if err != nil {
				t.Fatal(err)
			}
			if v := r.Fields[1].Value; v != s {
				t.Fatalf("decoded %q, Escape %q", v, s)
			}
		}
	})
}

func FuzzDecodeSockAddr(f *testing.F) {
	for _, s := range []string{"020000507F0000010000000000000000", "0100006162630000", "0A0001BB000000000000000000000000000000000000000100000000", "100000000C00000000000000", "01", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hex string) {
		a := DecodeSockAddr(hex)
		if !utf8.ValidString(a.Addr) || !utf8.ValidString(a.Family) {
			t.Fatalf("not UTF-8: %+v", a)
		}
		_ = interpretSockaddr(hex)
	})
}
