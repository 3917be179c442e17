package delivery

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
)

// fakeLogging is an in-process Cloud Logging on 127.0.0.1, reached through the real apiv2
// client over real gRPC. script holds one reply per call; when it runs out, calls succeed.
type fakeLogging struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	mu       sync.Mutex
	script   []func(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) error
	calls    int
	accepted []*loggingpb.WriteLogEntriesRequest // requests answered OK (or partially)
	sizes    []int                               // proto.Size of every accepted request
	record   bool
}

func (f *fakeLogging) WriteLogEntries(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) (*loggingpb.WriteLogEntriesResponse, error) {
	f.mu.Lock()
	f.calls++
	var step func(context.Context, *loggingpb.WriteLogEntriesRequest) error
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	var err error
	if step != nil {
		err = step(ctx, req)
	}
	if f.record && (err == nil || partialErrors(err) != nil) {
		f.mu.Lock()
		f.accepted = append(f.accepted, req)
		f.sizes = append(f.sizes, proto.Size(req))
		f.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return &loggingpb.WriteLogEntriesResponse{}, nil
}

func (f *fakeLogging) push(steps ...func(context.Context, *loggingpb.WriteLogEntriesRequest) error) {
	f.mu.Lock()
	f.script = append(f.script, steps...)
	f.mu.Unlock()
}

func (f *fakeLogging) snapshot() ([]*loggingpb.WriteLogEntriesRequest, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*loggingpb.WriteLogEntriesRequest(nil), f.accepted...), append([]int(nil), f.sizes...)
}

func (f *fakeLogging) reset() { f.mu.Lock(); f.accepted, f.sizes = nil, nil; f.mu.Unlock() }

func (f *fakeLogging) callCount() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

func (f *fakeLogging) acceptedEntries() []*loggingpb.LogEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*loggingpb.LogEntry
	for _, r := range f.accepted {
		out = append(out, r.Entries...)
	}
	return out
}

func fail(err error) func(context.Context, *loggingpb.WriteLogEntriesRequest) error {
	return func(context.Context, *loggingpb.WriteLogEntriesRequest) error { return err }
}

// startFake serves a fakeLogging with the API's request limit (or maxRecv when > 0).
func startFake(t testing.TB, maxRecv int) (*fakeLogging, string) {
	t.Helper()
	return startFakeWith(t, maxRecv, true)
}

// startFakeWith can leave record off so that benchmarks do not accumulate requests.
func startFakeWith(t testing.TB, maxRecv int, record bool) (*fakeLogging, string) {
	t.Helper()
	if maxRecv == 0 {
		maxRecv = config.APIMaxRequestBytes
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLogging{record: record}
	s := grpc.NewServer(grpc.MaxRecvMsgSize(maxRecv))
	loggingpb.RegisterLoggingServiceV2Server(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return f, lis.Addr().String()
}

func testConfig(t testing.TB, addr string, extra config.MapGetter) config.Config {
	t.Helper()
	g := config.MapGetter{
		"Project_ID": "test-project", "Cluster_Name": "prod", "Cluster_Location": "europe-west1",
		"Node_Name": "node-1", "Labels": "env=test", "Endpoint": addr, "Insecure": "on",
	}
	for k, v := range extra {
		g[k] = v
	}
	c, err := config.Parse(g)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestWriter(t testing.TB, cfg config.Config) Writer {
	t.Helper()
	w, err := NewCloudWriter(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// makeEntry builds an entry shaped like plugin/entry's: a structpb payload with a summary,
// ~16 scalar fields and one record, padded to about pad bytes of payload when pad > 0.
func makeEntry(i, pad int) *loggingpb.LogEntry {
	f := map[string]*structpb.Value{
		"summary":  structpb.NewStringValue("uid=root ran /usr/bin/curl https://example.com in /root"),
		"type":     structpb.NewStringValue("SYSCALL"),
		"serial":   structpb.NewNumberValue(float64(1000 + i)),
		"arch":     structpb.NewStringValue("x86_64"),
		"syscall":  structpb.NewStringValue("execve"),
		"success":  structpb.NewBoolValue(true),
		"exit":     structpb.NewNumberValue(0),
		"pid":      structpb.NewNumberValue(4242),
		"ppid":     structpb.NewNumberValue(4200),
		"auid":     structpb.NewStringValue("unset"),
		"uid":      structpb.NewStringValue("root"),
		"gid":      structpb.NewStringValue("root"),
		"comm":     structpb.NewStringValue("curl"),
		"exe":      structpb.NewStringValue("/usr/bin/curl"),
		"key":      structpb.NewStringValue("exec"),
		"cwd":      structpb.NewStringValue("/root"),
		"proctitl": structpb.NewStringValue("curl https://example.com"),
	}
	if pad > 0 {
		f["argv"] = structpb.NewStringValue(strings.Repeat("a", pad))
	}
	return &loggingpb.LogEntry{
		InsertId:  "id-" + strconv.Itoa(i),
		Timestamp: timestamppb.New(time.Unix(1700000000, int64(i)*1000)),
		Severity:  ltype.LogSeverity_INFO,
		Labels:    map[string]string{"auditd/type": "SYSCALL", "auditd/key": "exec"},
		Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: &structpb.Struct{Fields: f}},
	}
}

func makeEntries(n, pad int) []*loggingpb.LogEntry {
	es := make([]*loggingpb.LogEntry, n)
	for i := range es {
		es[i] = makeEntry(i, pad)
	}
	return es
}

// checkAccounted asserts that every entry is in exactly one of Written, Rejected, Unsent.
func checkAccounted(t *testing.T, entries []*loggingpb.LogEntry, r Result) {
	t.Helper()
	if got := r.Written + len(r.Rejected) + len(r.Unsent); got != len(entries) {
		t.Fatalf("Written %d + Rejected %d + Unsent %d = %d, want %d", r.Written, len(r.Rejected), len(r.Unsent), got, len(entries))
	}
	if r.Outcome != Retry && len(r.Unsent) > 0 {
		t.Fatalf("Outcome %v with %d unsent", r.Outcome, len(r.Unsent))
	}
	if (r.Outcome == OK) != (r.Err == nil) {
		t.Fatalf("Outcome %v with Err %v", r.Outcome, r.Err)
	}
}

func ids(es []*loggingpb.LogEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s ", e.GetInsertId())
	}
	return b.String()
}
