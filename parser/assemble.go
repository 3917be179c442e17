package parser

import (
	"hash/maphash"
	"math"
	"time"
)

// Assembly: records → events
//
// An Assembler groups Records into Events. It is not safe for concurrent use: the caller
// (the plugin) serialises Add, AddUnparsed, Drain and DrainAll.
//
// # Keys and streams
//
// An event is identified by its EventKey: node (node= prefix or journal _HOSTNAME), boot id
// (journal _BOOT_ID), the audit(sec.msec:serial) timestamp in milliseconds and the serial.
// All records with the same key form one event. A stream is one (Node, BootID) pair: the
// kernel numbers events of one boot with one 32-bit counter, which restarts at boot and rolls
// over from 4294967295 to 0 (older kernels skip 0). Serial comparisons ("newer", gaps) are
// made within a stream and modulo 2^32. Serials above 2^32-1 cannot come from a kernel; such
// events are assembled normally but take no part in serial comparisons or loss counting.
//
// # When an event is complete
//
// An event is complete, and is handed out by the next Drain, when the first of these holds:
//
//  1. EOE (1320) arrived for it (Reason eoe).
//  2. PROCTITLE (1327) arrived for it (Reason proctitle). The kernel writes PROCTITLE as the
//     last record before EOE; an EOE that arrives after its event was already handed out is
//     counted in AssemblerStats.LateMarkers (it carries no data) and produces nothing. An EOE
//     that arrives before the next Drain still joins its event.
//  3. The event's first record has a type that is always an event on its own (Reason
//     standalone): user-space messages 1100–1299 (USER_*, LOGIN-less PAM records, and
//     auditd's DAEMON_* 1200–1299), AUDIT_USER 1005, NETFILTER_PKT 1324 (logged by the kernel
//     without a task context), AUDIT_KERNEL 2000, and every type from 2100 up (user-space
//     ranges). Kernel records that are written inside a system call are NOT standalone, even
//     when they often arrive alone: AVC 1400, CONFIG_CHANGE 1305, LOGIN 1006, ANOM_* 1700s,
//     INTEGRITY_* 1800s, SECCOMP, TTY and the like are logged with the calling task's audit
//     context, share its serial and are followed by the SYSCALL record when the call returns.
//     Completing on them would cut such events in two, so they complete by rule 1, 2 or 4.
//  4. Quiet (Reason quiet): a record of the same stream with a newer serial has arrived, and
//     nothing new came for this event for the Quiet window, measured either in record time
//     (the newest record time of the stream ≥ the event's own time + Quiet) or in wall time
//     (now − arrival of the event's last record ≥ Quiet). Record time makes a replayed
//     backlog assemble the same way however fast it is read; wall time keeps a live stream
//     timely. This is how journal events (COS: no EOE, no PROCTITLE) complete.
//  5. Timeout (Reason timeout): Timeout has passed in wall time since the event's first
//     record arrived, even if no newer serial came (an idle node). This is normal and the
//     event is not marked Incomplete.
//  6. Evicted (Reason evicted, Incomplete): more than MaxInFlight events wait for
//     completion; the one whose first record arrived earliest is flushed, unless rule 4 or 5
//     already holds for it.
//  7. Drained (Reason drained, Incomplete): DrainAll at shutdown flushes every waiting event;
//     one that already meets rule 4 or 5 (judged at the newest wall time the assembler was
//     given) keeps that Reason and is complete.
//
// A stuck event never delays others: each event is judged on its own, so there is no
// head-of-line blocking. Drain looks at waiting events oldest first and stops at the first
// one that is younger than Quiet on both clocks (record time and wall time since its first
// record); an event behind it that is complete by record time only (its time is older than
// its arrival order suggests) is then found by wall time, at most Quiet later. Output order is the order in which events were found complete:
// events completed by a record (rules 1–3, and 6) in the order those records were added, then,
// at each Drain, lost-serial notices whose window has passed, then events that the Drain
// finds complete by rules 4–5 in order of their first record's arrival.
//
// Records of different events may interleave and arrive out of order within the window
// (records of serial 5 after serial 6 started): each joins its own event by key.
//
// # Duplicates and late records
//
// A record identical to one already seen (same stream, key, type and Text) is counted once:
// inside a waiting event it increments Event.Duplicates; after its event was handed out, it
// is recognised from a bounded memory of the identities (64-bit hashes) of the last
// SeenWindow emitted records and only increments AssemblerStats.Duplicates. This is what
// makes a replayed chunk (fluent-bit retry) harmless.
//
// A record that is not a duplicate but arrives after its event was handed out (a record
// later than the quiet window or the timeout) cannot be added to that event any more: the
// consumer already has it. It starts a new event with the same key, which completes by the
// normal rules and is emitted with Incomplete set (AssemblerStats.Late counts them). A late
// EOE is the exception described in rule 2. A late record is recognised by the duplicate
// memory while its event is in it, and beyond it by the stream's serial watermark: a kernel
// serial of the current baseline that is not newer than the newest one, not waiting and not
// in an open gap was handed out or counted lost already (see lateBySerial for the rules that
// keep reboots and rollover apart from late records).
//
// # Lost events
//
// Within a stream the assembler follows kernel serials (DAEMON_* records carry auditd's own
// serials and are ignored). A serial that is skipped opens a gap; records that arrive out of
// order fill it. A gap that is still open once the window has passed (the stream's newest
// record time ≥ the time of the record after the gap + Quiet, or Quiet of wall time since that
// record arrived) is emitted as one ItemLost with From, To (inclusive; To < From when the gap
// spans the 2^32 rollover) and Count. A serial going back by more than 65536 (a reboot in an
// audit.log, which has no boot id), a new boot id, or a DAEMON_START record starts a new
// baseline: open gaps of the old baseline are forgotten and no loss is counted across it. The
// single serial 0 skipped at rollover by older kernels is not a loss. DrainAll emits every
// open gap.
//
// # Accounting
//
// Every record given to Add ends in exactly one place, so that
//
//	Records == EventRecords + Duplicates + LateMarkers + Pending
//
// where Pending counts records held in events not yet handed out (see AssemblerStats).
//
// # Memory
//
// At most MaxInFlight events wait for completion; events completed but not yet drained wait
// for the caller's next Drain (the plugin drains after every chunk). The duplicate memory
// holds SeenWindow record hashes, at most as many event entries and an index of 4 to 8 slots
// of 8 bytes per event entry (seen.go). A caller that is done with handed-out events may give
// them back with Recycle; up to 1024 are kept for reuse. Streams that have
// nothing waiting are forgotten when more than 1024 streams are known.

