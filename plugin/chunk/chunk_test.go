package chunk

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/parser"
)

type got struct {
	ts time.Time
	in Input
}

func collect(t testing.TB, data []byte, lib bool) ([]got, Stats) {
	t.Helper()
	var out []got
	fn := func(ts time.Time, in Input) { out = append(out, got{ts, in}) }
	var st Stats
	if lib {
		st = decodeLib(data, fn)
	} else {
		st = Decode(data, fn)
	}
	return out, st
}

// decodeBoth decodes with the hand-written and the library cursor and requires identical results.
func decodeBoth(t testing.TB, data []byte) ([]got, Stats) {
	t.Helper()
	a, sa := collect(t, data, false)
	b, sb := collect(t, data, true)
	if sa != sb {
		t.Fatalf("raw and library decoders disagree on stats: %+v vs %+v", sa, sb)
	}
	if len(a) != len(b) {
		t.Fatalf("raw and library decoders disagree: %d vs %d inputs", len(a), len(b))
	}
	for i := range a {
		if a[i].in.Kind == KindMalformed { // times are time.Now() and reasons name library errors
			if b[i].in.Kind != KindMalformed {
				t.Fatalf("input %d: raw malformed, library %v", i, b[i].in.Kind)
			}
			continue
		}
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("input %d differs:\nraw %+v\nlib %+v", i, a[i], b[i])
		}
	}
	return a, sa
}

const (
	lineSyscall = `type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 comm="curl"`
	lineNode    = `node=host1 type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="curl" a1="x"`
	lineKernel  = `Nov 14 22:13:20 host1 kernel: [ 12.345] audit: type=1400 audit(1700000000.200:43): apparmor="DENIED"`
)

var forms = func() []flbchunk.Options {
	var out []flbchunk.Options
	for _, tf := range []flbchunk.TimeFormat{flbchunk.EventTime, flbchunk.Uint, flbchunk.Int, flbchunk.Float} {
		for _, v2 := range []bool{false, true} {
			for _, bin := range []bool{false, true} {
				for _, m32 := range []bool{false, true} {
					out = append(out, flbchunk.Options{Time: tf, V2: v2, Bin: bin, Map32: m32})
				}
			}
		}
	}
	return out
}()

func wantTime(o flbchunk.Options, ts time.Time) time.Time {
	switch o.Time {
	case flbchunk.EventTime:
		return ts
	case flbchunk.Float:
		return ts // compared with a tolerance
	}
	return time.Unix(ts.Unix(), 0)
}

func TestDecodeEveryForm(t *testing.T) {
	ts := time.Unix(1700000000, 123456789)
	for _, o := range forms {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			w := flbchunk.NewWriter(o)
			w.GroupStart(false)
			w.Line(ts, lineSyscall)
			w.Line(ts, lineNode+"\n")
			w.Record(ts, []flbchunk.Field{flbchunk.F("message", lineKernel)})
			w.GroupEnd(false)
			w.GroupStart(true)
			w.Record(ts, []flbchunk.Field{
				flbchunk.F("_TRANSPORT", "audit"),
				flbchunk.F("_HOSTNAME", "node-a"),
				flbchunk.F("_BOOT_ID", "b00t"),
				flbchunk.F("_AUDIT_TYPE", "1300"),
				flbchunk.F("_AUDIT_ID", "42"),
				flbchunk.F("_SOURCE_REALTIME_TIMESTAMP", "1700000000123000"),
				{Key: "MESSAGE", Values: [][]byte{[]byte("SYSCALL arch=c000003e syscall=59"), []byte("second")}},
				flbchunk.F("PRIORITY", "6"),
			})
			w.GroupEnd(true)
			res, st := decodeBoth(t, w.Bytes())
			if st.Groups != 4 || st.Records != 4 || st.Line != 3 || st.Journal != 1 || st.Malformed != 0 {
				t.Fatalf("stats %+v", st)
			}
			wantLines := []string{lineSyscall, lineNode, lineKernel[strings.Index(lineKernel, "audit: type="):]}
			for i, want := range wantLines {
				if res[i].in.Kind != KindLine || string(res[i].in.Line) != want {
					t.Errorf("input %d: kind %v line %q, want %q", i, res[i].in.Kind, res[i].in.Line, want)
				}
			}
			j := res[3].in
			if j.Kind != KindJournal || string(j.Journal.Message) != "SYSCALL arch=c000003e syscall=59" ||
				string(j.Journal.AuditType) != "1300" || string(j.Journal.AuditID) != "42" ||
				string(j.Journal.BootID) != "b00t" || string(j.Journal.Hostname) != "node-a" ||
				string(j.Journal.SourceRealtime) != "1700000000123000" || string(j.Node) != "node-a" {
				t.Errorf("journal input %+v", j)
			}
			for i, r := range res {
				want := wantTime(o, ts)
				d := r.ts.Sub(want)
				if d < 0 {
					d = -d
				}
				if d > time.Microsecond || (o.Time != flbchunk.Float && d != 0) {
					t.Errorf("input %d time %v, want %v", i, r.ts, want)
				}
			}
			if !j.Journal.RecordTime.Equal(res[3].ts) {
				t.Errorf("journal RecordTime %v, want the record time %v", j.Journal.RecordTime, res[3].ts)
			}
		})
	}
}

