package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Entry kinds, from the plugin's `kind` label (docs/entry.md): events carry none.
const (
	kindEvent    = ""
	kindUnparsed = "unparsed"
	kindLost     = "lost"
	kindReport   = "filter_report" // what the filters held back in a period
)

// stats is what arrived for one source.
type stats struct {
	src     *source
	entries []*loggingpb.LogEntry
	plugin  pluginExit

	events, unparsed, lost, reports, other, incomplete int
	bytes                                              int64 // sum of proto.Size over the entries
	severity                                           map[string]int
	byExe, byKey, byType                               map[string]*agg
}

type agg struct {
	entries int
	bytes   int64
}

func newStats(s *source, entries []*loggingpb.LogEntry) *stats {
	st := &stats{src: s, entries: entries, severity: map[string]int{},
		byExe: map[string]*agg{}, byKey: map[string]*agg{}, byType: map[string]*agg{}}
	for _, e := range entries {
		size := int64(proto.Size(e))
		st.bytes += size
		st.severity[e.GetSeverity().String()]++
		p := e.GetJsonPayload()
		kind := e.GetLabels()["kind"]
		exe, key, typ := "(none)", "(none)", "("+kind+")"
		switch kind {
		case kindEvent:
			st.events++
			if e.GetLabels()["incomplete"] == "true" {
				st.incomplete++
			}
			if v := str(p, "process", "exe"); v != "" {
				exe = v
			}
			if v := e.GetLabels()["keys"]; v != "" {
				key = v
			}
			typ = str(p, "type")
			if typ == "" {
				typ = "(no type)"
			}
		case kindUnparsed:
			st.unparsed++
		case kindLost:
			st.lost++
		case kindReport:
			st.reports++
		default:
			st.other++
		}
		add(st.byExe, exe, size)
		add(st.byKey, key, size)
		add(st.byType, typ, size)
	}
	return st
}

func add(m map[string]*agg, k string, size int64) {
	a := m[k]
	if a == nil {
		a = &agg{}
		m[k] = a
	}
	a.entries++
	a.bytes += size
}

// get walks a path of struct keys in a jsonPayload.
func get(s *structpb.Struct, path ...string) *structpb.Value {
	var v *structpb.Value
	for i, k := range path {
		if s == nil {
			return nil
		}
		v = s.GetFields()[k]
		if i < len(path)-1 {
			s = v.GetStructValue()
		}
	}
	return v
}

func str(s *structpb.Struct, path ...string) string {
	v := get(s, path...)
	switch v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return v.GetStringValue()
	case *structpb.Value_NumberValue:
		return strconv.FormatFloat(v.GetNumberValue(), 'f', -1, 64)
	case *structpb.Value_BoolValue:
		return strconv.FormatBool(v.GetBoolValue())
	}
	return ""
}

// row is one line of the event table.
type row struct{ time, node, user, action, object string }

func rowOf(e *loggingpb.LogEntry) row {
	p := e.GetJsonPayload()
	r := row{time: e.GetTimestamp().AsTime().UTC().Format("15:04:05.000"), node: e.GetLabels()["node"]}
	if r.node == "" {
		r.node = str(p, "node")
	}
	switch kind := e.GetLabels()["kind"]; kind {
	case kindEvent:
	case kindUnparsed:
		r.action, r.object = "unparsed", str(p, "reason")+": "+str(p, "raw")
		return r
	case kindLost:
		r.action, r.object = "lost", str(p, "summary")
		return r
	default:
		r.action, r.object = kind, str(p, "summary")
		return r
	}
	r.user = userOf(p)
	r.action = actionOf(p)
	r.object = objectOf(p)
	if n := str(p, "repeats", "count"); n != "" {
		r.object += " (×" + n + ")"
	}
	return r
}

// userOf: the current user by name, the account for login steps, and the login user when it
// differs ("nobody (auid root)").
func userOf(p *structpb.Struct) string {
	name := func(n, num string) string {
		if v := str(p, "user", n); v != "" {
			return v
		}
		return str(p, "user", num)
	}
	u := name("uid_name", "uid")
	if acct := str(p, "user", "acct"); acct != "" {
		u = acct
	}
	auid := name("auid_name", "auid")
	if auid != "" && auid != "unset" && auid != u {
		if u == "" {
			return "auid " + auid
		}
		u += " (auid " + auid + ")"
	}
	return u
}

