package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/googleapis/gax-go/v2/apierror"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/entry"
)

func TestWriteOK(t *testing.T) {
	f, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, nil))
	entries := makeEntries(25, 0)
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != 25 || r.Requests != 1 || r.Err != nil || len(r.Rejected) != 0 {
		t.Fatalf("result %+v", r)
	}
	accepted, sizes := f.snapshot()
	if len(accepted) != 1 {
		t.Fatalf("server got %d requests", len(accepted))
	}
	req := accepted[0]
	if req.LogName != "projects/test-project/logs/linux-auditd" || !req.PartialSuccess {
		t.Errorf("logName %q partialSuccess %v", req.LogName, req.PartialSuccess)
	}
	wantRes := map[string]string{"project_id": "test-project", "location": "europe-west1", "cluster_name": "prod", "node_name": "node-1"}
	if req.Resource.GetType() != "k8s_node" || !reflect.DeepEqual(req.Resource.GetLabels(), wantRes) {
		t.Errorf("resource %v", req.Resource)
	}
	if !reflect.DeepEqual(req.Labels, map[string]string{"env": "test"}) {
		t.Errorf("labels %v", req.Labels)
	}
	for i, e := range req.Entries {
		if !proto.Equal(e, entries[i]) {
			t.Fatalf("entry %d differs", i)
		}
		if e.LogName != "" || e.Resource != nil {
			t.Fatalf("entry %d carries its own logName/resource", i)
		}
	}
	if r.Bytes != sizes[0] {
		t.Errorf("Bytes %d, server measured %d", r.Bytes, sizes[0])
	}
	if r := w.Write(context.Background(), nil); r.Outcome != OK || r.Requests != 0 {
		t.Errorf("empty write: %+v", r)
	}
}

// TestUnavailableThenOK: no hidden client retries — each Unavailable is one Retry result,
// and the server sees exactly one call per Write.
func TestUnavailableThenOK(t *testing.T) {
	f, addr := startFake(t, 0)
	const n = 3
	for i := 0; i < n; i++ {
		f.push(fail(status.Error(codes.Unavailable, "backend unavailable")))
	}
	w := newTestWriter(t, testConfig(t, addr, nil))
	entries := makeEntries(10, 0)
	for i := 0; i < n; i++ {
		r := w.Write(context.Background(), entries)
		checkAccounted(t, entries, r)
		if r.Outcome != Retry || r.Written != 0 || len(r.Unsent) != len(entries) || status.Code(r.Err) != codes.Unavailable {
			t.Fatalf("attempt %d: %+v", i, r)
		}
		if ids(r.Unsent) != ids(entries) {
			t.Fatalf("Unsent not the entries in order")
		}
		if got := f.callCount(); got != i+1 {
			t.Fatalf("after attempt %d the server saw %d calls: the client retried by itself", i, got)
		}
	}
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != 10 {
		t.Fatalf("final attempt %+v", r)
	}
	if ids(f.acceptedEntries()) != ids(entries) {
		t.Fatalf("server holds %s", ids(f.acceptedEntries()))
	}
}

func TestServerStatuses(t *testing.T) {
	cases := []struct {
		code    codes.Code
		msg     string
		outcome Outcome
		auth    bool
	}{
		{codes.ResourceExhausted, "Quota exceeded for quota metric 'Write requests'", Retry, false},
		{codes.PermissionDenied, "Permission 'logging.logEntries.create' denied", Retry, true},
		{codes.Unauthenticated, "Request had invalid authentication credentials", Retry, true},
		{codes.Internal, "internal error", Retry, false},
		{codes.Aborted, "aborted", Retry, false},
		{codes.DeadlineExceeded, "server deadline", Retry, false},
		// "Request payload size exceeds the limit" is not a Drop of the batch: TestPayloadTooLargeSplits.
		{codes.InvalidArgument, "Log name contains illegal character", Drop, false},
		{codes.NotFound, "Project not found", Drop, false},
		{codes.Unimplemented, "unknown method", Drop, false},
	}
	f, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, nil))
	entries := makeEntries(5, 0)
	for _, tc := range cases {
		f.push(fail(status.Error(tc.code, tc.msg)))
		r := w.Write(context.Background(), entries)
		checkAccounted(t, entries, r)
		if r.Outcome != tc.outcome || status.Code(r.Err) != tc.code || IsAuthError(r.Err) != tc.auth {
			t.Errorf("%v %q: outcome %v err %v auth %v", tc.code, tc.msg, r.Outcome, r.Err, IsAuthError(r.Err))
			continue
		}
		if tc.outcome == Drop {
			if len(r.Rejected) != len(entries) || !strings.Contains(r.Rejected[0].Reason, tc.msg) || r.Rejected[0].Entry != entries[0] {
				t.Errorf("%v: rejected %+v", tc.code, r.Rejected)
			}
		}
	}
}

