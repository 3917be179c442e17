// Package output is one plugin instance ([OUTPUT] section): fluent-bit chunks in, Cloud Logging
// writes out. It ties chunk decoding, the parser's assembler, the entry builder and the delivery
// writer together and decides what each flush answers fluent-bit.
//
// # Delivery model (at least once, matched to fluent-bit's retries)
//
// Flush decodes the chunk, feeds every record to the assembler, turns every ready item into an
// entry, appends the entries to the pending queue and writes the whole queue:
//
//   - everything written → OK.
//   - a retryable failure → the unsent entries stay at the front of the queue and the flush
//     answers RETRY. fluent-bit keeps the chunk and replays it later; the replay's records are
//     recognised by the assembler as duplicates (in flight or recently emitted), so nothing is
//     fed twice, and the queued entries (same insertIds) are written first.
//   - entries refused for good (per-entry errors, or a whole request Cloud Logging will never
//     accept) are logged one by one with their reason and counted as Rejected; the flush still
//     answers OK when nothing is left unsent. FLB_ERROR would make fluent-bit drop the chunk
//     and count its records as dropped, but by then those records are already in the
//     assembler (some still in flight, to be shipped by a later write) and the refused entries
//     usually come from earlier chunks: ERROR would drop nothing and misreport what was lost.
//     The loss is reported where it happens, in our log line and counter.
//   - the queue is bounded (entries and bytes). When it is full the flush first tries to write
//     it; if that fails the chunk is answered RETRY without being read, which pushes back on
//     fluent-bit's buffer (filesystem storage in the shipped config) instead of dropping.
//
// Events completed by time alone (the quiet window, the hard timeout) are drained and written
// by a background ticker without waiting for another chunk; after a failed write the ticker
// backs off. Close drains everything (incomplete events flagged), writes it within the caller's
// bound and logs what could not be sent.
//
// # Time bounds
//
// One write runs at a time (entries leave in order; a failed batch goes back to the front).
// A flush's time with Cloud Logging — waiting for another write to finish (the ticker's, or
// another worker's) and writing itself — is bounded by one Write_Timeout: when the bound runs out the flush answers RETRY and its entries stay
// queued, so a hung server never holds fluent-bit longer than that. Every write except Close's
// own derives from the instance's base context, which Close cancels first: an in-flight write
// (the ticker's or a flush's) stops at once, its entries go back to the queue, and Close
// writes them under its own bound, which is below fluent-bit's Grace.
//
// # Filters and accounting
//
// Between the assembler and the entry builder, whole events go through the filter stage
// (plugin/filter: Include/Exclude, loader-path trimming, collapse, rate limit); unparsed inputs
// and lost-event notices bypass it. The stage's collapsed aggregates and periodic reports become
// entries of their own. Counts live in plugin/metrics (the only copy; Counters reads them back):
// every record is counted once as shipped, filtered, collapsed or rate-limited (by its event's
// decision), unparsed, duplicate, or still in flight.
//
// Records still in flight in the assembler and entries in the queue live in memory: a crash
// loses them (fluent-bit has already been told OK for their chunks). The bounds keep that
// window small: MaxEventsInFlight events and at most the pending queue.
package output

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/parser"
	"github.com/gke-audit/auditd-cloud-logging/plugin/chunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/entry"
	"github.com/gke-audit/auditd-cloud-logging/plugin/filter"
	"github.com/gke-audit/auditd-cloud-logging/plugin/metrics"
)

// Log levels passed to logf, in fluent-bit's spelling.
const (
	LevelError = "error"
	LevelWarn  = "warn"
	LevelInfo  = "info"
	LevelDebug = "debug"
)

// Bounds of the pending queue. 64 MiB is ~8 maximum-size requests: enough to ride out a
// short outage without holding fluent-bit back, small next to a node's memory.
const (
	DefaultMaxPendingBytes   = 64 << 20
	DefaultMaxPendingEntries = 200_000
	namesCacheEntries        = 4096
	unparsedSeenWindow       = 8192
	minTick, maxTick         = 10 * time.Millisecond, time.Second
	minBackoff, maxBackoff   = time.Second, 30 * time.Second
)

// UnhealthyAfter is how many writes in a row must deliver nothing (IAM, quota, an outage, every
// entry refused) before Health reports the instance as not delivering; the next write that
// delivers anything clears it.
const UnhealthyAfter = 5

