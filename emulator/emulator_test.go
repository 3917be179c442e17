package emulator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging"
	vkit "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const proj = "projects/emu-test"

func clientOpts(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// start runs a Server on a loopback port and connects the real apiv2 client to it.
func start(t *testing.T, opts Options) (*Server, *vkit.Client) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	c, err := vkit.NewClient(context.Background(), clientOpts(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var node = &monitoredres.MonitoredResource{Type: "k8s_node", Labels: map[string]string{
	"project_id": "emu-test", "location": "europe-west1-b", "cluster_name": "c1", "node_name": "n1",
}}

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func textEntry(id string, ts time.Time, text string) *loggingpb.LogEntry {
	return &loggingpb.LogEntry{
		InsertId:  id,
		Timestamp: timestamppb.New(ts),
		Payload:   &loggingpb.LogEntry_TextPayload{TextPayload: text},
	}
}

func ids(es []*loggingpb.LogEntry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.GetInsertId()
	}
	return strings.Join(s, ",")
}

func listAll(t *testing.T, c *vkit.Client, req *loggingpb.ListLogEntriesRequest) []*loggingpb.LogEntry {
	t.Helper()
	var out []*loggingpb.LogEntry
	it := c.ListLogEntries(ctxT(t), req)
	for {
		e, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("ListLogEntries(%v): %v", req, err)
		}
		out = append(out, e)
	}
}

func TestWriteListRoundTrip(t *testing.T) {
	s, c := start(t, Options{})
	ctx := ctxT(t)
	audit := proj + "/logs/linux-auditd"
	// Request-level log name, resource and labels apply to entries that lack them.
	var entries []*loggingpb.LogEntry
	for i := range 6 {
		entries = append(entries, textEntry(fmt.Sprintf("a%d", i), t0.Add(time.Duration(i)*time.Minute), "event "+strconv.Itoa(i)))
	}
	entries[2].Labels = map[string]string{"node": "entry-wins"}
	_, err := c.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{
		LogName: audit, Resource: node, Labels: map[string]string{"node": "n1", "src": "test"}, Entries: entries,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another log in the same project and a log in another project, interleaved in time.
	other := textEntry("o1", t0.Add(90*time.Second), "other")
	other.LogName = proj + "/logs/other"
	foreign := textEntry("f1", t0.Add(150*time.Second), "foreign")
	foreign.LogName = "projects/someone-else/logs/linux-auditd"
	if _, err := c.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{Resource: node, Entries: []*loggingpb.LogEntry{other, foreign}}); err != nil {
		t.Fatal(err)
	}

	got := s.Entries()
	if len(got) != 8 {
		t.Fatalf("stored %d entries, want 8", len(got))
	}
	if got[0].LogName != audit || got[0].Resource.GetLabels()["node_name"] != "n1" || got[0].Labels["src"] != "test" || got[0].Labels["node"] != "n1" {
		t.Errorf("request defaults not merged into entry 0: %v", got[0])
	}
	if got[2].Labels["node"] != "entry-wins" || got[2].Labels["src"] != "test" {
		t.Errorf("entry label must win over request label, others added: %v", got[2].Labels)
	}
	if got[0].ReceiveTimestamp == nil {
		t.Error("receiveTimestamp not set")
	}
	if s.Requests() != 2 {
		t.Errorf("Requests() = %d, want 2", s.Requests())
	}

	all := listAll(t, c, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}})
	if want := "a0,a1,o1,a2,a3,a4,a5"; ids(all) != want {
		t.Errorf("all of %s = %s, want %s", proj, ids(all), want)
	}

	filter := fmt.Sprintf(`logName=%q AND timestamp>=%q timestamp < "%s"`, audit, t0.Add(time.Minute).Format(time.RFC3339), t0.Add(5*time.Minute).Format(time.RFC3339Nano))
	req := &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, Filter: filter}
	if got, want := ids(listAll(t, c, req)), "a1,a2,a3,a4"; got != want {
		t.Errorf("filter %s = %s, want %s", filter, got, want)
	}
	req.OrderBy = "timestamp desc"
	if got, want := ids(listAll(t, c, req)), "a4,a3,a2,a1"; got != want {
		t.Errorf("desc = %s, want %s", got, want)
	}

	// Paging: pages of 3 over 4 results, through the client's pager and tokens.
	req.OrderBy = ""
	pager := iterator.NewPager(c.ListLogEntries(ctx, req), 3, "")
	var page []*loggingpb.LogEntry
	tok, err := pager.NextPage(&page)
	if err != nil || ids(page) != "a1,a2,a3" || tok == "" {
		t.Fatalf("page 1 = %s token %q err %v", ids(page), tok, err)
	}
	// Entries arriving between pages must not shift the next page.
	if _, err := c.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{LogName: audit, Resource: node,
		Entries: []*loggingpb.LogEntry{textEntry("a0b", t0.Add(30*time.Second), "late")}}); err != nil {
		t.Fatal(err)
	}
	page = nil
	tok, err = pager.NextPage(&page)
	if err != nil || ids(page) != "a4" || tok != "" {
		t.Fatalf("page 2 = %s token %q err %v", ids(page), tok, err)
	}

	// Newest first, paged.
	req.OrderBy = "timestamp desc"
	pager = iterator.NewPager(c.ListLogEntries(ctx, req), 3, "")
	var descIDs []string
	for {
		page = nil
		tok, err := pager.NextPage(&page)
		if err != nil {
			t.Fatal(err)
		}
		descIDs = append(descIDs, ids(page))
		if tok == "" {
			break
		}
	}
	if got, want := strings.Join(descIDs, "|"), "a4,a3,a2|a1"; got != want {
		t.Errorf("desc pages = %s, want %s", got, want)
	}

	// A token from one query is refused for another.
	resp, err := c.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, PageSize: 1}).Next()
	_ = resp
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, Filter: filter, PageToken: "eyJxIjoxfQ"}).Next()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pageToken") {
		t.Errorf("foreign page token: %v, want InvalidArgument naming pageToken", err)
	}

	// Two resource names cover both projects.
	both := listAll(t, c, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj, "projects/someone-else"}, Filter: `timestamp>="2025-03-04T10:02:00Z" AND timestamp<="2025-03-04T10:03:00Z"`})
	if got, want := ids(both), "a2,f1,a3"; got != want {
		t.Errorf("two projects = %s, want %s", got, want)
	}
}