// AssemblerConfig configures an Assembler. Zero values select the defaults.
type AssemblerConfig struct {
	Quiet        time.Duration // default 500ms
	Timeout      time.Duration // hard timeout since an event's first record arrived (wall), default 5s
	MaxInFlight  int           // bound on events waiting for completion, default 4096; the oldest is flushed, flagged Incomplete
	ArgvMaxBytes int           // total argv cap, default 64 KiB; 0 → default; negative → no cap
	Names        *Names        // optional uid/gid names for the Summary
	SeenWindow   int           // how many recently emitted record identities are remembered for de-dup (default 65536; negative → none)
}

// Defaults of AssemblerConfig.
const (
	DefaultQuiet        = 500 * time.Millisecond
	DefaultTimeout      = 5 * time.Second
	DefaultMaxInFlight  = 4096
	DefaultArgvMaxBytes = 64 << 10
	DefaultSeenWindow   = 65536
)

const (
	maxStreams      = 1024  // streams remembered; idle ones beyond this are forgotten
	rebaseDistance  = 65536 // a serial going back by more than this starts a new baseline
	maxGapsPerStrm  = 1024  // open gaps per stream; beyond this the oldest is declared at once
	typeUser        = 1005
	typeLogin       = 1006
	typeDaemonStart = 1200
	typeEOE         = 1320
	typeProctitle   = 1327
	typeKernel      = 2000
)