func TestDecodeClassification(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	cases := []struct {
		name   string
		fields []flbchunk.Field
		kind   Kind
		text   string // Line for KindLine, Text for KindOther
		reason string
	}{
		{"journal by _AUDIT_TYPE", []flbchunk.Field{flbchunk.F("MESSAGE", "x"), flbchunk.F("_AUDIT_TYPE", "1300")}, KindJournal, "", ""},
		{"journal by _TRANSPORT", []flbchunk.Field{flbchunk.F("MESSAGE", "x"), flbchunk.F("_TRANSPORT", "audit")}, KindJournal, "", ""},
		{"kernel transport journal line", []flbchunk.Field{flbchunk.F("MESSAGE", "audit: type=1400 audit(1.2:3): x=1"), flbchunk.F("_TRANSPORT", "kernel")}, KindLine, "audit: type=1400 audit(1.2:3): x=1", ""},
		{"in_kmsg msg", []flbchunk.Field{flbchunk.F("priority", "5"), flbchunk.F("msg", "audit: type=1300 audit(1.2:3): x=1")}, KindLine, "audit: type=1300 audit(1.2:3): x=1", ""},
		{"log wins over message", []flbchunk.Field{flbchunk.F("message", "hello"), flbchunk.F("log", "type=X msg=audit(1.2:3): a=b")}, KindLine, "type=X msg=audit(1.2:3): a=b", ""},
		{"leading blanks and CRLF", []flbchunk.Field{flbchunk.F("log", "  type=X msg=audit(1.2:3): a=b\r\n")}, KindLine, "type=X msg=audit(1.2:3): a=b", ""},
		{"not audit text", []flbchunk.Field{flbchunk.F("log", "GET /index.html 200")}, KindOther, "GET /index.html 200", "log field is not an audit record"},
		{"no text key", []flbchunk.Field{flbchunk.F("a", "1"), flbchunk.F("b", "2")}, KindOther, "a=1 b=2", "no log, message"},
		{"invalid utf8 escaped", []flbchunk.Field{flbchunk.F("log", "bad \xff\\ byte")}, KindOther, `bad \xff\x5c byte`, "not an audit record"},
		{"empty map", nil, KindOther, "", "no log, message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true})
			w.Record(ts, tc.fields)
			res, st := decodeBoth(t, w.Bytes())
			if len(res) != 1 || st.Records != 1 {
				t.Fatalf("got %d inputs, stats %+v", len(res), st)
			}
			in := res[0].in
			if in.Kind != tc.kind {
				t.Fatalf("kind %v, want %v (%+v)", in.Kind, tc.kind, in)
			}
			switch tc.kind {
			case KindLine:
				if string(in.Line) != tc.text {
					t.Errorf("line %q, want %q", in.Line, tc.text)
				}
			case KindOther:
				if in.Text != tc.text || !strings.Contains(in.Reason, tc.reason) {
					t.Errorf("text %q reason %q, want %q / %q", in.Text, in.Reason, tc.text, tc.reason)
				}
			}
		})
	}
}

func TestDecodeNonStringValues(t *testing.T) {
	// {"log": 5, 7: "x", "n": [1, "a"], "s": [], "message": ["type=A msg=audit(1.2:3): k=v", "b"]}
	var b bytes.Buffer
	b.Write([]byte{0x92, 0x01, 0x85})
	b.Write([]byte{0xa3, 'l', 'o', 'g', 0x05})
	b.Write([]byte{0x07, 0xa1, 'x'})
	b.Write([]byte{0xa1, 'n', 0x92, 0x01, 0xa1, 'a'})
	b.Write([]byte{0xa1, 's', 0x90})
	msg := "type=A msg=audit(1.2:3): k=v"
	b.Write([]byte{0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0x92, byte(0xa0 | len(msg))})
	b.WriteString(msg)
	b.Write([]byte{0xa1, 'b'})
	res, st := decodeBoth(t, b.Bytes())
	if st.Records != 1 || res[0].in.Kind != KindLine || string(res[0].in.Line) != msg {
		t.Fatalf("stats %+v inputs %+v", st, res)
	}
}

