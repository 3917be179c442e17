package output

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output/fakelogging"
)

// sleepLine is a SYSCALL with no PROCTITLE or EOE: only time or Close completes its event.
const sleepLine = `type=SYSCALL msg=audit(1795637300.100:9001): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=0 ppid=1 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="sleep" exe="/usr/bin/sleep" key=(null)`

// gateWriter answers Retry while retry is set; otherwise, with a gate, it reports entering and
// blocks until the gate closes (ignoring ctx, as a slow writer might). onWrite runs first.
type gateWriter struct {
	mu      sync.Mutex
	retry   bool
	gate    chan struct{}
	entered chan struct{}
	written int
	onWrite func([]*loggingpb.LogEntry)
}

func (g *gateWriter) Write(_ context.Context, e []*loggingpb.LogEntry) delivery.Result {
	g.mu.Lock()
	retry, gate, entered, on := g.retry, g.gate, g.entered, g.onWrite
	g.mu.Unlock()
	if on != nil {
		on(e)
	}
	if retry {
		return delivery.Result{Outcome: delivery.Retry, Unsent: e, Err: context.DeadlineExceeded}
	}
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
	}
	g.mu.Lock()
	g.written += len(e)
	g.mu.Unlock()
	return delivery.Result{Outcome: delivery.OK, Written: len(e)}
}

func (g *gateWriter) Close() error { return nil }

func testConfig(t testing.TB, kv ...string) config.Config {
	t.Helper()
	m := config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n"}
	for k := 0; k+1 < len(kv); k += 2 {
		m[kv[k]] = kv[k+1]
	}
	cfg, err := config.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func closeSoon(i *Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	i.Close(ctx)
}

// waitRequests waits until srv has received n requests.
func waitRequests(t *testing.T, srv interface {
	Requests() []*loggingpb.WriteLogEntriesRequest
}, n int, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(srv.Requests()) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Close finishing between a flush's closed check and its decoding (the window, made certain
// by the hook): the chunk must be answered RETRY and left unread, not fed into an assembler
// nobody drains any more.
func TestFlushAfterCloseInTheWindow(t *testing.T) {
	for _, full := range []bool{false, true} {
		w := &gateWriter{}
		l := &logs{}
		i, err := New(testConfig(t, "Event_Quiet", "1m", "Event_Timeout", "10m"), w, l.logf)
		if err != nil {
			t.Fatal(err)
		}
		if full { // the flush makes room first, then decodes
			i.mu.Lock()
			i.maxPendingEntries = 0
			i.mu.Unlock()
		}
		i.beforeDecode = func() { i.Close(context.Background()) }
		out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, []string{sleepLine}), "a")
		c := i.Counters()
		if out != delivery.Retry || c.RecordsIn != 0 || c.RecordsInFlight != 0 || c.Retries != 1 {
			t.Fatalf("full queue %v: flush answered %v, counters %+v", full, out, c)
		}
		if len(l.find("flush during exit: chunk of a left to fluent-bit (RETRY)")) != 1 {
			t.Fatalf("full queue %v: not logged: %v", full, l.lines)
		}
	}
}