// AssemblerStats are running counts since NewAssembler.
type AssemblerStats struct {
	Records      uint64 // records given to Add
	Events       uint64 // events handed out
	EventRecords uint64 // records inside events handed out
	Duplicates   uint64 // records identical to one already seen, counted once (in a waiting event or after emission)
	DupAfterEmit uint64 // the part of Duplicates recognised after their event was handed out
	LateMarkers  uint64 // EOE records that arrived after their event was handed out
	Pending      uint64 // records in events not yet handed out (waiting or complete but not drained)
	Late         uint64 // events started by a record that arrived after its event was handed out
	Incomplete   uint64 // events handed out with Incomplete set
	Evicted      uint64 // events flushed by MaxInFlight
	Timeouts     uint64 // events completed by Timeout
	Drained      uint64 // events flushed incomplete by DrainAll
	Lost         uint64 // serials reported lost (sum of Lost.Count)
	LostItems    uint64 // ItemLost items emitted
	Unparsed     uint64 // AddUnparsed calls
	InFlight     int    // events waiting for completion now
	Streams      int    // streams known now
}

// Assembler groups records into events; see the package documentation above for the rules.
// It is not safe for concurrent use.
type Assembler struct {
	cfg     AssemblerConfig
	quietMs int64
	seed    maphash.Seed

	streams    map[streamKey]*stream
	lastStream *stream
	tick       uint64 // counts Add calls; stream LRU clock

	// waiting events (not complete), in first-arrival order
	head, tail *pending
	waiting    int

	ready  []readyItem // complete, not yet handed out, in completion order
	free   []*pending  // recycled events for reuse (Recycle)
	fields fieldPool   // recycled events' field arrays, for ParseLine and ParseJournal

	seen    seenSet
	stats   AssemblerStats
	recHint int   // records per multi-record event, moving average ×8: sizes new events
	lastNow int64 // newest wall time given, UnixNano
}

type readyItem struct {
	p  *pending // nil for Unparsed and Lost items
	it Item
}

type streamKey struct{ node, boot string }

type stream struct {
	key      streamKey
	hash     uint64
	bySerial u64table[*pending] // events not yet handed out, by serial
	last     *pending           // the event the previous record joined
	held     int                // len of all chains in bySerial
	lastUse  uint64

	maxMilli int64 // newest record time

	// kernel serial tracking
	haveMax    bool
	maxSerial  uint32 // newest kernel serial (modulo 2^32) of the current baseline
	haveHi     bool
	hiSeen     uint32 // newest kernel serial added since baseMilli
	baseMilli  int64  // record time where the hiSeen baseline began; older records are of an earlier one
	haveBase   bool
	rebase     bool   // DAEMON_START: the next kernel serial starts a new baseline
	next       uint32 // next expected serial
	baseSerial uint32 // first serial of the current baseline
	gaps       []gap
}

type gap struct {
	from, to   uint32
	afterMilli int64 // time of the record after the gap
	arrival    int64 // wall arrival of that record
}

type pending struct {
	ev         Event
	st         *stream
	first      int64 // wall arrival of the first record (UnixNano)
	last       int64 // wall arrival of the latest record
	hashes     []uint64
	hashBuf    [4]uint64
	prev, next *pending // waiting list
	same       *pending // another event of the stream with the same serial, different time
	ready      bool
	late       bool
	sysDone    bool // the event's SYSCALL record is in Summary already
	handedOut  bool // emitted and not recycled: Recycle may take it

	// Small events (the COS shape: SYSCALL+EXECVE) live in one allocation with their event.
	recBuf  [2]Record
	keyBuf  [1]string
	argvBuf [3]string // 3, not 4: with Event.owner, 4 would push pending past 1024 bytes (the next size class is 1152)
}

