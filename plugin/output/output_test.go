package output

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output/fakelogging"
)

func corpus(t testing.TB, name string) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "parser", "testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

// lineChunk encodes audit.log or kernel lines as in_tail records.
func lineChunk(o flbchunk.Options, ts time.Time, lines []string) []byte {
	w := flbchunk.NewWriter(o)
	for _, l := range lines {
		w.Line(ts, l)
	}
	return append([]byte(nil), w.Bytes()...)
}

// journalChunk encodes journal JSON lines as in_systemd records.
func journalChunk(t testing.TB, o flbchunk.Options, lines []string) []byte {
	t.Helper()
	w := flbchunk.NewWriter(o)
	for _, l := range lines {
		ts, fields, err := flbchunk.JournalJSON([]byte(l), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.Record(ts, fields)
	}
	return append([]byte(nil), w.Bytes()...)
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+msg)
}

func (l *logs) find(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			out = append(out, s)
		}
	}
	return out
}

func startServer(t testing.TB) *fakelogging.Server {
	t.Helper()
	srv, err := fakelogging.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// newInstance builds an instance over the real Cloud Logging writer pointed at srv. Quiet and
// timeout are long so that only end markers and Close complete events, unless kv says otherwise.
func newInstance(t testing.TB, srv *fakelogging.Server, kv ...string) (*Instance, *logs) {
	t.Helper()
	return newInstanceLogging(t, srv, nil, kv...)
}

// newInstanceLogging is newInstance with the instance's log function wrapped by wrap (when
// not nil) from the start.
func newInstanceLogging(t testing.TB, srv *fakelogging.Server, wrap func(func(level, msg string)) func(level, msg string), kv ...string) (*Instance, *logs) {
	t.Helper()
	m := config.MapGetter{
		"Project_ID": "test-project", "Log_Name": "linux-auditd", "Cluster_Name": "c1",
		"Cluster_Location": "us-central1", "Node_Name": "node-1", "Endpoint": srv.Addr, "Insecure": "on",
		"Event_Quiet": "20s", "Event_Timeout": "60s", "Write_Timeout": "5s",
	}
	for k := 0; k+1 < len(kv); k += 2 {
		m[kv[k]] = kv[k+1]
	}
	cfg, err := config.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	w, err := delivery.NewCloudWriter(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := &logs{}
	logf := l.logf
	if wrap != nil {
		logf = wrap(logf)
	}
	i, err := New(cfg, w, logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i.Close(context.Background()) })
	return i, l
}

func closeNow(t testing.TB, i *Instance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	i.Close(ctx)
}

func ids(srv *fakelogging.Server) []string {
	var out []string
	for _, e := range srv.Accepted() {
		out = append(out, e.InsertId)
	}
	sort.Strings(out)
	return out
}

func requireUnique(t testing.TB, ids []string) {
	t.Helper()
	for k := 1; k < len(ids); k++ {
		if ids[k] == ids[k-1] {
			t.Fatalf("insertId %s written twice", ids[k])
		}
	}
}

var recordTime = time.Unix(1795637200, 0)

// Every record form gives the same entries: the audit data decides, not the msgpack shape.
func TestFlushEveryForm(t *testing.T) {
	lines := corpus(t, "audit.log")[:150]
	journal := corpus(t, "journal.jsonl")[:150]
	var ref, refJournal []string
	forms := []flbchunk.Options{
		{Time: flbchunk.EventTime, V2: true, Bin: true},
		{Time: flbchunk.EventTime, V2: false},
		{Time: flbchunk.Uint, V2: false, Bin: true},
		{Time: flbchunk.Int, V2: true, Map32: true},
		{Time: flbchunk.Float, V2: true, Bin: true, Map32: true},
	}
	for _, o := range forms {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			for _, kind := range []string{"audit.log", "journal"} {
				srv := startServer(t)
				i, _ := newInstance(t, srv)
				// Two chunks, so events straddle a chunk boundary.
				for _, half := range [][2]int{{0, 75}, {75, 150}} {
					var data []byte
					if kind == "journal" {
						data = journalChunk(t, o, journal[half[0]:half[1]])
					} else {
						data = lineChunk(o, recordTime, lines[half[0]:half[1]])
					}
					if out := i.Flush(data, "audit"); out != delivery.OK {
						t.Fatalf("%s: flush %v", kind, out)
					}
				}
				closeNow(t, i)
				c := i.Counters()
				got := ids(srv)
				requireUnique(t, got)
				if c.RecordsIn != 150 || c.Malformed != 0 || c.Unsendable != 0 || c.Pending != 0 {
					t.Fatalf("%s: counters %+v", kind, c)
				}
				if uint64(len(got)) != c.Entries || c.Written != c.Entries || c.EventsOut == 0 {
					t.Fatalf("%s: %d entries on the server, counters %+v", kind, len(got), c)
				}
				refp := &ref
				if kind == "journal" {
					refp = &refJournal
				}
				if *refp == nil {
					*refp = got
				} else if strings.Join(*refp, ",") != strings.Join(got, ",") {
					t.Fatalf("%s: form %+v gives other insertIds than the first form", kind, o)
				}
			}
		})
	}
}