// The same race left to the scheduler (the reviewer's reproduction, which hit it in about one
// run in 150 before the fix): a flush inside its make-room write while Close starts. It must
// answer RETRY (chunk unread), or its records must have been drained and written by Close.
func TestFlushRacingCloseLosesNothing(t *testing.T) {
	cfg := testConfig(t, "Event_Quiet", "1m", "Event_Timeout", "10m")
	complete := lineChunk(flbchunk.Options{V2: true}, recordTime, []string{sleepLine, `type=EOE msg=audit(1795637300.100:9001): `})
	lone := lineChunk(flbchunk.Options{V2: true}, recordTime, []string{
		`type=SYSCALL msg=audit(1795637300.300:9003): arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=1 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="y" exe="/y" key=(null)`})
	stranded, fed := 0, 0
	for n := 0; n < 200; n++ {
		w := &gateWriter{retry: true}
		l := &logs{}
		i, err := New(cfg, w, l.logf)
		if err != nil {
			t.Fatal(err)
		}
		i.mu.Lock()
		i.maxPendingEntries = 1
		i.mu.Unlock()
		if out := i.Flush(complete, "a"); out != delivery.Retry { // the queue is now full
			t.Fatalf("first flush %v, want Retry", out)
		}
		w.mu.Lock()
		w.retry, w.gate, w.entered = false, make(chan struct{}), make(chan struct{}, 1)
		w.mu.Unlock()
		var out delivery.Outcome
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); out = i.Flush(lone, "a") }()
		<-w.entered // the flush is inside its make-room write, past the closed check
		go func() { defer wg.Done(); i.Close(context.Background()) }()
		for { // until Close has marked the instance closed
			i.mu.Lock()
			c := i.closed
			i.mu.Unlock()
			if c {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		close(w.gate)
		wg.Wait()
		c := i.Counters()
		if st := i.asm.Stats(); st.Pending > 0 {
			stranded++
			if stranded == 1 {
				t.Logf("run %d: flush answered %v, %d records left in the assembler after Close (counters %+v)", n, out, st.Pending, c)
			}
		}
		// Every record read is accounted for and written; none is left in flight.
		switch c.RecordsIn {
		case 2:
			if out != delivery.Retry {
				t.Fatalf("run %d: the chunk was not read but the flush answered %v", n, out)
			}
		case 3:
			fed++
		default:
			t.Fatalf("run %d: %d records read, want 2 or 3", n, c.RecordsIn)
		}
		w.mu.Lock()
		written := w.written
		w.mu.Unlock()
		checkAccounting(t, "after Close", c)
		if c.RecordsInFlight != 0 || uint64(written) != c.Entries || c.Unsendable != 0 {
			t.Fatalf("run %d: flush %v, %d entries written, counters %+v", n, out, written, c)
		}
	}
	if stranded > 0 {
		t.Errorf("%d/200 runs left records in the assembler after Close", stranded)
	}
	t.Logf("the racing chunk was read before Close's drain in %d/200 runs, refused (RETRY) in the rest", fed)
}

// Close honours its own bound while the ticker is in the middle of a write to a hung server:
// it interrupts that write instead of waiting out Write_Timeout, and reports what it could
// not send.
func TestCloseBoundWhileTickerWrites(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv, "Event_Quiet", "20ms", "Event_Timeout", "100ms", "Write_Timeout", "4s")
	srv.Hang()
	// The event is incomplete, so this flush writes nothing; the ticker writes it into the hang.
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, []string{sleepLine}), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	if !waitRequests(t, srv, 1, 3*time.Second) {
		t.Fatalf("the ticker made no write: %+v", i.Counters())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	i.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a 500ms bound (Write_Timeout 4s)", d)
	}
	srv.Release()
	if c := i.Counters(); c.Unsendable != 1 || c.Written != 0 || len(l.find("could not be sent")) != 1 {
		t.Fatalf("the unsent entry is not reported: %+v %v", c, l.lines)
	}
}

// The ticker's interrupted entries are sent by Close itself, under Close's bound, and written
// once.
func TestCloseResendsInterruptedTickerWrite(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv, "Event_Quiet", "20ms", "Event_Timeout", "100ms", "Write_Timeout", "4s")
	srv.Hang()
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, []string{sleepLine}), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	if !waitRequests(t, srv, 1, 3*time.Second) {
		t.Fatalf("the ticker made no write: %+v", i.Counters())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		i.Close(ctx)
	}()
	// Close's own write arrives long before the ticker's Write_Timeout would have ended.
	ok := waitRequests(t, srv, 2, 2*time.Second)
	srv.Release()
	<-done
	if !ok {
		t.Fatalf("Close did not send within 2s while the ticker's write hung (Write_Timeout 4s)")
	}
	acc, first := srv.Accepted(), srv.Requests()[0].Entries
	if len(acc) != 1 || len(first) != 1 || acc[0].InsertId != first[0].InsertId {
		t.Fatalf("accepted %d entries, want the one of the interrupted write", len(acc))
	}
	if c := i.Counters(); c.Written != 1 || c.Unsendable != 0 || len(l.find("could not be sent")) != 0 {
		t.Fatalf("counters %+v logs %v", c, l.lines)
	}
}