func TestListDeduplicatesInsertIDAndTimestamp(t *testing.T) {
	s, c := start(t, Options{})
	ctx := ctxT(t)
	w := func(es ...*loggingpb.LogEntry) {
		t.Helper()
		if _, err := c.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, Entries: es}); err != nil {
			t.Fatal(err)
		}
	}
	w(textEntry("dup", t0, "first"), textEntry("x", t0, "x"))
	w(textEntry("dup", t0, "re-sent"))                    // same id and time: a duplicate
	w(textEntry("dup", t0.Add(time.Nanosecond), "later")) // same id, other time: distinct
	if n := len(s.Entries()); n != 4 {
		t.Fatalf("stored %d, want all 4 (de-duplication is a query-time rule)", n)
	}
	got := listAll(t, c, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}})
	if ids(got) != "dup,x,dup" || got[0].GetTextPayload() != "first" || got[2].GetTextPayload() != "later" {
		t.Errorf("listed %s %v", ids(got), got)
	}
}

func TestDefaultsTimestampAndInsertID(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	s, c := start(t, Options{Now: func() time.Time { return now }})
	e := &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "x"}}
	if _, err := c.WriteLogEntries(ctxT(t), &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, Entries: []*loggingpb.LogEntry{e, proto.Clone(e).(*loggingpb.LogEntry)}}); err != nil {
		t.Fatal(err)
	}
	got := s.Entries()
	if !got[0].Timestamp.AsTime().Equal(now) || got[0].InsertId == "" || got[0].InsertId == got[1].InsertId {
		t.Errorf("defaults: %v / %v", got[0], got[1])
	}
}

// partialErrors extracts the WriteLogEntriesPartialErrors detail the way a client would.
func partialErrors(t *testing.T, err error) map[int32]*loggingpb.WriteLogEntriesPartialErrors {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v carries no gRPC status", err)
	}
	out := map[int32]*loggingpb.WriteLogEntriesPartialErrors{}
	for i, d := range st.Details() {
		if pe, ok := d.(*loggingpb.WriteLogEntriesPartialErrors); ok {
			out[int32(i)] = pe
		}
	}
	return out
}