// RETRY then replay: the replayed chunk adds nothing to the assembler, the queued entries are
// written with the same insertIds, and the server ends with exactly the reference set.
func TestRetryThenReplay(t *testing.T) {
	lines := corpus(t, "audit.log")[:200]
	data := lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, lines)

	refSrv := startServer(t)
	ref, _ := newInstance(t, refSrv)
	if out := ref.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("reference flush %v", out)
	}
	closeNow(t, ref)
	want := ids(refSrv)

	srv := startServer(t)
	i, l := newInstance(t, srv)
	srv.FailNext(fakelogging.Unavailable())
	if out := i.Flush(data, "audit"); out != delivery.Retry {
		t.Fatalf("flush with the server unavailable: %v, want Retry", out)
	}
	c1 := i.Counters()
	if c1.Pending == 0 || c1.Retries != 1 || c1.Written != 0 || len(l.find("write failed")) != 1 {
		t.Fatalf("after the failed write: %+v, logs %v", c1, l.lines)
	}
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("replay: %v", out)
	}
	c2 := i.Counters()
	if c2.Duplicates != c1.Duplicates+200 || c2.EventsOut != c1.EventsOut || c2.Entries != c1.Entries {
		t.Fatalf("replay fed the assembler again: before %+v after %+v", c1, c2)
	}
	if c2.Pending != 0 || c2.Written != c1.Entries {
		t.Fatalf("replay did not write the queued entries: %+v", c2)
	}
	closeNow(t, i)
	got := ids(srv)
	requireUnique(t, got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("entries after retry+replay differ from the reference: %d vs %d", len(got), len(want))
	}
	// Everything the failed request carried was re-sent with the same insertId.
	accepted := map[string]bool{}
	for _, id := range got {
		accepted[id] = true
	}
	for _, e := range srv.Requests()[0].Entries {
		if !accepted[e.InsertId] {
			t.Fatalf("entry %s of the failed request was never written", e.InsertId)
		}
	}
}

func TestBackpressure(t *testing.T) {
	lines := corpus(t, "audit.log")
	a := lineChunk(flbchunk.Options{V2: true}, recordTime, lines[:100])
	b := lineChunk(flbchunk.Options{V2: true}, recordTime, lines[100:200])
	srv := startServer(t)
	i, l := newInstance(t, srv)
	i.mu.Lock()
	i.maxPendingEntries = 5
	i.mu.Unlock()
	srv.FailNext(fakelogging.Unavailable(), fakelogging.Unavailable())
	if out := i.Flush(a, "audit"); out != delivery.Retry {
		t.Fatalf("first flush %v", out)
	}
	before := i.Counters()
	if before.Pending < 5 {
		t.Fatalf("pending %d, the test needs at least 5", before.Pending)
	}
	if out := i.Flush(b, "audit"); out != delivery.Retry {
		t.Fatalf("flush with a full queue %v, want Retry", out)
	}
	after := i.Counters()
	if after.RecordsIn != before.RecordsIn || after.Backpressure != 1 || after.Pending != before.Pending {
		t.Fatalf("a full queue must leave the chunk unread: before %+v after %+v", before, after)
	}
	if len(l.find("pending queue full")) != 1 {
		t.Fatalf("no backpressure log line: %v", l.lines)
	}
	// The server is back: the queue drains first, then the chunk is read.
	if out := i.Flush(b, "audit"); out != delivery.OK {
		t.Fatalf("flush after recovery %v", out)
	}
	if c := i.Counters(); c.RecordsIn != 200 || c.Pending != 0 {
		t.Fatalf("after recovery %+v", c)
	}
	closeNow(t, i)
	requireUnique(t, ids(srv))
}