func TestDecodeMalformedResync(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	bad := map[string][]byte{
		"BadArity": flbchunk.BadArity, "BadBody": flbchunk.BadBody, "BadTime": flbchunk.BadTime,
		"BadExt": flbchunk.BadExt, "NotArray": flbchunk.NotArray,
		"EmptyHeader": {0x92, 0x90, 0x80},
		"BigUint":     {0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80},
		"NaNTime":     {0x92, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1, 0x80},
		"NonStrKey":   {0x92, 0x01, 0x81, 0x80, 0x01}, // key {} → skipped, record "other"
	}
	for name, rec := range bad {
		t.Run(name, func(t *testing.T) {
			w := flbchunk.NewWriter(flbchunk.Options{V2: true})
			w.Line(ts, lineSyscall)
			w.Raw(rec)
			w.Line(ts, lineNode)
			res, st := decodeBoth(t, w.Bytes())
			if len(res) != 3 || res[0].in.Kind != KindLine || res[2].in.Kind != KindLine {
				t.Fatalf("inputs %+v", res)
			}
			if name == "NonStrKey" {
				if res[1].in.Kind != KindOther || st.Malformed != 0 {
					t.Fatalf("non-string key: %+v %+v", res[1].in, st)
				}
				return
			}
			if res[1].in.Kind != KindMalformed || st.Malformed != 1 || st.Records != 2 || st.TrailingBytes != 0 {
				t.Fatalf("stats %+v, middle %+v", st, res[1].in)
			}
			if !strings.Contains(res[1].in.Reason, "malformed fluent-bit record at bytes") || res[1].in.Text == "" {
				t.Errorf("reason %q text %q", res[1].in.Reason, res[1].in.Text)
			}
		})
	}
}

func TestDecodeTruncatedTail(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	one := flbchunk.NewWriter(flbchunk.Options{V2: true})
	one.Line(ts, lineSyscall)
	for _, tail := range [][]byte{flbchunk.Truncated(one.Bytes(), 5), append([]byte{0xc1}, one.Bytes()...)} {
		w := flbchunk.NewWriter(flbchunk.Options{V2: true})
		w.Line(ts, lineSyscall)
		w.Line(ts, lineNode)
		w.Raw(tail)
		res, st := decodeBoth(t, w.Bytes())
		if len(res) != 3 || res[0].in.Kind != KindLine || res[1].in.Kind != KindLine || res[2].in.Kind != KindMalformed {
			t.Fatalf("inputs %+v", res)
		}
		if st.Malformed != 1 || st.Records != 2 || st.TrailingBytes != len(tail) {
			t.Fatalf("stats %+v, want TrailingBytes %d", st, len(tail))
		}
		if !strings.Contains(res[2].in.Reason, "cannot be split into records") || !res[2].ts.Equal(ts) {
			t.Errorf("reason %q ts %v", res[2].in.Reason, res[2].ts)
		}
	}
}

// A truncated record in the middle swallows bytes of the next one (msgpack has no framing):
// whatever comes out, every byte is accounted for and stray bytes are merged into one item.
func TestDecodeTruncatedMiddle(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	one := flbchunk.NewWriter(flbchunk.Options{V2: true})
	one.Line(ts, lineSyscall)
	w := flbchunk.NewWriter(flbchunk.Options{V2: true})
	w.Line(ts, lineSyscall)
	w.Raw(flbchunk.Truncated(one.Bytes(), 5))
	w.Line(ts, lineNode)
	w.Line(ts, lineSyscall)
	res, st := decodeBoth(t, w.Bytes())
	if res[0].in.Kind != KindLine || string(res[0].in.Line) != lineSyscall || st.Malformed == 0 {
		t.Fatalf("stats %+v inputs %+v", st, res)
	}
	for k := 1; k < len(res); k++ {
		if res[k].in.Kind == KindMalformed && res[k-1].in.Kind == KindMalformed {
			t.Errorf("inputs %d and %d: consecutive malformed items were not merged", k-1, k)
		}
	}
}

func TestDecodeDeepNestingBounded(t *testing.T) {
	// 4 MB of nested array headers: must be reported, not recursed into.
	data := bytes.Repeat([]byte{0x91}, 4<<20)
	res, st := collect(t, data, false)
	if len(res) != 1 || res[0].in.Kind != KindMalformed || st.TrailingBytes != len(data) {
		t.Fatalf("stats %+v", st)
	}
}