// NewAssembler returns an Assembler with cfg's zero values replaced by the defaults.
func NewAssembler(cfg AssemblerConfig) *Assembler {
	if cfg.Quiet <= 0 {
		cfg.Quiet = DefaultQuiet
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ArgvMaxBytes == 0 {
		cfg.ArgvMaxBytes = DefaultArgvMaxBytes
	}
	if cfg.SeenWindow == 0 {
		cfg.SeenWindow = DefaultSeenWindow
	}
	a := &Assembler{
		cfg:     cfg,
		quietMs: int64(cfg.Quiet / time.Millisecond),
		seed:    maphash.MakeSeed(),
		streams: make(map[streamKey]*stream),
		recHint: 8 * 2,
	}
	if cfg.SeenWindow > 0 {
		a.seen.init(cfg.SeenWindow)
	}
	return a
}

// isStandalone reports whether a record type is always an event of its own (rule 3).
func isStandalone(t uint16) bool {
	switch {
	case t == typeUser:
		return true
	case t >= 1100 && t <= 1299:
		return true
	case t == typeNetfilterPkt, t == typeKernel:
		return true
	case t >= 2100:
		return true
	}
	return false
}

// isDaemon reports auditd's own records, which carry auditd's serials, not the kernel's.
func isDaemon(t uint16) bool { return t >= 1200 && t <= 1299 }

// serialAfter reports whether serial a is newer than b, modulo 2^32.
func serialAfter(a, b uint32) bool { return int32(a-b) > 0 }

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (a *Assembler) keyHash(st *stream, k *EventKey) uint64 {
	return mix64(st.hash ^ mix64(uint64(k.UnixMilli)^mix64(k.Serial+0x9e3779b97f4a7c15)))
}

func (a *Assembler) recordHash(keyHash uint64, r *Record) uint64 {
	return mix64(keyHash ^ maphash.String(a.seed, r.Text) ^ uint64(r.Type)<<48)
}

func (a *Assembler) streamFor(node, boot string) *stream {
	if s := a.lastStream; s != nil && s.key.node == node && s.key.boot == boot {
		return s
	}
	k := streamKey{node, boot}
	s := a.streams[k]
	if s == nil {
		if len(a.streams) >= maxStreams {
			a.forgetIdleStream()
		}
		s = &stream{
			key:  k,
			hash: mix64(maphash.String(a.seed, node) ^ mix64(maphash.String(a.seed, boot)+1)),
		}
		a.streams[k] = s
	}
	a.lastStream = s
	return s
}

// forgetIdleStream drops the least recently used stream that holds no event and no open gap.
// If every stream is busy, the map may exceed maxStreams; each busy stream holds at least one
// event, so MaxInFlight and the caller's Drain still bound it.
func (a *Assembler) forgetIdleStream() {
	var victim *stream
	for _, s := range a.streams {
		if s.held == 0 && len(s.gaps) == 0 && (victim == nil || s.lastUse < victim.lastUse) {
			victim = s
		}
	}
	if victim != nil {
		delete(a.streams, victim.key)
		if a.lastStream == victim {
			a.lastStream = nil
		}
	}
}

func (st *stream) lookup(k *EventKey) *pending {
	if p := st.last; p != nil && p.ev.Key.Serial == k.Serial && p.ev.Key.UnixMilli == k.UnixMilli {
		return p
	}
	p, _ := st.bySerial.get(k.Serial)
	for ; p != nil; p = p.same {
		if p.ev.Key.UnixMilli == k.UnixMilli {
			return p
		}
	}
	return nil
}

func (st *stream) remove(p *pending) {
	q, _ := st.bySerial.get(p.ev.Key.Serial)
	if q == p {
		if p.same == nil {
			st.bySerial.del(p.ev.Key.Serial)
		} else {
			st.bySerial.put(p.ev.Key.Serial, p.same)
		}
	} else {
		for ; q != nil; q = q.same {
			if q.same == p {
				q.same = p.same
				break
			}
		}
	}
	p.same = nil
	st.held--
	if st.last == p {
		st.last = nil
	}
}

// Add adds one record; now is its wall arrival time. The assembler owns r.Fields from now
// on: Recycle reuses the array, so give each Record to Add once and keep no copy of it (a
// replayed line is parsed again).
func (a *Assembler) Add(r Record, now time.Time) {
	a.stats.Records++
	a.tick++
	nowNs := now.UnixNano()
	if nowNs > a.lastNow {
		a.lastNow = nowNs
	}
	st := a.streamFor(r.Key.Node, r.Key.BootID)
	st.lastUse = a.tick

	kh := a.keyHash(st, &r.Key)
	rh := a.recordHash(kh, &r)
	p := st.lookup(&r.Key)
	late := false
	if p != nil {
		if p.isDuplicate(rh, &r) {
			p.ev.Duplicates++
			a.stats.Duplicates++
			return
		}
	} else if !st.neverSeen(&r) {
		if a.seen.enabled() {
			found, dup := a.seen.lookup(st.hash+r.Key.Serial, kh, rh)
			if dup {
				a.stats.Duplicates++
				a.stats.DupAfterEmit++
				return
			}
			late = found
		}
		if !late {
			late = st.lateBySerial(&r)
		}
		if late && r.Type == typeEOE {
			a.stats.LateMarkers++
			return
		}
	}

	if r.Type == typeDaemonStart {
		st.rebase = true
	}
	if !isDaemon(r.Type) && r.Key.Serial <= math.MaxUint32 {
		a.trackSerial(st, uint32(r.Key.Serial), r.Key.UnixMilli, nowNs)
	}
	if r.Key.UnixMilli > st.maxMilli {
		st.maxMilli = r.Key.UnixMilli
	}

	a.stats.Pending++
	if p != nil {
		p.ev.Records = append(p.ev.Records, r)
		p.hashes = append(p.hashes, rh)
		p.last = nowNs
	} else {
		p = a.newPending(st, r, rh, nowNs)
		p.late = late
		if late {
			a.stats.Late++
		}
		if isStandalone(r.Type) {
			a.markReady(p, CompleteStandalone)
		}
	}
	st.last = p
	if r.Type == typeSyscall && !p.sysDone {
		// Summarised now, while the record's fields are in the cache: an event without an
		// end marker waits Quiet (500 ms) before it is handed out, and by then they are not;
		// fillSummary then took a cache miss for every field. The first SYSCALL in arrival
		// order is the one fillSummary would take.
		p.sysDone = true
		p.ev.Summary.summarize(&p.ev.Records[len(p.ev.Records)-1], p)
	}
	if !p.ready {
		switch r.Type {
		case typeEOE:
			a.markReady(p, CompleteEOE)
		case typeProctitle:
			a.markReady(p, CompleteProctitle)
		}
	}
	for a.waiting > a.cfg.MaxInFlight {
		a.flushOldest()
	}
}

func (p *pending) isDuplicate(h uint64, r *Record) bool {
	for i, x := range p.hashes {
		if x == h && p.ev.Records[i].Type == r.Type && p.ev.Records[i].Text == r.Text {
			return true
		}
	}
	return false
}

func (a *Assembler) newPending(st *stream, r Record, h uint64, nowNs int64) *pending {
	var p *pending
	if n := len(a.free); n > 0 {
		p, a.free[n-1] = a.free[n-1], nil
		a.free = a.free[:n-1]
		*p = pending{}
	} else {
		p = new(pending)
	}
	p.st, p.first, p.last = st, nowNs, nowNs
	p.ev.owner = p
	p.ev.Key = r.Key
	if n := (a.recHint + 7) / 8; n <= len(p.recBuf) || isStandalone(r.Type) {
		p.ev.Records = p.recBuf[:1]
	} else {
		p.ev.Records = make([]Record, 1, min(n, 64))
	}
	p.ev.Records[0] = r
	p.hashes = append(p.hashBuf[:0], h)
	if q, ok := st.bySerial.get(r.Key.Serial); ok {
		p.same = q
	}
	st.bySerial.put(r.Key.Serial, p)
	st.held++
	// append to the waiting list
	p.prev = a.tail
	if a.tail != nil {
		a.tail.next = p
	} else {
		a.head = p
	}
	a.tail = p
	a.waiting++
	return p
}

// markReady moves a waiting event to the ready queue. It stays findable by key until it is
// handed out, so records arriving before the next Drain still join it.
func (a *Assembler) markReady(p *pending, reason CompletionReason) {
	p.ready = true
	p.ev.Reason = reason
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		a.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		a.tail = p.prev
	}
	p.prev, p.next = nil, nil
	a.waiting--
	switch reason {
	case CompleteEvicted:
		a.stats.Evicted++
	case CompleteTimeout:
		a.stats.Timeouts++
	case CompleteDrained:
		a.stats.Drained++
	}
	a.ready = append(a.ready, readyItem{p: p})
}

