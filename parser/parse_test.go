package parser

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fieldMap gives key → Value for the tests (the last one wins for repeated keys).
func fieldMap(fs []Field) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Key] = f.Value
	}
	return m
}

func keys(fs []Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	return out
}

func TestParseLineShapes(t *testing.T) {
	const body = `arch=c000003e syscall=59 success=yes exit=0 comm="ls" exe="/usr/bin/ls" key=(null)`
	const text = `type=SYSCALL msg=audit(1795635275.481:5): ` + body
	tests := []struct {
		name   string
		line   string
		source Source
		node   string
	}{
		{"audit.log", text, SourceAuditLog, ""},
		{"audit.log newline", text + "\n", SourceAuditLog, ""},
		{"node prefix", "node=gke-node-1 " + text, SourceAuditLog, "gke-node-1"},
		{"numeric type", `type=1300 msg=audit(1795635275.481:5): ` + body, SourceAuditLog, ""},
		{"kernel", `audit: type=1300 audit(1795635275.481:5): ` + body, SourceKernel, ""},
		{"dmesg prefix", `[   12.345678] audit: type=1300 audit(1795635275.481:5): ` + body, SourceKernel, ""},
		{"syslog prefix", `Nov 25 19:34:35 host kernel: audit: type=1300 audit(1795635275.481:5): ` + body, SourceKernel, ""},
		{"enriched", text + "\x1dARCH=x86_64 SYSCALL=execve AUID=\"unset\"", SourceAuditLog, ""},
		{"node and enriched", "node=n1 " + text + "\x1dARCH=x86_64", SourceAuditLog, "n1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseLine([]byte(tc.line))
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			if r.Text != text {
				t.Errorf("Text = %q, want %q", r.Text, text)
			}
			if r.Type != 1300 || r.TypeName() != "SYSCALL" {
				t.Errorf("Type = %d %s", r.Type, r.TypeName())
			}
			if r.Source != tc.source {
				t.Errorf("Source = %v, want %v", r.Source, tc.source)
			}
			want := EventKey{Node: tc.node, UnixMilli: 1795635275481, Serial: 5}
			if r.Key != want {
				t.Errorf("Key = %+v, want %+v", r.Key, want)
			}
			if got := keys(r.Fields); !reflect.DeepEqual(got, []string{"arch", "syscall", "success", "exit", "comm", "exe", "key"}) {
				t.Errorf("keys = %v", got)
			}
			m := fieldMap(r.Fields)
			if m["comm"] != "ls" || m["exe"] != "/usr/bin/ls" || m["arch"] != "c000003e" {
				t.Errorf("fields = %v", m)
			}
			if k, _ := r.Get("key"); !k.Absent {
				t.Errorf("key=(null) not Absent: %+v", k)
			}
		})
	}
}

func TestParseLineEnriched(t *testing.T) {
	line := "type=SYSCALL msg=audit(1795635275.481:5): arch=c000003e syscall=42 uid=0 saddr=0200\x1dARCH=x86_64 SYSCALL=connect UID=\"root\" SADDR={ saddr_fam=inet laddr=127.0.0.1 lport=80 }"
	r, err := ParseLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldMap(r.Fields); got["uid"] != "0" || got["syscall"] != "42" || len(r.Fields) != 4 {
		t.Errorf("Fields changed by the suffix: %+v", r.Fields)
	}
	e := fieldMap(r.Enriched)
	want := map[string]string{"ARCH": "x86_64", "SYSCALL": "connect", "UID": "root", "SADDR": "{ saddr_fam=inet laddr=127.0.0.1 lport=80 }"}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("Enriched = %v, want %v", e, want)
	}
	if strings.ContainsRune(r.Text, 0x1d) || strings.Contains(r.Text, "ARCH=") {
		t.Errorf("Text holds the suffix: %q", r.Text)
	}
	// A lone separator: empty suffix, fields intact.
	r, err = ParseLine([]byte("type=EOE msg=audit(1.002:3): \x1d"))
	if err != nil || len(r.Fields) != 0 || len(r.Enriched) != 0 || r.Text != "type=EOE msg=audit(1.002:3): " {
		t.Errorf("lone 0x1D: %+v %v", r, err)
	}
}