// A flush never stalls fluent-bit much longer than Write_Timeout on a hung server, even when
// it first has to wait for the ticker's write to the same server.
func TestFlushBoundWhileTickerWrites(t *testing.T) {
	const writeTimeout = 3 * time.Second
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Event_Quiet", "20ms", "Event_Timeout", "100ms", "Write_Timeout", writeTimeout.String())
	srv.Hang()
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, []string{sleepLine}), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	if !waitRequests(t, srv, 1, 3*time.Second) {
		t.Fatalf("the ticker made no write: %+v", i.Counters())
	}
	time.Sleep(300 * time.Millisecond) // well into the ticker's write
	line2 := `type=SYSCALL msg=audit(1795637300.200:9002): arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=1 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="x" exe="/x" key=(null)`
	eoe := `type=EOE msg=audit(1795637300.200:9002): `
	start := time.Now()
	out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, []string{line2, eoe}), "audit")
	d := time.Since(start)
	// Waiting for the ticker and then writing would take ~1.7 Write_Timeouts.
	if d > writeTimeout+time.Second {
		t.Errorf("flush answered %v after %v with Write_Timeout %v", out, d, writeTimeout)
	}
	if out != delivery.Retry {
		t.Errorf("flush answered %v with the server hung, want Retry", out)
	}
	srv.Release()
	closeNow(t, i)
	if c := i.Counters(); c.Written != 2 || c.Unsendable != 0 {
		t.Fatalf("after the server came back: %+v", c)
	}
}

// A failed write puts its entries back with the sizes they were queued with: nothing is
// measured again on the failure path, and the queue's byte count does not drift.
func TestRequeueKeepsSizes(t *testing.T) {
	w := &gateWriter{retry: true}
	i, err := New(testConfig(t), w, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSoon(i) // the writer never succeeds: Close runs to its bound
	var queued []int   // i.writing as each write starts: the bytes of the batch
	w.onWrite = func([]*loggingpb.LogEntry) {
		i.mu.Lock()
		queued = append(queued, i.writing)
		i.mu.Unlock()
	}
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, corpus(t, "audit.log")[:200])
	for n := 0; n < 3; n++ {
		if out := i.Flush(data, "audit"); out != delivery.Retry {
			t.Fatalf("flush %d: %v, want Retry", n, out)
		}
		c := i.Counters()
		if c.Pending == 0 || c.PendingBytes != queued[n] {
			t.Fatalf("flush %d: %d entries pending with %d bytes, the batch had %d bytes", n, c.Pending, c.PendingBytes, queued[n])
		}
		i.mu.Lock()
		sum := 0
		for _, s := range i.pendingSizes {
			sum += s
		}
		ok := len(i.pendingSizes) == len(i.pending) && sum == i.pendingBytes
		i.mu.Unlock()
		if !ok {
			t.Fatalf("flush %d: sizes out of step with the queue", n)
		}
	}
	if queued[0] != queued[2] {
		t.Fatalf("queue bytes drifted over failed writes: %v", queued)
	}
}