// Counters is a snapshot of one instance's counts, read from its metrics (the only place they
// are kept) under the instance's lock, so the numbers are consistent with each other.
type Counters struct {
	RecordsIn          uint64 // inputs decoded from chunks: records (journal, line, other) and malformed items
	Malformed          uint64 // of which msgpack that was not a valid fluent-bit record
	Unparsed           uint64 // inputs shipped as Unparsed entries (not audit, parse error, malformed)
	Duplicates         uint64 // records seen before (re-reads, replays, late end markers), shipped once
	RecordsShipped     uint64 // records inside events passed on to be written
	RecordsFiltered    uint64 // records inside events held back by Include/Exclude
	RecordsCollapsed   uint64 // records inside events counted into a collapsed entry
	RecordsRateLimited uint64 // records inside events dropped by the rate limit
	RecordsInFlight    uint64 // records in events still being assembled
	LoaderPathsOmitted uint64 // loader PATH records trimmed from shipped events (part of RecordsShipped)
	EventsOut          uint64 // events assembled
	Incomplete         uint64 // of which flushed without evidence that all their records arrived
	Lost               uint64 // serials the assembler reported missing (events lost before us)
	Shipped            uint64 // events passed on to be written
	Filtered           uint64 // events held back by Include/Exclude
	Collapsed          uint64 // events counted into a collapsed entry
	RateLimited        uint64 // events dropped by the rate limit
	Entries            uint64 // entries built
	Written            uint64 // entries accepted by Cloud Logging
	BytesWritten       uint64 // request bytes accepted
	Rejected           uint64 // entries refused for good, each logged with its reason
	Unsendable         uint64 // entries still unsent when Close's bound ran out (logged)
	Retries            uint64 // flushes answered RETRY
	Backpressure       uint64 // of which refused without reading the chunk because the queue was full
	WriteFailures      uint64 // Write calls that ended in Retry
	Pending            int    // entries waiting to be written now
	PendingBytes       int    // their size
	InFlight           int    // events being assembled now
}

// Option configures New.
type Option func(*Instance)

// WithName sets the instance's name: the plugin_instance label of its metrics. Instances sharing a
// Metrics_Listen address need distinct names. The default is "auditd_cloud_logging".
func WithName(name string) Option { return func(i *Instance) { i.name = name } }

// Instance is one [OUTPUT] section's state. Flush and Close may be called from several
// goroutines (fluent-bit Workers N).
type Instance struct {
	cfg  config.Config
	w    delivery.Writer
	logf func(level, msg string)
	now  func() time.Time
	name string
	m    *metrics.Metrics

	releaseMetrics func()
	metricsAddr    net.Addr

	// base is the context of every write but Close's final one; Close cancels it first, so
	// no write in progress can hold Close beyond its own bound.
	base       context.Context
	cancelBase context.CancelFunc
	// wsem (capacity 1) serialises writes so entries leave in order and a failed batch goes
	// back to the front of the queue before anything else is sent. A channel rather than a
	// mutex: a flush waits for it only as long as its Write_Timeout allows.
	wsem chan struct{}
	// mu guards everything below it.
	mu sync.Mutex

	asm     *parser.Assembler
	builder *entry.Builder
	pending []*loggingpb.LogEntry
	// pendingSizes[k] is pending[k]'s estimated size, kept so that re-queueing after a failed
	// write does not measure every entry again.
	pendingSizes []int
	pendingBytes int
	writing      int // bytes of the batch being written (still counts against the bound)
	items        []parser.Item
	stage        *filter.Stage
	outs         []filter.Out
	recycled     [1]parser.Item        // scratch of doneWithLocked
	asmSeen      parser.AssemblerStats // what of the assembler's counts is already in m
	lastSummary  time.Time
	closed       bool
	// flushing counts flushes between reading their chunk and writing: each of them sends the
	// whole queue itself, so the ticker leaves the queue to them instead of taking the write
	// slot under them (their bounded wait would then answer RETRY for a write that succeeds).
	flushing     int
	nextTry      time.Time // the ticker's next write attempt after a failure
	backoff      time.Duration
	failedWrites int   // writes in a row that delivered nothing (Health)
	lastWriteErr error // the last one's error
	lastPressure time.Time
	dupUnparsed  uint64 // duplicate unparsed inputs of the chunk being decoded

	unparsedSeed maphash.Seed
	unparsedSeen map[uint64]struct{}
	unparsedRing []uint64
	unparsedPos  int

	maxPendingBytes, maxPendingEntries int

	// beforeDecode, when set (tests only), runs in Flush while mu is released between the
	// closed check and decoding: the window in which Close can finish.
	beforeDecode func()
	// onTick, when set (tests only), runs at the start of each background round, under mu.
	onTick func()
	// beforeBuild, when set (tests only), runs before each drained item is filtered and built.
	beforeBuild func(parser.Item)

	stop chan struct{}
	done chan struct{}
}