func TestParseLineTypes(t *testing.T) {
	tests := []struct {
		line     string
		typ      uint16
		typeName string
	}{
		{`type=UNKNOWN[1999] msg=audit(1.000:1): foo=bar`, 1999, "UNKNOWN[1999]"},
		{`type=1999 msg=audit(1.000:1): foo=bar`, 1999, "UNKNOWN[1999]"},
		{`audit: type=1999 audit(1.000:1): foo=bar`, 1999, "UNKNOWN[1999]"},
		{`type=EOE msg=audit(1.000:1): `, 1320, "EOE"},
		{`type=EOE msg=audit(1.000:1):`, 1320, "EOE"},
		{`type=USER_ACCT msg=audit(1.000:1): pid=1`, 1101, "USER_ACCT"},
	}
	for _, tc := range tests {
		r, err := ParseLine([]byte(tc.line))
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if r.Type != tc.typ || r.TypeName() != tc.typeName {
			t.Errorf("%q: type %d %q, want %d %q", tc.line, r.Type, r.TypeName(), tc.typ, tc.typeName)
		}
		if !strings.HasPrefix(r.Text, "type="+tc.typeName+" msg=audit(1.000:1):") {
			t.Errorf("%q: Text = %q", tc.line, r.Text)
		}
		if tc.typ == 1999 && fieldMap(r.Fields)["foo"] != "bar" {
			t.Errorf("%q: unknown type body not parsed: %+v", tc.line, r.Fields)
		}
	}
}

func TestParseLineBad(t *testing.T) {
	huge := "type=SYSCALL msg=audit(1.000:1): " + strings.Repeat("a=b ", 1<<18)
	tests := []struct {
		name, line, wantErr string
	}{
		{"empty", "", "no \"type=\""},
		{"garbage", "hello world", "no \"type=\""},
		{"kauditd", "[ 1.2] kauditd_printk_skb: 3 callbacks suppressed", "no \"type=\""},
		{"no header", "type=SYSCALL", "no audit(...) header"},
		{"unknown name", "type=FOO_BAR msg=audit(1.000:1): a=b", "unknown record type name"},
		{"type too big", "type=70000 msg=audit(1.000:1): a=b", "unknown record type"},
		{"no audit(", "type=SYSCALL msg=1.000:1 a=b", "want msg=audit("},
		{"truncated header", "type=SYSCALL msg=audit(1795635275.481:", "no closing parenthesis"},
		{"bad serial", "type=SYSCALL msg=audit(1795635275.481:x5): a=b", "serial"},
		{"no serial", "type=SYSCALL msg=audit(1795635275.481:): a=b", "SEC.MSEC:SERIAL"},
		{"serial overflow", "type=SYSCALL msg=audit(1.000:99999999999999999999999): a=b", "serial"},
		{"no millis", "type=SYSCALL msg=audit(1795635275:5): a=b", "SEC.MSEC:SERIAL"},
		{"bad seconds", "type=SYSCALL msg=audit(x.000:5): a=b", "seconds"},
		{"bad millis", "type=SYSCALL msg=audit(1.0x0:5): a=b", "milliseconds"},
		{"junk after header", "type=SYSCALL msg=audit(1.000:5)x a=b", "want ':'"},
		{"node only", "node=abc", "node= prefix"},
		{"NUL bytes", "\x00\x00type\x00=SYSCALL", "no \"type=\""},
		{"lone 0x1D", "\x1d", "no \"type=\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLine([]byte(tc.line))
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("error is not UTF-8: %q", err)
			}
		})
	}
	r, err := ParseLine([]byte(huge))
	if err != nil || len(r.Fields) != 1<<18 {
		t.Errorf("huge line: %d fields, %v", len(r.Fields), err)
	}
}