func TestPartialSuccess(t *testing.T) {
	s, c := start(t, Options{})
	ctx := ctxT(t)
	big := strings.Repeat("x", 300<<10)
	mk := func() []*loggingpb.LogEntry {
		bad := textEntry("bad-name", t0, "x")
		bad.LogName = proj + "/logs/has space"
		return []*loggingpb.LogEntry{
			textEntry("ok0", t0, "fine"),
			bad,
			textEntry("ok2", t0, "fine"),
			textEntry("big", t0, big),
		}
	}
	req := &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, Entries: mk()}

	// Without partial_success the whole request fails and nothing is stored.
	_, err := c.WriteLogEntries(ctx, req)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "illegal character") {
		t.Fatalf("all-or-nothing write: %v, want InvalidArgument naming the first bad entry", err)
	}
	if n := len(s.Entries()); n != 0 {
		t.Fatalf("stored %d entries from a failed request", n)
	}
	if pe := partialErrors(t, err); len(pe) != 0 {
		t.Errorf("a request that wrote nothing carries per-entry errors: %v", pe)
	}

	req.PartialSuccess = true
	_, err = c.WriteLogEntries(ctx, req)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("partial write: %v, want InvalidArgument", err)
	}
	if st, _ := status.FromError(err); !strings.Contains(st.Message(), "illegal character") {
		t.Errorf("top-level message %q should be the first failed entry's", st.Message())
	}
	pes := partialErrors(t, err)
	if len(pes) != 1 {
		t.Fatalf("want exactly one WriteLogEntriesPartialErrors detail, got %v", pes)
	}
	var pe *loggingpb.WriteLogEntriesPartialErrors
	for _, v := range pes {
		pe = v
	}
	if len(pe.LogEntryErrors) != 2 || pe.LogEntryErrors[1] == nil || pe.LogEntryErrors[3] == nil {
		t.Fatalf("per-entry errors %v, want indices 1 and 3", pe.LogEntryErrors)
	}
	if codes.Code(pe.LogEntryErrors[3].Code) != codes.InvalidArgument ||
		!regexp.MustCompile(`^Log entry with size 30\d\.\dK exceeds maximum size of 256\.0K$`).MatchString(pe.LogEntryErrors[3].Message) {
		t.Errorf("entry 3 error = %v", pe.LogEntryErrors[3])
	}
	if got := ids(s.Entries()); got != "ok0,ok2" {
		t.Errorf("stored %s, want the valid ok0,ok2", got)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	t.Run("default 10 MB", func(t *testing.T) {
		s, c := start(t, Options{})
		var es []*loggingpb.LogEntry
		chunk := strings.Repeat("y", 200<<10)
		for i := 0; i < 53; i++ { // 53 × 200 KiB ≈ 10.35 MiB > 10485760 bytes
			es = append(es, textEntry(strconv.Itoa(i), t0, chunk))
		}
		req := &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, Entries: es, PartialSuccess: true}
		if proto.Size(req) <= DefaultMaxRequestBytes {
			t.Fatalf("test request is only %d bytes", proto.Size(req))
		}
		_, err := c.WriteLogEntries(ctxT(t), req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "Request payload size exceeds the limit: 10485760 bytes.") {
			t.Fatalf("oversized request: %v", err)
		}
		if len(s.Entries()) != 0 {
			t.Error("entries of an oversized request were stored")
		}
		req.Entries = es[:50] // 10 MB minus change
		if proto.Size(req) > DefaultMaxRequestBytes {
			t.Fatalf("50 entries are %d bytes", proto.Size(req))
		}
		if _, err := c.WriteLogEntries(ctxT(t), req); err != nil {
			t.Fatalf("request of %d bytes: %v", proto.Size(req), err)
		}
	})
	t.Run("exact boundary", func(t *testing.T) {
		const limit = 64 << 10
		s, c := start(t, Options{MaxRequestBytes: limit})
		req := &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, Entries: []*loggingpb.LogEntry{textEntry("b", t0, "")}}
		// Grow the payload until the request is exactly at the limit (varint lengths
		// make the size jump, so step one byte at a time near the end).
		req.Entries[0].Payload = &loggingpb.LogEntry_TextPayload{TextPayload: strings.Repeat("z", limit-proto.Size(req)-8)}
		for proto.Size(req) < limit {
			req.Entries[0].Payload = &loggingpb.LogEntry_TextPayload{TextPayload: req.Entries[0].GetTextPayload() + "z"}
		}
		if proto.Size(req) != limit {
			t.Fatalf("could not hit the limit exactly: %d", proto.Size(req))
		}
		if _, err := c.WriteLogEntries(ctxT(t), req); err != nil {
			t.Fatalf("request of exactly the limit: %v", err)
		}
		req.Entries[0].Payload = &loggingpb.LogEntry_TextPayload{TextPayload: req.Entries[0].GetTextPayload() + "z"}
		_, err := c.WriteLogEntries(ctxT(t), req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), fmt.Sprintf("exceeds the limit: %d bytes.", limit)) {
			t.Fatalf("limit+1: %v", err)
		}
		// Far beyond the limit, grpc's receive limit answers before the handler.
		req.Entries[0].Payload = &loggingpb.LogEntry_TextPayload{TextPayload: strings.Repeat("z", s.RecvLimit()+1)}
		_, err = c.WriteLogEntries(ctxT(t), req)
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("beyond grpc receive limit: %v, want ResourceExhausted", err)
		}
		if len(s.Entries()) != 1 {
			t.Errorf("stored %d, want only the at-limit request's entry", len(s.Entries()))
		}
	})
}

func TestEntrySizeLimit(t *testing.T) {
	s, c := start(t, Options{})
	req := &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, PartialSuccess: true}
	// Build an entry that, with the request defaults merged, is exactly 256 KiB.
	e := textEntry("edge", t0, "")
	merged := func() int {
		m := proto.Clone(e).(*loggingpb.LogEntry)
		m.LogName, m.Resource = req.LogName, node
		return proto.Size(m)
	}
	e.Payload = &loggingpb.LogEntry_TextPayload{TextPayload: strings.Repeat("q", DefaultMaxEntryBytes-merged()-8)}
	for merged() < DefaultMaxEntryBytes {
		e.Payload = &loggingpb.LogEntry_TextPayload{TextPayload: e.GetTextPayload() + "q"}
	}
	if merged() != DefaultMaxEntryBytes {
		t.Fatalf("merged size %d", merged())
	}
	over := proto.Clone(e).(*loggingpb.LogEntry)
	over.InsertId = "over" // same length as "edge": one more payload byte makes it 256 KiB + 1
	over.Payload = &loggingpb.LogEntry_TextPayload{TextPayload: e.GetTextPayload() + "q"}
	huge := textEntry("huge", t0, strings.Repeat("h", 400<<10))
	req.Entries = []*loggingpb.LogEntry{e, over, huge}

	_, err := c.WriteLogEntries(ctxT(t), req)
	pes := partialErrors(t, err)
	if len(pes) != 1 {
		t.Fatalf("err %v: want one partial-errors detail", err)
	}
	for _, pe := range pes {
		if len(pe.LogEntryErrors) != 2 {
			t.Fatalf("errors %v, want entries 1 and 2", pe.LogEntryErrors)
		}
		if m := pe.LogEntryErrors[1].GetMessage(); m != "Log entry with size 256.0K exceeds maximum size of 256.0K" {
			t.Errorf("entry 1: %q", m)
		}
		m := regexp.MustCompile(`^Log entry with size (\d+\.\d)K exceeds maximum size of 256\.0K$`).FindStringSubmatch(pe.LogEntryErrors[2].GetMessage())
		if m == nil {
			t.Fatalf("entry 2: %q", pe.LogEntryErrors[2].GetMessage())
		}
		if kb, _ := strconv.ParseFloat(m[1], 64); kb < 400 || kb > 401 {
			t.Errorf("entry 2 size reported as %sK, want about 400K", m[1])
		}
	}
	if got := ids(s.Entries()); got != "edge" {
		t.Errorf("stored %s, want only the exactly-256-KiB entry", got)
	}
}