// Events completed by time alone are written by the ticker, without another chunk.
func TestTickerWritesCompletedByTime(t *testing.T) {
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Event_Quiet", "50ms", "Event_Timeout", "200ms")
	// A SYSCALL with no PROCTITLE or EOE: only the timeout completes it.
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, []string{
		`type=SYSCALL msg=audit(1795637300.100:9001): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=0 ppid=1 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="sleep" exe="/usr/bin/sleep" key=(null)`,
	})
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Accepted()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the ticker wrote nothing within 5s: %+v", i.Counters())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := i.Counters(); c.EventsOut != 1 || c.Written != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestCloseWritesIncompleteFlagged(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv)
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, []string{
		`type=SYSCALL msg=audit(1795637300.200:9002): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=0 ppid=1 pid=4243 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="sleep" exe="/usr/bin/sleep" key=(null)`,
	})
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	if n := len(srv.Accepted()); n != 0 {
		t.Fatalf("%d entries written before Close", n)
	}
	closeNow(t, i)
	acc := srv.Accepted()
	if len(acc) != 1 || acc[0].Labels["incomplete"] != "true" {
		t.Fatalf("after Close: %v", acc)
	}
	if c := i.Counters(); c.Incomplete != 1 || c.Unsendable != 0 {
		t.Fatalf("counters %+v", c)
	}
	if len(l.find("exit: records in 1")) != 1 {
		t.Fatalf("no exit summary: %v", l.lines)
	}
	if out := i.Flush(data, "audit"); out != delivery.Retry {
		t.Fatalf("flush after Close: %v, want Retry", out)
	}
}

// Close is bounded: a hanging server does not hold it beyond ctx, and the loss is logged.
func TestCloseBoundedByContext(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv, "Write_Timeout", "300ms")
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, corpus(t, "audit.log")[:20])
	srv.Hang()
	i.Flush(data, "audit")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	i.Close(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a 1s bound", d)
	}
	srv.Release()
	if c := i.Counters(); c.Unsendable == 0 || len(l.find("could not be sent")) != 1 {
		t.Fatalf("loss not reported: %+v %v", c, l.lines)
	}
}

func TestConcurrentFlush(t *testing.T) {
	lines := corpus(t, "audit.log")
	// Chunks end at event boundaries: with concurrent flushes the chunks reach the assembler in
	// any order, and an event split over two chunks would arrive in fragments.
	var chunks [][]byte
	records := 0
	for start := 0; start < len(lines); {
		end := min(start+50, len(lines))
		for end < len(lines) && serialOf(lines[end]) == serialOf(lines[end-1]) {
			end++
		}
		chunks = append(chunks, lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, lines[start:end]))
		records += end - start
		start = end
	}
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Event_Quiet", "20ms", "Event_Timeout", "100ms")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := g; k < len(chunks); k += 4 {
				if out := i.Flush(chunks[k], "audit"); out != delivery.OK {
					t.Errorf("flush %d: %v", k, out)
				}
				_ = i.Counters()
			}
		}(g)
	}
	wg.Wait()
	closeNow(t, i)
	c := i.Counters()
	got := ids(srv)
	requireUnique(t, got)
	if c.RecordsIn != uint64(records) || uint64(len(got)) != c.Entries || c.Unsendable != 0 {
		t.Fatalf("%d entries written, counters %+v", len(got), c)
	}
}

