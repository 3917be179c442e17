package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type evOpt func(*parser.Event)

func mkEvent(serial uint64, at time.Time, typ uint16, opts ...evOpt) *parser.Event {
	ev := &parser.Event{
		Key:     parser.EventKey{Node: "n1", UnixMilli: at.UnixMilli(), Serial: serial},
		Records: []parser.Record{{Type: typ}},
	}
	for _, o := range opts {
		o(ev)
	}
	return ev
}

func exe(p string) evOpt     { return func(e *parser.Event) { e.Summary.Exe = p } }
func comm(c string) evOpt    { return func(e *parser.Event) { e.Summary.Comm = c } }
func keys(k ...string) evOpt { return func(e *parser.Event) { e.Summary.Keys = k } }
func sysc(s string) evOpt    { return func(e *parser.Event) { e.Summary.Syscall = s } }
func success(s string) evOpt { return func(e *parser.Event) { e.Summary.Success = s } }
func argv(a ...string) evOpt { return func(e *parser.Event) { e.Summary.Argv = a } }
func withType(t uint16) evOpt {
	return func(e *parser.Event) { e.Records = append(e.Records, parser.Record{Type: t}) }
}
func auid(n uint32, name string) evOpt {
	return func(e *parser.Event) { e.Summary.AUID = parser.ID{Num: n, Name: name, Set: true} }
}
func auidUnset() evOpt {
	return func(e *parser.Event) { e.Summary.AUID = parser.ID{Num: 4294967295, Unset: true, Set: true} }
}
func uid(n uint32, name string) evOpt {
	return func(e *parser.Event) { e.Summary.UID = parser.ID{Num: n, Name: name, Set: true} }
}
func peer(fam, addr string, port int) evOpt {
	return func(e *parser.Event) { e.Summary.Peer = &parser.SockAddr{Family: fam, Addr: addr, Port: port} }
}
func paths(p ...string) evOpt {
	return func(e *parser.Event) {
		for _, n := range p {
			e.Summary.Paths = append(e.Summary.Paths, parser.PathItem{Name: n})
			e.Records = append(e.Records, parser.Record{Type: typePath, Fields: []parser.Field{{Key: "name", Value: n}}})
		}
	}
}

const (
	tSyscall   = 1300
	tExecve    = 1309
	tSockaddr  = 1306
	tUserLogin = 1112
	tAVC       = 1400
)