// TestEntryValidation calls the handler directly so that inputs the Go client refuses to
// marshal (invalid UTF-8) still reach it.
func TestEntryValidation(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	many := map[string]string{}
	for i := range 65 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	jsonBad := &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{
		"argv": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("ok"), structpb.NewStringValue("bad\xff")}}),
	}}}}
	cases := []struct {
		name    string
		logName string // request-level
		res     *monitoredres.MonitoredResource
		entry   *loggingpb.LogEntry
		want    string // substring of the error; "" = accepted
	}{
		{"ok", proj + "/logs/linux-auditd", node, &loggingpb.LogEntry{}, ""},
		{"url-encoded slash", proj + "/logs/cloudaudit.googleapis.com%2Factivity", node, &loggingpb.LogEntry{}, ""},
		{"leading slash tolerated", "/" + proj + "/logs/x", node, &loggingpb.LogEntry{}, ""},
		{"entry log name wins", "", node, &loggingpb.LogEntry{LogName: "organizations/1/logs/x"}, ""},
		{"no log name", "", node, &loggingpb.LogEntry{}, "logName: missing"},
		{"raw slash in log id", "", node, &loggingpb.LogEntry{LogName: proj + "/logs/a/b"}, "must be URL-encoded"},
		{"illegal char", "", node, &loggingpb.LogEntry{LogName: proj + "/logs/a:b"}, "illegal character ':'"},
		{"encoded illegal char", "", node, &loggingpb.LogEntry{LogName: proj + "/logs/a%20b"}, "illegal character ' '"},
		{"bad escape", "", node, &loggingpb.LogEntry{LogName: proj + "/logs/a%zz"}, "not valid URL encoding"},
		{"unknown parent", "", node, &loggingpb.LogEntry{LogName: "buckets/x/logs/y"}, "parent \"buckets/x\""},
		{"no logs segment", "", node, &loggingpb.LogEntry{LogName: proj + "/linux-auditd"}, "not of the form"},
		{"empty log id", "", node, &loggingpb.LogEntry{LogName: proj + "/logs/"}, "LOG_ID after /logs/ is empty"},
		{"long log id", "", node, &loggingpb.LogEntry{LogName: proj + "/logs/" + strings.Repeat("a", 512)}, "less than 512"},
		{"no resource", proj + "/logs/l", nil, &loggingpb.LogEntry{}, "resource: missing"},
		{"entry resource without type", proj + "/logs/l", nil, &loggingpb.LogEntry{Resource: &monitoredres.MonitoredResource{}}, "resource.type"},
		{"future timestamp", proj + "/logs/l", node, &loggingpb.LogEntry{Timestamp: timestamppb.New(now.Add(25 * time.Hour))}, "more than 24 hours in the future"},
		{"near-future timestamp", proj + "/logs/l", node, &loggingpb.LogEntry{Timestamp: timestamppb.New(now.Add(23 * time.Hour))}, ""},
		{"invalid timestamp", proj + "/logs/l", node, &loggingpb.LogEntry{Timestamp: &timestamppb.Timestamp{Nanos: -1}}, "timestamp:"},
		{"65 labels", proj + "/logs/l", node, &loggingpb.LogEntry{Labels: many}, "65 labels exceed the limit of 64"},
		{"long label key", proj + "/logs/l", node, &loggingpb.LogEntry{Labels: map[string]string{strings.Repeat("k", 513): "v"}}, "over the limit of 512"},
		{"bad utf8 text", proj + "/logs/l", node, &loggingpb.LogEntry{Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "a\xc3"}}, "entry.text_payload: string is not valid UTF-8"},
		{"bad utf8 label key", proj + "/logs/l", node, &loggingpb.LogEntry{Labels: map[string]string{"\xff": "v"}}, "entry.labels key"},
		{"bad utf8 in json list", proj + "/logs/l", node, jsonBad, `entry.json_payload.fields["argv"].list_value.values[1].string_value`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.WriteLogEntries(context.Background(), &loggingpb.WriteLogEntriesRequest{
				LogName: tc.logName, Resource: tc.res, Entries: []*loggingpb.LogEntry{tc.entry}, PartialSuccess: true,
			})
			if tc.want == "" {
				if err != nil || len(s.Entries()) != 1 {
					t.Fatalf("rejected: %v", err)
				}
				if ln := s.Entries()[0].LogName; strings.HasPrefix(ln, "/") {
					t.Errorf("stored log name %q keeps the leading slash", ln)
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want InvalidArgument containing %q", err, tc.want)
			}
			if len(s.Entries()) != 0 {
				t.Error("invalid entry stored")
			}
		})
	}
}