func partialStatus(t *testing.T, errs map[int32]*spb.Status) error {
	t.Helper()
	st, err := status.New(codes.InvalidArgument, "Log entry with size 388.9K exceeds maximum size of 256.0K").
		WithDetails(&loggingpb.WriteLogEntriesPartialErrors{LogEntryErrors: errs})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestPartialErrors(t *testing.T) {
	f, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, nil))
	entries := makeEntries(6, 0)
	f.push(fail(partialStatus(t, map[int32]*spb.Status{
		4:  {Code: int32(codes.InvalidArgument), Message: "Log entry with size 388.9K exceeds maximum size of 256.0K"},
		1:  {Code: int32(codes.InvalidArgument), Message: "Timestamp is more than 1 day in the future"},
		99: {Code: int32(codes.InvalidArgument), Message: "not one of ours"},
	})))
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != 4 || len(r.Rejected) != 2 || r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	if r.Rejected[0].Entry != entries[1] || r.Rejected[0].Reason != "InvalidArgument: Timestamp is more than 1 day in the future" {
		t.Errorf("rejected[0] = %s %q", r.Rejected[0].Entry.GetInsertId(), r.Rejected[0].Reason)
	}
	if r.Rejected[1].Entry != entries[4] || !strings.Contains(r.Rejected[1].Reason, "exceeds maximum size") {
		t.Errorf("rejected[1] = %s %q", r.Rejected[1].Entry.GetInsertId(), r.Rejected[1].Reason)
	}
	if r.Bytes == 0 {
		t.Error("a partly accepted request counts its bytes")
	}
}

// TestSplitting: > 10 MB of entries at the largest Max_Request_Bytes: several requests,
// each within the server's 10485760-byte limit, every entry arrives once, in order.
func TestSplitting(t *testing.T) {
	f, addr := startFake(t, 0)
	for _, maxBytes := range []string{"10485760", ""} {
		f.reset()
		cfg := testConfig(t, addr, config.MapGetter{"Max_Request_Bytes": maxBytes})
		w := newTestWriter(t, cfg)
		entries := makeEntries(120, 200_000) // ~24 MB
		r := w.Write(context.Background(), entries)
		checkAccounted(t, entries, r)
		if r.Outcome != OK || r.Written != len(entries) {
			t.Fatalf("Max_Request_Bytes %q: %+v", maxBytes, r)
		}
		accepted, sizes := f.snapshot()
		if len(sizes) < 3 || r.Requests != len(sizes) {
			t.Fatalf("%d requests (server saw %d)", r.Requests, len(sizes))
		}
		sum := 0
		for _, s := range sizes {
			if s > cfg.MaxRequestBytes {
				t.Errorf("request of %d bytes, limit %d", s, cfg.MaxRequestBytes)
			}
			sum += s
		}
		if sum != r.Bytes {
			t.Errorf("client counted %d bytes, server measured %d", r.Bytes, sum)
		}
		// The splitter fills requests: each but the last could not take the next entry.
		for i := 0; i+1 < len(sizes); i++ {
			next := protowire.SizeTag(4) + protowire.SizeBytes(proto.Size(accepted[i+1].Entries[0]))
			if sizes[i]+next <= cfg.MaxRequestBytes {
				t.Errorf("request %d has %d bytes; the next entry would have fit", i, sizes[i])
			}
		}
		if ids(f.acceptedEntries()) != ids(entries) {
			t.Fatal("server did not receive every entry once, in order")
		}
	}
}