func TestKeptSizes(t *testing.T) {
	e := make([]*loggingpb.LogEntry, 5)
	for k := range e {
		e[k] = &loggingpb.LogEntry{InsertId: strings.Repeat("x", k+1)}
	}
	foreign := &loggingpb.LogEntry{InsertId: "not queued"}
	for _, tc := range []struct {
		name   string
		unsent []*loggingpb.LogEntry
		want   []int
	}{
		{"all", e, []int{10, 20, 30, 40, 50}},
		{"tail", e[3:], []int{40, 50}},
		{"rejected in between", []*loggingpb.LogEntry{e[0], e[2], e[4]}, []int{10, 30, 50}},
		{"none", nil, []int{}},
		{"not from the batch", []*loggingpb.LogEntry{e[1], foreign}, []int{20, proto.Size(foreign)}},
		{"out of order", []*loggingpb.LogEntry{e[3], e[1]}, []int{40, proto.Size(e[1])}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sizes := []int{10, 20, 30, 40, 50}
			got, total := keptSizes(e, sizes, tc.unsent)
			sum := 0
			for _, n := range tc.want {
				sum += n
			}
			if len(got) != len(tc.want) || total != sum {
				t.Fatalf("got %v (total %d), want %v (total %d)", got, total, tc.want, sum)
			}
			for k := range got {
				if got[k] != tc.want[k] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// BenchmarkRequeue: the failure path's size bookkeeping for a batch of real entries, kept
// sizes against measuring each entry again (what it did before).
func BenchmarkRequeue(b *testing.B) {
	var batch []*loggingpb.LogEntry
	w := &gateWriter{retry: true, onWrite: func(e []*loggingpb.LogEntry) { batch = append(batch[:0], e...) }}
	i, err := New(testConfig(b), w, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer closeSoon(i) // the writer never succeeds: Close runs to its bound
	i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, corpus(b, "audit.log")), "audit")
	if len(batch) == 0 {
		b.Fatal("no entries")
	}
	sizes := make([]int, len(batch))
	b.Run("kept", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for k := range sizes {
				sizes[k] = 100
			}
			keptSizes(batch, sizes, batch)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(batch)), "ns/entry")
	})
	b.Run("proto.Size", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for _, e := range batch {
				n += proto.Size(e)
			}
			_ = n
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(batch)), "ns/entry")
	})
}

// A panic while a flush holds the instance lock (here a log line that panics, under the lock,
// for a chunk with a malformed record) unwinds with the lock free: the cgo layer's recovery
// answers for that flush, and later flushes, ticks and the exit still run. Before, the
// unwinding deadlocked on the lock and the node silently stopped shipping.
func TestPanicInFlushFreesTheLock(t *testing.T) {
	srv := startServer(t)
	var once sync.Once
	i, _ := newInstanceLogging(t, srv, func(logf func(string, string)) func(string, string) {
		return func(level, msg string) {
			if strings.Contains(msg, "malformed msgpack records") {
				once.Do(func() { panic("injected") })
			}
			logf(level, msg)
		}
	})
	w := flbchunk.NewWriter(flbchunk.Options{V2: true})
	lines := corpus(t, "audit.log")[:20]
	for k, line := range lines {
		w.Line(recordTime, line)
		if k == 5 {
			w.Raw(flbchunk.BadArity)
		}
	}
	data := w.Bytes()
	// In a goroutine: with the lock leaked, the unwinding itself would block (Flush's deferred
	// bookkeeping takes the lock), and the test must fail in seconds, not at go test's timeout.
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		i.Flush(data, "audit")
	}()
	select {
	case r := <-recovered:
		if r != "injected" {
			t.Fatalf("recovered %v, want the injected panic", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the panicking flush never returned: its unwinding is blocked on the instance lock")
	}
	done := make(chan Counters)
	go func() { done <- i.Counters() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the instance lock is still held after the panic")
	}
	// The same chunk again (fluent-bit's replay after the cgo layer's RETRY) goes through.
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush after the panic: %v", out)
	}
	closeNow(t, i)
	if c := i.Counters(); c.Entries == 0 {
		t.Fatalf("nothing written after the panic: %+v", c)
	}
}