func TestLabelValueTruncated(t *testing.T) {
	s, _ := New(Options{})
	long := strings.Repeat("é", 40<<10) // 80 KiB of 2-byte runes
	_, err := s.WriteLogEntries(context.Background(), &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node,
		Entries: []*loggingpb.LogEntry{{Labels: map[string]string{"k": long}}}})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Entries()[0].Labels["k"]
	if len(v) != 64<<10 || !strings.HasPrefix(long, v) {
		t.Errorf("label value truncated to %d bytes, want %d on a rune boundary", len(v), 64<<10)
	}
}

func TestRequestLevelValidation(t *testing.T) {
	s, c := start(t, Options{})
	cases := []struct {
		req  *loggingpb.WriteLogEntriesRequest
		want string
	}{
		{&loggingpb.WriteLogEntriesRequest{LogName: "nonsense", Resource: node, Entries: []*loggingpb.LogEntry{{}}}, "logName: \"nonsense\""},
		{&loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: &monitoredres.MonitoredResource{}, Entries: []*loggingpb.LogEntry{{}}}, "resource.type"},
	}
	for _, tc := range cases {
		tc.req.PartialSuccess = true
		_, err := c.WriteLogEntries(ctxT(t), tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want InvalidArgument %q", tc.req, err, tc.want)
		}
		if len(partialErrors(t, err)) != 0 {
			t.Errorf("request-level failure carries per-entry errors")
		}
	}
	if len(s.Entries()) != 0 {
		t.Error("stored entries from rejected requests")
	}
}

func TestFaults(t *testing.T) {
	req := func(ids ...string) *loggingpb.WriteLogEntriesRequest {
		r := &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, PartialSuccess: true}
		for _, id := range ids {
			r.Entries = append(r.Entries, textEntry(id, t0, id))
		}
		return r
	}

	t.Run("unavailable then ok", func(t *testing.T) {
		s, c := start(t, Options{Fault: UnavailableThenOK(2)})
		// The apiv2 client retries Unavailable itself: one call, three requests.
		if _, err := c.WriteLogEntries(ctxT(t), req("u")); err != nil {
			t.Fatal(err)
		}
		if s.Requests() != 3 || ids(s.Entries()) != "u" {
			t.Errorf("requests %d, entries %s; want 3 and u", s.Requests(), ids(s.Entries()))
		}
	})

	t.Run("unavailable without client retry", func(t *testing.T) {
		s, c := start(t, Options{Fault: UnavailableThenOK(1)})
		_, err := c.WriteLogEntries(ctxT(t), req("u"), noRetry())
		if status.Code(err) != codes.Unavailable || len(s.Entries()) != 0 {
			t.Fatalf("err %v, entries %d", err, len(s.Entries()))
		}
		if _, err := c.WriteLogEntries(ctxT(t), req("u"), noRetry()); err != nil || len(s.Entries()) != 1 {
			t.Fatalf("second call: %v, entries %d", err, len(s.Entries()))
		}
	})

	t.Run("resource exhausted", func(t *testing.T) {
		s, c := start(t, Options{Fault: ResourceExhausted()})
		_, err := c.WriteLogEntries(ctxT(t), req("q"))
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("err %v", err)
		}
		st, _ := status.FromError(err)
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if info.GetReason() != "RATE_LIMIT_EXCEEDED" {
			t.Errorf("details %v lack ErrorInfo RATE_LIMIT_EXCEEDED", st.Details())
		}
		if s.Requests() != 1 || len(s.Entries()) != 0 {
			t.Errorf("requests %d entries %d: quota errors are not retried by the client and store nothing", s.Requests(), len(s.Entries()))
		}
	})

	t.Run("per-entry rejections", func(t *testing.T) {
		deny := RejectEntries(func(_ int, e *loggingpb.LogEntry) bool { return strings.HasPrefix(e.GetInsertId(), "deny") },
			codes.PermissionDenied, "User not authorized.")
		s, c := start(t, Options{Fault: deny})
		_, err := c.WriteLogEntries(ctxT(t), req("a", "deny1", "b", "deny2"))
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("err %v", err)
		}
		var pe *loggingpb.WriteLogEntriesPartialErrors
		for _, v := range partialErrors(t, err) {
			pe = v
		}
		if len(pe.GetLogEntryErrors()) != 2 || codes.Code(pe.LogEntryErrors[1].Code) != codes.PermissionDenied || pe.LogEntryErrors[3].Message != "User not authorized." {
			t.Errorf("partial errors %v", pe)
		}
		if ids(s.Entries()) != "a,b" {
			t.Errorf("stored %s", ids(s.Entries()))
		}
		// Fault rejections and validation failures combine; the lowest index sets the code.
		r := req("deny", "x")
		r.Entries[1].LogName = "bad"
		_, err = c.WriteLogEntries(ctxT(t), r)
		for _, v := range partialErrors(t, err) {
			pe = v
		}
		if status.Code(err) != codes.PermissionDenied || codes.Code(pe.LogEntryErrors[1].GetCode()) != codes.InvalidArgument {
			t.Errorf("combined: %v %v", err, pe)
		}
		// Without partial_success a fault rejection fails everything.
		r = req("c", "deny3")
		r.PartialSuccess = false
		_, err = c.WriteLogEntries(ctxT(t), r)
		if status.Code(err) != codes.PermissionDenied || ids(s.Entries()) != "a,b" {
			t.Errorf("all-or-nothing: %v, stored %s", err, ids(s.Entries()))
		}
	})

	t.Run("hang honours client deadline", func(t *testing.T) {
		s, c := start(t, Options{Fault: Hang()})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		began := time.Now()
		_, err := c.WriteLogEntries(ctx, req("h"))
		if status.Code(err) != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want DeadlineExceeded", err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("returned after %v", d)
		}
		if len(s.Entries()) != 0 {
			t.Error("hung request stored entries")
		}
	})

	t.Run("sequence and SetFault", func(t *testing.T) {
		s, c := start(t, Options{Fault: Sequence(Fail(codes.Internal, "boom"), nil, ResourceExhausted())})
		codesSeen := []codes.Code{}
		for i := range 4 {
			_, err := c.WriteLogEntries(ctxT(t), req(strconv.Itoa(i)), noRetry())
			codesSeen = append(codesSeen, status.Code(err))
		}
		if fmt.Sprint(codesSeen) != fmt.Sprint([]codes.Code{codes.Internal, codes.OK, codes.ResourceExhausted, codes.OK}) {
			t.Errorf("codes %v", codesSeen)
		}
		s.SetFault(Times(1, Unavailable()))
		_, err := c.WriteLogEntries(ctxT(t), req("z"), noRetry())
		if status.Code(err) != codes.Unavailable {
			t.Errorf("after SetFault: %v", err)
		}
		s.SetFault(nil)
		if _, err := c.WriteLogEntries(ctxT(t), req("y"), noRetry()); err != nil {
			t.Error(err)
		}
		if ids(s.Entries()) != "1,3,y" || s.Requests() != 6 {
			t.Errorf("stored %s after %d requests", ids(s.Entries()), s.Requests())
		}
		s.Reset()
		if len(s.Entries()) != 0 || s.Requests() != 0 {
			t.Error("Reset left state")
		}
	})

	t.Run("fault index out of range", func(t *testing.T) {
		_, c := start(t, Options{Fault: func(context.Context, *loggingpb.WriteLogEntriesRequest) error {
			return EntryErrors{5: status.New(codes.Aborted, "x")}
		}})
		_, err := c.WriteLogEntries(ctxT(t), req("a"), noRetry())
		if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "entry 5 of a 1-entry request") {
			t.Errorf("err %v", err)
		}
	})
}