func TestTokenizer(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		body string
		want [][2]string // key, value
	}{
		{"quotes", "SYSCALL", `comm="a b" exe='x y' tty=pts0`, [][2]string{{"comm", "a b"}, {"exe", "x y"}, {"tty", "pts0"}}},
		{"unterminated quote", "SYSCALL", `a=1 comm="abc`, [][2]string{{"a", "1"}, {"comm", "abc"}}},
		{"user msg flattened", "USER_ACCT", `pid=1 uid=0 msg='op=PAM:accounting acct="root" exe="/usr/bin/su" res=success'`,
			[][2]string{{"pid", "1"}, {"uid", "0"}, {"op", "PAM:accounting"}, {"acct", "root"}, {"exe", "/usr/bin/su"}, {"res", "success"}}},
		{"msg without pairs kept", "USER_CMD", `pid=1 msg='just text'`, [][2]string{{"pid", "1"}, {"msg", "just text"}}},
		{"avc", "AVC", `avc:  denied  { read write } for  pid=1 comm="x" tclass=file`,
			[][2]string{{"denied", "read write"}, {"pid", "1"}, {"comm", "x"}, {"tclass", "file"}}},
		{"avc granted", "AVC", `avc:  granted  { setenforce } for  pid=1`, [][2]string{{"granted", "setenforce"}, {"pid", "1"}}},
		{"bare braces", "AVC", `{ read }`, [][2]string{{"perms", "read"}}},
		{"user avc", "USER_AVC", `pid=1 msg='avc:  denied  { start } for auid=0 uid=0 tclass=service exe="/usr/lib/systemd/systemd"'`,
			[][2]string{{"pid", "1"}, {"denied", "start"}, {"auid", "0"}, {"uid", "0"}, {"tclass", "service"}, {"exe", "/usr/lib/systemd/systemd"}}},
		{"garbage between", "SYSCALL", `a=1 junk ==x "q" b=2 =c d=`, [][2]string{{"a", "1"}, {"b", "2"}, {"d", ""}}},
		{"tabs", "SYSCALL", "a=1\tb=2", [][2]string{{"a", "1"}, {"b", "2"}}},
		{"empty body", "SYSCALL", ``, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseLine([]byte("type=" + tc.typ + " msg=audit(1.000:1): " + tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]string
			for _, f := range r.Fields {
				got = append(got, [2]string{f.Key, f.Value})
				if (f.Key != "perms" && !strings.Contains(r.Text, f.Key)) || !strings.Contains(r.Text, f.Raw()) {
					t.Errorf("field %+v not a part of Text", f)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fields = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	tests := []struct {
		name, typ, body, key, value string
		absent, quoted              bool
	}{
		{"hex comm", "SYSCALL", `comm=636174206162`, "comm", "cat ab", false, false},
		{"quoted hex-looking is text", "SYSCALL", `comm="414243"`, "comm", "414243", false, true},
		{"odd length stays", "SYSCALL", `comm=41424`, "comm", "41424", false, false},
		{"lower-case stays", "SYSCALL", `exe=6a62`, "exe", "6a62", false, false},
		{"not an encoded field", "SYSCALL", `a0=4142`, "a0", "4142", false, false},
		{"execve arg", "EXECVE", `a1=2D6C2061`, "a1", "-l a", false, false},
		{"execve split arg", "EXECVE", `a1[0]=41420A`, "a1[0]", "AB\n", false, false},
		{"execve argc not decoded", "EXECVE", `argc=10`, "argc", "10", false, false},
		{"execve a1_len not decoded", "EXECVE", `a1_len=4142`, "a1_len", "4142", false, false},
		{"invalid utf8", "EXECVE", `a2=FF41`, "a2", `\xffA`, false, false},
		{"valid utf8", "EXECVE", `a2=C3A9`, "a2", "é", false, false},
		{"backslash alone", "EXECVE", `a2=615C6E`, "a2", `a\n`, false, false},
		{"backslash needing escape", "EXECVE", `a2=5C786666`, "a2", `\x5cxff`, false, false},
		{"backslash with invalid", "EXECVE", `a2=5CFF`, "a2", `\x5c\xff`, false, false},
		{"proctitle NULs", "PROCTITLE", `proctitle=6C73002D6C`, "proctitle", "ls\x00-l", false, false},
		{"key list", "SYSCALL", `key=6B310161`, "key", "k1\x01a", false, false},
		{"path name", "PATH", `item=0 name=2F746D702F6120622E747874`, "name", "/tmp/a b.txt", false, false},
		{"null", "PATH", `name=(null)`, "name", "(null)", true, false},
		{"question", "USER_LOGIN", `addr=?`, "addr", "?", true, false},
		{"empty", "SYSCALL", `a0=`, "a0", "", true, false},
		{"quoted empty is not absent", "SYSCALL", `comm=""`, "comm", "", false, true},
		{"quoted ? is text", "SYSCALL", `comm="?"`, "comm", "?", false, true},
		{"tty data", "TTY", `data=6C730D`, "data", "ls\r", false, false},
		{"acct hex", "USER_START", `msg='acct=6A6F686E20646F65 res=success'`, "acct", "john doe", false, false},
		{"cwd", "CWD", `cwd=2F686F6D652F6D7920646972`, "cwd", "/home/my dir", false, false},
		{"cgroup", "SYSCALL", `cgroup=2F612062`, "cgroup", "/a b", false, false},
		{"kern module name", "KERN_MODULE", `name=6D6F64`, "name", "mod", false, false},
		{"saddr stays hex", "SOCKADDR", `saddr=020000507F000001`, "saddr", "020000507F000001", false, false},
		{"raw text with backslash-x", "SYSCALL", `subj=a\xff`, "subj", `a\x5cxff`, false, false},
		{"raw text with other backslash", "SYSCALL", `subj=a\b`, "subj", `a\b`, false, false},
		{"NUL in value", "EXECVE", `a0=00`, "a0", "\x00", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseLine([]byte("type=" + tc.typ + " msg=audit(1.000:1): " + tc.body))
			if err != nil {
				t.Fatal(err)
			}
			f, ok := r.Get(tc.key)
			if !ok {
				t.Fatalf("no %s in %+v", tc.key, r.Fields)
			}
			if f.Value != tc.value || f.Absent != tc.absent || f.Quoted != tc.quoted {
				t.Errorf("got Value=%q Absent=%v Quoted=%v, want %q %v %v", f.Value, f.Absent, f.Quoted, tc.value, tc.absent, tc.quoted)
			}
			if !utf8.ValidString(f.Value) {
				t.Errorf("Value not UTF-8")
			}
		})
	}
}

func TestParseLineInvalidUTF8Line(t *testing.T) {
	line := []byte("node=h\xff type=USER_CMD msg=audit(1.000:1): pid=1 cmd=\"a\xfeb\" cwd=\"c\\d\" exe=2F62696E\x1dUID=\"r\xfd\"")
	r, err := ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.ValidString(r.Text) || !utf8.ValidString(r.Key.Node) {
		t.Fatalf("not UTF-8: %q %q", r.Text, r.Key.Node)
	}
	for _, f := range append(append([]Field{}, r.Fields...), r.Enriched...) {
		if !utf8.ValidString(f.Key) || !utf8.ValidString(f.Raw()) || !utf8.ValidString(f.Value) {
			t.Errorf("field not UTF-8: %+v", f)
		}
	}
	m := fieldMap(r.Fields)
	checks := map[string]string{"cmd": "a\xfeb", "cwd": `c\d`, "exe": "/bin"}
	for k, want := range checks {
		if got := string(Unescape(m[k])); got != want {
			t.Errorf("%s: Unescape(%q) = %q, want %q", k, m[k], got, want)
		}
	}
	if got := string(Unescape(r.Key.Node)); got != "h\xff" {
		t.Errorf("node = %q", got)
	}
	if got := string(Unescape(fieldMap(r.Enriched)["UID"])); got != "r\xfd" {
		t.Errorf("enriched UID = %q", got)
	}
}

func TestParseLineCopies(t *testing.T) {
	line := []byte(`type=EXECVE msg=audit(1.000:1): argc=2 a0="ls" a1=2D6C`)
	r, err := ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	for i := range line {
		line[i] = 'X'
	}
	if r.Text != `type=EXECVE msg=audit(1.000:1): argc=2 a0="ls" a1=2D6C` || fieldMap(r.Fields)["a1"] != "-l" {
		t.Errorf("record aliases the input: %+v", r)
	}
}

// Decoded hex values share the allocation of Text: writing them must not touch Text, and
// values of one record must not overlap.
func TestParseLineHexBesideText(t *testing.T) {
	for _, line := range []string{
		`type=PROCTITLE msg=audit(1.000:1): proctitle=6C73002D6C`,
		`type=EXECVE msg=audit(1.000:1): argc=4 a0=6C73 a1="-l" a2=2F746D702F6120622E747874 a3=FF5C`,
		"type=TTY msg=audit(1.000:1): tty pid=5 data=6C730D\x1dUID=\"root\"",
		`type=SOCKADDR msg=audit(1.000:1): saddr=020000507F0000010000000000000000`,
	} {
		r, err := ParseLine([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		text, _, _ := strings.Cut(line, "\x1d")
		if r.Text != text {
			t.Errorf("Text = %q, want %q", r.Text, text)
		}
		for _, f := range r.Fields {
			want := f.Raw()
			if b, ok := DecodeHex(f.Raw()); ok && IsEncodedField(r.Type, f.Key) {
				want = Escape(b)
			}
			if f.Value != want {
				t.Errorf("%s: %s = %q, want %q", r.TypeName(), f.Key, f.Value, want)
			}
		}
	}
}

func TestParseJournal(t *testing.T) {
	rt := time.UnixMilli(1795635300000)
	tests := []struct {
		name    string
		j       JournalRecord
		text    string
		typ     uint16
		ms      int64
		wantErr string
	}{
		{"journald form", JournalRecord{Message: []byte(`SYSCALL arch=c000003e syscall=59 comm="ls"`), AuditType: []byte("1300"), AuditID: []byte("5"),
			SourceRealtime: []byte("1795635275481123"), BootID: []byte("b1"), Hostname: []byte("h1")},
			`type=SYSCALL msg=audit(1795635275.481:5): arch=c000003e syscall=59 comm="ls"`, 1300, 1795635275481, ""},
		{"bare body", JournalRecord{Message: []byte(`arch=c000003e syscall=59`), AuditType: []byte("1300"), AuditID: []byte("5"), RecordTime: rt},
			`type=SYSCALL msg=audit(1795635300.000:5): arch=c000003e syscall=59`, 1300, 1795635300000, ""},
		{"type from message", JournalRecord{Message: []byte(`EXECVE argc=1 a0="ls"`), AuditID: []byte("7"), SourceRealtime: []byte("1000001000")},
			`type=EXECVE msg=audit(1000.001:7): argc=1 a0="ls"`, 1309, 1000001, ""},
		{"unknown number", JournalRecord{Message: []byte(`AUDIT1999 foo=bar`), AuditType: []byte("1999"), AuditID: []byte("7"), SourceRealtime: []byte("1000001000")},
			`type=UNKNOWN[1999] msg=audit(1000.001:7): foo=bar`, 1999, 1000001, ""},
		{"unknown from message", JournalRecord{Message: []byte(`AUDIT1999 foo=bar`), AuditID: []byte("7"), SourceRealtime: []byte("1000001000")},
			`type=UNKNOWN[1999] msg=audit(1000.001:7): foo=bar`, 1999, 1000001, ""},
		{"user msg", JournalRecord{Message: []byte(`USER_ACCT pid=1 msg='op=PAM:accounting acct="root" res=success'`), AuditType: []byte("1101"), AuditID: []byte("9"), SourceRealtime: []byte("1000000000")},
			`type=USER_ACCT msg=audit(1000.000:9): pid=1 msg='op=PAM:accounting acct="root" res=success'`, 1101, 1000000, ""},
		{"no type", JournalRecord{Message: []byte(`arch=c000003e`), AuditID: []byte("1"), RecordTime: rt}, "", 0, 0, "no _AUDIT_TYPE"},
		{"bad type", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("x"), AuditID: []byte("1"), RecordTime: rt}, "", 0, 0, "_AUDIT_TYPE"},
		{"no id", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), RecordTime: rt}, "", 0, 0, "_AUDIT_ID"},
		{"bad id", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("-1"), RecordTime: rt}, "", 0, 0, "_AUDIT_ID"},
		{"bad time", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("1"), SourceRealtime: []byte("soon")}, "", 0, 0, "_SOURCE_REALTIME_TIMESTAMP"},
		{"no time", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("1")}, "", 0, 0, "record time"},
		{"type over 16 bits", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("65536"), AuditID: []byte("1"), RecordTime: rt}, "", 0, 0, "_AUDIT_TYPE"},
		{"signed type", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("+1300"), AuditID: []byte("1"), RecordTime: rt}, "", 0, 0, "_AUDIT_TYPE"},
		{"id over 64 bits", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("18446744073709551616"), RecordTime: rt}, "", 0, 0, "_AUDIT_ID"},
		{"time over int64", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("1"), SourceRealtime: []byte("9223372036854775808")}, "", 0, 0, "_SOURCE_REALTIME_TIMESTAMP"},
		{"negative time", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("1"), SourceRealtime: []byte("-5")}, "", 0, 0, "_SOURCE_REALTIME_TIMESTAMP"},
		// Digits only, as journald writes them (strconv also took a sign and any number of zeros).
		{"signed time", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("1"), SourceRealtime: []byte("+1000001000")}, "", 0, 0, "_SOURCE_REALTIME_TIMESTAMP"},
		{"21-digit id", JournalRecord{Message: []byte(`a=b`), AuditType: []byte("1300"), AuditID: []byte("000000000000000000001"), RecordTime: rt}, "", 0, 0, "_AUDIT_ID"},
		{"largest id", JournalRecord{Message: []byte(`AUDIT1999 a=b`), AuditType: []byte("1999"), AuditID: []byte("18446744073709551615"), SourceRealtime: []byte("1000001000")},
			`type=UNKNOWN[1999] msg=audit(1000.001:18446744073709551615): a=b`, 1999, 1000001, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJournal(tc.j)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != tc.text || r.Type != tc.typ || r.Key.UnixMilli != tc.ms || r.Source != SourceJournal {
				t.Errorf("got %q %d %d %v", r.Text, r.Type, r.Key.UnixMilli, r.Source)
			}
			if r.Key.Node != string(tc.j.Hostname) || r.Key.BootID != string(tc.j.BootID) {
				t.Errorf("key = %+v", r.Key)
			}
			// The journal shape must give the same fields as the audit.log shape.
			l, err := ParseLine([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.Fields, r.Fields) {
				t.Errorf("journal fields %+v != line fields %+v", r.Fields, l.Fields)
			}
		})
	}
}