// New creates an instance for a parsed and resolved configuration and starts its background
// ticker (and, with Metrics_Listen, serves its metrics). logf receives every log line with its
// level.
func New(cfg config.Config, w delivery.Writer, logf func(level, msg string), opts ...Option) (*Instance, error) {
	if w == nil {
		return nil, fmt.Errorf("output: no writer")
	}
	if logf == nil {
		logf = func(string, string) {}
	}
	var names *parser.Names
	if cfg.PasswdFile != "" || cfg.GroupFile != "" {
		n, err := parser.NewNames(cfg.PasswdFile, cfg.GroupFile, namesCacheEntries)
		if err != nil {
			return nil, fmt.Errorf("Passwd_File %q / Group_File %q: %w", cfg.PasswdFile, cfg.GroupFile, err)
		}
		names = n
	}
	i := &Instance{
		cfg:  cfg,
		w:    w,
		logf: logf,
		now:  time.Now,
		name: config.PluginName,
		asm: parser.NewAssembler(parser.AssemblerConfig{
			Quiet:        cfg.EventQuiet,
			Timeout:      cfg.EventTimeout,
			MaxInFlight:  cfg.MaxEventsInFlight,
			ArgvMaxBytes: cfg.ArgvMaxBytes,
			Names:        names,
		}),
		builder: entry.NewBuilder(entry.Options{
			IncludeRaw:  cfg.IncludeRaw,
			NodeName:    cfg.NodeName,
			Names:       names,
			OmitRecords: !cfg.PayloadRecords,
		}),
		stage: filter.New(filter.Options{
			Include:         cfg.Include,
			Exclude:         cfg.Exclude,
			OmitLoaderPaths: cfg.OmitLoaderPaths,
			CollapseWindow:  cfg.CollapseWindow,
			RateLimit:       cfg.RateLimit,
			RateBurst:       cfg.RateBurst,
			RateExempt:      func(ev *parser.Event) bool { return entry.SeverityOf(ev) >= ltype.LogSeverity_WARNING },
			ReportInterval:  cfg.ReportInterval,
		}),
		unparsedSeed:      maphash.MakeSeed(),
		unparsedSeen:      make(map[uint64]struct{}, unparsedSeenWindow),
		unparsedRing:      make([]uint64, unparsedSeenWindow),
		maxPendingBytes:   DefaultMaxPendingBytes,
		maxPendingEntries: DefaultMaxPendingEntries,
		wsem:              make(chan struct{}, 1),
		stop:              make(chan struct{}),
		done:              make(chan struct{}),
	}
	i.base, i.cancelBase = context.WithCancel(context.Background())
	for _, o := range opts {
		o(i)
	}
	i.m = metrics.New(i.name)
	i.m.Health = i.Health
	if cfg.MetricsListen != "" {
		addr, release, err := metrics.Serve(cfg.MetricsListen, i.m)
		if err != nil {
			return nil, err
		}
		i.releaseMetrics, i.metricsAddr = release, addr
		logf(LevelInfo, fmt.Sprintf("metrics at http://%s/metrics", addr))
	}
	i.lastSummary = i.now()
	quiet := cfg.EventQuiet
	if quiet <= 0 {
		quiet = parser.DefaultQuiet
	}
	go i.run(min(max(quiet/2, minTick), maxTick))
	return i, nil
}

// Health is nil while the instance delivers, and says why not once UnhealthyAfter writes in a
// row have delivered nothing. It is served at /healthz with Metrics_Listen, for the readiness
// probe: fluent-bit's own health endpoint cannot see it, because the plugin answers RETRY, never
// ERROR, to keep every chunk.
func (i *Instance) Health() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failedWrites < UnhealthyAfter {
		return nil
	}
	return fmt.Errorf("%s: the last %d writes to Cloud Logging delivered nothing (%v); %d entries queued",
		i.name, i.failedWrites, i.lastWriteErr, len(i.pending))
}

// Metrics returns the instance's metrics (for tests and the demo's estimates).
func (i *Instance) Metrics() *metrics.Metrics { return i.m }

// MetricsAddr is the address the metrics listener is bound to (nil without Metrics_Listen):
// with port 0 in Metrics_Listen, the one the kernel chose.
func (i *Instance) MetricsAddr() net.Addr { return i.metricsAddr }

// Counters returns a snapshot of the running counts.
func (i *Instance) Counters() Counters {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.syncAsmLocked()
	v := i.m.Values()
	u := func(k string) uint64 { return uint64(v[k]) }
	c := Counters{
		RecordsIn: u("records_in"), Malformed: u("records_malformed"), Unparsed: u("records_unparsed"),
		Duplicates: u("records_duplicate"), RecordsShipped: u("records_shipped"), RecordsFiltered: u("records_filtered"),
		RecordsCollapsed: u("records_collapsed"), RecordsRateLimited: u("records_rate_limited"),
		RecordsInFlight: u("records_in_flight"), LoaderPathsOmitted: u("records_loader_paths_omitted"),
		EventsOut: u("events"), Incomplete: u("events_incomplete"), Lost: u("events_lost"),
		Shipped: u("events_shipped"), Filtered: u("events_filtered"), Collapsed: u("events_collapsed"),
		RateLimited: u("events_rate_limited"), Entries: u("entries"), Written: u("entries_written"),
		BytesWritten: u("bytes_written"), Unsendable: u("entries_unsent"), Retries: u("retries"),
		Backpressure: u("backpressure"), WriteFailures: u("write_failures"),
		Pending: len(i.pending), PendingBytes: i.pendingBytes, InFlight: int(v["events_in_flight"]),
	}
	for k, x := range v {
		if strings.HasPrefix(k, "entries_rejected{") {
			c.Rejected += uint64(x)
		}
	}
	return c
}