// noRetry turns off the apiv2 client's built-in retry so each call is one request.
func noRetry() gaxCallOption { return gaxNoRetry }

func TestJSONLAndPrint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "entries.jsonl")
	if err := os.WriteFile(path, []byte("{\"insertId\":\"kept\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var printed safeBuffer
	s, c := start(t, Options{JSONLFile: path, Print: &printed})
	payload, _ := structpb.NewStruct(map[string]any{"summary": "uid=root ran /bin/true", "argv": []any{"/bin/true", "ü"}})
	e := &loggingpb.LogEntry{InsertId: "j1", Timestamp: timestamppb.New(t0), Severity: ltype.LogSeverity_NOTICE,
		Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: payload}}
	for _, r := range []*loggingpb.WriteLogEntriesRequest{
		{LogName: proj + "/logs/l", Resource: node, Entries: []*loggingpb.LogEntry{e, textEntry("j2", t0, "line\nbreak")}},
		{LogName: proj + "/logs/l", Resource: node, Entries: []*loggingpb.LogEntry{textEntry("j3", t0, "x")}},
	} {
		if _, err := c.WriteLogEntries(ctxT(t), r); err != nil {
			t.Fatal(err)
		}
	}
	stored := s.Entries()
	check := func(name string, data []byte, skip int) {
		t.Helper()
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) != skip+len(stored) {
			t.Fatalf("%s has %d lines, want %d", name, len(lines), skip+len(stored))
		}
		for i, want := range stored {
			var got loggingpb.LogEntry
			if err := protojson.Unmarshal([]byte(lines[skip+i]), &got); err != nil {
				t.Fatalf("%s line %d: %v", name, skip+i, err)
			}
			if !proto.Equal(&got, want) {
				t.Errorf("%s line %d = %v, want %v", name, skip+i, &got, want)
			}
		}
	}
	check("print", printed.Bytes(), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	check("jsonl", data, 1) // appended after the existing line
}

func TestJSONLWriteFailureFailsRequest(t *testing.T) {
	s, c := start(t, Options{Print: failingWriter{}})
	_, err := c.WriteLogEntries(ctxT(t), &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node,
		Entries: []*loggingpb.LogEntry{textEntry("x", t0, "x")}}, noRetry())
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v, want Internal naming the write error", err)
	}
	if len(s.Entries()) != 0 {
		t.Error("entry stored although it could not be written out")
	}
}

func TestNewBadJSONLPath(t *testing.T) {
	_, err := New(Options{JSONLFile: filepath.Join(t.TempDir(), "missing-dir", "x.jsonl")})
	if err == nil || !strings.Contains(err.Error(), "missing-dir") {
		t.Errorf("err %v, want one naming the path", err)
	}
}