// TestOversizedRequestRejectedByServer: a server whose limit is below ours answers
// ResourceExhausted "received message larger than max": re-sending can never work, so Drop.
// TestOversizedRequestRejectedByServer: a server with a smaller receive limit than ours
// refuses whole requests as too large; they are sent again in halves until they fit, so
// every entry arrives and none is dropped.
func TestOversizedRequestRejectedByServer(t *testing.T) {
	f, addr := startFake(t, 1<<20)
	f.record = true
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Max_Request_Bytes": "4M"}))
	entries := makeEntries(12, 200_000)
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != len(entries) || len(r.Rejected) != 0 {
		t.Fatalf("result outcome %v err %v written %d rejected %d", r.Outcome, r.Err, r.Written, len(r.Rejected))
	}
	if got := ids(f.acceptedEntries()); got != ids(entries) {
		t.Fatalf("server got %s, want every entry once in order", got)
	}
	if r.Requests <= 3 {
		t.Fatalf("%d requests: the oversized ones were not split", r.Requests)
	}
}

// TestPayloadTooLargeSplits: the API's own "Request payload size exceeds the limit" (it
// measures differently from the client, google-cloud-go#9479) makes the writer halve the
// request instead of dropping the whole batch. A single entry refused that way is rejected.
func TestPayloadTooLargeSplits(t *testing.T) {
	f, addr := startFake(t, 0)
	f.record = true
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Max_Request_Bytes": "4M"}))
	entries := makeEntries(8, 100_000)
	tooLarge := status.Error(codes.InvalidArgument, "Request payload size exceeds the limit: 10485760 bytes.")
	// The whole batch, then its first half, are refused; then everything is accepted.
	f.push(fail(tooLarge), fail(tooLarge))
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != len(entries) || r.Requests != 5 {
		t.Fatalf("result outcome %v written %d requests %d rejected %v", r.Outcome, r.Written, r.Requests, r.Rejected)
	}
	if got := ids(f.acceptedEntries()); got != ids(entries) {
		t.Fatalf("server got %s, want every entry once in order", got)
	}
	// One entry alone refused as too large: only that one is dropped, with the reason.
	f.reset()
	one := makeEntries(1, 1000)
	f.push(fail(tooLarge))
	r = w.Write(context.Background(), one)
	checkAccounted(t, one, r)
	if r.Outcome != Drop || len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0].Reason, "exceeds the limit") {
		t.Fatalf("single entry: %+v", r)
	}
}

// TestEntryLargerThanRequest: an entry that cannot fit in any request is rejected locally
// with a reason; its neighbours are sent.
func TestEntryLargerThanRequest(t *testing.T) {
	f, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Max_Request_Bytes": "512K"}))
	entries := []*loggingpb.LogEntry{makeEntry(0, 0), makeEntry(1, 600_000), makeEntry(2, 0)}
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != 2 || len(r.Rejected) != 1 || r.Rejected[0].Entry != entries[1] ||
		!strings.Contains(r.Rejected[0].Reason, "Max_Request_Bytes") {
		t.Fatalf("result %+v", r)
	}
	if got := ids(f.acceptedEntries()); got != "id-0 id-2 " {
		t.Fatalf("server got %s", got)
	}
}

func TestStopsAtFirstRetry(t *testing.T) {
	f, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Max_Request_Bytes": "512K"}))
	entries := makeEntries(8, 200_000) // 2 per request → 4 requests
	f.push(nil, fail(status.Error(codes.Unavailable, "try later")))
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != Retry || r.Written != 2 || r.Requests != 2 || ids(r.Unsent) != ids(entries[2:]) {
		t.Fatalf("result outcome %v written %d requests %d unsent %s", r.Outcome, r.Written, r.Requests, ids(r.Unsent))
	}
	if f.callCount() != 2 {
		t.Fatalf("server saw %d calls: Write kept sending after a retryable failure", f.callCount())
	}
	// Re-sending the unsent entries completes the delivery.
	r2 := w.Write(context.Background(), r.Unsent)
	if r2.Outcome != OK || ids(f.acceptedEntries()) != ids(entries) {
		t.Fatalf("resend %+v; server has %s", r2, ids(f.acceptedEntries()))
	}
}

func TestDropContinues(t *testing.T) {
	f, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Max_Request_Bytes": "512K"}))
	entries := makeEntries(4, 200_000)
	f.push(fail(status.Error(codes.InvalidArgument, "bad request")))
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != Drop || r.Written != 2 || len(r.Rejected) != 2 || r.Rejected[1].Entry != entries[1] {
		t.Fatalf("result %+v", r)
	}
	if got := ids(f.acceptedEntries()); got != ids(entries[2:]) {
		t.Fatalf("server got %s", got)
	}
}