// actionOf is the syscall (with its error) for syscall events, else the main record type:
// a CONFIG_CHANGE made through sendto is a configuration change, not a sendto.
func actionOf(p *structpb.Struct) string {
	typ := str(p, "type")
	if sc := str(p, "syscall", "name"); sc != "" && (typ == "" || typ == "SYSCALL") {
		a := sc
		if str(p, "syscall", "success") == "false" {
			if n := str(p, "syscall", "exit_name"); n != "" {
				a += " " + n
			} else {
				a += " failed (" + str(p, "syscall", "exit") + ")"
			}
		}
		return a
	}
	if str(p, "result") == "failed" {
		return typ + " failed"
	}
	return typ
}

func objectOf(p *structpb.Struct) string {
	if typ := str(p, "type"); typ != "" && typ != "SYSCALL" {
		return str(p, "summary")
	}
	if argv := get(p, "process", "argv").GetListValue(); argv != nil && len(argv.GetValues()) > 0 {
		var parts []string
		for _, v := range argv.GetValues() {
			parts = append(parts, shellQuote(v.GetStringValue()))
		}
		s := strings.Join(parts, " ")
		if t := get(p, "process", "argv_truncated"); t != nil {
			s += fmt.Sprintf(" [+%s args cut]", str(p, "process", "argv_truncated", "args"))
		}
		return s
	}
	if peer := get(p, "peer").GetStructValue(); peer != nil {
		fam, addr, port := str(p, "peer", "family"), str(p, "peer", "addr"), str(p, "peer", "port")
		switch {
		case fam == "inet6" && port != "":
			return "[" + addr + "]:" + port
		case port != "":
			return addr + ":" + port
		case addr != "":
			return fam + ":" + addr
		}
		return fam + " " + str(p, "peer", "raw")
	}
	if paths := get(p, "paths").GetListValue(); paths != nil {
		for _, v := range paths.GetValues() {
			ps := v.GetStructValue()
			if str(ps, "nametype") != "PARENT" && str(ps, "name") != "" {
				return str(ps, "name")
			}
		}
	}
	if exe := str(p, "process", "exe"); exe != "" {
		return exe
	}
	return str(p, "summary")
}

// pick chooses up to n entries to show, in time order: the first entry of each action first, so a short table shows the variety of the input rather than
// its first burst; then the earliest of the rest.
func pick(entries []*loggingpb.LogEntry, n int) []*loggingpb.LogEntry {
	if n >= len(entries) {
		return entries
	}
	chosen := make([]bool, len(entries))
	seen := map[string]bool{}
	k := 0
	for i, e := range entries {
		if k == n {
			break
		}
		key := rowOf(e).action
		if !seen[key] {
			seen[key] = true
			chosen[i] = true
			k++
		}
	}
	for i := range entries {
		if k == n {
			break
		}
		if !chosen[i] {
			chosen[i] = true
			k++
		}
	}
	var out []*loggingpb.LogEntry
	for i, e := range entries {
		if chosen[i] {
			out = append(out, e)
		}
	}
	return out
}