func TestTypeNames(t *testing.T) {
	for _, tc := range []struct {
		n    uint16
		name string
	}{{1300, "SYSCALL"}, {1320, "EOE"}, {1309, "EXECVE"}, {1327, "PROCTITLE"}, {1400, "AVC"}, {1101, "USER_ACCT"}, {1999, "UNKNOWN[1999]"}, {0, "UNKNOWN[0]"}} {
		if got := TypeName(tc.n); got != tc.name {
			t.Errorf("TypeName(%d) = %q, want %q", tc.n, got, tc.name)
		}
		if n, ok := TypeByName(tc.name); !ok || n != tc.n {
			t.Errorf("TypeByName(%q) = %d %v", tc.name, n, ok)
		}
	}
	for _, bad := range []string{"", "NOPE", "UNKNOWN[", "UNKNOWN[x]", "UNKNOWN[70000]", "UNKNOWN[1]x"} {
		if _, ok := TypeByName(bad); ok {
			t.Errorf("TypeByName(%q) ok", bad)
		}
	}
	// The record-type constants used by the field type adjustments must be the real numbers.
	for name, n := range map[string]uint16{"USER_TTY": typeUserTTY, "TRUSTED_APP": typeTrustedApp, "ADD_GROUP": typeAddGroup,
		"DEL_GROUP": typeDelGroup, "GRP_MGMT": typeGrpMgmt, "SYSCALL": typeSyscall, "PATH": typePath, "EXECVE": typeExecve,
		"MQ_OPEN": typeMQOpen, "NETFILTER_PKT": typeNetfilterPkt, "KERN_MODULE": typeKernModule, "SECCOMP": typeSeccomp,
		"AVC": typeAVC, "CRYPTO_KEY_USER": typeCryptoKeyUser} {
		if got, ok := TypeByName(name); !ok || got != n {
			t.Errorf("%s = %d in the tables, %d in decode.go", name, got, n)
		}
	}
	if a := testing.AllocsPerRun(100, func() { _ = TypeName(1300); _ = TypeName(1999) }); a != 0 {
		t.Errorf("TypeName allocates %v times", a)
	}
}