// serialOf returns the "1.2:3" part of msg=audit(1.2:3).
func serialOf(line string) string {
	i := strings.Index(line, "audit(")
	if i < 0 {
		return line
	}
	j := strings.IndexByte(line[i:], ')')
	if j < 0 {
		return line
	}
	return line[i : i+j]
}

func TestMalformedCountedRestProcessed(t *testing.T) {
	lines := corpus(t, "audit.log")[:40]
	w := flbchunk.NewWriter(flbchunk.Options{V2: true})
	for k, l := range lines {
		w.Line(recordTime, l)
		if k == 10 {
			w.Raw(flbchunk.BadArity)
		}
		if k == 20 {
			w.Record(recordTime, []flbchunk.Field{flbchunk.F("log", "not an audit line")})
		}
	}
	data := w.Bytes()
	srv := startServer(t)
	i, l := newInstance(t, srv)
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	// A replay must not ship the unparsed inputs twice either.
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("replay %v", out)
	}
	closeNow(t, i)
	c := i.Counters()
	if c.Malformed != 2 || c.Unparsed != 2 || c.Duplicates != 42 || c.RecordsIn != 2*42 {
		t.Fatalf("counters %+v", c)
	}
	if len(l.find("malformed msgpack records")) != 2 {
		t.Fatalf("malformed records not logged: %v", l.lines)
	}
	// The replay's duplicates, unparsed inputs included, are visible: a debug line for the
	// chunk and the exit summary.
	if len(l.find("debug: chunk of audit: 42 records seen before (2 of them unparsed inputs)")) != 1 ||
		len(l.find("duplicates 42,")) != 1 {
		t.Fatalf("duplicates not reported: %v", l.lines)
	}
	got := ids(srv)
	requireUnique(t, got)
	if uint64(len(got)) != c.Entries {
		t.Fatalf("%d entries, counters %+v", len(got), c)
	}
}

// A request refused for good is logged and counted, the flush answers OK and nothing stays queued.
func TestDropLoggedNotRetried(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv)
	srv.FailNext(status.Error(codes.NotFound, "fake: log bucket gone"))
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, corpus(t, "audit.log")[:30])
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush %v, want OK", out)
	}
	c := i.Counters()
	if c.Rejected == 0 || c.Rejected != c.Entries || c.Pending != 0 || len(l.find("refused")) == 0 {
		t.Fatalf("counters %+v logs %v", c, l.lines)
	}
	if v := i.Metrics().Values(); v["entries_rejected{reason=NotFound}"] != float64(c.Rejected) {
		t.Fatalf("rejected by reason: %v", v)
	}
}

// TestFlushKeepsNoChunkBytes: nothing the plugin keeps after Flush returns points into the
// chunk (fluent-bit frees it, and the cgo layer hands the plugin fluent-bit's memory without
// a copy): overwriting each chunk right after its Flush changes no entry — neither the events
// still being assembled (they straddle the chunks) nor the entries queued after a failed
// write — for every input kind (journal records, audit.log lines, kernel lines, lines that do
// not parse, records that are not audit records, malformed bytes).
func TestFlushKeepsNoChunkBytes(t *testing.T) {
	journal := corpus(t, "journal.jsonl")
	lines := corpus(t, "audit.log")
	kernel := corpus(t, "kernel.log")
	var chunks [][]byte
	for k := 0; k < 3; k++ {
		o := flbchunk.Options{V2: true, Bin: k%2 == 0}
		w := flbchunk.NewWriter(o)
		// One capture in three forms: disjoint parts of it.
		w.Raw(journalChunk(t, o, journal[40*k:40*(k+1)]))
		for _, l := range lines[200+40*k : 200+40*(k+1)] {
			w.Line(recordTime, l)
		}
		for _, l := range kernel[400+20*k : 400+20*(k+1)] {
			w.Line(recordTime, l)
		}
		w.Record(recordTime, []flbchunk.Field{flbchunk.F("log", "not an audit line \xff"), flbchunk.F("_HOSTNAME", "n")})
		w.Record(recordTime, []flbchunk.Field{flbchunk.F("log", fmt.Sprintf("not an audit line %d", k))})
		w.Line(recordTime, fmt.Sprintf("type=SYSCALL msg=audit(bad:%d): a=b", k)) // an audit line that does not parse
		w.Raw(flbchunk.BadArity)
		chunks = append(chunks, append([]byte(nil), w.Bytes()...))
	}
	run := func(poison bool) map[string]*loggingpb.LogEntry {
		srv := startServer(t)
		i, _ := newInstance(t, srv)
		// The first write fails: the first chunk's entries (its unparsed and malformed inputs
		// too, built during that Flush) stay queued while the chunk is overwritten.
		srv.FailNext(status.Error(codes.Unavailable, "test: outage"))
		for k, c := range chunks {
			data := append([]byte(nil), c...)
			if out := i.Flush(data, "audit"); out != delivery.OK && (k > 0 || out != delivery.Retry) {
				t.Fatalf("flush %d: %v", k, out)
			}
			if poison {
				for k := range data {
					data[k] = 0xa5
				}
			}
		}
		closeNow(t, i)
		got := map[string]*loggingpb.LogEntry{}
		for _, e := range srv.Accepted() {
			got[e.InsertId] = e.LogEntry
		}
		return got
	}
	want, got := run(false), run(true)
	if len(want) < 60 || len(got) != len(want) {
		t.Fatalf("%d entries after overwriting the chunks, %d without", len(got), len(want))
	}
	for id, w := range want {
		if g := got[id]; !proto.Equal(g, w) {
			t.Fatalf("entry %s changed when its chunk was overwritten after Flush:\n%v\nwant\n%v", id, g, w)
		}
	}
}