// flushOldest makes room when more than MaxInFlight events wait (rule 6).
func (a *Assembler) flushOldest() {
	p := a.head
	if r := a.completion(p, a.lastNow); r != 0 {
		a.markReady(p, r)
		return
	}
	a.markReady(p, CompleteEvicted)
}

// completion applies rules 4 and 5 to a waiting event; 0 means not complete.
func (a *Assembler) completion(p *pending, nowNs int64) CompletionReason {
	st := p.st
	if st.haveMax && p.ev.Key.Serial <= math.MaxUint32 && serialAfter(st.maxSerial, uint32(p.ev.Key.Serial)) {
		if st.maxMilli-p.ev.Key.UnixMilli >= a.quietMs || nowNs-p.last >= int64(a.cfg.Quiet) {
			return CompleteQuiet
		}
	}
	if nowNs-p.first >= int64(a.cfg.Timeout) {
		return CompleteTimeout
	}
	return 0
}

// trackSerial follows kernel serials of a stream for rule 4 ("newer serial") and loss.
func (a *Assembler) trackSerial(st *stream, s uint32, ms, nowNs int64) {
	if !st.haveBase || st.rebase {
		a.rebaseline(st, s, ms)
		return
	}
	if serialAfter(s, st.maxSerial) {
		st.maxSerial = s
		// The baseline's first serial only guards the first records of a stream; kept within
		// a quarter of the serial space of the newest, so that the modulo-2^32 comparisons in
		// lateBySerial do not wrap on a stream that runs for 2^31 serials without a reboot
		// (records further back than rebaseDistance are not judged anyway).
		if st.maxSerial-st.baseSerial > 1<<30 {
			st.baseSerial = st.maxSerial - rebaseDistance
		}
	}
	if serialAfter(s, st.hiSeen) {
		st.hiSeen = s
	}
	d := s - st.next
	switch {
	case d == 0:
		st.next = s + 1
	case int32(d) > 0:
		if !(st.next == 0 && s == 1) { // older kernels skip serial 0 at rollover
			st.gaps = append(st.gaps, gap{from: st.next, to: s - 1, afterMilli: ms, arrival: nowNs})
			if len(st.gaps) > maxGapsPerStrm {
				a.declareGap(st, 0)
			}
		}
		st.next = s + 1
	default:
		back := st.next - s
		if back == 1 {
			return // another record of the newest event
		}
		if back > rebaseDistance || (ms > st.maxMilli && !st.inGap(s)) {
			// Far back, or back but newer than every record of the stream and not awaited:
			// a reboot (see lateBySerial).
			a.rebaseline(st, s, ms)
			return
		}
		st.fillGap(s)
	}
}