// TestTypeByNameFast checks the open-addressed table against the generated map: every name,
// and near misses of every name (cut, extended, lower-cased, one byte changed), which probe
// the same or neighbouring slots.
func TestTypeByNameFast(t *testing.T) {
	n := 0
	check := func(name string) {
		want, wantOK := typeByName[name]
		if got, ok := typeByNameFast(name); got != want || ok != wantOK {
			t.Errorf("typeByNameFast(%q) = %d %v, want %d %v", name, got, ok, want, wantOK)
		}
		n++
	}
	for name := range typeByName {
		check(name)
		check(name[:len(name)-1])
		check(name[1:])
		check(name + "X")
		check(strings.ToLower(name))
		for i := range len(name) {
			check(name[:i] + "_" + name[i+1:])
		}
	}
	for _, s := range []string{"", "\x00", "A", "SYSCALL\x00", strings.Repeat("A", 300)} {
		check(s)
	}
	if n < 2000 {
		t.Fatalf("only %d names checked", n)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, out string }{
		{"", ""},
		{"plain", "plain"},
		{"é", "é"},
		{`a\b`, `a\b`},
		{`\x`, `\x`},
		{"\xff", `\xff`},
		{"a\xffb\\c", `a\xffb\x5cc`},
		{`\xff`, `\x5cxff`},
		{`\x41\x42`, `\x5cx41\x5cx42`},
		{"\xe2\x82", `\xe2\x82`},
		{"\x00", "\x00"},
	}
	for _, tc := range tests {
		if got := Escape([]byte(tc.in)); got != tc.out {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.out)
		}
		if got := Unescape(tc.out); !bytes.Equal(got, []byte(tc.in)) {
			t.Errorf("Unescape(%q) = %q, want %q", tc.out, got, tc.in)
		}
		if !utf8.ValidString(tc.out) {
			t.Errorf("%q not UTF-8", tc.out)
		}
	}
}

func TestSplitKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{{"", nil}, {"(null)", nil}, {"k", []string{"k"}}, {"a\x01b", []string{"a", "b"}}, {"a\x01\x01b\x01", []string{"a", "b"}}} {
		if got := SplitKeys(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitKeys(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsEncodedField(t *testing.T) {
	for _, k := range []string{"acct", "cmd", "comm", "cwd", "dir", "exe", "file", "key", "name", "ocomm", "path", "proctitle", "root_dir", "watch", "vm", "sw", "cgroup", "new-disk", "old-fs", "grp"} {
		if !IsEncodedField(1300, k) {
			t.Errorf("%s not encoded", k)
		}
	}
	if !IsEncodedField(1124, "data") || !IsEncodedField(typeExecve, "a12") || !IsEncodedField(typeExecve, "a3[2]") || !IsEncodedField(typeUserTTY, "msg") {
		t.Error("per-type encoded fields missing")
	}
	for _, k := range []string{"uid", "a0", "saddr", "arch", "res", "subj"} {
		if IsEncodedField(1300, k) {
			t.Errorf("%s encoded", k)
		}
	}
	if IsEncodedField(typeExecve, "argc") || IsEncodedField(typeExecve, "a1_len") {
		t.Error("EXECVE argc/aN_len encoded")
	}
}

func TestParseLineAllocs(t *testing.T) {
	lines := map[string]int{
		`type=SYSCALL msg=audit(1795635275.481:5): arch=c000003e syscall=59 success=yes exit=0 a0=55d a1=55e items=2 ppid=1 pid=2 auid=4294967295 uid=0 comm="ls" exe="/usr/bin/ls" key=(null)`: 2,
		// Hex-heavy types decode into spare room of the text's allocation; others need one more.
		`type=EXECVE msg=audit(1795635275.481:5): argc=3 a0="ls" a1=2D6C2061 a2=2F746D70`: 2,
		`type=PROCTITLE msg=audit(1795635275.481:5): proctitle=6C73002D6C`:                2,
		`type=SYSCALL msg=audit(1795635275.481:5): pid=2 comm=636174206162`:               3,
		"node=n type=SYSCALL msg=audit(1.000:5): uid=0 comm=\"ls\"\x1dUID=\"root\"":       2,
	}
	for line, want := range lines {
		b := []byte(line)
		if got := testing.AllocsPerRun(100, func() { _, _ = ParseLine(b) }); int(got) > want {
			t.Errorf("%.30q: %v allocations, want at most %d", line, got, want)
		}
	}
}