func TestListRequestValidation(t *testing.T) {
	_, c := start(t, Options{})
	cases := []struct {
		req  *loggingpb.ListLogEntriesRequest
		want string
	}{
		{&loggingpb.ListLogEntriesRequest{}, "resourceNames: at least one"},
		{&loggingpb.ListLogEntriesRequest{ResourceNames: []string{"emu-test"}}, `"emu-test" is not projects/ID`},
		{&loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/p/locations/x"}}, "is not projects/ID"},
		{&loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, PageSize: 1001}, "pageSize: 1001"},
		{&loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, OrderBy: "severity desc"}, "orderBy"},
		{&loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, OrderBy: "timestamp sideways"}, "orderBy"},
		{&loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, PageToken: "!!"}, "pageToken"},
	}
	for _, tc := range cases {
		_, err := c.ListLogEntries(ctxT(t), tc.req).Next()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want InvalidArgument containing %q", tc.req, err, tc.want)
		}
	}
	// A log view name is accepted and covers its project.
	if _, err := c.ListLogEntries(ctxT(t), &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj + "/locations/global/buckets/_Default/views/_AllLogs"}}).Next(); err != iterator.Done {
		t.Errorf("view resource name: %v", err)
	}
}

func TestBadFilters(t *testing.T) {
	_, c := start(t, Options{})
	cases := []struct{ filter, want string }{
		{`logName="a" OR logName="b"`, `unsupported filter syntax "OR"`},
		{`NOT logName="a"`, `unsupported filter syntax "NOT"`},
		{`-logName="a"`, `negation is not supported`},
		{`(logName="a")`, `parentheses`},
		{`textPayload:"foo"`, `unsupported filter operator ":"`},
		{`logName=~"a.*"`, `unsupported filter operator "=~"`},
		{`logName!~"a"`, `unsupported filter operator "!~"`},
		{`"just text"`, `free-text search`},
		{`error`, `free-text search`},
		{`httpRequest.status=500`, `unsupported filter field "httpRequest.status"`},
		{`timestamp>="yesterday"`, `timestamp value "yesterday" is not RFC 3339`},
		{`timestamp>="2025-01-02"`, `is not RFC 3339`},
		{`severity>=LOUD`, `severity value "LOUD"`},
		{`logName<"x"`, `only = and != are supported`},
		{`jsonPayload.n>3`, `only = and != are supported`},
		{`logName="unterminated`, `unterminated quoted string`},
		{`logName="a" AND`, `AND at the end`},
		{`logName=`, `value was expected`},
		{`logName`, `free-text search`},
		{`=x`, `field name was expected`},
		{`AND logName="a"`, `unsupported filter syntax "AND"`},
	}
	for _, tc := range cases {
		_, err := c.ListLogEntries(ctxT(t), &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, Filter: tc.filter}).Next()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("filter %s: err %v, want InvalidArgument containing %q", tc.filter, err, tc.want)
		}
	}
}

func TestFilterFields(t *testing.T) {
	s, c := start(t, Options{})
	js, _ := structpb.NewStruct(map[string]any{"user": map[string]any{"name": "root", "uid": 0}, "success": false})
	es := []*loggingpb.LogEntry{
		{InsertId: "e1", Timestamp: timestamppb.New(t0), Severity: ltype.LogSeverity_INFO, Labels: map[string]string{"type": "EXECVE", "k8s-pod/app": "x"},
			Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: js}},
		{InsertId: "e2", Timestamp: timestamppb.New(t0.Add(time.Second)), Severity: ltype.LogSeverity_WARNING, Labels: map[string]string{"type": "AVC"},
			Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "denied"}},
		{InsertId: "e3", Timestamp: timestamppb.New(t0.Add(2 * time.Second)), Severity: ltype.LogSeverity_ERROR, LogName: proj + "/logs/other",
			Resource: &monitoredres.MonitoredResource{Type: "gce_instance", Labels: map[string]string{"zone": "z1"}}},
	}
	if _, err := c.WriteLogEntries(ctxT(t), &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node, Entries: es}); err != nil {
		t.Fatal(err)
	}
	_ = s
	cases := []struct{ filter, want string }{
		{``, "e1,e2,e3"},
		{`severity>=WARNING`, "e2,e3"},
		{`severity = warning`, "e2"},
		{`severity<400`, "e1"},
		{`insertId="e2"`, "e2"},
		{`insertId!="e2"`, "e1,e3"},
		{`labels.type="EXECVE"`, "e1"},
		{`labels."k8s-pod/app"="x"`, "e1"},
		{`labels.type!="EXECVE"`, "e2,e3"}, // != matches entries without the label
		{`resource.type="gce_instance"`, "e3"},
		{`resource.labels.node_name="n1"`, "e1,e2"},
		{`textPayload="denied"`, "e2"},
		{`jsonPayload.user.name="root"`, "e1"},
		{`jsonPayload.user.uid=0`, "e1"},
		{`jsonPayload.success=false`, "e1"},
		{`jsonPayload.user.name="nobody"`, ""},
		{`jsonPayload.missing.deep="x"`, ""},
		{`logName="` + proj + `/logs/other"`, "e3"},
		{`logName != "` + proj + `/logs/other" severity>=INFO`, "e1,e2"},
		{"timestamp=\"2025-03-04T10:00:01Z\"", "e2"},
		{"timestamp>\"2025-03-04T10:00:00Z\"\nAND\ttimestamp<=\"2025-03-04T11:00:02+01:00\"", "e2,e3"},
		{`textPayload="a \"quoted\" \\ value"`, ""},
	}
	for _, tc := range cases {
		got := ids(listAll(t, c, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, Filter: tc.filter}))
		if got != tc.want {
			t.Errorf("filter %s = %q, want %q", tc.filter, got, tc.want)
		}
	}
}

