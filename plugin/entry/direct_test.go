package entry

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/proto"
)

// TestInterpretedField: a field interpreted straight into the payload (flatObj.interpreted,
// how fitting events are written) is byte for byte what interpretAll and field write (how
// events with a plan are written), for every field of the real corpus and for the cases the
// corpus lacks: values and keys long enough to need multi-byte lengths, quoted values, and
// text that is not UTF-8.
func TestInterpretedField(t *testing.T) {
	recs := corpusRecords(t, "audit.log", "audit-enriched.log", "kernel.log")
	long := strings.Repeat("x", 200)
	for _, line := range []string{
		`type=SYSCALL msg=audit(1795637126.300:1): exe="/usr/bin/` + long + `" comm="a" key=` + long,
		`type=USER_CMD msg=audit(1795637126.300:2): cmd=` + strings.Repeat("41", 150) + ` ` + strings.Repeat("k", 130) + `=v ` + strings.Repeat("q", 120) + `="` + strings.Repeat("y", 5) + `"`,
		`type=PATH msg=audit(1795637126.300:3): name="` + strings.Repeat("z", 16500) + `" mode=0100644`,
		`type=USER_ACCT msg=audit(1795637126.300:4): pid=1 uid=0 acct="b\xffob" exe="/bin/su" hostname=é res=success`,
		`type=EXECVE msg=audit(1795637126.300:5): argc=2 a0="ls" a1=ff00c3`,
	} {
		r, err := parser.ParseLine([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var a arena
	var p payload
	est := 0
	fields, long2 := 0, 0
	for i := range recs {
		r := &recs[i]
		vals := a.interpretAll(&parser.Event{Records: []parser.Record{*r}}, nil)
		for j := range r.Fields {
			f := &r.Fields[j]
			if clean(f.Key) != f.Key {
				continue // keys that need cleaning go through fieldsWithRepeats
			}
			est = 0
			root := p.reset(&est)
			fo := root.flatChild("f")
			fo.field(f.Key, vals[j])
			fo.end()
			want := append([]byte(nil), p.flat...)
			wantEst := est

			root = p.reset(&est)
			est = 0
			fo = root.flatChild("f")
			fo.interpreted(r, f, nil)
			fo.end()
			if !bytes.Equal(p.flat, want) || est != wantEst {
				t.Fatalf("record %q field %s=%q:\ninterpreted %x (size %d)\nfield       %x (size %d)", r.Text, f.Key, vals[j], p.flat, est, want, wantEst)
			}
			if len(vals[j]) >= 128 || len(f.Key) >= 128 {
				long2++
			}
			fields++
		}
	}
	if fields < 10000 || long2 < 4 {
		t.Fatalf("compared %d fields, %d with long values or keys: the corpus did not load", fields, long2)
	}
}

// TestPlannedPathSame: every event of the corpus (audit.log, the ENRICHED log) gives the same
// entry whether it is written directly, streamed (how fitting events are), or as a tree
// through interpretAll and a plan that cuts nothing (how events over the cap start).
func TestPlannedPathSame(t *testing.T) {
	asm := parser.NewAssembler(parser.AssemblerConfig{MaxInFlight: 1 << 20})
	now := time.Unix(1795637126, 0)
	for _, r := range corpusRecords(t, "audit.log", "audit-enriched.log") {
		asm.Add(r, now)
	}
	items := asm.DrainAll(nil)
	b := NewBuilder(Options{NodeName: testNode, IncludeRaw: true, MaxEntryBytes: 1 << 30})
	wire := func(e *loggingpb.LogEntry) []byte {
		w, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	events, big := 0, 0
	for _, it := range items {
		if it.Kind != parser.ItemEvent {
			continue
		}
		direct := wire(b.Build(it))
		alwaysPlan = true
		planned := wire(b.Build(it))
		alwaysPlan = false
		if !bytes.Equal(direct, planned) {
			d, _ := Decoded(b.Build(it))
			t.Fatalf("event %d: direct and planned entries differ; direct:\n%v", it.Event.Key.Serial, d)
		}
		events++
		if len(direct) > 1<<14+1024 {
			big++ // objects over 16 KB: their heads grow when streamed
		}
	}
	if events < 200 || big == 0 { // the two logs hold 119 and 116 events
		t.Fatalf("only %d events compared, %d over 16 KB", events, big)
	}
}

// corpusRecords parses the lines of the parser's corpus files that are audit records.
func corpusRecords(t *testing.T, names ...string) []parser.Record {
	t.Helper()
	var recs []parser.Record
	for _, name := range names {
		f, err := os.Open("../../parser/testdata/corpus/" + name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			if r, err := parser.ParseLine(sc.Bytes()); err == nil {
				recs = append(recs, r)
			}
		}
		f.Close()
	}
	return recs
}
