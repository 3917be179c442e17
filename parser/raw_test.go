package parser

import (
	"strings"
	"testing"
)

// corpusShapes are the committed corpus files, every input shape.
var corpusShapes = []string{"audit.log", "audit-enriched.log", "audit-dispatch.log", "kernel.log", "journal.jsonl", "journal-cos.jsonl"}

// checkRaw checks Field.Raw of one parsed record against the record's text: Raw is computed
// from Value (it is not stored), so it must come out as the text that was written.
func checkRaw(t testing.TB, r *Record) (decoded int) {
	t.Helper()
	for fi := range r.Fields {
		f := &r.Fields[fi]
		raw := f.Raw()
		if got := string(f.AppendRaw([]byte("x"))); got != "x"+raw {
			t.Fatalf("%s: AppendRaw %q != Raw %q", r.Text, got, raw)
		}
		if f.RawLen() != len(raw) {
			t.Fatalf("%s: %s RawLen %d != len(Raw) %d", r.Text, f.Key, f.RawLen(), len(raw))
		}
		if !strings.Contains(r.Text, raw) {
			t.Fatalf("%s: %s Raw %q is not in the text", r.Text, f.Key, raw)
		}
		if f.enc == encNone {
			continue
		}
		decoded++
		q := ""
		if f.Quoted {
			q = `"`
			if !strings.Contains(r.Text, f.Key+"="+q+raw) {
				q = "'"
			}
		}
		if !strings.Contains(r.Text, f.Key+"="+q+raw) {
			t.Fatalf("%s: %s=%s%s is not in the text", r.Text, f.Key, q, raw)
		}
		if f.enc == encHex {
			b, ok := DecodeHex(raw)
			if !ok || Escape(b) != f.Value {
				t.Fatalf("%s: %s Raw %q does not decode to Value %q", r.Text, f.Key, raw, f.Value)
			}
		}
	}
	return decoded
}

func TestRawCorpus(t *testing.T) {
	for _, name := range corpusShapes {
		decoded := 0
		for _, in := range loadShape(t, name) {
			if in.err == nil {
				decoded += checkRaw(t, &in.rec)
			}
		}
		if decoded == 0 && name != "journal-cos.jsonl" {
			t.Errorf("%s: no decoded field: the test checks nothing", name)
		}
	}
}

func TestRaw(t *testing.T) {
	for _, tc := range []struct {
		line, key, raw, value string
	}{
		{`type=PROCTITLE msg=audit(1.000:1): proctitle=6C73002D6C`, "proctitle", "6C73002D6C", "ls\x00-l"},
		{`type=EXECVE msg=audit(1.000:1): argc=1 a0=FF5C78`, "a0", "FF5C78", `\xff\x5cx`},
		{`type=EXECVE msg=audit(1.000:1): argc=1 a0=5C7866663030`, "a0", "5C7866663030", `\x5cxff00`},
		{`type=USER_CMD msg=audit(1.000:1): pid=1 msg='cwd="/x\x41" cmd=6C73'`, "cwd", `/x\x41`, `/x\x5cx41`},
		{`type=SYSCALL msg=audit(1.000:1): comm="a\xffb" key=(null)`, "comm", `a\xffb`, `a\x5cxffb`},
		{`type=SYSCALL msg=audit(1.000:1): comm="a\b" exe=2F`, "comm", `a\b`, `a\b`},
		{`type=SYSCALL msg=audit(1.000:1): a0=7ffd exe=2F`, "a0", `7ffd`, `7ffd`},
		{`type=SYSCALL msg=audit(1.000:1): a0=7ffd exe=2F`, "exe", `2F`, `/`},
		{"type=SYSCALL msg=audit(1.000:1): comm=\"\xff\" exe=41", "comm", `\xff`, `\xff`}, // escaped text
	} {
		r, err := ParseLine([]byte(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		f, ok := r.Get(tc.key)
		if !ok || f.Raw() != tc.raw || f.Value != tc.value {
			t.Errorf("%s: %s Raw %q Value %q, want %q %q", tc.line, tc.key, f.Raw(), f.Value, tc.raw, tc.value)
		}
		checkRaw(t, &r)
	}
	// a Field built by hand is its Value
	f := Field{Key: "k", Value: "v"}
	if f.Raw() != "v" || f.RawLen() != 1 || string(f.AppendRaw(nil)) != "v" {
		t.Errorf("hand-made field: Raw %q", f.Raw())
	}
}

func BenchmarkRawDecoded(b *testing.B) {
	r, err := ParseLine([]byte(`type=PROCTITLE msg=audit(1.000:1): proctitle=2F7573722F62696E2F707974686F6E33002D6D00687474702E736572766572`))
	if err != nil {
		b.Fatal(err)
	}
	f := &r.Fields[0]
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendRaw(buf[:0])
	}
}