func TestHangingServer(t *testing.T) {
	f, addr := startFake(t, 0)
	release := make(chan struct{})
	defer close(release)
	f.push(func(ctx context.Context, _ *loggingpb.WriteLogEntriesRequest) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	const timeout = 300 * time.Millisecond
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Write_Timeout": "300ms"}))
	entries := makeEntries(3, 0)
	start := time.Now()
	r := w.Write(context.Background(), entries)
	took := time.Since(start)
	checkAccounted(t, entries, r)
	if r.Outcome != Retry || status.Code(r.Err) != codes.DeadlineExceeded || len(r.Unsent) != 3 {
		t.Fatalf("result outcome %v err %v", r.Outcome, r.Err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Fatalf("Write took %v with Write_Timeout %v", took, timeout)
	}
}

func TestServerDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	w := newTestWriter(t, testConfig(t, addr, config.MapGetter{"Write_Timeout": "2s"}))
	entries := makeEntries(3, 0)
	start := time.Now()
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != Retry || r.Err == nil || len(r.Unsent) != 3 {
		t.Fatalf("result %+v", r)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("took %v", took)
	}
	t.Logf("server down: %v", r.Err)
}

func TestCanceledContext(t *testing.T) {
	_, addr := startFake(t, 0)
	w := newTestWriter(t, testConfig(t, addr, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	entries := makeEntries(2, 0)
	r := w.Write(ctx, entries)
	checkAccounted(t, entries, r)
	if r.Outcome != Retry {
		t.Fatalf("result %+v", r)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want Outcome
	}{
		{nil, OK},
		{status.Error(codes.OK, ""), OK},
		{status.Error(codes.Unavailable, "x"), Retry},
		{status.Error(codes.DeadlineExceeded, "x"), Retry},
		{status.Error(codes.Internal, "x"), Retry},
		{status.Error(codes.Aborted, "x"), Retry},
		{status.Error(codes.ResourceExhausted, "Quota exceeded"), Retry},
		{status.Error(codes.Unauthenticated, "x"), Retry},
		{status.Error(codes.PermissionDenied, "x"), Retry},
		{status.Error(codes.Canceled, "x"), Retry},
		{status.Error(codes.Unknown, "x"), Retry},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (11000000 vs. 10485760)"), Drop},
		{status.Error(codes.ResourceExhausted, "grpc: trying to send message larger than max (3 vs. 2)"), Drop},
		{status.Error(codes.InvalidArgument, "x"), Drop},
		{status.Error(codes.NotFound, "x"), Drop},
		{status.Error(codes.FailedPrecondition, "x"), Drop},
		{status.Error(codes.OutOfRange, "x"), Drop},
		{status.Error(codes.AlreadyExists, "x"), Drop},
		{status.Error(codes.Unimplemented, "x"), Drop},
		{status.Error(codes.DataLoss, "x"), Drop},
		{context.DeadlineExceeded, Retry},
		{context.Canceled, Retry},
		{fmt.Errorf("write: %w", context.DeadlineExceeded), Retry},
		{io.ErrUnexpectedEOF, Retry},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, Retry},
		{fmt.Errorf("wrapped: %w", status.Error(codes.InvalidArgument, "x")), Drop},
	}
	// The apiv2 client hands back *apierror.APIError; it must classify like its status.
	ae, ok := apierror.FromError(status.Error(codes.PermissionDenied, "denied"))
	if !ok {
		t.Fatal("apierror.FromError failed")
	}
	cases = append(cases, struct {
		err  error
		want Outcome
	}{ae, Retry})
	for _, tc := range cases {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if !IsAuthError(ae) || IsAuthError(status.Error(codes.Unavailable, "")) || IsAuthError(nil) {
		t.Error("IsAuthError")
	}
	for o, s := range map[Outcome]string{OK: "OK", Retry: "RETRY", Drop: "DROP", 7: "Outcome(7)"} {
		if o.String() != s {
			t.Errorf("%d.String() = %q", int(o), o.String())
		}
	}
}

func TestSplitExact(t *testing.T) {
	tmpl := requestTemplate(testConfig(t, "127.0.0.1:1", nil))
	base := proto.Size(tmpl)
	var entries []*loggingpb.LogEntry
	for i := 0; i < 300; i++ {
		entries = append(entries, makeEntry(i, (i*7919)%20000))
	}
	for _, max := range []int{config.MinRequestBytes, 1 << 20, config.APIMaxRequestBytes} {
		batches, rejected := split(entries, base, max)
		if len(rejected) != 0 {
			t.Fatalf("rejected %d", len(rejected))
		}
		n := 0
		for _, b := range batches {
			req := proto.Clone(tmpl).(*loggingpb.WriteLogEntriesRequest)
			req.Entries = b.entries
			if got := proto.Size(req); got != b.size || got > max {
				t.Fatalf("max %d: batch size %d, real %d", max, b.size, got)
			}
			n += len(b.entries)
		}
		if n != len(entries) {
			t.Fatalf("batches hold %d entries", n)
		}
	}
	// Count cap.
	tiny := makeEntries(2*MaxEntriesPerRequest+5, 0)
	batches, _ := split(tiny, base, config.APIMaxRequestBytes)
	if len(batches) != 3 || len(batches[0].entries) != MaxEntriesPerRequest || len(batches[2].entries) != 5 {
		t.Fatalf("count cap: %d batches", len(batches))
	}
	// nil entries are rejected, not sent.
	batches, rejected := split([]*loggingpb.LogEntry{nil, entries[0]}, base, config.APIMaxRequestBytes)
	if len(rejected) != 1 || len(batches) != 1 || batches[0].entries[0] != entries[0] {
		t.Fatalf("nil entry: %d batches %d rejected", len(batches), len(rejected))
	}
}

func TestDryRun(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1", config.MapGetter{"Labels": "env=test,auditd/type=from-config"})
	var buf strings.Builder
	w := NewDryRunWriter(&buf, cfg)
	entries := makeEntries(3, 0)
	before := proto.Clone(entries[0])
	r := w.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != OK || r.Written != 3 || r.Bytes != buf.Len() {
		t.Fatalf("result %+v", r)
	}
	if !proto.Equal(before, entries[0]) {
		t.Fatal("Write modified the caller's entry")
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var e loggingpb.LogEntry
		if err := protojson.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if e.LogName != "projects/test-project/logs/linux-auditd" || e.Resource.GetType() != "k8s_node" ||
			e.Resource.GetLabels()["node_name"] != "node-1" || e.InsertId != entries[i].InsertId {
			t.Errorf("line %d: %s", i, l)
		}
		// Request labels merge in without overriding the entry's own.
		if e.Labels["env"] != "test" || e.Labels["auditd/type"] != "SYSCALL" {
			t.Errorf("line %d labels %v", i, e.Labels)
		}
	}
	// Entries the plugin builds (payload encoded by plugin/entry) print with their payload.
	buf.Reset()
	built := corpusEntries(t, entry.Options{}, "audit.log")
	if r := w.Write(context.Background(), built); r.Outcome != OK || r.Written != len(built) {
		t.Fatalf("built entries: %+v", r)
	}
	for i, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		var e loggingpb.LogEntry
		if err := protojson.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		want, _ := entry.Payload(built[i])
		if got := e.GetJsonPayload(); got == nil || got.Fields["summary"].GetStringValue() == "" || !proto.Equal(got, want) {
			t.Fatalf("line %d: payload %v, want %v", i, got, want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// A broken stdout is a Retry with the rest unsent, not a silent loss.
	fw := NewDryRunWriter(&failAfter{n: 1}, cfg)
	r = fw.Write(context.Background(), entries)
	checkAccounted(t, entries, r)
	if r.Outcome != Retry || r.Written != 1 || ids(r.Unsent) != ids(entries[1:]) {
		t.Fatalf("failing writer: %+v", r)
	}
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(p), nil
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		path, want string
	}{
		{write("sa.json", `{"type":"service_account"}`), ""},
		{write("ext.json", `{"type":"external_account"}`), ""},
		{write("bad.json", `not json`), "not a JSON credentials file"},
		{write("odd.json", `{"type":"gdch_service_account"}`), `has type "gdch_service_account"`},
		{filepath.Join(dir, "missing.json"), "no such file"},
	} {
		_, err := credentialsType(tc.path)
		if (tc.want == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Credentials_File")) {
			t.Errorf("%s: %v", tc.path, err)
		}
	}
	cfg := testConfig(t, "127.0.0.1:1", config.MapGetter{"Insecure": "off", "Credentials_File": filepath.Join(dir, "bad.json")})
	if _, err := NewCloudWriter(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "Credentials_File") {
		t.Errorf("NewCloudWriter with a bad credentials file: %v", err)
	}
}

// TestSplitBoundary: with equal entries, a limit of exactly base+k entries holds k per
// request, and one byte less holds k-1 — the accounting is exact, not approximate.
func TestSplitBoundary(t *testing.T) {
	tmpl := requestTemplate(testConfig(t, "127.0.0.1:1", nil))
	base := proto.Size(tmpl)
	entries := makeEntries(40, 3000)
	for i := range entries {
		entries[i].InsertId = fmt.Sprintf("id-%04d", i) // equal sizes
		entries[i].Timestamp = entries[0].Timestamp
	}
	cost := protowire.SizeTag(4) + protowire.SizeBytes(proto.Size(entries[0]))
	for _, e := range entries {
		if protowire.SizeTag(4)+protowire.SizeBytes(proto.Size(e)) != cost {
			t.Fatal("entries differ in size")
		}
	}
	for _, k := range []int{1, 2, 7} {
		for _, tc := range []struct{ max, per int }{{base + k*cost, k}, {base + k*cost - 1, k - 1}} {
			if tc.per == 0 {
				continue
			}
			batches, rejected := split(entries, base, tc.max)
			if len(rejected) != 0 || len(batches[0].entries) != tc.per || batches[0].size > tc.max {
				t.Errorf("max %d: first batch has %d entries (%d bytes), want %d", tc.max, len(batches[0].entries), batches[0].size, tc.per)
			}
		}
	}
	// One byte short of a single entry: every entry is rejected locally.
	_, rejected := split(entries[:3], base, base+cost-1)
	if len(rejected) != 3 {
		t.Errorf("%d rejected, want 3", len(rejected))
	}
}

func TestEncodeRequest(t *testing.T) {
	req := requestTemplate(testConfig(t, "127.0.0.1:1", nil))
	req.Entries = makeEntries(50, 700)
	for _, e := range req.Entries {
		proto.Size(e) // as split does
	}
	// An entry changed after sizing must still be encoded correctly.
	req.Entries[7].GetJsonPayload().Fields["argv"] = structpb.NewStringValue(strings.Repeat("z", 5000))
	req.Entries[9].InsertId = ""
	b, err := encodeRequest(req, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != proto.Size(req) {
		t.Fatalf("encoded %d bytes, proto.Size %d", len(b), proto.Size(req))
	}
	var got loggingpb.WriteLogEntriesRequest
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, req) {
		t.Fatal("decoded request differs")
	}
	// Other messages go to the default codec.
	bs, err := newRequestCodec(0).Marshal(&loggingpb.WriteLogEntriesResponse{})
	if err != nil || bs.Len() != 0 {
		t.Fatalf("fallback: %v %d", err, bs.Len())
	}
}

// TestConcurrentWrites: fluent-bit Workers call Write from several threads at once.
func TestConcurrentWrites(t *testing.T) {
	f, addr := startFake(t, 0)
	cfg := testConfig(t, addr, nil)
	w := newTestWriter(t, cfg)
	var buf strings.Builder
	dw := NewDryRunWriter(&buf, cfg)
	const workers, per = 4, 50
	done := make(chan Result, 2*workers)
	for g := 0; g < workers; g++ {
		go func() {
			es := makeEntries(per, 0)
			for i, e := range es {
				e.InsertId = fmt.Sprintf("w%d-%d", g, i)
			}
			done <- w.Write(context.Background(), es)
			done <- dw.Write(context.Background(), es)
		}()
	}
	for i := 0; i < 2*workers; i++ {
		if r := <-done; r.Outcome != OK || r.Written != per {
			t.Fatalf("result %+v", r)
		}
	}
	if n := len(f.acceptedEntries()); n != workers*per {
		t.Fatalf("server has %d entries", n)
	}
	if n := strings.Count(buf.String(), "\n"); n != workers*per {
		t.Fatalf("dry run printed %d lines", n)
	}
}
