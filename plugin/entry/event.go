package entry

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/internal/ascii"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/proto"
)

// Labels: few and short, since every label is paid for on every entry.
const (
	labelTypes      = "types"      // distinct record types in order, EOE left out: "SYSCALL,EXECVE"
	labelKeys       = "keys"       // rule keys, comma-joined
	labelNode       = "node"       // the node the event came from
	labelIncomplete = "incomplete" // "true" on events flushed without all their records
	labelKind       = "kind"       // "unparsed", "lost" on entries that are not audit events
	maxLabelValue   = 256
)

// typeSeq is the cache key of a types label: up to 8 distinct record types in order.
type typeSeq [8]uint16

const maxTypeLabels = 1024

func (b *Builder) typesLabel(ev *parser.Event) string {
	var seq typeSeq
	n, overflow := 0, false
outer:
	for i := range ev.Records {
		t := ev.Records[i].Type
		if t == tEOE {
			continue
		}
		for _, s := range seq[:n] {
			if s == t {
				continue outer
			}
		}
		if n == len(seq) {
			overflow = true
			break
		}
		seq[n] = t
		n++
	}
	if !overflow {
		b.mu.Lock()
		s, ok := b.typeLabels[seq]
		b.mu.Unlock()
		if ok {
			return s
		}
	}
	var sb strings.Builder
	seen := make(map[uint16]bool)
	for i := range ev.Records {
		t := ev.Records[i].Type
		if t == tEOE || seen[t] {
			continue
		}
		seen[t] = true
		name := parser.TypeName(t)
		if sb.Len()+len(name)+1 > maxLabelValue {
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(name)
	}
	s := sb.String()
	if !overflow {
		b.mu.Lock()
		if len(b.typeLabels) < maxTypeLabels {
			b.typeLabels[seq] = s
		}
		b.mu.Unlock()
	}
	return s
}

// labelKey is the cache key of an event's labels: the values they are made of.
type labelKey struct {
	types, keys, node string
	incomplete        bool
}

// labelSet is a labels map with its share of the entry's size.
type labelSet struct {
	m    map[string]string
	cost int
}

// maxLabelSets bounds the label cache. Real nodes have a few dozen shapes (record types ×
// rule keys); past the bound, labels are built per entry as before.
const maxLabelSets = 1024

// eventLabels returns the labels of an event's entry. Entries with the same label values
// share one map (a map is two allocations per entry otherwise): nothing downstream writes
// to an entry's labels, and Build documents entries as read-only.
func (b *Builder) eventLabels(ev *parser.Event, node string) (map[string]string, int) {
	k := labelKey{types: b.typesLabel(ev), node: node, incomplete: ev.Incomplete}
	if keys := ev.Summary.Keys; len(keys) == 1 {
		k.keys = clean(cutUTF8(keys[0], maxLabelValue))
	} else if len(keys) > 1 {
		k.keys = clean(cutUTF8(strings.Join(keys, ","), maxLabelValue))
	}
	b.mu.Lock()
	ls, ok := b.labelSets[k]
	b.mu.Unlock()
	if ok {
		return ls.m, ls.cost
	}
	ls = newLabelSet(k)
	b.mu.Lock()
	if len(b.labelSets) < maxLabelSets {
		b.labelSets[k] = ls
	}
	b.mu.Unlock()
	return ls.m, ls.cost
}

func newLabelSet(k labelKey) labelSet {
	n := count(k.types != "", k.keys != "", k.node != "", k.incomplete)
	ls := labelSet{m: make(map[string]string, n)}
	add := func(key, v string) {
		if v != "" {
			ls.m[key] = v
			ls.cost += fieldSize(len(key), len(v))
		}
	}
	add(labelTypes, k.types)
	add(labelKeys, k.keys)
	add(labelNode, k.node)
	if k.incomplete {
		add(labelIncomplete, "true")
	}
	return ls
}

// plan says what to cut from an event whose entry would exceed the cap. Fields are -1 (or
// an empty range) when nothing is cut.
type plan struct {
	truncated  bool
	rawLimit   int    // bytes kept of each raw text
	argvCut    [2]int // arguments [lo, hi) left out
	argLimit   int    // bytes kept of each remaining argument
	valLimit   int    // bytes kept of each record field value
	fieldLimit int    // estimated bytes kept of each record's fields
	recCut     [2]int // records [lo, hi) left out
}

func noPlan() plan { return plan{rawLimit: -1, argLimit: -1, valLimit: -1, fieldLimit: -1} }

func (b *Builder) buildEvent(a *arena, ev *parser.Event) *loggingpb.LogEntry {
	key := ev.Key
	if key.Node == "" {
		key.Node = b.o.NodeName
	}
	node := clean(cutUTF8(key.Node, maxLabelValue))
	id := eventID(key, ev)
	_, e := b.start(a, ev.Key.Time(), a.string(id[:]), SeverityOf(ev))
	labels, est := b.eventLabels(ev, node)
	e.Labels = labels
	est += costEntry

	// recs is the event as far as the records list goes: without records when they are
	// omitted, so neither their interpretation nor the size plan costs anything. (Records
	// leaves EXECVE arguments out itself; the plan works on a view without them.)
	recs := ev
	if b.o.OmitRecords {
		recs = &parser.Event{} // plan and records read only Records
	}
	argv := ev.Summary.Argv
	for i, s := range argv {
		if c := clean(s); len(c) != len(s) {
			argv = cleanAll(argv, i)
			break
		}
	}

	// Nearly every event fits the cap as it is: argv and the records are written without a
	// plan, each field interpreted straight into the payload. An event that turns out over
	// the cap is written again below with a plan of what to cut.
	fixedEst := est
	root := a.tree.resetStream(&est)
	whole := noPlan()
	_, _, cut := b.eventFixed(a, root, ev, node, argv, &whole)
	if cut {
		root.boolean(kTruncated, true)
	}
	b.records(a, root, recs, nil, &whole)
	clear(a.fields) // withoutArgs's scratch: the pooled arena must not keep this event's strings
	a.rec = parser.Record{}
	if est <= b.max && !alwaysPlan { // est is an upper bound of the entry's size
		a.finish(e)
		return e
	}

	// Interpreted values first: their lengths decide what has to be cut.
	est = fixedEst
	if !b.o.OmitRecords {
		recs = withoutExecArgs(ev, a)
		if recs != ev {
			// The view's records and fields are the arena's scratch: drop their strings.
			defer func() { clear(a.recs); clear(a.fields); a.view = parser.Event{} }()
		}
	}
	vals := a.interpretAll(recs, b.o.Names)
	defer clear(vals) // the pooled scratch must not keep this event's strings alive
	root = a.tree.reset(&est)
	proc, title, cut := b.eventFixed(a, root, ev, node, argv, nil)
	pl := b.plan(recs, vals, argv, b.max-est)
	if pl.truncated || cut {
		root.boolean(kTruncated, true)
	}
	b.argv(proc, ev, argv, title, &pl)
	b.records(a, root, recs, vals, &pl)
	a.finish(e)

	if (pl.truncated || est > b.max) && proto.Size(e) > b.max {
		// The fixed part alone (paths, keys, ...) is over the cap, or the estimate was
		// wrong: fall back to the emergency form rather than send an entry the API refuses.
		b.emergency(a, e, ev, node)
	}
	return e
}

// alwaysPlan makes every event take the planned path (tests compare the two paths).
var alwaysPlan = false

const typeExecve = 1309 // AUDIT_EXECVE

// withoutExecArgs returns the event as the records list shows it: EXECVE records keep argc
// but not their aN, aN_len and aN[i] fields. process.argv already carries the arguments,
// joined across records and split pieces and capped by Argv_Max_Bytes; repeating them in the
// records would double what every exec costs and defeat the cap. Events without EXECVE
// records are returned as they are, without copying. The view's records and fields are
// a's scratch space, valid until the next build with a.
func withoutExecArgs(ev *parser.Event, a *arena) *parser.Event {
	first := -1
	for i := range ev.Records {
		if ev.Records[i].Type == typeExecve {
			first = i
			break
		}
	}
	if first < 0 {
		return ev
	}
	view := &a.view
	*view = parser.Event{Key: ev.Key, Records: append(a.recs[:0], ev.Records...)}
	a.recs = view.Records
	n := 0
	for i := first; i < len(view.Records); i++ {
		if view.Records[i].Type == typeExecve {
			n += len(view.Records[i].Fields)
		}
	}
	fields := a.fields[:0]
	if cap(fields) < n {
		fields = make([]parser.Field, 0, n)
	}
	for i := first; i < len(view.Records); i++ {
		r := &view.Records[i]
		if r.Type != typeExecve {
			continue
		}
		start := len(fields)
		fields = appendNonArgs(fields, r.Fields)
		// fields has room for all of them, so it never moves; the full slice expression
		// keeps the next record's fields out of this one's capacity.
		r.Fields = fields[start:len(fields):len(fields)]
	}
	a.fields = fields
	return view
}

// withoutArgs returns a copy of an EXECVE record without its argument fields (see
// withoutExecArgs), in a's scratch space, valid until the next call.
func (a *arena) withoutArgs(r *parser.Record) *parser.Record {
	fields := appendNonArgs(a.fields[:0], r.Fields)
	a.fields = fields
	a.rec = *r
	a.rec.Fields = fields[:len(fields):len(fields)]
	return &a.rec
}

// appendNonArgs appends the fields of an EXECVE record that are not arguments.
func appendNonArgs(dst, fields []parser.Field) []parser.Field {
	for _, f := range fields {
		if !isArgField(f.Key) {
			dst = append(dst, f)
		}
	}
	return dst
}

// isArgField matches EXECVE argument keys: a0, a12, a3_len, a3[0].
func isArgField(k string) bool {
	if len(k) < 2 || k[0] != 'a' || k[1] < '0' || k[1] > '9' {
		return false
	}
	i := 1
	for i < len(k) && k[i] >= '0' && k[i] <= '9' {
		i++
	}
	rest := k[i:]
	return rest == "" || rest == "_len" || (len(rest) > 2 && rest[0] == '[' && rest[len(rest)-1] == ']')
}

// interpretAll returns the ausearch -i form of every field of the event's records, in order,
// for the payload. The values are written into the arena's scratch buffer: they are only
// needed until the payload is encoded, so they cost no allocation. ausearch prints the fields
// it leaves alone with their double quotes (dev="sda1"); in JSON those quotes would only be
// noise, so a quoted value that was not interpreted is stored bare.
func (a *arena) interpretAll(ev *parser.Event, names *parser.Names) []string {
	buf, ends := a.interp[:0], a.ends[:0]
	for i := range ev.Records {
		r := &ev.Records[i]
		for j := range r.Fields {
			buf = parser.AppendInterpret(buf, r, &r.Fields[j], names)
			ends = append(ends, len(buf))
		}
	}
	// Strings over buf only once it has stopped growing. Values are cleaned one by one only
	// when buf is not all ASCII (then a part could be invalid UTF-8 even if the whole is not).
	allASCII := ascii.Is(buf)
	vals := a.vals[:0]
	start, k := 0, 0
	for i := range ev.Records {
		r := &ev.Records[i]
		for j := range r.Fields {
			f := &r.Fields[j]
			v := unsafe.String(unsafe.SliceData(buf[start:]), ends[k]-start)
			start = ends[k]
			k++
			if f.Quoted && len(v) == len(f.Value)+2 && v[0] == '"' && v[len(v)-1] == '"' && v[1:len(v)-1] == f.Value {
				v = f.Value
			}
			if !allASCII {
				v = clean(v)
			}
			vals = append(vals, v)
		}
	}
	a.interp, a.ends, a.vals = buf, ends, vals
	return vals
}

// interpretRecord is interpretAll for one record (for the rare record that repeats keys,
// when the event is written without interpretAll).
func (a *arena) interpretRecord(r *parser.Record, names *parser.Names) []string {
	one := parser.Event{Records: []parser.Record{*r}}
	return a.interpretAll(&one, names)
}

func cleanAll(in []string, from int) []string {
	out := make([]string, len(in))
	copy(out, in[:from])
	for i := from; i < len(in); i++ {
		out[i] = clean(in[i])
	}
	return out
}

// eventFixed writes every payload field except the records, and argv only when given the
// plan for it (streaming needs each object complete in one go); otherwise it returns the
// process object, for argv to be added to it after planning, and whether a title was written.
func (b *Builder) eventFixed(a *arena, root obj, ev *parser.Event, node string, argv []string, argvPlan *plan) (proc obj, title, cut bool) {
	sm := &ev.Summary
	// The summary is written in the arena's scratch (a stack buffer would escape: the
	// writer's appends leak it), where it stays until the payload is encoded: no copy.
	line := appendSummary(a.line[:0], ev)
	a.line = line[:0]
	root.str(kSummary, clean(unsafe.String(unsafe.SliceData(line), len(line))))
	eventHead(root, ev, node)

	// process
	title = sm.Title != "" && !titleRedundant(sm.Title, argv)
	n := count(sm.PID != "", sm.PPID != "", sm.Exe != "", sm.Comm != "", sm.Cwd != "", title,
		len(argv) > 0, sm.Argc > 0, sm.ArgvMarker != nil)
	if n > 0 {
		// argv_truncated may be added by the planner: room for one more.
		proc = root.child(kProcess, n+1)
		proc.numOrStr("pid", sm.PID)
		proc.numOrStr("ppid", sm.PPID)
		proc.str("exe", fit(sm.Exe, &cut))
		proc.str("comm", fit(sm.Comm, &cut))
		proc.str("cwd", fit(sm.Cwd, &cut))
		if title {
			proc.str("title", fit(sm.Title, &cut))
		}
		if sm.Argc > 0 {
			proc.num("argc", float64(sm.Argc))
		}
		if argvPlan != nil {
			b.argv(proc, ev, argv, title, argvPlan)
		}
	}

	if short(sm.Acct) {
		k := userKey{sm.AUID, sm.UID, sm.EUID, sm.GID, sm.Acct}
		cut = shared(b, b.users, k, root, kUser, &a.users, k.slot(), func(o obj) bool { return userObj(o, sm) }) || cut
	} else {
		cut = userObj(root, sm) || cut
	}

	// syscall, or the result of a user-space event
	if sm.Syscall != "" {
		if short(sm.Syscall) && short(sm.Arch) && short(sm.Success) && short(sm.Exit) && short(sm.ExitName) {
			k := syscallKey{sm.Syscall, sm.Arch, sm.Success, sm.Exit, sm.ExitName}
			cut = shared(b, b.syscalls, k, root, kSyscall, &a.syscalls, k.slot(), func(o obj) bool { return syscallObj(o, sm) }) || cut
		} else {
			cut = syscallObj(root, sm) || cut
		}
	} else {
		switch sm.Success {
		case "yes":
			root.str(kResult, "success")
		case "no":
			root.str(kResult, "failed")
		}
	}

	if paths := sm.Paths; len(paths) > 0 {
		// A syscall names a handful of paths; the cap only matters for hostile input.
		lo, hi := len(paths), len(paths)
		if len(paths) > maxPaths {
			lo, hi = maxPaths/2, len(paths)-maxPaths/2+1
			cut = true
		}
		l := root.list(kPaths, len(paths)-(hi-lo)+1)
		for i := 0; i < len(paths); i++ {
			if i == lo {
				po := l.elem(1)
				po.str("name", "[... "+strconv.Itoa(hi-lo)+" paths left out ...]")
				i = hi - 1
				continue
			}
			p := &paths[i]
			po := l.elem(count(p.Name != "", p.Nametype != ""))
			po.str("name", fit(p.Name, &cut))
			po.str("nametype", fit(p.Nametype, &cut))
		}
	}
	if p := sm.Peer; p != nil {
		po := root.child(kPeer, count(p.Family != "", p.Addr != "", p.Port != 0, p.Addr == "" && p.Raw != ""))
		po.str("family", fit(p.Family, &cut))
		po.str("addr", fit(p.Addr, &cut))
		if p.Port != 0 {
			po.num("port", float64(p.Port))
		}
		if p.Addr == "" {
			po.str("raw", fit(p.Raw, &cut))
		}
	}
	if keys := sm.Keys; len(keys) > 0 {
		if len(keys) > maxKeys {
			keys, cut = keys[:maxKeys], true
		}
		l := root.list(kKeys, len(keys))
		for _, k := range keys {
			l.elemStr(fit(k, &cut))
		}
	}
	if sm.TTY != "(none)" && sm.TTY != "?" {
		root.str(kTTY, fit(sm.TTY, &cut))
	}
	switch sm.Ses {
	case "", "4294967295", "-1", "unset":
	default:
		root.numOrStr(kSes, sm.Ses)
	}
	root.str(kTerminal, fit(known(sm.Terminal), &cut))
	root.str(kHostname, fit(known(sm.Hostname), &cut))
	root.str(kOp, fit(known(sm.Op), &cut))
	if r := ev.Repeats; r != nil {
		ro := root.child(kRepeats, 3)
		ro.num("count", float64(r.Count))
		ro.str("first", r.First.UTC().Format(time.RFC3339Nano))
		ro.str("last", r.Last.UTC().Format(time.RFC3339Nano))
	}
	return proc, title, cut
}

// eventHead writes what identifies an event, after its summary line: main record type, serial,
// node, boot id, and whether it is incomplete and why. The emergency form keeps it too.
func eventHead(root obj, ev *parser.Event, node string) {
	if m := mainRecord(ev); m != nil {
		root.str(kType, parser.TypeName(m.Type))
	}
	root.num(kSerial, float64(ev.Key.Serial))
	root.str(kNode, node)
	root.str(kBootID, clean(cutUTF8(ev.Key.BootID, 256)))
	if ev.Incomplete {
		root.boolean(kIncomplete, true)
		root.str(kCompletion, ev.Reason.String())
	}
}

func syscallObj(root obj, sm *parser.Summary) (cut bool) {
	sc := root.child(kSyscall, count(true, sm.Arch != "", sm.Success != "", sm.Exit != "", sm.ExitName != ""))
	sc.str("name", fit(sm.Syscall, &cut))
	sc.str("arch", fit(sm.Arch, &cut))
	switch sm.Success {
	case "yes":
		sc.boolean("success", true)
	case "no":
		sc.boolean("success", false)
	}
	sc.numOrStr("exit", sm.Exit)
	sc.str("exit_name", fit(sm.ExitName, &cut))
	return cut
}

func userObj(root obj, sm *parser.Summary) (cut bool) {
	n := count(sm.AUID.Set, sm.AUID.Set && (sm.AUID.Name != "" || sm.AUID.Unset),
		sm.UID.Set, sm.UID.Set && sm.UID.Name != "",
		sm.EUID.Set, sm.EUID.Set && sm.EUID.Name != "",
		sm.GID.Set, sm.GID.Set && sm.GID.Name != "", sm.Acct != "")
	if n == 0 {
		return false
	}
	u := root.child(kUser, n)
	u.id("auid", "auid_name", sm.AUID)
	u.id("uid", "uid_name", sm.UID)
	u.id("euid", "euid_name", sm.EUID)
	u.id("gid", "gid_name", sm.GID)
	u.str("acct", fit(sm.Acct, &cut))
	return cut
}

// known drops the "?" audit writes for an unknown value.
func known(s string) string {
	if s == "?" {
		return ""
	}
	return s
}

// Bounds on the payload's summary fields. Real values are far smaller (PATH_MAX is 4096, a
// syscall names a few paths); the bounds keep hostile input from pushing the fixed part of
// an entry over the cap, where only the emergency form would be left.
const (
	maxValue = 4096
	maxPaths = 64
	maxKeys  = 64
)

// fit cleans s and cuts it to maxValue bytes with a marker, setting *cut when it does.
func fit(s string, cut *bool) string {
	if len(s) > maxValue+markerBytes {
		*cut = true
		s = truncated(s, maxValue)
	}
	return clean(s)
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// titleRedundant reports a proctitle that adds nothing to argv: the kernel records the
// first 128 bytes of the command line, which after an execve is argv joined by spaces.
func titleRedundant(title string, argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	rest := title
	for i, a := range argv {
		if i > 0 {
			if rest == "" {
				return true
			}
			if rest[0] != ' ' {
				return false
			}
			rest = rest[1:]
		}
		if len(rest) <= len(a) {
			return strings.HasPrefix(a, rest)
		}
		if rest[:len(a)] != a {
			return false
		}
		rest = rest[len(a):]
	}
	return rest == ""
}

// id writes a user or group id as a number and its name beside it: {"uid": 0, "uid_name":
// "root"}. An id that was never set (4294967295) keeps its number and is named "unset",
// as ausearch -i shows it.
func (o obj) id(numKey, nameKey string, id parser.ID) {
	if !id.Set {
		return
	}
	o.num(numKey, float64(id.Num))
	switch {
	case id.Unset:
		o.str(nameKey, "unset")
	case id.Name != "":
		o.str(nameKey, clean(cutUTF8(id.Name, 256)))
	}
}

func (b *Builder) argv(proc obj, ev *parser.Event, argv []string, title bool, pl *plan) {
	sm := &ev.Summary
	left, leftBytes := 0, 0
	if sm.ArgvMarker != nil {
		left, leftBytes = sm.ArgvMarker.Args, sm.ArgvMarker.Bytes
	}
	if len(argv) > 0 {
		cut := pl.argvCut
		n := len(argv)
		if cut[1] > cut[0] {
			n = n - (cut[1] - cut[0]) + 1
		}
		l := proc.list("argv", n)
		for i := 0; i < len(argv); i++ {
			if i == cut[0] && cut[1] > cut[0] {
				dropped := 0
				for _, s := range argv[cut[0]:cut[1]] {
					dropped += len(s)
				}
				l.elemStr(argvMarker(cut[1]-cut[0], dropped))
				left += cut[1] - cut[0]
				leftBytes += dropped
				i = cut[1] - 1
				continue
			}
			s := argv[i]
			if pl.argLimit >= 0 && len(s) > pl.argLimit+markerBytes {
				leftBytes += len(s) - len(cutUTF8(s, pl.argLimit))
				s = truncated(s, pl.argLimit)
			}
			l.elemStr(s)
		}
	}
	if left > 0 || leftBytes > 0 {
		t := proc.child("argv_truncated", 2)
		t.num("args", float64(left))
		t.num("bytes", float64(leftBytes))
	}
}

// argvMarker is the argument put where arguments were left out of the middle.
func argvMarker(args, bytes int) string {
	return "[... " + strconv.Itoa(args) + " arguments, " + strconv.Itoa(bytes) + " bytes left out ...]"
}

// truncated cuts s to at most n bytes (at a rune boundary) and says how much was cut.
func truncated(s string, n int) string {
	if n < 0 {
		n = 0
	}
	c := cutUTF8(s, n)
	return c + "…[truncated " + strconv.Itoa(len(s)-len(c)) + " bytes]"
}

// records writes the records list. vals are the fields' interpreted values in order, as
// interpretAll returns them, or nil to interpret each field straight into the payload
// (without a plan: pl must cut nothing).
func (b *Builder) records(a *arena, root obj, ev *parser.Event, vals []string, pl *plan) {
	if len(ev.Records) == 0 {
		return
	}
	cut := pl.recCut
	n := len(ev.Records)
	if cut[1] > cut[0] {
		n = n - (cut[1] - cut[0]) + 1
	}
	l := root.list(kRecords, n)
	off := 0
	for i := range ev.Records {
		r := &ev.Records[i]
		var rv []string
		if vals != nil {
			rv = vals[off : off+len(r.Fields)]
		} else if r.Type == typeExecve {
			r = a.withoutArgs(r)
		}
		off += len(r.Fields)
		if i >= cut[0] && i < cut[1] {
			if i == cut[0] {
				bytes := 0
				for k := cut[0]; k < cut[1]; k++ {
					bytes += len(ev.Records[k].Text)
				}
				mo := l.elem(1)
				mo.str("truncated", "[... "+strconv.Itoa(cut[1]-cut[0])+" records, "+strconv.Itoa(bytes)+" bytes of raw text left out ...]")
			}
			continue
		}
		raw := ""
		if b.o.IncludeRaw {
			raw = clean(r.Text)
			if pl.rawLimit >= 0 && len(raw) > pl.rawLimit+markerBytes {
				raw = truncated(raw, pl.rawLimit)
			}
		}
		ro := l.elem(count(true, len(r.Fields) > 0, raw != ""))
		ro.str(kType, parser.TypeName(r.Type))
		if len(r.Fields) > 0 {
			b.fields(a, ro, r, rv, pl)
		}
		ro.str(kRaw, raw)
	}
}

func (b *Builder) fields(a *arena, ro obj, r *parser.Record, vals []string, pl *plan) {
	keep := len(r.Fields)
	if pl.fieldLimit >= 0 {
		used := 0
		for j := range r.Fields {
			c := fieldSize(len(r.Fields[j].Key), strValueSize(valLen(vals[j], pl)))
			if used+c > pl.fieldLimit {
				keep = j
				break
			}
			used += c
		}
	}
	fo := ro.flatChild(kFields)
	defer fo.end()
	if keep > maxFilteredKeys || !a.uniqueKeys(r.Type, r.Fields[:keep]) {
		if vals == nil {
			vals = a.interpretRecord(r, b.o.Names)
			defer clear(vals)
		}
		fieldsWithRepeats(fo, r, vals, keep, pl)
	} else if vals == nil {
		// uniqueKeys has checked that every key is valid UTF-8: clean would return it as is.
		for j := range r.Fields {
			fo.interpreted(r, &r.Fields[j], b.o.Names)
		}
	} else {
		for j := 0; j < keep; j++ {
			fo.field(r.Fields[j].Key, truncatedVal(vals[j], pl))
		}
	}
	if keep < len(r.Fields) {
		bytes := 0
		for j := keep; j < len(r.Fields); j++ {
			bytes += len(r.Fields[j].Key) + 1 + len(vals[j])
		}
		fo.str("_truncated", "[... "+strconv.Itoa(len(r.Fields)-keep)+" fields, "+strconv.Itoa(bytes)+" bytes left out ...]")
	}
}

// uniqueKeys reports whether no two fields share a key, or may once cleaned (repeatsKey).
// Records of one type nearly always carry the same keys in the same order, so the last
// sequence of each type found free of repeats is kept (per arena, without locking) and a
// record with exactly those keys needs no check: comparing them costs a third of checking.
func (a *arena) uniqueKeys(t uint16, fs []parser.Field) bool {
	slot := &a.keySeqs[t%uint16(len(a.keySeqs))]
	if slot.typ == t && len(slot.keys) == len(fs) {
		same := true
		for i := range fs {
			if fs[i].Key != slot.keys[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	if repeatsKey(fs) {
		return false
	}
	slot.typ = t
	slot.keys = slot.keys[:0]
	for i := range fs {
		slot.keys = append(slot.keys, fs[i].Key)
	}
	return true
}

// maxFilteredKeys bounds the records repeatsKey checks: its filter fills up on more keys, and
// its fallback scan is quadratic. Longer records take fieldsWithRepeats's map.
const maxFilteredKeys = 64

// repeatsKey reports whether two fields share a key, or may once cleaned: a key that is not
// valid UTF-8 (never from the parser, whose keys are) is cleaned into escaped form, which can
// equal another key, so it takes fieldsWithRepeats's path, which compares cleaned keys. Only
// malformed records repeat keys, so the usual answer is no, found with a 128-bit filter of key
// hashes; a filter hit is checked against the earlier keys.
func repeatsKey(fs []parser.Field) bool {
	var seen [2]uint64
	for j := range fs {
		k := fs[j].Key
		if !utf8.ValidString(k) {
			return true
		}
		h := uint(len(k)) * 0x9e37
		if len(k) > 0 {
			h += uint(k[0])*31 + uint(k[len(k)-1])*131 + uint(k[len(k)/2])*7
		}
		h &= 127
		bit := uint64(1) << (h & 63)
		if seen[h>>6]&bit != 0 {
			for i := 0; i < j; i++ {
				if fs[i].Key == k {
					return true
				}
			}
		}
		seen[h>>6] |= bit
	}
	return false
}

// fieldsWithRepeats writes the fields of a record that repeats keys: the second and later
// occurrences are stored as key_2, key_3... (a JSON object cannot hold both, and dropping
// one would lose it silently). Linear in the number of fields, whatever the input repeats.
func fieldsWithRepeats(fo flatObj, r *parser.Record, vals []string, keep int, pl *plan) {
	seen := make(map[string]int, keep)
	for j := 0; j < keep; j++ {
		k := clean(r.Fields[j].Key)
		if n := seen[k]; n > 0 {
			base := k
			for {
				n++
				k = base + "_" + strconv.Itoa(n)
				if _, taken := seen[k]; !taken {
					break
				}
			}
			seen[base] = n
		}
		seen[k] = max(seen[k], 1)
		fo.field(k, truncatedVal(vals[j], pl))
	}
}

func truncatedVal(v string, pl *plan) string {
	if pl.valLimit >= 0 && len(v) > pl.valLimit+markerBytes {
		return truncated(v, pl.valLimit)
	}
	return v
}

func valLen(v string, pl *plan) int {
	if pl.valLimit >= 0 && len(v) > pl.valLimit+markerBytes {
		return pl.valLimit + markerBytes
	}
	return len(v)
}