// neverSeen reports, cheaply, that no record with r's key was added before: its kernel serial
// is newer than every serial of the current baseline, and its time is not older than the
// baseline's start (records of earlier baselines all are). Then the duplicate memory need not
// be asked (a lookup in a large table, a cache miss per event).
func (st *stream) neverSeen(r *Record) bool {
	return st.haveHi && !isDaemon(r.Type) && r.Key.Serial <= math.MaxUint32 &&
		r.Key.UnixMilli >= st.baseMilli && serialAfter(uint32(r.Key.Serial), st.hiSeen)
}

// lateBySerial reports that r, which joins no waiting event and is not in the duplicate
// memory, belongs to an event that this stream already handed out or counted lost: the
// stream's watermark W is "every serial of the current baseline up to the newest one is handed
// out, waiting, or in an open gap (awaited, later counted lost)". Such a record (serial ≤ W,
// not waiting, not in a gap) is a late fragment and becomes its own Incomplete event, exactly
// like a late record that the duplicate memory still knows. This closes the hole beyond the
// SeenWindow, where a late fragment would otherwise look like a new event with its original
// key (and the consumer's id for that key).
//
// Serials restart at boot and roll over, so "≤ W" is only trusted within the baseline:
//   - a new boot id is a new stream, with no baseline yet;
//   - a serial more than rebaseDistance behind starts a new baseline (trackSerial);
//   - a serial behind W whose time is newer than every record of the stream cannot be a
//     fragment of an event already seen (a fragment carries its event's time, which was
//     seen): it is the first event after a reboot (audit.log has no boot id), and trackSerial
//     starts a new baseline with it;
//   - a serial before the baseline's first one was never tracked (records of the first events
//     of a stream may arrive slightly out of order): not late;
//   - rollover: comparisons are modulo 2^32; DAEMON_* records (auditd's serials) and serials
//     above 2^32-1 take no part.
func (st *stream) lateBySerial(r *Record) bool {
	if !st.haveBase || st.rebase || isDaemon(r.Type) || r.Key.Serial > math.MaxUint32 {
		return false
	}
	s := uint32(r.Key.Serial)
	if serialAfter(s, st.maxSerial) || serialAfter(st.baseSerial, s) {
		return false
	}
	if st.next-s > rebaseDistance || r.Key.UnixMilli > st.maxMilli {
		return false
	}
	return !st.inGap(s)
}

