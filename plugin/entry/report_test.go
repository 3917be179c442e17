package entry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/plugin/filter"
)

func TestBuildReport(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode})
	start := testTime
	r := &filter.Report{Start: start, End: start.Add(time.Minute),
		Filtered:  map[string]int{"SYSCALL key=exec": 100, "SERVICE_START": 20, "AVC": 3, "USER_LOGIN": 1},
		Collapsed: map[string]int{"SYSCALL key=cron": 59},
	}
	e := b.BuildReport(r)
	if e.Severity != ltype.LogSeverity_NOTICE || e.Labels["kind"] != "filter_report" || e.Labels["node"] != testNode {
		t.Fatalf("entry %v", e)
	}
	if !e.Timestamp.AsTime().Equal(r.End) {
		t.Fatalf("timestamp %v, want the interval's end", e.Timestamp.AsTime())
	}
	p := jsonOf(t, e)
	wantSummary := "held back 183 events in the last 1m0s: filtered 124 (SYSCALL key=exec: 100, SERVICE_START: 20, AVC: 3, …), " +
		"collapsed 59 (SYSCALL key=cron: 59)"
	if p["summary"] != wantSummary {
		t.Fatalf("summary %q\nwant    %q", p["summary"], wantSummary)
	}
	if path(p, "filtered", "SYSCALL key=exec") != 100.0 || path(p, "filtered", "USER_LOGIN") != 1.0 ||
		path(p, "collapsed", "SYSCALL key=cron") != 59.0 || p["rate_limited"] != nil || p["held_back"] != 183.0 {
		t.Fatalf("payload %v", p)
	}
	if p["interval_start"] != "2026-11-25T12:05:26.5Z" && p["interval_start"] != start.Format(time.RFC3339Nano) {
		t.Fatalf("interval_start %v", p["interval_start"])
	}
	// Stable id for the same interval and node; another interval, another id.
	if again := b.BuildReport(r); again.InsertId != e.InsertId {
		t.Fatalf("insertId not stable: %s %s", e.InsertId, again.InsertId)
	}
	r2 := *r
	r2.Start, r2.End = r.End, r.End.Add(time.Minute)
	if b.BuildReport(&r2).InsertId == e.InsertId {
		t.Fatalf("two intervals share an insertId")
	}
	if other := NewBuilder(Options{NodeName: "other-node"}).BuildReport(r); other.InsertId == e.InsertId {
		t.Fatalf("two nodes share an insertId")
	}

	// Rate limiting drops data nobody chose to drop: WARNING.
	r.RateLimited = map[string]int{"SYSCALL key=exec": 31}
	e = b.BuildReport(r)
	if e.Severity != ltype.LogSeverity_WARNING || !strings.HasSuffix(jsonOf(t, e)["summary"].(string), ", rate-limited 31 (SYSCALL key=exec: 31)") {
		t.Fatalf("rate-limited report: %v %v", e.Severity, jsonOf(t, e)["summary"])
	}

	if b.BuildReport(&filter.Report{Start: start, End: start}) != nil || b.BuildReport(nil) != nil {
		t.Fatalf("an empty report makes an entry")
	}
}

// Many kinds: the payload keeps the largest and sums the rest, so the counts still add up
// and the entry stays small.
func TestBuildReportManyKinds(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode})
	m := map[string]int{}
	total := 0
	for i := 0; i < 5000; i++ {
		k := fmt.Sprintf("SYSCALL key=k%04d-%s", i, strings.Repeat("x", 300))
		m[k] = i + 1
		total += i + 1
	}
	e := b.BuildReport(&filter.Report{Start: testTime, End: testTime.Add(time.Minute), Filtered: m})
	p := jsonOf(t, e)
	f := p["filtered"].(map[string]any)
	if len(f) != maxReportKinds+1 {
		t.Fatalf("%d kinds in the payload", len(f))
	}
	got := 0.0
	for _, v := range f {
		got += v.(float64)
	}
	if int(got) != total {
		t.Fatalf("kinds sum to %v, want %d", got, total)
	}
	if n := proto.Size(e); n > DefaultMaxEntryBytes {
		t.Fatalf("report entry is %d bytes", n)
	}
	if s := p["summary"].(string); len(s) > maxSummary {
		t.Fatalf("summary %d bytes", len(s))
	}
}

// Payload_Records off: the summary fields stay, the records list goes, and the entry shrinks.
func TestOmitRecords(t *testing.T) {
	full := NewBuilder(Options{NodeName: testNode, IncludeRaw: true})
	lean := NewBuilder(Options{NodeName: testNode, IncludeRaw: true, OmitRecords: true})
	ev := fullExec(t)
	ef, el := build(t, full, ev), build(t, lean, fullExec(t))
	pf, pl := jsonOf(t, ef), jsonOf(t, el)
	if pf["records"] == nil || pl["records"] != nil {
		t.Fatalf("records: full %v lean %v", pf["records"] != nil, pl["records"])
	}
	for _, k := range []string{"summary", "process", "user", "syscall", "paths", "keys", "serial", "type"} {
		if fmt.Sprint(pf[k]) != fmt.Sprint(pl[k]) {
			t.Errorf("%s differs: %v vs %v", k, pf[k], pl[k])
		}
	}
	if el.InsertId != ef.InsertId || el.Severity != ef.Severity || fmt.Sprint(el.Labels) != fmt.Sprint(ef.Labels) {
		t.Fatalf("identity differs: %v / %v", el, ef)
	}
	if sf, sl := proto.Size(ef), proto.Size(el); sl*2 > sf {
		t.Fatalf("without records %d bytes, with %d: expected at least half saved", sl, sf)
	}
}