// syncAsmLocked moves what the assembler counted since the last call into the metrics and
// returns how many duplicates it saw meanwhile.
func (i *Instance) syncAsmLocked() uint64 {
	st := i.asm.Stats()
	dups := st.Duplicates + st.LateMarkers - i.asmSeen.Duplicates - i.asmSeen.LateMarkers
	i.m.RecordsDuplicate.Add(float64(dups))
	i.m.EventsLost.Add(float64(st.Lost - i.asmSeen.Lost))
	i.m.RecordsInFlight.Set(float64(st.Pending))
	i.m.EventsInFlight.Set(float64(st.InFlight))
	i.m.EntriesPending.Set(float64(len(i.pending)))
	i.asmSeen = st
	return dups
}

// writeTimeout is the bound of one flush (see the package doc).
func (i *Instance) writeTimeout() time.Duration {
	if i.cfg.WriteTimeout > 0 {
		return i.cfg.WriteTimeout
	}
	return config.DefaultWriteTimeout
}

// Flush handles one chunk and says what fluent-bit should do with it. data is only read
// during the call: nothing kept afterwards points into it (the cgo layer passes fluent-bit's
// own memory, freed when the call returns).
func (i *Instance) Flush(data []byte, tag string) delivery.Outcome {
	// One bound for all of a flush's time with Cloud Logging: waiting for another write and
	// writing ourselves, the make-room write included. It starts at the first wait, so that
	// decoding a large chunk on a busy node does not eat into it.
	var ctx context.Context
	cancel := context.CancelFunc(func() {})
	defer func() { cancel() }()
	bound := func() context.Context {
		if ctx == nil {
			ctx, cancel = context.WithTimeout(i.base, i.writeTimeout())
		}
		return ctx
	}
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		i.logf(LevelError, "flush after exit: chunk of "+tag+" left to fluent-bit (RETRY)")
		return delivery.Retry
	}
	full := i.fullLocked()
	i.flushing++
	i.mu.Unlock()
	defer func() {
		i.mu.Lock()
		i.flushing--
		i.mu.Unlock()
	}()

	if full {
		// Make room first; if the queue cannot drain, leave the chunk with fluent-bit.
		if out := i.write(bound()); out != delivery.OK {
			i.mu.Lock()
			defer i.mu.Unlock()
			i.m.Retries.Inc()
			if i.closed {
				i.logf(LevelError, "flush during exit: chunk of "+tag+" left to fluent-bit (RETRY)")
				return delivery.Retry
			}
			i.m.Backpressure.Inc()
			if now := i.now(); now.Sub(i.lastPressure) >= 10*time.Second {
				i.lastPressure = now
				i.logf(LevelWarn, fmt.Sprintf("pending queue full (%d entries, %d bytes; bounds %d / %d) and Cloud Logging "+
					"is not accepting writes: chunks stay in fluent-bit's buffer (RETRY) until it does",
					len(i.pending), i.pendingBytes+i.writing, i.maxPendingEntries, i.maxPendingBytes))
			}
			return delivery.Retry
		}
	}

	if i.beforeDecode != nil {
		i.beforeDecode()
	}
	if !i.feed(data, tag) {
		i.logf(LevelError, "flush during exit: chunk of "+tag+" left to fluent-bit (RETRY)")
		return delivery.Retry
	}

	out := i.write(bound())
	if out == delivery.Retry {
		i.mu.Lock()
		i.m.Retries.Inc()
		i.mu.Unlock()
	}
	return out
}

// feed decodes a chunk into the assembler and queues the entries of what completes. It reports
// false, feeding nothing, when Close ran first: its final drain is done, so records fed now
// would stay in the assembler for good.
func (i *Instance) feed(data []byte, tag string) (fed bool) {
	i.locked(func() {
		if i.closed {
			i.m.Retries.Inc()
			return
		}
		fed = true
		now := i.now()
		i.dupUnparsed = 0
		st := chunk.Decode(data, func(ts time.Time, in chunk.Input) { i.addLocked(ts, in, now) })
		i.m.RecordsIn.Add(float64(st.Records + st.Malformed))
		i.m.RecordsMalformed.Add(float64(st.Malformed))
		if st.Malformed > 0 {
			i.logf(LevelWarn, fmt.Sprintf("chunk of %s: %d malformed msgpack records (shipped as unparsed entries), "+
				"%d undecodable trailing bytes", tag, st.Malformed, st.TrailingBytes))
		}
		i.drainLocked(now)
		if dups := i.syncAsmLocked() + i.dupUnparsed; dups > 0 {
			// Normal after a RETRY (fluent-bit replays the chunk) or a re-read file; counted in
			// records_duplicate_total and the exit line, so only worth a debug line here.
			i.logf(LevelDebug, fmt.Sprintf("chunk of %s: %d records seen before (%d of them unparsed inputs), "+
				"not fed or shipped again", tag, dups, i.dupUnparsed))
		}
	})
	return fed
}