// A panic in the background round is logged and the round abandoned, with the lock free; the
// goroutine (outside the cgo layer's recovery) keeps running instead of taking fluent-bit down.
func TestPanicInTickRecovered(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv, "Event_Quiet", "10ms", "Event_Timeout", "100ms")
	var once sync.Once
	i.mu.Lock()
	i.onTick = func() { once.Do(func() { panic("injected tick") }) }
	i.mu.Unlock()
	lines := corpus(t, "audit.log")[:20]
	// Wait for a background round to hit the panic, then for later rounds to ship the chunk's
	// events by time alone.
	deadline := time.Now().Add(10 * time.Second)
	for len(l.find("panic in the background round")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.find("panic in the background round"); len(got) != 1 || !strings.Contains(got[0], "injected tick") || !strings.HasPrefix(got[0], LevelError) {
		t.Fatalf("panic not logged once as an error: %v", l.lines)
	}
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, lines), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	for i.Counters().Written == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := i.Counters(); c.Written == 0 {
		t.Fatalf("the background round stopped after the panic: %+v", c)
	}
}

// A panic while building one drained event (a bug) does not lose the events drained with it:
// the assembler has already handed them over, and a replay of their chunk would be taken for
// duplicates. The broken event goes out as an unparsed input carrying its records' text.
func TestPanicBuildingOneEventSalvages(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv)
	var lines []string
	for k := 0; k < 20; k++ {
		lines = append(lines, execLines(genBase.Add(time.Duration(k)*time.Millisecond), uint64(700+k),
			proc{"/usr/bin/true", "true", "exec", 1000, 0, 0}, "true", fmt.Sprint(k))...)
	}
	i.mu.Lock()
	i.beforeBuild = func(it parser.Item) {
		if it.Event != nil && it.Event.Key.Serial == 703 {
			panic("injected build failure")
		}
	}
	i.mu.Unlock()
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, lines), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	closeNow(t, i)
	serials, _, other := sent(t, srv)
	if len(serials) != 19 || other != 1 {
		t.Fatalf("%d events and %d other entries shipped, want the 19 others and 1 salvage entry", len(serials), other)
	}
	var salvage *fakelogging.Entry
	for _, e := range srv.Accepted() {
		if e.Labels["kind"] == "unparsed" {
			salvage = &e
		}
	}
	if salvage == nil || !strings.Contains(fmt.Sprint(salvage.Payload), "injected build failure") || !strings.Contains(fmt.Sprint(salvage.Payload), ":703)") {
		t.Fatalf("salvage entry %+v", salvage)
	}
	if got := l.find("panic while building an entry"); len(got) != 1 {
		t.Fatalf("panic not logged once: %v", l.lines)
	}
}

// panicOnceWriter panics in its first Write, as a bug in the writer would.
type panicOnceWriter struct {
	delivery.Writer
	once sync.Once
}

func (w *panicOnceWriter) Write(ctx context.Context, es []*loggingpb.LogEntry) delivery.Result {
	w.once.Do(func() { panic("injected writer failure") })
	return w.Writer.Write(ctx, es)
}

// A panic in the writer puts its batch back in the queue, as a failed write does, instead of
// losing it with every counter silent; the next write sends it.
func TestPanicInWriterKeepsTheBatch(t *testing.T) {
	srv := startServer(t)
	cfg, err := config.Parse(config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n",
		"Endpoint": srv.Addr, "Insecure": "on", "Event_Quiet": "20s", "Event_Timeout": "60s"})
	if err != nil {
		t.Fatal(err)
	}
	cw, err := delivery.NewCloudWriter(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	i, err := New(cfg, &panicOnceWriter{Writer: cw}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close(context.Background())
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, corpus(t, "audit.log")[:60])
	func() {
		defer func() {
			if r := recover(); r != "injected writer failure" {
				t.Fatalf("recovered %v", r)
			}
		}()
		i.Flush(data, "audit")
	}()
	queued := i.Counters().Pending
	if queued == 0 {
		t.Fatal("the batch the writer panicked on is not queued again")
	}
	closeNow(t, i)
	if c := i.Counters(); uint64(len(srv.Accepted())) != c.Entries || c.Written != c.Entries || c.Written < uint64(queued) {
		t.Fatalf("accepted %d, counters %+v (queued after the panic: %d)", len(srv.Accepted()), c, queued)
	}
}