// TestHighLevelClients drives the emulator with cloud.google.com/go/logging's Logger, the
// client a user would try first.
func TestHighLevelClients(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := ctxT(t)
	lc, err := logging.NewClient(ctx, proj, clientOpts(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	lg := lc.Logger("hl", logging.CommonResource(node), logging.CommonLabels(map[string]string{"via": "logger"}))
	for i := range 3 {
		if err := lg.LogSync(ctx, logging.Entry{Timestamp: time.Now().Add(time.Duration(i) * time.Millisecond), Severity: logging.Warning,
			Payload: map[string]any{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range s.Entries() {
		if e.LogName != proj+"/logs/hl" && e.LogName != proj+"/logs/diagnostic-log" {
			t.Errorf("unexpected entry %v", e)
		}
	}

	// Read back the way logadmin.Entries(NewestFirst) asks (logadmin itself is not
	// imported: it would pull cloud.google.com/go/iam into go.mod).
	_, c := start(t, Options{}) // a second emulator must not see the first one's entries
	if n := len(listAll(t, c, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}})); n != 0 {
		t.Fatalf("independent emulator lists %d entries", n)
	}
	vc, err := vkit.NewClient(ctx, clientOpts(addr)...)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	var ns []float64
	for _, e := range listAll(t, vc, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj},
		Filter: `logName="` + proj + `/logs/hl"`, OrderBy: "timestamp desc"}) {
		if e.Severity != ltype.LogSeverity_WARNING || e.Labels["via"] != "logger" || e.Resource.GetType() != "k8s_node" {
			t.Errorf("entry %v", e)
		}
		ns = append(ns, e.GetJsonPayload().GetFields()["n"].GetNumberValue())
	}
	if fmt.Sprint(ns) != "[2 1 0]" {
		t.Errorf("newest first: %v", ns)
	}
}

func TestConcurrentWritesAndLists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.jsonl")
	s, c := start(t, Options{JSONLFile: path})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				_, err := c.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{LogName: proj + "/logs/l", Resource: node,
					Entries: []*loggingpb.LogEntry{textEntry(fmt.Sprintf("w%d-%d", w, i), t0.Add(time.Duration(i)*time.Second), "x")}})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, PageSize: 5}).Next(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(listAll(t, c, &loggingpb.ListLogEntriesRequest{ResourceNames: []string{proj}, PageSize: 7})); n != 100 {
		t.Errorf("listed %d of 100", n)
	}
	if s.Requests() != 100 {
		t.Errorf("requests %d", s.Requests())
	}
	// The file lists the entries in the same order as Entries(), even under concurrency.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fileIDs []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var e loggingpb.LogEntry
		if err := protojson.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		fileIDs = append(fileIDs, e.InsertId)
	}
	if got, want := strings.Join(fileIDs, ","), ids(s.Entries()); got != want {
		t.Errorf("JSONL order %s\n differs from Entries() %s", got, want)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`logName="projects/p/logs/l" AND timestamp>="2025-01-01T00:00:00Z"`,
		`labels."a b"!=x severity>=WARNING`, `jsonPayload.a.b=1`, `(x)`, `a:"b"`, `"\`, `timestamp<"2025-01-01T00:00:00.123456789-07:00"`,
	} {
		f.Add(s)
	}
	e := &loggingpb.LogEntry{LogName: "projects/p/logs/l", Timestamp: timestamppb.New(t0), Labels: map[string]string{"a b": "x"},
		Payload: &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: map[string]*structpb.Value{"a": structpb.NewStringValue("s")}}}}
	empty := &loggingpb.LogEntry{}
	f.Fuzz(func(t *testing.T, s string) {
		conds, err := parseFilter(s)
		if err != nil {
			var fe *filterError
			if !errors.As(err, &fe) || fe.pos < 0 || fe.pos > len(s) {
				t.Fatalf("error %v has no valid position", err)
			}
			return
		}
		matchAll(conds, e)
		matchAll(conds, empty)
	})
}

func FuzzNormalizeLogName(f *testing.F) {
	for _, s := range []string{"projects/p/logs/l", "/folders/1/logs/a%2Fb", "projects//logs/x", "projects/p/logs/%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, msg := normalizeLogName(s)
		if msg != "" {
			return
		}
		// An accepted name is stable and covered by the parent's list prefix.
		if again, msg := normalizeLogName(name); msg != "" || again != name {
			t.Fatalf("%q normalized to %q, which renormalizes to %q / %q", s, name, again, msg)
		}
		parent, _, _ := strings.Cut(name, "/logs/")
		prefix, err := resourcePrefix(parent)
		if err != nil || !strings.HasPrefix(name, prefix) {
			t.Fatalf("accepted %q but its parent %q does not list it (%v)", name, parent, err)
		}
	})
}

type gaxCallOption = gax.CallOption

var gaxNoRetry = gax.WithRetry(func() gax.Retryer { return nil })

// safeBuffer is written by the server goroutine and read by the test.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