// inGap reports whether serial s is in an open gap (awaited).
func (st *stream) inGap(s uint32) bool {
	for i := range st.gaps {
		g := &st.gaps[i]
		if s-g.from <= g.to-g.from {
			return true
		}
	}
	return false
}

func (a *Assembler) rebaseline(st *stream, s uint32, ms int64) {
	// A reboot moves time forward; a replay of old records (which must still be recognised
	// as duplicates) does not.
	if !st.haveHi || ms > st.maxMilli {
		st.haveHi, st.hiSeen, st.baseMilli = true, s, ms
	}
	st.haveBase, st.rebase = true, false
	st.haveMax, st.maxSerial = true, s
	st.baseSerial = s
	st.next = s + 1
	st.gaps = st.gaps[:0]
}

// fillGap removes serial s from the open gaps, if it is in one.
func (st *stream) fillGap(s uint32) {
	for i := range st.gaps {
		g := &st.gaps[i]
		if s-g.from > g.to-g.from { // not in [from, to] modulo 2^32
			continue
		}
		switch {
		case g.from == g.to:
			st.gaps = append(st.gaps[:i], st.gaps[i+1:]...)
		case s == g.from:
			g.from++
		case s == g.to:
			g.to--
		default:
			tail := gap{from: s + 1, to: g.to, afterMilli: g.afterMilli, arrival: g.arrival}
			g.to = s - 1
			st.gaps = append(st.gaps, gap{})
			copy(st.gaps[i+2:], st.gaps[i+1:])
			st.gaps[i+1] = tail
		}
		return
	}
}

// declareGap emits the i-th open gap of a stream as lost.
func (a *Assembler) declareGap(st *stream, i int) {
	g := st.gaps[i]
	st.gaps = append(st.gaps[:i], st.gaps[i+1:]...)
	n := uint64(g.to-g.from) + 1
	a.stats.Lost += n
	a.stats.LostItems++
	a.ready = append(a.ready, readyItem{it: Item{Kind: ItemLost, Lost: &Lost{
		Node: st.key.node, BootID: st.key.boot,
		From: uint64(g.from), To: uint64(g.to), Count: n,
		Time: time.UnixMilli(g.afterMilli).UTC(),
	}}})
}

// AddUnparsed passes an input that is not an audit record straight through as an Item.
func (a *Assembler) AddUnparsed(u Unparsed) {
	a.stats.Unparsed++
	a.ready = append(a.ready, readyItem{it: Item{Kind: ItemUnparsed, Unparsed: &u}})
}

// Drain appends every Item that is ready at wall time now to out and returns it.
func (a *Assembler) Drain(now time.Time, out []Item) []Item {
	nowNs := now.UnixNano()
	if nowNs > a.lastNow {
		a.lastNow = nowNs
	}
	for _, st := range a.streams {
		for i := 0; i < len(st.gaps); {
			g := &st.gaps[i]
			if st.maxMilli-g.afterMilli >= a.quietMs || nowNs-g.arrival >= int64(a.cfg.Quiet) {
				a.declareGap(st, i)
				continue
			}
			i++
		}
	}
	// Oldest first; stop at the first event that is younger than Quiet on both clocks: the
	// ones behind it arrived later, so only one with an older record time than its position
	// suggests could be complete, and that one completes by wall time at a later Drain.
	for p := a.head; p != nil; {
		next := p.next
		if r := a.completion(p, nowNs); r != 0 {
			a.markReady(p, r)
		} else if p.st.maxMilli-p.ev.Key.UnixMilli < a.quietMs && nowNs-p.first < int64(a.cfg.Quiet) {
			break
		}
		p = next
	}
	return a.flushReady(out)
}