// locked runs f holding the instance lock, released by defer: a panic in the parser, the
// filters or the builder must unwind to a recovery (the cgo layer's, or tick's) with the lock
// free, not leave every later flush, tick and exit waiting on it.
func (i *Instance) locked(f func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	f()
}

func (i *Instance) addLocked(ts time.Time, in chunk.Input, now time.Time) {
	rec, u := in.Parse(ts, i.asm)
	if u == nil {
		i.asm.Add(rec, now)
		return
	}
	// The assembler passes unparsed inputs straight through; a replayed chunk would ship
	// them twice, so remember recent ones here.
	if !i.firstUnparsedLocked(u, in.Kind == chunk.KindMalformed) {
		i.m.RecordsDuplicate.Inc()
		i.dupUnparsed++
		return
	}
	if u.Time.IsZero() {
		u.Time = now
	}
	i.m.RecordsUnparsed.Inc()
	i.asm.AddUnparsed(*u)
}

func (i *Instance) firstUnparsedLocked(u *parser.Unparsed, malformed bool) bool {
	var h maphash.Hash
	h.SetSeed(i.unparsedSeed)
	h.WriteString(u.Text)
	h.WriteByte(0)
	h.WriteString(u.Reason)
	h.WriteByte(0)
	h.WriteString(u.Node)
	if !malformed { // a malformed record has no time of its own
		var b [8]byte
		n := u.Time.UnixNano()
		for k := range b {
			b[k] = byte(n >> (8 * k))
		}
		h.Write(b[:])
	}
	k := h.Sum64()
	if _, ok := i.unparsedSeen[k]; ok {
		return false
	}
	old := i.unparsedRing[i.unparsedPos]
	if old != 0 {
		delete(i.unparsedSeen, old)
	}
	i.unparsedRing[i.unparsedPos] = k
	i.unparsedPos = (i.unparsedPos + 1) % len(i.unparsedRing)
	i.unparsedSeen[k] = struct{}{}
	return true
}

func (i *Instance) fullLocked() bool {
	return len(i.pending) >= i.maxPendingEntries || i.pendingBytes+i.writing >= i.maxPendingBytes
}

// drainLocked moves ready items into the pending queue as entries.
func (i *Instance) drainLocked(now time.Time) {
	i.items = i.asm.Drain(now, i.items[:0])
	i.queueItemsLocked(now)
}

// queueItemsLocked runs whole events through the filter stage and queues what it passes on;
// unparsed inputs and lost-event notices bypass it (they are never held back).
func (i *Instance) queueItemsLocked(now time.Time) {
	for k, it := range i.items {
		i.items[k] = parser.Item{} // let the item go once its entry exists
		i.queueItemLocked(it, now)
	}
}

// queueItemLocked filters and queues one item. A panic here (a bug in the filters or the
// builder) must not lose the items after it: the assembler has handed them over, and a replay
// of their chunk would be taken for duplicates. The item goes out as an unparsed input instead
// (salvage), and the loop goes on.
func (i *Instance) queueItemLocked(it parser.Item, now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			i.salvageLocked(it, r)
		}
	}()
	if i.beforeBuild != nil {
		i.beforeBuild(it)
	}
	switch {
	case it.Kind == parser.ItemEvent && it.Event != nil:
		i.filterLocked(it.Event, now)
	case it.Kind == parser.ItemLost && it.Lost != nil:
		i.logf(LevelWarn, "audit events lost before reaching the plugin: "+lostSerials(it.Lost))
		i.queueLocked(it)
	default:
		i.queueLocked(it)
	}
}

// lostSerials names a range of lost events for the log and for a salvage entry.
func lostSerials(l *parser.Lost) string {
	return fmt.Sprintf("serials %d..%d (%d) of node %q boot %q", l.From, l.To, l.Count, l.Node, l.BootID)
}

// salvageLocked ships an item whose entry could not be built (r is the panic) as an unparsed
// input: its records' text, and the panic as the reason. If even that fails, the item is logged
// and counted as rejected.
func (i *Instance) salvageLocked(it parser.Item, r any) {
	i.logf(LevelError, fmt.Sprintf("panic while building an entry (a bug; the item is shipped as an unparsed input instead): %v\n%s", r, debug.Stack()))
	u := &parser.Unparsed{Node: i.cfg.NodeName, Time: i.now(), Reason: fmt.Sprintf("internal error while building this item's entry: %v", r)}
	switch {
	case it.Event != nil:
		var b strings.Builder
		for k := range it.Event.Records {
			if k > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(it.Event.Records[k].Text)
		}
		u.Text, u.Time = strings.ToValidUTF8(b.String(), "\uFFFD"), it.Event.Key.Time()
	case it.Unparsed != nil:
		u.Text, u.Time = it.Unparsed.Text, it.Unparsed.Time
	case it.Lost != nil:
		u.Text = "audit events lost: " + lostSerials(it.Lost)
	}
	defer func() {
		if r2 := recover(); r2 != nil {
			i.m.EntriesRejected.WithLabelValues("InternalError").Inc()
			i.logf(LevelError, fmt.Sprintf("panic again while building the salvage entry, item dropped: %v", r2))
		}
	}()
	if e := i.builder.Build(parser.Item{Kind: parser.ItemUnparsed, Unparsed: u}); e != nil {
		i.pushLocked(e, sizeEstimate(e))
	}
}