func TestDecodeHugeLengthsRejected(t *testing.T) {
	for _, data := range [][]byte{
		{0x92, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff},                  // map32 of 4G pairs
		{0x92, 0x01, 0x81, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},       // str32 of 4 GB
		{0x92, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00},            // ext32 of 4 GB
		{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02},                  // array32 of 4G
		{0x92, 0x01, 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff}, // value array32
	} {
		res, st := decodeBoth(t, data)
		if len(res) != 1 || res[0].in.Kind != KindMalformed || st.TrailingBytes != len(data) {
			t.Errorf("% x: stats %+v inputs %+v", data, st, res)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		`back\slash`:      `back\slash`,
		"\xff":            `\xff`,
		"a\\b\xc3":        `a\x5cb\xc3`,
		"é\xe9":           `é\xe9`,
		"":                "",
		"\x00ctl\u2028ok": "\x00ctl\u2028ok",
	} {
		if got := escape([]byte(in)); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	ts := time.Unix(1700000000, 5)
	for _, o := range forms[:8] {
		w := flbchunk.NewWriter(o)
		w.GroupStart(false)
		w.Line(ts, lineSyscall)
		w.Record(ts, []flbchunk.Field{flbchunk.F("MESSAGE", "SYSCALL a=b"), flbchunk.F("_AUDIT_TYPE", "1300"),
			{Key: "X", Values: [][]byte{[]byte("1"), []byte("2")}}})
		w.GroupEnd(true)
		f.Add(w.Bytes())
	}
	f.Add(flbchunk.BadArity)
	f.Add(flbchunk.BadExt)
	f.Add([]byte{0x92, 0x01, 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		res, st := decodeBoth(t, data)
		if len(res) != st.Records+st.Malformed {
			t.Fatalf("%d inputs, stats %+v", len(res), st)
		}
		if st.Journal+st.Line+st.Other != st.Records || st.TrailingBytes > len(data) {
			t.Fatalf("inconsistent stats %+v", st)
		}
		for _, r := range res {
			if r.in.Kind == KindOther || r.in.Kind == KindMalformed {
				if r.in.Reason == "" {
					t.Fatalf("input without a reason: %+v", r.in)
				}
			}
		}
	})
}

func TestInputParse(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	w := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true})
	w.Line(ts, lineSyscall)
	w.Line(ts, "type=SYSCALL msg=audit(garbage")
	w.Record(ts, []flbchunk.Field{flbchunk.F("_TRANSPORT", "audit"), flbchunk.F("_HOSTNAME", "h1"),
		flbchunk.F("_AUDIT_TYPE", "1300"), flbchunk.F("_AUDIT_ID", "42"),
		flbchunk.F("_SOURCE_REALTIME_TIMESTAMP", "1700000000123000"),
		flbchunk.F("MESSAGE", "SYSCALL arch=c000003e syscall=59 success=yes exit=0")})
	w.Record(ts, []flbchunk.Field{flbchunk.F("log", "hello"), flbchunk.F("_HOSTNAME", "h2")})
	w.Raw(flbchunk.BadArity)
	var recs []string
	var unparsed []*parser.Unparsed
	Decode(w.Bytes(), func(ts time.Time, in Input) {
		r, u := in.Parse(ts, nil)
		if u != nil {
			unparsed = append(unparsed, u)
			return
		}
		recs = append(recs, fmt.Sprintf("%s:%d:%d", r.Source, r.Type, r.Key.Serial))
	})
	if strings.Join(recs, " ") != "audit.log:1300:42 journal:1300:42" {
		t.Errorf("records %v", recs)
	}
	if len(unparsed) != 3 {
		t.Fatalf("unparsed %+v", unparsed)
	}
	if !strings.HasPrefix(unparsed[0].Reason, "audit line: ") || unparsed[0].Text != "type=SYSCALL msg=audit(garbage" || !unparsed[0].Time.Equal(ts) {
		t.Errorf("parse error: %+v", unparsed[0])
	}
	if unparsed[1].Text != "hello" || unparsed[1].Node != "h2" || !strings.Contains(unparsed[1].Reason, "not an audit record") {
		t.Errorf("other: %+v", unparsed[1])
	}
	if !strings.Contains(unparsed[2].Reason, "malformed") || unparsed[2].Text != "93018002" {
		t.Errorf("malformed: %+v", unparsed[2])
	}
}