// DrainAll hands out everything at shutdown: waiting events are flushed with Reason drained
// and Incomplete set (unless the quiet rule already holds), and open gaps are reported.
func (a *Assembler) DrainAll(out []Item) []Item {
	for _, st := range a.streams {
		for len(st.gaps) > 0 {
			a.declareGap(st, 0)
		}
	}
	for p := a.head; p != nil; {
		next := p.next
		r := a.completion(p, a.lastNow)
		if r == 0 {
			r = CompleteDrained
		}
		a.markReady(p, r)
		p = next
	}
	return a.flushReady(out)
}

func (a *Assembler) flushReady(out []Item) []Item {
	for i := range a.ready {
		ri := &a.ready[i]
		if ri.p == nil {
			out = append(out, ri.it)
			continue
		}
		out = append(out, Item{Kind: ItemEvent, Event: a.emit(ri.p)})
	}
	clear(a.ready)
	a.ready = a.ready[:0]
	return out
}

// emit finishes an event as it is handed out.
func (a *Assembler) emit(p *pending) *Event {
	st := p.st
	st.remove(p)
	ev := &p.ev
	switch ev.Reason {
	case CompleteEvicted, CompleteDrained:
		ev.Incomplete = true
	}
	if p.late {
		ev.Incomplete = true
	}
	if a.seen.enabled() {
		a.seen.addEvent(st.hash+ev.Key.Serial, a.keyHash(st, &ev.Key), p.hashes)
	}
	n := uint64(len(ev.Records))
	a.stats.Pending -= n
	a.stats.EventRecords += n
	a.stats.Events++
	if ev.Incomplete {
		a.stats.Incomplete++
	}
	if !isStandalone(ev.Records[0].Type) {
		a.recHint += len(ev.Records) - a.recHint/8
	}
	p.fillSummary(&a.cfg)
	p.st, p.hashes = nil, nil
	p.handedOut = true
	return ev
}

// maxFree bounds the recycled events kept for reuse.
const maxFree = 1024

// Recycle gives events back to the Assembler once the caller is completely done with them:
// their memory (about 1 KB each, the Event with room for its first records, argv and rule
// keys) is reused for later events instead of being allocated again and collected by the
// GC, and their records' field arrays by the Assembler's ParseLine and ParseJournal. Calling
// it is optional; without it nothing is reused.
//
// After Recycle the Events of items, and the slices reachable from them (Records, their
// Fields, Argv, Keys, Paths), must not be used any more: a later event will overwrite them. Strings taken
// from them stay valid (they live in the records' own buffers, which are not reused).
// Items that are not events, events this package did not make, copies of events, and events
// recycled already are ignored. Recycle clears the Event pointers in items.
func (a *Assembler) Recycle(items []Item) {
	for i := range items {
		ev := items[i].Event
		if ev == nil {
			continue
		}
		items[i].Event = nil
		p := ev.owner
		if p == nil || &p.ev != ev || !p.handedOut {
			continue
		}
		p.handedOut = false
		for j := range ev.Records {
			a.fields.put(ev.Records[j].Fields)
		}
		if len(a.free) < maxFree {
			a.free = append(a.free, p)
		}
	}
}

func (a *Assembler) fieldPool() *fieldPool {
	if a == nil {
		return nil
	}
	return &a.fields
}

// InFlight returns the number of events waiting for completion (at most MaxInFlight).
func (a *Assembler) InFlight() int { return a.waiting }

// Stats returns the running counts.
func (a *Assembler) Stats() AssemblerStats {
	s := a.stats
	s.InFlight = a.waiting
	s.Streams = len(a.streams)
	return s
}