func TestRulesMatch(t *testing.T) {
	curl := mkEvent(1, t0, tSyscall, withType(tExecve), exe("/usr/bin/curl"), comm("curl"), keys("exec"),
		sysc("execve"), success("yes"), auid(1000, "alice"), uid(0, "root"), paths("/usr/bin/curl", "/lib64/ld-linux-x86-64.so.2"))
	conn := mkEvent(2, t0, tSyscall, withType(tSockaddr), exe("/usr/bin/python3.11"), keys("funky_socket", "net"),
		sysc("connect"), success("no"), auidUnset(), uid(33, ""), peer("inet", "10.1.2.3", 443))
	conn6 := mkEvent(3, t0, tSyscall, withType(tSockaddr), peer("inet6", "::ffff:127.0.0.1", 8080))
	login := mkEvent(4, t0, tUserLogin, success("no"))

	cases := []struct {
		rules string
		ev    *parser.Event
		want  bool
	}{
		{"type=EXECVE", curl, true},
		{"type=execve", curl, true},
		{"type=EXECVE", conn, false},
		{"type=USER_LOGIN,AVC", login, true},
		{"key=exec", curl, true},
		{"key=funky*", conn, true},
		{"key=net", conn, true},
		{"key=exe", curl, false},
		{"syscall=execve", curl, true},
		{"syscall=connect,bind", curl, false},
		{"result=success", curl, true},
		{"result=failed", conn, true},
		{"result=failed", login, true},
		{"exe=/usr/bin/*", curl, true},
		{"exe=*/curl", curl, true},
		{"exe=/usr/bin/cur?", curl, true},
		{"exe=/usr/bin/c", curl, false},
		{"exe=/usr/bin/python3*", conn, true},
		{"comm=curl", curl, true},
		{"comm=curl", conn, false},
		{"auid=1000", curl, true},
		{"auid=alice", curl, true},
		{"auid=bob", curl, false},
		{"auid=unset", conn, true},
		{"auid=unset", curl, false},
		{"auid=4294967295", conn, false}, // unset is spelled "unset"; the number is not a user
		{"uid=root", curl, true},
		{"uid=0", curl, true},
		{"uid=33", conn, true},
		{"euid=0", curl, false}, // euid not set on this event
		{"path=/usr/bin/", curl, true},
		{"path=/etc/", curl, false},
		{"addr=10.0.0.0/8", conn, true},
		{"addr=10.1.2.3", conn, true},
		{"addr=192.168.0.0/16", conn, false},
		{"addr=127.0.0.0/8", conn6, true}, // v4-mapped v6 matches a v4 CIDR
		{"addr=10.0.0.0/8", curl, false},
		{"port=443", conn, true},
		{"port=1-1024", conn, true},
		{"port=8000-9000", conn6, true},
		{"port=80", conn, false},
		{"exe!=/usr/bin/curl", curl, false},
		{"exe!=/usr/bin/curl", conn, true},
		// conjunction within a rule, disjunction across rules
		{"type=EXECVE auid=alice", curl, true},
		{"type=EXECVE auid=bob", curl, false},
		{"type=AVC; exe=*/curl", curl, true},
		{"  type=AVC ;  key=nothing  ", curl, false},
	}
	for _, c := range cases {
		r, err := Compile("Include", c.rules)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.rules, err)
		}
		if got := r.Match(c.ev); got != c.want {
			t.Errorf("rules %q on event %d: got %v, want %v", c.rules, c.ev.Key.Serial, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct{ rules, wantInErr string }{
		{"exe", "want field=value"},
		{"colour=red", `unknown field "colour"`},
		{"exe=", "has no value"},
		{"exe=/a,,/b", "empty value"},
		{"type=NOT_A_TYPE", "unknown record type"},
		{"result=maybe", "result must be success or failed"},
		{"path=etc/", "must be absolute"},
		{"addr=10.0.0.0/33", "addr must be an IP address or CIDR"},
		{"addr=example.com", "addr must be an IP address or CIDR"},
		{"port=70000", "port must be"},
		{"port=90-80", "port must be"},
		{"port=http", "port must be"},
		{"type=AVC;;type=EXECVE", "empty rule"},
	}
	for _, c := range cases {
		_, err := Compile("Exclude", c.rules)
		if err == nil {
			t.Errorf("Compile(%q): no error", c.rules)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.Key != "Exclude" {
			t.Errorf("Compile(%q): error %v does not name the key", c.rules, err)
		}
		if !strings.Contains(err.Error(), c.wantInErr) || !strings.HasPrefix(err.Error(), "Exclude: ") {
			t.Errorf("Compile(%q): error %q, want it to start with the key and contain %q", c.rules, err, c.wantInErr)
		}
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "/a/b", true}, {"a*b", "ab", true}, {"a*b", "axxb", true}, {"a*b", "axxbc", false},
		{"*a*a*", "banana", true}, {"?", "", false}, {"?", "x", true}, {"/usr/*/curl", "/usr/local/bin/curl", true},
		{"abc", "abc", true}, {"abc", "abd", false}, {"**", "x", true}, {"a*", "b", false},
	}
	for _, c := range cases {
		if got := glob(c.p).match(c.s); got != c.want {
			t.Errorf("glob %q on %q: got %v want %v", c.p, c.s, got, c.want)
		}
	}
}

func mustRules(t testing.TB, key, s string) *Rules {
	t.Helper()
	r, err := Compile(key, s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStageIncludeExclude(t *testing.T) {
	st := New(Options{Include: mustRules(t, "Include", "type=EXECVE; type=USER_LOGIN"), Exclude: mustRules(t, "Exclude", "exe=/usr/bin/containerd*")})
	var out []Out
	var d Decision
	out, d = st.Process(mkEvent(1, t0, tSyscall, withType(tExecve), exe("/usr/bin/curl")), t0, out)
	if d != Shipped {
		t.Fatalf("curl: %v", d)
	}
	out, d = st.Process(mkEvent(2, t0, tSyscall, withType(tExecve), exe("/usr/bin/containerd-shim")), t0, out)
	if d != Filtered {
		t.Fatalf("containerd: %v", d)
	}
	out, d = st.Process(mkEvent(3, t0, tAVC), t0, out)
	if d != Filtered {
		t.Fatalf("AVC not included: %v", d)
	}
	if len(out) != 1 || out[0].Event.Key.Serial != 1 {
		t.Fatalf("out = %+v", out)
	}
	out = st.Tick(t0.Add(2*time.Minute), out[:0])
	if len(out) != 1 || out[0].Report == nil {
		t.Fatalf("want one report, got %+v", out)
	}
	rep := out[0].Report
	if rep.Filtered["SYSCALL"] != 1 || rep.Filtered["AVC"] != 1 || rep.Total() != 2 {
		t.Fatalf("report %+v", rep)
	}
	// Nothing held back since: no report.
	if out = st.Tick(t0.Add(4*time.Minute), out[:0]); len(out) != 0 {
		t.Fatalf("empty interval produced %+v", out)
	}
}

func TestStageOmitLoaderPaths(t *testing.T) {
	st := New(Options{OmitLoaderPaths: true})
	ev := mkEvent(1, t0, tSyscall, paths("/usr/bin/curl", "/lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1"))
	out, d := st.Process(ev, t0, nil)
	if d != Shipped || len(out) != 1 {
		t.Fatal(d)
	}
	if len(ev.Summary.Paths) != 1 || ev.Summary.Paths[0].Name != "/usr/bin/curl" {
		t.Fatalf("paths %+v", ev.Summary.Paths)
	}
	if len(ev.Records) != 2 { // SYSCALL + the curl PATH
		t.Fatalf("records %+v", ev.Records)
	}
}

func TestStageCollapse(t *testing.T) {
	st := New(Options{CollapseWindow: time.Minute})
	var shipped []*parser.Event
	collapsed := 0
	// A cron job every second for three minutes: 180 identical events.
	for i := 0; i < 180; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		out, d := st.Process(mkEvent(uint64(i+1), at, tSyscall, exe("/usr/sbin/cron"), argv("/bin/sh", "-c", "date"), uid(0, "root"), success("yes")), t0, nil)
		if d == Collapsed {
			collapsed++
		}
		for _, o := range out {
			shipped = append(shipped, o.Event)
		}
	}
	out := st.Flush(t0, nil)
	for _, o := range out {
		if o.Event != nil {
			shipped = append(shipped, o.Event)
		}
	}
	// First event at once, then one entry per minute of repeats.
	if len(shipped) != 4 {
		for _, e := range shipped {
			t.Logf("shipped serial %d repeats %+v", e.Key.Serial, e.Repeats)
		}
		t.Fatalf("shipped %d entries for 180 identical events, want 4", len(shipped))
	}
	if shipped[0].Repeats != nil {
		t.Fatalf("first event should ship plain")
	}
	total := 0
	for _, e := range shipped[1:] {
		if e.Repeats == nil {
			t.Fatalf("aggregate without Repeats")
		}
		total += e.Repeats.Count
		if !e.Repeats.Last.After(e.Repeats.First) {
			t.Fatalf("repeats %+v", e.Repeats)
		}
	}
	if total != 179 || collapsed != 179 {
		t.Fatalf("repeats total %d, collapsed %d, want 179", total, collapsed)
	}
	// A different argv is not collapsed.
	_, d := st.Process(mkEvent(500, t0, tSyscall, exe("/usr/sbin/cron"), argv("/bin/sh", "-c", "uptime"), uid(0, "root"), success("yes")), t0, nil)
	if d != Shipped {
		t.Fatalf("different argv: %v", d)
	}
}

// Collapsing only merges events an investigator could not tell apart: the same action by the
// same users on the same object with the same result. Process and session ids and the time
// may differ (the runs of one cron job); anything else keeps an event out of the group.
func TestStageCollapseKeepsApart(t *testing.T) {
	base := func(serial uint64, opts ...evOpt) *parser.Event {
		ev := mkEvent(serial, t0, tSyscall, append([]evOpt{sysc("connect"), exe("/usr/bin/curl"), success("no"),
			auid(1000, "alice"), uid(0, "root"), peer("inet", "10.0.0.1", 443), paths("/etc/hosts")}, opts...)...)
		ev.Summary.PID, ev.Summary.PPID, ev.Summary.Ses = fmt.Sprint(100+serial), fmt.Sprint(200+serial), fmt.Sprint(serial)
		return ev
	}
	set := func(f func(*parser.Summary)) evOpt { return func(e *parser.Event) { f(&e.Summary) } }
	for name, opt := range map[string]evOpt{
		"peer address": peer("inet", "10.0.0.2", 443),
		"peer port":    peer("inet", "10.0.0.1", 80),
		"path":         set(func(sm *parser.Summary) { sm.Paths = []parser.PathItem{{Name: "/etc/shadow"}} }),
		"auid":         auid(1001, "bob"),
		"euid":         set(func(sm *parser.Summary) { sm.EUID = parser.ID{Num: 1, Set: true} }),
		"gid":          set(func(sm *parser.Summary) { sm.GID = parser.ID{Num: 5, Set: true} }),
		"exit":         set(func(sm *parser.Summary) { sm.Exit = "-13" }),
		"cwd":          set(func(sm *parser.Summary) { sm.Cwd = "/tmp" }),
		"tty":          set(func(sm *parser.Summary) { sm.TTY = "pts1" }),
		"login host":   set(func(sm *parser.Summary) { sm.Hostname = "203.0.113.9" }),
		"account":      set(func(sm *parser.Summary) { sm.Acct = "root" }),
		"terminal":     set(func(sm *parser.Summary) { sm.Terminal = "ssh" }),
		"operation":    set(func(sm *parser.Summary) { sm.Op = "PAM:authentication" }),
		"argv":         argv("curl", "http://x"),
		"rule key":     keys("egress"),
		"result":       success("yes"),
		"arch":         set(func(sm *parser.Summary) { sm.Arch = "i386" }),
		"auid unset":   set(func(sm *parser.Summary) { sm.AUID = parser.ID{Num: 1000, Name: "alice", Set: true, Unset: true} }),
		"auid not set": set(func(sm *parser.Summary) { sm.AUID = parser.ID{Num: 1000, Name: "alice"} }),
		"title":        set(func(sm *parser.Summary) { sm.Title = "curl http://y" }),
		"comm":         comm("curl2"),
		"nametype":     set(func(sm *parser.Summary) { sm.Paths = []parser.PathItem{{Name: "/etc/hosts", Nametype: "DELETE"}} }),
		"argc":         set(func(sm *parser.Summary) { sm.Argc = 9 }),
		"argv cut":     set(func(sm *parser.Summary) { sm.ArgvMarker = &parser.Truncation{Args: 3, Bytes: 70000} }),
	} {
		st := New(Options{CollapseWindow: time.Minute})
		if _, d := st.Process(base(1), t0, nil); d != Shipped {
			t.Fatalf("%s: first event %v", name, d)
		}
		if _, d := st.Process(base(2, opt), t0, nil); d != Shipped {
			t.Errorf("an event differing only in its %s was collapsed into the first (%v)", name, d)
		}
		if _, d := st.Process(base(3), t0, nil); d != Collapsed {
			t.Errorf("%s case: an event differing only in pid, ppid and session was not collapsed (%v)", name, d)
		}
	}
	// A decoded peer's raw sockaddr may differ in its padding between identical connects.
	st := New(Options{CollapseWindow: time.Minute})
	a, b := base(1), base(2)
	a.Summary.Peer.Raw, b.Summary.Peer.Raw = "02000050c0a8000100000000deadbeef", "02000050c0a800010000000000000000"
	st.Process(a, t0, nil)
	if _, d := st.Process(b, t0, nil); d != Collapsed {
		t.Errorf("connects to the same decoded peer with different padding were kept apart (%v)", d)
	}
}

// Events the exemption names pass a rate limit that drops everything else.
func TestStageRateExempt(t *testing.T) {
	st := New(Options{RateLimit: 1, RateBurst: 1, RateExempt: func(ev *parser.Event) bool { return ev.Summary.Success == "no" }})
	shipped, limited := map[string]int{}, 0
	for k := 0; k < 100; k++ {
		res := "yes"
		if k%10 == 5 {
			res = "no"
		}
		_, d := st.Process(mkEvent(uint64(k+1), t0.Add(time.Duration(k)*time.Millisecond), tUserLogin, success(res)), t0, nil)
		switch d {
		case Shipped:
			shipped[res]++
		case RateLimited:
			limited++
		}
	}
	if shipped["no"] != 10 || shipped["yes"] != 1 || limited != 89 {
		t.Fatalf("shipped %v, rate-limited %d; want all 10 exempt events, 1 other, 89 limited", shipped, limited)
	}
	// A flood of exempt events (anyone can make processes dump core) is bounded by their own
	// limit, ExemptFactor times the shared one.
	st = New(Options{RateLimit: 1, RateBurst: 1, RateExempt: func(*parser.Event) bool { return true }})
	n := 0
	for k := 0; k < 1000; k++ {
		if _, d := st.Process(mkEvent(uint64(k+1), t0.Add(time.Duration(k)*time.Millisecond), tAVC), t0, nil); d == Shipped {
			n++
		}
	}
	// 1 s of event time: the shared burst (1) and rate (1/s), then the exempt burst (10) and rate (10/s).
	if n < 15 || n > 25 {
		t.Fatalf("%d of 1000 exempt events in 1 s shipped, want about 22", n)
	}
}

func TestStageCollapseTickLive(t *testing.T) {
	st := New(Options{CollapseWindow: time.Minute})
	wall := t0
	for i := 0; i < 10; i++ {
		st.Process(mkEvent(uint64(i+1), t0.Add(time.Duration(i)*time.Second), tSyscall, exe("/bin/true")), wall, nil)
	}
	if out := st.Tick(wall.Add(30*time.Second), nil); len(out) != 0 {
		t.Fatalf("tick before the window closed: %+v", out)
	}
	out := st.Tick(wall.Add(61*time.Second), nil)
	var agg *parser.Event
	for _, o := range out {
		if o.Event != nil {
			agg = o.Event
		}
	}
	if agg == nil || agg.Repeats.Count != 9 {
		t.Fatalf("tick after window: %+v", out)
	}
}

func TestStageRateLimit(t *testing.T) {
	st := New(Options{RateLimit: 10, RateBurst: 20})
	shipped, limited := 0, 0
	// 1000 events within one second of event time: the burst plus ~10 pass.
	for i := 0; i < 1000; i++ {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		_, d := st.Process(mkEvent(uint64(i+1), at, tSyscall, withType(tExecve), keys("exec")), t0, nil)
		switch d {
		case Shipped:
			shipped++
		case RateLimited:
			limited++
		default:
			t.Fatalf("decision %v", d)
		}
	}
	if shipped < 20 || shipped > 32 || shipped+limited != 1000 {
		t.Fatalf("shipped %d limited %d", shipped, limited)
	}
	out := st.Flush(t0.Add(time.Second), nil)
	if len(out) != 1 || out[0].Report == nil || out[0].Report.RateLimited["SYSCALL key=exec"] != limited {
		t.Fatalf("report %+v", out)
	}
}

// TestStageAccounting: every event gets exactly one decision, and every collapsed event is
// accounted for by exactly one Repeats count.
func TestStageAccounting(t *testing.T) {
	st := New(Options{
		Exclude:        mustRules(t, "Exclude", "exe=/usr/bin/noisy*"),
		CollapseWindow: 10 * time.Second,
		RateLimit:      50, RateBurst: 50,
	})
	decisions := map[Decision]int{}
	repeats := 0
	collect := func(out []Out) {
		for _, o := range out {
			if o.Event != nil && o.Event.Repeats != nil {
				repeats += o.Event.Repeats.Count
			}
		}
	}
	exes := []string{"/usr/bin/noisy-a", "/bin/ls", "/bin/ls", "/usr/bin/curl", "/bin/cat"}
	n := 5000
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * 7 * time.Millisecond)
		e := exes[i%len(exes)]
		out, d := st.Process(mkEvent(uint64(i+1), at, tSyscall, exe(e), argv(e, fmt.Sprint(i%3))), t0, nil)
		decisions[d]++
		collect(out)
	}
	collect(st.Flush(t0, nil))
	sum := 0
	for _, v := range decisions {
		sum += v
	}
	if sum != n {
		t.Fatalf("decisions %v sum %d", decisions, sum)
	}
	if decisions[Filtered] != n/5 {
		t.Fatalf("filtered %d want %d", decisions[Filtered], n/5)
	}
	if repeats != decisions[Collapsed] {
		t.Fatalf("repeats in aggregates %d != collapsed decisions %d", repeats, decisions[Collapsed])
	}
}