// shellQuote quotes an argument the way a shell user would need to type it.
func shellQuote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '\'' || r == '\\' || r == '$' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// cut shortens s to n runes with an ellipsis and replaces control characters, so one event
// is one table line.
func cut(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '·'
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

func printTable(w io.Writer, all []*stats, rows int) {
	if rows == 0 {
		return
	}
	per := (rows + len(all) - 1) / len(all)
	for _, st := range all {
		shown := pick(st.entries, per)
		n := len(shown)
		fmt.Fprintf(w, "\n%s via %s → log %s: %d of %d entries, one per kind of action first (UTC", st.src.shape, st.src.via, st.src.logName, n, len(st.entries))
		if len(st.entries) > 0 {
			fmt.Fprintf(w, ", %s", st.entries[0].GetTimestamp().AsTime().UTC().Format("2006-01-02"))
		}
		fmt.Fprintln(w, ")")
		if n == 0 {
			continue
		}
		var rs []row
		wNode, wUser, wAction := len("NODE"), len("USER"), len("ACTION")
		for _, e := range shown {
			r := rowOf(e)
			r.node, r.user, r.action = cut(r.node, 14), cut(r.user, 20), cut(r.action, 24)
			r.object = cut(r.object, 72)
			wNode = max(wNode, utf8.RuneCountInString(r.node))
			wUser = max(wUser, utf8.RuneCountInString(r.user))
			wAction = max(wAction, utf8.RuneCountInString(r.action))
			rs = append(rs, r)
		}
		fmt.Fprintf(w, "  %s  %s  %s  %s  %s\n", pad("TIME", 12), pad("NODE", wNode), pad("USER", wUser), pad("ACTION", wAction), "OBJECT")
		for _, r := range rs {
			fmt.Fprintf(w, "  %s  %s  %s  %s  %s\n", r.time, pad(r.node, wNode), pad(r.user, wUser), pad(r.action, wAction), r.object)
		}
	}
}

func printSummary(w io.Writer, all []*stats) {
	fmt.Fprintln(w, "\nSummary")
	for _, st := range all {
		fmt.Fprintf(w, "  %s (%s): %d records → %d events → %d entries, %d unparsed, %d lost",
			st.src.shape, st.src.via, st.src.records, st.events, len(st.entries), st.unparsed, st.lost)
		if st.reports > 0 {
			fmt.Fprintf(w, ", %d filter reports", st.reports)
		}
		if st.other > 0 {
			fmt.Fprintf(w, ", %d other", st.other)
		}
		fmt.Fprintln(w)
		var sev []string
		for _, s := range []string{"DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"} {
			if n := st.severity[s]; n > 0 {
				sev = append(sev, fmt.Sprintf("%s %d", s, n))
			}
		}
		fmt.Fprintf(w, "    severities: %s; incomplete events: %d\n", strings.Join(sev, ", "), st.incomplete)
		if p := st.plugin; p.found {
			fmt.Fprintf(w, "    the plugin's own count: records in %d, events assembled %d, unparsed %d, duplicates %d, entries written %d, rejected %d\n",
				p.n["records in"], p.n["events"], p.n["unparsed"], p.n["duplicates"], p.n["entries written"], p.n["rejected"])
			if f, c, r := p.n["filtered"], p.n["collapsed"], p.n["rate-limited"]; f+c+r > 0 {
				fmt.Fprintf(w, "    held back: %d events filtered (Include/Exclude), %d collapsed into repeats, %d rate-limited\n", f, c, r)
			}
		} else {
			fmt.Fprintln(w, "    (the plugin's exit line with its own counts was not found in its log)")
		}
	}
}

// estimate is the volume of one source extrapolated over its time span.
type estimate struct {
	span                    time.Duration
	eventsPerHour, bytesPH  float64
	gibMonth, gross, net    float64
	shortSample, noTimeSpan bool
}

const (
	gib          = 1 << 30
	daysPerMonth = 30
)

func estimateOf(st *stats, o options) estimate {
	var e estimate
	e.span = st.src.last.Sub(st.src.first)
	if st.src.first.IsZero() {
		e.noTimeSpan = true
	}
	span := e.span
	if span < time.Second {
		span = time.Second // a single burst: count it as one second rather than divide by zero
	}
	e.shortSample = span < 10*time.Minute
	hours := span.Hours()
	e.eventsPerHour = float64(st.events) / hours
	e.bytesPH = float64(st.bytes) / hours
	e.gibMonth = e.bytesPH * 24 * daysPerMonth * float64(o.nodes) / gib
	e.gross = e.gibMonth * o.pricePerGiB
	e.net = math.Max(0, e.gibMonth-o.freeGiB) * o.pricePerGiB
	return e
}

func printEstimate(w io.Writer, all []*stats, o options, p *props) {
	fmt.Fprintln(w, "\nEstimate: what this input's rate would ship, from the entries that actually arrived")
	var filters []string
	for _, k := range p.keys {
		switch strings.ToLower(k) {
		case "cluster_name", "cluster_location", "node_name", "passwd_file", "group_file":
			continue
		}
		filters = append(filters, k+"="+p.get(k))
	}
	if len(filters) == 0 {
		fmt.Fprintln(w, "  settings: defaults (no filters); try -set Exclude=... or -set Include=... to see the effect")
	} else {
		fmt.Fprintf(w, "  settings: %s\n", strings.Join(filters, " "))
	}
	for i, st := range all {
		e := estimateOf(st, o)
		fmt.Fprintf(w, "  %s (%s):", st.src.shape, st.src.via)
		if e.noTimeSpan {
			fmt.Fprintln(w, " no record carries an audit timestamp; no rate can be derived")
			continue
		}
		fmt.Fprintf(w, " span %s → %s (%s)\n", st.src.first.UTC().Format("2006-01-02 15:04:05"), st.src.last.UTC().Format("15:04:05"), roundDur(e.span))
		if e.shortSample {
			fmt.Fprintln(w, "    note: a short sample; the rates below assume the node keeps this pace all the time. Use a log covering hours (INPUT=/var/log/audit/audit.log) for a real estimate.")
		}
		avg := 0.0
		if len(st.entries) > 0 {
			avg = float64(st.bytes) / float64(len(st.entries))
		}
		fmt.Fprintf(w, "    shipped: %d events, %d entries, %s (average %s per entry, proto.Size as the API counts it)\n",
			st.events, len(st.entries), human(float64(st.bytes)), human(avg))
		fmt.Fprintf(w, "    per hour: %s events, %s;  per day: %s events, %s\n",
			count(e.eventsPerHour), human(e.bytesPH), count(e.eventsPerHour*24), human(e.bytesPH*24))
		nodes := "1 node"
		if o.nodes > 1 {
			nodes = fmt.Sprintf("%d nodes", o.nodes)
		}
		fmt.Fprintf(w, "    per %d-day month, %s: %.1f GiB → $%.2f at $%.2f/GiB; $%.2f after the free %.0f GiB\n",
			daysPerMonth, nodes, e.gibMonth, e.gross, o.pricePerGiB, e.net, o.freeGiB)
		if i == 0 {
			printTop(w, "exe", st.byExe, st.bytes)
			printTop(w, "rule key", st.byKey, st.bytes)
			printTop(w, "record type", st.byType, st.bytes)
		}
	}
	if len(all) > 1 {
		fmt.Fprintln(w, "  (the bundled corpus holds the same events in both shapes: a node ships one of them, not both)")
	}
	fmt.Fprintf(w, "  assumptions: Cloud Logging ingestion at $%.2f per GiB (-price-per-gib), the first %.0f GiB per project per month free "+
		"(-free-gib; shared by every node and every other log in the project); bytes are the entries' encoded size; "+
		"storage beyond the default retention, and the log router, are not included.\n", o.pricePerGiB, o.freeGiB)
}

func printTop(w io.Writer, what string, m map[string]*agg, total int64) {
	type kv struct {
		k string
		a *agg
	}
	var l []kv
	for k, a := range m {
		l = append(l, kv{k, a})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].a.bytes != l[j].a.bytes {
			return l[i].a.bytes > l[j].a.bytes
		}
		return l[i].k < l[j].k
	})
	if len(l) > 10 {
		l = l[:10]
	}
	width := len(what) + 7
	for _, x := range l {
		width = max(width, min(utf8.RuneCountInString(x.k), 48))
	}
	fmt.Fprintf(w, "    %s  %7s  %10s  %6s\n", pad("top "+what+" by bytes", width), "entries", "bytes", "share")
	for _, x := range l {
		share := 0.0
		if total > 0 {
			share = 100 * float64(x.a.bytes) / float64(total)
		}
		fmt.Fprintf(w, "    %s  %7d  %10s  %5.1f%%\n", pad(cut(x.k, 48), width), x.a.entries, human(float64(x.a.bytes)), share)
	}
}

func human(b float64) string {
	switch {
	case b >= gib:
		return fmt.Sprintf("%.2f GiB", b/gib)
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func count(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", n/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
