package filter

import (
	"hash/maphash"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Options configure a Stage. The zero value ships everything unchanged.
type Options struct {
	Include, Exclude *Rules
	// OmitLoaderPaths drops PATH records (and Summary.Paths items) naming the dynamic loader
	// (ld-linux*.so*, ld-musl-*, ld.so*): every dynamically linked exec has one, and it says nothing.
	OmitLoaderPaths bool
	// CollapseWindow > 0 collapses identical events (see fingerprint): the
	// first is shipped at once; repeats within the window are counted and shipped as one event
	// carrying Repeats when the window closes. A steady repeat costs one entry per window.
	CollapseWindow time.Duration
	// MaxCollapsed bounds the collapse table; when full, the oldest group is closed early.
	MaxCollapsed int
	// RateLimit > 0 is a per-node limit in events per second with RateBurst; events over it are
	// dropped and reported, never silently.
	RateLimit float64
	RateBurst int
	// RateExempt, when set, names the events the rate limit spares (the plugin: severity
	// WARNING and above), so a flood of cheap events cannot push a denial or a failed login
	// out. They use a token when one is left; past the limit they have their own, ten times
	// larger (ExemptFactor), so a flood of them (any process can dump core: ANOM_ABEND) is
	// still bounded.
	RateExempt func(*parser.Event) bool
	// ReportInterval is how often a Report of filtered, collapsed and rate-limited events is
	// emitted (only when something was held back). Default one minute.
	ReportInterval time.Duration
}

// Decision says what the stage did with one event.
type Decision uint8

const (
	Shipped     Decision = iota + 1 // passed on (possibly trimmed)
	Filtered                        // an Include/Exclude rule held it back
	Collapsed                       // counted into a collapse group; shipped later as part of a Repeats event
	RateLimited                     // over the rate limit; counted in the next Report
)

func (d Decision) String() string {
	switch d {
	case Shipped:
		return "shipped"
	case Filtered:
		return "filtered"
	case Collapsed:
		return "collapsed"
	case RateLimited:
		return "rate_limited"
	}
	return "unknown"
}

// Out is one thing the stage passes on: an event, or a periodic report.
type Out struct {
	Event  *parser.Event
	Report *Report
}

// Report says what was held back during [Start, End), by kind of event ("EXECVE key=exec").
type Report struct {
	Start, End  time.Time
	Filtered    map[string]int
	Collapsed   map[string]int
	RateLimited map[string]int
}

// Total is the number of events the report accounts for.
func (r *Report) Total() int {
	n := 0
	for _, m := range []map[string]int{r.Filtered, r.Collapsed, r.RateLimited} {
		for _, v := range m {
			n += v
		}
	}
	return n
}

// Kinds returns the report's kinds sorted by count, largest first, for a stable summary.
func Kinds(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

type group struct {
	// A window opens at an event's own time (so replayed backlogs collapse as they happened)
	// and, for Tick on a live stream, at the wall time it was opened.
	openedAt   time.Time
	openedWall time.Time
	last       *parser.Event
	count      int // repeats in the current window (the first, shipped event is not counted)
	first      time.Time
	lastT      time.Time
}

// Stage applies the filters in order: rules, loader-path trimming, collapse, rate limit.
// Not safe for concurrent use; the output instance serialises calls.
type Stage struct {
	o        Options
	seed     maphash.Seed
	groups   map[uint64]*group
	limiter  *rate.Limiter
	exempt   *rate.Limiter // RateExempt's own, past limiter
	report   Report
	reportAt time.Time
}

// New returns a Stage.
func New(o Options) *Stage {
	if o.ReportInterval <= 0 {
		o.ReportInterval = time.Minute
	}
	if o.MaxCollapsed <= 0 {
		o.MaxCollapsed = 10000
	}
	s := &Stage{o: o, seed: maphash.MakeSeed(), groups: map[uint64]*group{}}
	if o.RateLimit > 0 {
		burst := o.RateBurst
		if burst <= 0 {
			burst = int(o.RateLimit)
			if burst < 1 {
				burst = 1
			}
		}
		s.limiter = rate.NewLimiter(rate.Limit(o.RateLimit), burst)
		s.exempt = rate.NewLimiter(rate.Limit(o.RateLimit*ExemptFactor), burst*ExemptFactor)
	}
	return s
}

// ExemptFactor: the events RateExempt names get their own limit, this many times Rate_Limit
// (and Rate_Burst), once the shared one is used up.
const ExemptFactor = 10

// Active reports whether the stage can hold anything back or change events.
func (s *Stage) Active() bool {
	return !s.o.Include.Empty() || !s.o.Exclude.Empty() ||
		s.o.OmitLoaderPaths || s.o.CollapseWindow > 0 || s.limiter != nil
}

// Process decides about one event and appends what is to be shipped now to out.
func (s *Stage) Process(ev *parser.Event, now time.Time, out []Out) ([]Out, Decision) {
	if s.reportAt.IsZero() {
		s.reportAt = now
		s.report.Start = now
	}
	if (!s.o.Include.Empty() && !s.o.Include.Match(ev)) || s.o.Exclude.Match(ev) {
		count(&s.report.Filtered, ev)
		return out, Filtered
	}
	if s.o.OmitLoaderPaths {
		trimLoaderPaths(ev)
	}
	if s.o.CollapseWindow > 0 {
		h := s.fingerprint(ev)
		t := ev.Key.Time()
		g, ok := s.groups[h]
		if ok && t.Sub(g.openedAt) >= s.o.CollapseWindow {
			// The window has passed in event time: close it. A group that saw repeats stays open
			// and counts this event too, so a steady repeat costs one entry per window.
			if g.count > 0 {
				out = append(out, Out{Event: g.emit()})
				g.openedAt, g.openedWall = t, now
			} else {
				delete(s.groups, h)
				ok = false
			}
		}
		if ok {
			if g.count == 0 {
				g.first = t
			}
			g.count++
			g.last = ev
			g.lastT = t
			count(&s.report.Collapsed, ev)
			return out, Collapsed
		}
		if len(s.groups) >= s.o.MaxCollapsed {
			out = s.closeOldest(out)
		}
		s.groups[h] = &group{openedAt: t, openedWall: now}
	}
	// The limit runs on event time: a backlog replayed after an outage is limited as it
	// happened, not as one burst.
	if t := ev.Key.Time(); s.limiter != nil && !s.limiter.AllowN(t, 1) &&
		(s.o.RateExempt == nil || !s.o.RateExempt(ev) || !s.exempt.AllowN(t, 1)) {
		count(&s.report.RateLimited, ev)
		return out, RateLimited
	}
	return append(out, Out{Event: ev}), Shipped
}

// Tick closes collapse windows that have ended and emits the periodic report when due.
func (s *Stage) Tick(now time.Time, out []Out) []Out {
	for h, g := range s.groups {
		if now.Sub(g.openedWall) < s.o.CollapseWindow {
			continue
		}
		if g.count == 0 {
			// A window without repeats: forget the group, so the next one ships at once.
			delete(s.groups, h)
			continue
		}
		g.openedAt = g.lastT // the next window starts after the last repeat, in event time
		g.openedWall = now
		out = append(out, Out{Event: g.emit()})
	}
	if !s.reportAt.IsZero() && now.Sub(s.reportAt) >= s.o.ReportInterval {
		out = s.emitReport(now, out)
	}
	return out
}

// Flush closes every collapse group and emits a final report (at shutdown).
func (s *Stage) Flush(now time.Time, out []Out) []Out {
	for h, g := range s.groups {
		if g.count > 0 {
			out = append(out, Out{Event: g.emit()})
		}
		delete(s.groups, h)
	}
	if s.report.Total() > 0 {
		out = s.emitReport(now, out)
	}
	return out
}

func (g *group) emit() *parser.Event {
	ev := g.last
	ev.Repeats = &parser.Repeats{Count: g.count, First: g.first, Last: g.lastT}
	g.count = 0
	g.last = nil
	return ev
}

func (s *Stage) closeOldest(out []Out) []Out {
	var oldest uint64
	var og *group
	for h, g := range s.groups {
		if og == nil || g.openedWall.Before(og.openedWall) {
			oldest, og = h, g
		}
	}
	if og != nil {
		if og.count > 0 {
			out = append(out, Out{Event: og.emit()})
		}
		delete(s.groups, oldest)
	}
	return out
}

func (s *Stage) emitReport(now time.Time, out []Out) []Out {
	if s.report.Total() > 0 {
		r := s.report
		r.End = now
		out = append(out, Out{Report: &r})
	}
	s.report = Report{Start: now}
	s.reportAt = now
	return out
}

// fingerprint hashes what makes two events "the same" for collapsing: everything the summary
// says about who did what to which object, with what result — all but the process and session
// ids and the time (record-level fields the summary does not lift, such as suid or a path's
// inode, are not compared), which differ between the runs of one cron job. Two connects to different
// peers, opens of different files or logins from different hosts stay apart: a repeat count
// must never stand for events an investigator would want to tell apart.
func (s *Stage) fingerprint(ev *parser.Event) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	str := func(v string) {
		h.WriteString(v)
		h.WriteByte(0)
	}
	id := func(v parser.ID) {
		var b [6]byte
		b[0], b[1], b[2], b[3] = byte(v.Num), byte(v.Num>>8), byte(v.Num>>16), byte(v.Num>>24)
		if v.Set {
			b[4] = 1
		}
		if v.Unset {
			b[5] = 1
		}
		h.Write(b[:])
	}
	sm := &ev.Summary
	if len(ev.Records) > 0 {
		str(ev.Records[0].TypeName())
	} else {
		str("")
	}
	for _, v := range []string{sm.Syscall, sm.Arch, sm.Success, sm.Exit, sm.Exe, sm.Comm, sm.Cwd, sm.Title,
		sm.TTY, sm.Terminal, sm.Hostname, sm.Acct, sm.Op} {
		str(v)
	}
	for _, v := range []parser.ID{sm.AUID, sm.UID, sm.EUID, sm.GID} {
		id(v)
	}
	h.WriteByte(1)
	for _, a := range sm.Argv {
		str(a)
	}
	// Arguments past Argv_Max_Bytes are not in Argv: argc and what was cut tell such runs apart.
	str(strconv.Itoa(sm.Argc))
	if m := sm.ArgvMarker; m != nil {
		str(strconv.Itoa(m.Args))
		str(strconv.Itoa(m.Bytes))
	}
	h.WriteByte(1)
	for _, p := range sm.Paths {
		str(p.Name)
		str(p.Nametype)
	}
	h.WriteByte(1)
	if p := sm.Peer; p != nil {
		str(p.Family)
		str(p.Addr)
		str(strconv.Itoa(p.Port))
		if p.Addr == "" {
			// Only for an address not decoded: a decoded sockaddr's raw bytes may differ in
			// padding (sin_zero, the tail of sun_path) between identical connects.
			str(p.Raw)
		}
	}
	h.WriteByte(1)
	for _, k := range sm.Keys {
		str(k)
	}
	return h.Sum64()
}

// Kind names an event for reports: its first record type, and its first rule key if any.
func Kind(ev *parser.Event) string {
	t := "EVENT"
	if len(ev.Records) > 0 {
		t = ev.Records[0].TypeName()
	}
	if len(ev.Summary.Keys) > 0 {
		return t + " key=" + ev.Summary.Keys[0]
	}
	return t
}

func count(m *map[string]int, ev *parser.Event) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[Kind(ev)]++
}

// IsLoaderPath reports whether p names a dynamic loader.
func IsLoaderPath(p string) bool {
	b := path.Base(p)
	return strings.HasPrefix(b, "ld-linux") || strings.HasPrefix(b, "ld-musl-") || strings.HasPrefix(b, "ld.so") ||
		strings.HasPrefix(b, "ld64.so")
}

const typePath = 1302 // AUDIT_PATH

func trimLoaderPaths(ev *parser.Event) {
	recs := ev.Records[:0]
	for i := range ev.Records {
		r := &ev.Records[i]
		if r.Type == typePath {
			if f, ok := r.Get("name"); ok && IsLoaderPath(f.Value) {
				continue
			}
		}
		recs = append(recs, *r)
	}
	ev.Records = recs
	paths := ev.Summary.Paths[:0]
	for _, p := range ev.Summary.Paths {
		if !IsLoaderPath(p.Name) {
			paths = append(paths, p)
		}
	}
	ev.Summary.Paths = paths
}