func (i *Instance) filterLocked(ev *parser.Event, now time.Time) {
	// Counted before the stage: loader-path trimming removes records from shipped events.
	n := len(ev.Records)
	i.m.EventsOut.Inc()
	if ev.Incomplete {
		i.m.EventsIncomplete.Inc()
	}
	var d filter.Decision
	i.outs, d = i.stage.Process(ev, now, i.outs[:0])
	switch d {
	case filter.Shipped:
		i.m.EventsShipped.Inc()
		i.m.RecordsShipped.Add(float64(n))
		if trimmed := n - len(ev.Records); trimmed > 0 {
			i.m.RecordsLoaderPathsOmitted.Add(float64(trimmed))
		}
	case filter.Filtered:
		i.m.EventsFiltered.Inc()
		i.m.RecordsFiltered.Add(float64(n))
		i.doneWithLocked(ev)
	case filter.Collapsed:
		i.m.EventsCollapsed.Inc()
		i.m.RecordsCollapsed.Add(float64(n))
	case filter.RateLimited:
		i.m.EventsRateLimited.Inc()
		i.m.RecordsRateLimited.Add(float64(n))
		i.doneWithLocked(ev)
	}
	i.queueOutsLocked()
}

// queueOutsLocked queues the stage's output: events (plain, or collapsed aggregates whose
// records were counted as collapsed when they arrived) and reports.
func (i *Instance) queueOutsLocked() {
	for k, o := range i.outs {
		i.outs[k] = filter.Out{}
		switch {
		case o.Event != nil:
			i.queueLocked(parser.Item{Kind: parser.ItemEvent, Event: o.Event})
			i.doneWithLocked(o.Event)
		case o.Report != nil:
			if e := i.builder.BuildReport(o.Report); e != nil {
				i.pushLocked(e, sizeEstimate(e))
			}
		}
	}
	i.outs = i.outs[:0]
}

// doneWithLocked hands an event back to the assembler once nothing refers to it any more: its
// entry is built (entries copy what they keep) or the filter stage dropped it. Its memory is
// then reused for a later event instead of being collected (Assembler.Recycle). Events the
// stage holds (the last of a collapse group) come back here when the group emits them.
func (i *Instance) doneWithLocked(ev *parser.Event) {
	i.recycled[0] = parser.Item{Kind: parser.ItemEvent, Event: ev}
	i.asm.Recycle(i.recycled[:])
}

func (i *Instance) queueLocked(it parser.Item) {
	defer func() {
		if r := recover(); r != nil {
			i.salvageLocked(it, r)
		}
	}()
	if e := i.builder.Build(it); e != nil {
		i.pushLocked(e, sizeEstimate(e))
	}
}

func (i *Instance) pushLocked(e *loggingpb.LogEntry, est int) {
	i.m.Entries.Inc()
	i.pending = append(i.pending, e)
	i.pendingSizes = append(i.pendingSizes, est)
	i.pendingBytes += est
}

// sizeEstimate is an entry's encoded size for the queue bound: the payload plugin/entry
// encoded (exact) plus a bound on the rest (insertId, timestamp, severity, and labels of at
// most 256 bytes each: types, keys, node, incomplete). proto.Size would be exact but goes
// through reflection.
func sizeEstimate(e *loggingpb.LogEntry) int {
	return len(e.ProtoReflect().GetUnknown()) + 1024
}

// write sends the whole pending queue once. Concurrent callers queue on wsem; whoever holds it
// sends everything pending at that moment, including entries other flushes added. A caller
// whose ctx ends while it waits gets Retry: its entries stay queued for the next write.
func (i *Instance) write(ctx context.Context) delivery.Outcome {
	if !i.lockWrite(ctx) {
		i.logf(LevelWarn, "another write to Cloud Logging is still running at the end of this flush's "+
			"Write_Timeout (or the plugin is exiting): RETRY, the entries stay queued")
		return delivery.Retry
	}
	defer i.unlockWrite()
	return i.writeHeld(ctx)
}