// benchEvents is a realistic mix for the filter benchmark.
func benchEvents() []*parser.Event {
	var evs []*parser.Event
	for i := 0; i < 64; i++ {
		evs = append(evs, mkEvent(uint64(i), t0.Add(time.Duration(i)*time.Second), tSyscall, withType(tExecve),
			exe(fmt.Sprintf("/usr/bin/tool%d", i%7)), comm("tool"), keys("exec"), sysc("execve"), success("yes"),
			auid(1000, "alice"), uid(0, "root"), paths("/usr/bin/tool", "/lib64/ld-linux-x86-64.so.2")))
	}
	return evs
}

// twentyRules is a realistic 20-rule filter set (10 include, 10 exclude).
const twentyInclude = "type=EXECVE key=exec; type=USER_LOGIN; type=USER_AUTH result=failed; type=AVC; key=funky_socket; " +
	"syscall=connect port=22; syscall=ptrace; path=/etc/shadow; uid=0 exe=/usr/bin/*; auid!=unset"
const twentyExclude = "exe=/usr/bin/containerd*; exe=/usr/sbin/runc; exe=/pause; comm=kubelet; exe=*/node_exporter; " +
	"addr=127.0.0.0/8; addr=169.254.169.254; key=noise*; auid=unset exe=/usr/sbin/cron; path=/proc/"

func BenchmarkStage(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func() Options
	}{
		{"baseline-no-filters", func() Options { return Options{} }},
		{"20-rules", func() Options {
			return Options{Include: mustRules(b, "Include", twentyInclude), Exclude: mustRules(b, "Exclude", twentyExclude)}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st := New(bc.opts())
			if n := st.o.Include.Len() + st.o.Exclude.Len(); bc.name == "20-rules" && n != 20 {
				b.Fatalf("%d rules, want 20", n)
			}
			evs := benchEvents()
			out := make([]Out, 0, 4)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, _ = st.Process(evs[i%len(evs)], t0, out[:0])
			}
		})
	}
}