// /healthz on the metrics listener turns 503 after UnhealthyAfter failed writes in a row, with
// the reason, and 200 again after a write succeeds: the readiness probe sees what fluent-bit's
// own health endpoint cannot (the plugin answers RETRY, never ERROR).
func TestHealthzFollowsWrites(t *testing.T) {
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Metrics_Listen", "127.0.0.1:0")
	url := "http://" + i.MetricsAddr().String() + "/healthz"
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("fresh instance: %d %q", code, body)
	}
	denied := status.Error(codes.PermissionDenied, "fake: logging.logEntries.create denied")
	srv.FailNext(denied, denied, denied, denied, denied)
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, corpus(t, "audit.log")[:30])
	for k := 1; k <= UnhealthyAfter; k++ {
		if out := i.Flush(data, "audit"); out != delivery.Retry {
			t.Fatalf("flush %d: %v, want RETRY", k, out)
		}
		code, body := get()
		if k < UnhealthyAfter && code != http.StatusOK {
			t.Fatalf("after %d failed writes: %d %q, want still ok", k, code, body)
		}
		if k == UnhealthyAfter && (code != http.StatusServiceUnavailable || !strings.Contains(body, "the last 5 writes to Cloud Logging delivered nothing") ||
			!strings.Contains(body, "PermissionDenied")) {
			t.Fatalf("after %d failed writes: %d %q, want 503 with the reason", k, code, body)
		}
	}
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush after the faults: %v", out)
	}
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("after a successful write: %d %q", code, body)
	}
}

// Writes that deliver nothing because every entry is refused for good (a wrong log name or
// project: NotFound) count for health like failed ones, although fluent-bit is answered OK and
// nothing is retried: a pod dropping everything must not report ready.
func TestHealthzCountsWritesRefusedForGood(t *testing.T) {
	srv := startServer(t)
	i, _ := newInstance(t, srv)
	lines := corpus(t, "audit.log")
	gone := status.Error(codes.NotFound, "fake: log bucket gone")
	srv.FailNext(gone, gone, gone, gone, gone)
	for k := 0; k < UnhealthyAfter; k++ {
		if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, lines[k*20:(k+1)*20]), "audit"); out != delivery.OK {
			t.Fatalf("flush %d: %v (refused for good is not retried)", k, out)
		}
	}
	if err := i.Health(); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("health after %d writes refused for good: %v", UnhealthyAfter, err)
	}
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, lines[200:220]), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	if err := i.Health(); err != nil {
		t.Fatalf("health after a delivered write: %v", err)
	}
}