func (i *Instance) lockWrite(ctx context.Context) bool {
	if ctx.Err() != nil { // select picks at random among ready cases
		return false
	}
	select {
	case i.wsem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (i *Instance) tryLockWrite() bool {
	select {
	case i.wsem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (i *Instance) unlockWrite() { <-i.wsem }

func (i *Instance) writeHeld(ctx context.Context) delivery.Outcome {
	i.mu.Lock()
	batch, sizes := i.pending, i.pendingSizes
	bytes := i.pendingBytes
	i.pending, i.pendingSizes, i.pendingBytes = nil, nil, 0
	i.writing = bytes
	i.mu.Unlock()
	if len(batch) == 0 {
		i.mu.Lock()
		i.writing = 0
		i.mu.Unlock()
		return delivery.OK
	}

	returned := false
	defer func() {
		if returned {
			return
		}
		// The writer panicked (a bug): its batch goes back in front of the queue, as after a
		// failed write, instead of being lost with every counter silent. The panic goes on.
		i.mu.Lock()
		defer i.mu.Unlock()
		i.pending = append(batch, i.pending...)
		i.pendingSizes = append(sizes, i.pendingSizes...)
		i.pendingBytes += bytes
		i.writing = 0
		i.failedWrites++
		i.lastWriteErr = errors.New("the writer panicked")
	}()
	res := i.w.Write(ctx, batch)
	returned = true

	i.mu.Lock()
	defer i.mu.Unlock()
	i.writing = 0
	i.m.EntriesWritten.Add(float64(res.Written))
	i.m.BytesWritten.Add(float64(res.Bytes))
	for _, r := range res.Rejected {
		i.m.EntriesRejected.WithLabelValues(RejectReason(r.Reason)).Inc()
		i.logf(LevelError, fmt.Sprintf("entry %s (%s) refused by Cloud Logging and dropped: %s",
			r.Entry.GetInsertId(), r.Entry.GetTimestamp().AsTime().Format(time.RFC3339Nano), r.Reason))
	}
	if res.Outcome == delivery.Drop {
		i.logf(LevelError, fmt.Sprintf("write refused for good, %d entries dropped: %v", len(res.Rejected), res.Err))
	}
	// Health: a write that delivered something clears the streak; one that delivered nothing
	// extends it, whether it failed (its entries are retried) or every entry was refused for
	// good (say NotFound for a bad log name; nothing is retried).
	switch {
	case res.Written > 0:
		i.failedWrites, i.lastWriteErr = 0, nil
	case len(res.Unsent) > 0 || len(res.Rejected) > 0 || res.Outcome == delivery.Drop:
		i.failedWrites++
		i.lastWriteErr = res.Err
		if i.lastWriteErr == nil && len(res.Rejected) > 0 {
			i.lastWriteErr = fmt.Errorf("all %d entries refused: %s", len(res.Rejected), res.Rejected[0].Reason)
		}
	}
	if len(res.Unsent) == 0 {
		i.backoff = 0
		i.nextTry = time.Time{}
		// Every entry is sent or dropped (and logged above): their memory is reused. (After
		// a Retry the few sent ones are left to the GC rather than sorted out.)
		i.builder.Release(batch)
		return delivery.OK
	}
	// Unsent entries go back in front of anything queued meanwhile, in their original order,
	// with the sizes they were queued with.
	unsentSizes, unsentBytes := keptSizes(batch, sizes, res.Unsent)
	i.pending = append(res.Unsent[:len(res.Unsent):len(res.Unsent)], i.pending...)
	i.pendingSizes = append(unsentSizes, i.pendingSizes...)
	i.pendingBytes += unsentBytes
	i.m.WriteFailures.Inc()
	i.backoff = min(max(i.backoff*2, minBackoff), maxBackoff)
	i.nextTry = i.now().Add(i.backoff)
	level := LevelWarn
	switch {
	case delivery.IsAuthError(res.Err):
		level = LevelError // usually IAM: say so loudly, every time
	case i.closed && i.base.Err() != nil:
		level = LevelDebug // Close interrupted this write on purpose and sends the entries itself
	}
	i.logf(level, fmt.Sprintf("write failed, %d entries kept for retry (%d written): %v",
		len(res.Unsent), res.Written, res.Err))
	return delivery.Retry
}

// keptSizes returns the queued sizes of unsent and their sum. The writer's Unsent is a
// subsequence of batch in order (its contract), so one forward walk matching pointers finds
// them; sizes is reused (writes never overtake reads). An entry not found in batch (a writer
// breaking the contract) is measured.
func keptSizes(batch []*loggingpb.LogEntry, sizes []int, unsent []*loggingpb.LogEntry) ([]int, int) {
	out := sizes[:0]
	if len(sizes) < len(unsent) {
		out = make([]int, 0, len(unsent))
	}
	total, k := 0, 0
	for _, e := range unsent {
		for k < len(batch) && batch[k] != e {
			k++
		}
		var n int
		if k < len(batch) {
			n = sizes[k]
			k++
		} else {
			n = proto.Size(e)
		}
		out = append(out, n)
		total += n
	}
	return out, total
}

// run drains events completed by time and writes them without waiting for another chunk. It
// also closes the filter stage's collapse windows, emits its reports, and logs the summary.
func (i *Instance) run(every time.Duration) {
	defer close(i.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-i.stop:
			return
		case <-t.C:
		}
		i.tick()
	}
}

// tick is one round of run. A panic in it (a bug in the parser, the filters, the builder or
// the writer) is logged and the round abandoned: this goroutine is not under the cgo layer's
// recovery, and an unrecovered panic would take fluent-bit down with every event in memory.
func (i *Instance) tick() {
	defer func() {
		if r := recover(); r != nil {
			i.logf(LevelError, fmt.Sprintf("panic in the background round (events completed by time, collapse windows, "+
				"queued writes), round abandoned: %v\n%s", r, debug.Stack()))
		}
	}()
	var due bool
	summary := ""
	i.locked(func() {
		now := i.now()
		if i.onTick != nil {
			i.onTick()
		}
		i.drainLocked(now)
		i.outs = i.stage.Tick(now, i.outs[:0])
		i.queueOutsLocked()
		i.syncAsmLocked()
		due = len(i.pending) > 0 && !now.Before(i.nextTry) && i.flushing == 0
		if iv := i.cfg.LogSummaryInterval; iv > 0 && now.Sub(i.lastSummary) >= iv {
			i.lastSummary = now
			summary = i.m.Summary()
		}
	})
	if summary != "" {
		i.logf(LevelInfo, "summary: "+summary)
	}
	// A flush holding wsem is already sending the queue; try again next tick.
	if due && i.tryLockWrite() {
		defer i.unlockWrite()
		i.writeHeld(i.base)
	}
}

// Close stops the ticker, flushes every event still being assembled (incomplete ones flagged),
// writes the queue within ctx and logs what could not be sent. Further flushes answer RETRY.
func (i *Instance) Close(ctx context.Context) {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return
	}
	i.closed = true
	i.mu.Unlock()
	// Interrupt any write in progress: its entries go back to the queue and are sent below,
	// under ctx, instead of holding exit for a whole Write_Timeout.
	i.cancelBase()
	close(i.stop)
	<-i.done

	if !i.tryLockWrite() && !i.lockWrite(ctx) {
		// Only a writer that ignores cancellation gets here; what it holds is out of reach.
		i.mu.Lock()
		inWrite := i.writing
		i.mu.Unlock()
		i.logf(LevelError, fmt.Sprintf("exit: a write still running after cancellation holds about %d bytes of "+
			"entries; if it fails they are lost", inWrite))
	} else {
		defer i.unlockWrite()
	}
	i.locked(func() {
		now := i.now()
		i.drainLocked(now)
		i.items = i.asm.DrainAll(i.items[:0])
		i.queueItemsLocked(now)
		// Open collapse groups and what was held back since the last report go out now.
		i.outs = i.stage.Flush(now, i.outs[:0])
		i.queueOutsLocked()
		i.syncAsmLocked()
	})

	for {
		if i.writeHeld(ctx) == delivery.OK || ctx.Err() != nil {
			break
		}
		i.mu.Lock()
		wait := i.backoff
		i.mu.Unlock()
		t := time.NewTimer(min(wait, minBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
			continue
		}
		break
	}
	i.mu.Lock()
	left := len(i.pending)
	i.m.EntriesUnsent.Add(float64(left))
	i.pending, i.pendingSizes, i.pendingBytes = nil, nil, 0
	i.syncAsmLocked()
	stranded := i.asm.Stats()
	i.mu.Unlock()
	c := i.Counters()
	if left > 0 {
		i.logf(LevelError, fmt.Sprintf("exit: %d entries could not be sent before the shutdown bound and are lost "+
			"(%d written in total)", left, c.Written))
	}
	if stranded.Pending > 0 || stranded.InFlight > 0 {
		// Flush refuses chunks once closed is set, so nothing should reach the assembler after
		// the final drain; if something did, say so (records_in_flight keeps the count).
		i.logf(LevelError, fmt.Sprintf("exit: %d records of %d events reached the assembler after the final drain "+
			"and are lost", stranded.Pending, stranded.InFlight))
	}
	i.logf(LevelInfo, fmt.Sprintf("exit: records in %d, events %d (%d incomplete; shipped %d, filtered %d, collapsed %d, "+
		"rate-limited %d), unparsed %d, duplicates %d, lost serials %d, entries written %d, rejected %d, unsent %d, retries %d",
		c.RecordsIn, c.EventsOut, c.Incomplete, c.Shipped, c.Filtered, c.Collapsed, c.RateLimited, c.Unparsed,
		c.Duplicates, c.Lost, c.Written, c.Rejected, left, c.Retries))
	if err := i.w.Close(); err != nil {
		i.logf(LevelWarn, "closing the Cloud Logging client: "+err.Error())
	}
	if i.releaseMetrics != nil {
		i.releaseMetrics()
	}
}

// RejectReason names the status code in a delivery.Rejected reason, for the reason label of
// entries_rejected_total (a bounded set: code names, TooLarge, or Other). Per-entry errors read
// "InvalidArgument: ..."; a refused request reads "request refused: rpc error: code = NotFound ...".
func RejectReason(text string) string {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		name := c.String()
		if strings.HasPrefix(text, name+":") || strings.Contains(text, "code = "+name+" ") ||
			strings.HasSuffix(text, "code = "+name) {
			return name
		}
	}
	if strings.Contains(text, "does not fit in a request") {
		return "TooLarge"
	}
	return "Other"
}
