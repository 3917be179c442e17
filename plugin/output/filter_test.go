package output

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output/fakelogging"
)

// Audit lines for the filter tests, in auditd's audit.log form with EOE, so that each event
// completes as soon as its lines are read.

var genBase = time.Unix(1795637400, 0)

func msgID(at time.Time, serial uint64) string {
	return fmt.Sprintf("audit(%d.%03d:%d)", at.Unix(), at.Nanosecond()/1e6, serial)
}

type proc struct {
	exe, comm, key  string
	auid, uid, euid int64 // -1: unset (4294967295)
}

func idStr(n int64) string {
	if n < 0 {
		return "4294967295"
	}
	return fmt.Sprint(n)
}

func (p proc) syscall(at time.Time, serial uint64, nr int, success bool, exit, items int) string {
	key := "(null)"
	if p.key != "" {
		key = `"` + p.key + `"`
	}
	s := "yes"
	if !success {
		s = "no"
	}
	return fmt.Sprintf(`type=SYSCALL msg=%s: arch=c000003e syscall=%d success=%s exit=%d a0=1 a1=2 a2=3 a3=0 items=%d ppid=1 pid=4242 `+
		`auid=%s uid=%s gid=0 euid=%s suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=3 comm="%s" exe="%s" key=%s`,
		msgID(at, serial), nr, s, exit, items, idStr(p.auid), idStr(p.uid), idStr(p.euid), p.comm, p.exe, key)
}

func proctitle(at time.Time, serial uint64, argv ...string) string {
	return fmt.Sprintf("type=PROCTITLE msg=%s: proctitle=%s", msgID(at, serial), strings.ToUpper(hex.EncodeToString([]byte(strings.Join(argv, "\x00")))))
}

func eoe(at time.Time, serial uint64) string {
	return fmt.Sprintf("type=EOE msg=%s: ", msgID(at, serial))
}

func pathLine(at time.Time, serial uint64, item int, name string) string {
	return fmt.Sprintf(`type=PATH msg=%s: item=%d name="%s" inode=1%03d dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL `+
		`cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`, msgID(at, serial), item, name, item)
}

// execLines is a dynamically linked execve: SYSCALL, EXECVE, CWD, PATH (program), PATH (loader), PROCTITLE, EOE.
func execLines(at time.Time, serial uint64, p proc, argv ...string) []string {
	ex := fmt.Sprintf("type=EXECVE msg=%s: argc=%d", msgID(at, serial), len(argv))
	for k, a := range argv {
		ex += fmt.Sprintf(` a%d="%s"`, k, a)
	}
	return []string{
		p.syscall(at, serial, 59, true, 0, 2), ex,
		fmt.Sprintf(`type=CWD msg=%s: cwd="/root"`, msgID(at, serial)),
		pathLine(at, serial, 0, p.exe), pathLine(at, serial, 1, "/lib64/ld-linux-x86-64.so.2"),
		proctitle(at, serial, argv...), eoe(at, serial),
	}
}

// connectLines is a connect(2) to an IPv4 address.
func connectLines(at time.Time, serial uint64, p proc, ip [4]byte, port int, success bool) []string {
	saddr := fmt.Sprintf("0200%04X%02X%02X%02X%02X0000000000000000", port, ip[0], ip[1], ip[2], ip[3])
	exit := 0
	if !success {
		exit = -111
	}
	return []string{
		p.syscall(at, serial, 42, success, exit, 0),
		fmt.Sprintf("type=SOCKADDR msg=%s: saddr=%s", msgID(at, serial), saddr),
		proctitle(at, serial, p.comm), eoe(at, serial),
	}
}

// openLines is a failed openat(2) of name.
func openLines(at time.Time, serial uint64, p proc, name string) []string {
	return []string{
		p.syscall(at, serial, 257, false, -13, 1),
		fmt.Sprintf(`type=CWD msg=%s: cwd="/home/alice"`, msgID(at, serial)),
		pathLine(at, serial, 0, name), proctitle(at, serial, p.comm, name), eoe(at, serial),
	}
}

func loginLine(at time.Time, serial uint64) []string {
	return []string{fmt.Sprintf(`type=USER_LOGIN msg=%s: pid=900 uid=0 auid=1000 ses=2 msg='op=login acct="alice" exe="/usr/sbin/sshd" `+
		`hostname=? addr=10.0.0.1 terminal=sshd res=failed'`, msgID(at, serial))}
}

// filterEvents is one event of each shape the rules look at, serials 1-8.
func filterEvents() [][]string {
	at := func(k int) time.Time { return genBase.Add(time.Duration(k) * time.Second) }
	return [][]string{
		execLines(at(1), 1, proc{"/usr/bin/curl", "curl", "exec", 1000, 0, 0}, "curl", "https://x"),
		execLines(at(2), 2, proc{"/usr/bin/containerd-shim-runc-v2", "containerd-shim", "exec", -1, 0, 0}, "containerd-shim-runc-v2", "-id", "x"),
		execLines(at(3), 3, proc{"/usr/sbin/cron", "cron", "", -1, 0, 0}, "/usr/sbin/cron", "-f"),
		connectLines(at(4), 4, proc{"/usr/bin/curl", "curl", "net", 1000, 1000, 1000}, [4]byte{10, 1, 2, 3}, 443, false),
		connectLines(at(5), 5, proc{"/usr/bin/python3.11", "python3", "net", -1, 33, 33}, [4]byte{127, 0, 0, 1}, 80, true),
		openLines(at(6), 6, proc{"/usr/bin/cat", "cat", "shadow", 1000, 1000, 1000}, "/etc/shadow"),
		loginLine(at(7), 7),
		execLines(at(8), 8, proc{"/usr/bin/passwd", "passwd", "exec", 1000, 1000, 0}, "passwd"),
	}
}

func flatten(evs [][]string) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e...)
	}
	return out
}

// sent splits what the server accepted into event serials, filter reports and the rest.
func sent(t testing.TB, srv *fakelogging.Server) (serials []int, reports []map[string]any, other int) {
	t.Helper()
	for _, e := range srv.Accepted() {
		p := jsonMap(t, e.GetJsonPayload())
		switch e.Labels["kind"] {
		case "filter_report":
			reports = append(reports, p)
		case "":
			serials = append(serials, int(p["serial"].(float64)))
		default:
			other++
		}
	}
	sort.Ints(serials)
	return serials, reports, other
}

func jsonMap(t testing.TB, s *structpb.Struct) map[string]any {
	t.Helper()
	b, err := protojson.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	v := &structpb.Struct{}
	if err := protojson.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
	return v.AsMap()
}

func sumKinds(v any) int {
	m, _ := v.(map[string]any)
	n := 0
	for _, x := range m {
		n += int(x.(float64))
	}
	return n
}

// TestFilterKinds runs one chunk holding every event shape through a whole instance per rule
// set and checks what reaches the server: the events the rules keep, and one report entry
// accounting for the rest.
func TestFilterKinds(t *testing.T) {
	data := lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, flatten(filterEvents()))
	all := []int{1, 2, 3, 4, 5, 6, 7, 8}
	cases := []struct {
		name string
		kv   []string
		want []int
	}{
		{"no filter", nil, all},
		{"type", []string{"Include", "type=EXECVE"}, []int{1, 2, 3, 8}},
		{"type user-space", []string{"Include", "type=USER_LOGIN"}, []int{7}},
		{"key", []string{"Include", "key=net"}, []int{4, 5}},
		{"key glob exclude", []string{"Exclude", "key=ex*"}, []int{3, 4, 5, 6, 7}},
		{"syscall", []string{"Include", "syscall=connect"}, []int{4, 5}},
		{"syscall number", []string{"Include", "syscall=openat,59"}, []int{6}},
		{"result", []string{"Include", "result=failed"}, []int{4, 6, 7}},
		{"exe glob", []string{"Exclude", "exe=/usr/bin/containerd*,/usr/sbin/cron"}, []int{1, 4, 5, 6, 7, 8}},
		{"exe crosses /", []string{"Include", "exe=*/curl"}, []int{1, 4}},
		{"comm", []string{"Include", "comm=curl,cat"}, []int{1, 4, 6}},
		{"auid unset", []string{"Include", "auid=unset"}, []int{2, 3, 5}},
		{"auid number", []string{"Include", "auid=1000"}, []int{1, 4, 6, 7, 8}},
		{"uid", []string{"Include", "uid=33"}, []int{5}},
		{"euid and uid", []string{"Include", "euid=0 uid=1000"}, []int{8}},
		{"path prefix", []string{"Include", "path=/etc/"}, []int{6}},
		{"addr cidr", []string{"Exclude", "addr=127.0.0.0/8"}, []int{1, 2, 3, 4, 6, 7, 8}},
		{"addr and port", []string{"Include", "addr=10.0.0.0/8 port=443"}, []int{4}},
		{"port range", []string{"Include", "port=1-100"}, []int{5}},
		{"negation", []string{"Include", "key!=exec,net"}, []int{3, 6, 7}},
		{"include and exclude", []string{"Include", "type=EXECVE; type=USER_LOGIN", "Exclude", "auid=unset"}, []int{1, 7, 8}},
		{"exclude everything", []string{"Exclude", "result=success; result=failed"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			i, _ := newInstance(t, srv, tc.kv...)
			if out := i.Flush(data, "audit"); out != delivery.OK {
				t.Fatalf("flush %v", out)
			}
			closeNow(t, i)
			got, reports, other := sent(t, srv)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || other != 0 {
				t.Fatalf("events sent %v (and %d others), want %v", got, other, tc.want)
			}
			c := i.Counters()
			held := len(all) - len(tc.want)
			if c.Filtered != uint64(held) || c.Shipped != uint64(len(tc.want)) || c.EventsOut != uint64(len(all)) {
				t.Fatalf("counters: shipped %d filtered %d of %d", c.Shipped, c.Filtered, c.EventsOut)
			}
			if held == 0 {
				if len(reports) != 0 {
					t.Fatalf("a report without anything held back: %v", reports)
				}
				return
			}
			if len(reports) != 1 || sumKinds(reports[0]["filtered"]) != held || reports[0]["held_back"] != float64(held) {
				t.Fatalf("reports %v, want one accounting for %d filtered events", reports, held)
			}
			if !strings.HasPrefix(reports[0]["summary"].(string), fmt.Sprintf("held back %d events in the last ", held)) {
				t.Fatalf("report summary %q", reports[0]["summary"])
			}
		})
	}
}

// Dropping parts: the loader's PATH item (on by default) and the records list.
func TestFilterDropsParts(t *testing.T) {
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, execLines(genBase, 1, proc{"/usr/bin/curl", "curl", "exec", 1000, 0, 0}, "curl", "https://x"))
	run := func(kv ...string) (map[string]any, Counters) {
		srv := startServer(t)
		i, _ := newInstance(t, srv, kv...)
		if out := i.Flush(data, "audit"); out != delivery.OK {
			t.Fatalf("flush %v", out)
		}
		closeNow(t, i)
		acc := srv.Accepted()
		if len(acc) != 1 {
			t.Fatalf("%d entries", len(acc))
		}
		return jsonMap(t, acc[0].GetJsonPayload()), i.Counters()
	}
	hasLoader := func(p map[string]any) (inPaths, inRecords bool) {
		for _, x := range p["paths"].([]any) {
			inPaths = inPaths || strings.Contains(x.(map[string]any)["name"].(string), "ld-linux")
		}
		recs, _ := p["records"].([]any)
		for _, r := range recs {
			f, _ := r.(map[string]any)["fields"].(map[string]any)
			inRecords = inRecords || strings.Contains(fmt.Sprint(f["name"]), "ld-linux")
		}
		return
	}
	def, c := run()
	if p, r := hasLoader(def); p || r || c.LoaderPathsOmitted != 1 || c.RecordsShipped != 7 {
		t.Fatalf("default: loader in paths %v, in records %v; counters %+v", p, r, c)
	}
	if n := len(def["records"].([]any)); n != 6 { // EOE kept, loader PATH gone
		t.Fatalf("%d records", n)
	}
	kept, c := run("Omit_Loader_Paths", "off")
	if p, r := hasLoader(kept); !p || !r || c.LoaderPathsOmitted != 0 {
		t.Fatalf("Omit_Loader_Paths off: loader in paths %v, in records %v", p, r)
	}
	lean, _ := run("Payload_Records", "off")
	if lean["records"] != nil || lean["summary"] != def["summary"] || fmt.Sprint(lean["process"]) != fmt.Sprint(def["process"]) {
		t.Fatalf("Payload_Records off: %v", lean)
	}
}

// A cron-like stream, the same command every second for three minutes of event time, with
// Collapse_Window 1m: the first run at once, then one entry per minute, not 180.
func TestCollapseCronStream(t *testing.T) {
	var lines []string
	for k := 0; k < 180; k++ {
		lines = append(lines, execLines(genBase.Add(time.Duration(k)*time.Second), uint64(100+k),
			proc{"/usr/bin/date", "date", "cron", -1, 0, 0}, "date", "+%s")...)
	}
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Collapse_Window", "1m")
	// Two chunks: the stage's state carries over.
	half := len(lines) / 2
	for _, part := range [][]string{lines[:half], lines[half:]} {
		if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, part), "audit"); out != delivery.OK {
			t.Fatalf("flush %v", out)
		}
	}
	closeNow(t, i)
	var plain, aggregates []map[string]any
	var reports []map[string]any
	for _, e := range srv.Accepted() {
		p := jsonMap(t, e.GetJsonPayload())
		switch {
		case e.Labels["kind"] == "filter_report":
			reports = append(reports, p)
		case p["repeats"] != nil:
			aggregates = append(aggregates, p)
		default:
			plain = append(plain, p)
		}
	}
	if len(plain) != 1 || len(aggregates) != 3 {
		t.Fatalf("%d plain entries and %d collapsed, want 1 + 3", len(plain), len(aggregates))
	}
	total := 0
	for _, a := range aggregates {
		r := a["repeats"].(map[string]any)
		total += int(r["count"].(float64))
		first, _ := time.Parse(time.RFC3339Nano, r["first"].(string))
		last, _ := time.Parse(time.RFC3339Nano, r["last"].(string))
		if !last.After(first) || last.Sub(first) > time.Minute {
			t.Fatalf("repeats %v", r)
		}
		want := fmt.Sprintf("(×%d between %s and %s)", int(r["count"].(float64)), first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
		if s := a["summary"].(string); !strings.HasPrefix(s, "uid=0 ran /usr/bin/date +%s in /root") || !strings.HasSuffix(s, want) {
			t.Fatalf("summary %q, want it to end in %q", s, want)
		}
	}
	c := i.Counters()
	if total != 179 || c.Collapsed != 179 || c.Shipped != 1 || c.RecordsCollapsed != 179*7 {
		t.Fatalf("repeats %d, counters %+v", total, c)
	}
	if len(reports) != 1 || sumKinds(reports[0]["collapsed"]) != 179 {
		t.Fatalf("reports %v", reports)
	}
}

// The rate limit runs on event time and is never silent: a WARNING report counts the drops.
func TestRateLimitReported(t *testing.T) {
	var lines []string
	for k := 0; k < 100; k++ { // 100 events within one second of event time
		lines = append(lines, execLines(genBase.Add(time.Duration(k)*10*time.Millisecond), uint64(500+k),
			proc{"/usr/bin/true", "true", "exec", 1000, 0, 0}, "true", fmt.Sprint(k))...)
	}
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Rate_Limit", "10", "Rate_Burst", "20")
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, lines), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	closeNow(t, i)
	got, reports, _ := sent(t, srv)
	c := i.Counters()
	if len(got) < 20 || len(got) > 32 || uint64(len(got)) != c.Shipped || c.Shipped+c.RateLimited != 100 {
		t.Fatalf("%d events sent, counters %+v", len(got), c)
	}
	if len(reports) != 1 || sumKinds(reports[0]["rate_limited"]) != int(c.RateLimited) {
		t.Fatalf("reports %v", reports)
	}
	for _, e := range srv.Accepted() {
		if e.Labels["kind"] == "filter_report" && e.Severity != ltype.LogSeverity_WARNING {
			t.Fatalf("rate-limit report severity %v", e.Severity)
		}
	}
}

// A flood of cheap events cannot push security-relevant ones out: events of severity WARNING
// and above (here failed logins) are never rate-limited.
func TestRateLimitSparesWarnings(t *testing.T) {
	var lines []string
	for k := 0; k < 100; k++ {
		at := genBase.Add(time.Duration(k) * 10 * time.Millisecond)
		lines = append(lines, execLines(at, uint64(500+k), proc{"/usr/bin/true", "true", "exec", 1000, 0, 0}, "true", fmt.Sprint(k))...)
		if k%10 == 0 {
			lines = append(lines, fmt.Sprintf(`type=USER_LOGIN msg=audit(%d.%03d:%d): pid=77 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.%d terminal=ssh res=failed'`,
				at.Unix(), at.Nanosecond()/1e6+5, 900+k, k))
		}
	}
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Rate_Limit", "10", "Rate_Burst", "20")
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, lines), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	closeNow(t, i)
	logins := 0
	for _, e := range srv.Accepted() {
		if strings.Contains(e.Labels["types"], "USER_LOGIN") {
			if e.Severity < ltype.LogSeverity_WARNING {
				t.Errorf("failed login at severity %v", e.Severity)
			}
			logins++
		}
	}
	if c := i.Counters(); logins != 10 || c.RateLimited < 60 {
		t.Fatalf("%d of 10 failed logins shipped; counters %+v (the execs must still be limited)", logins, c)
	}
}

// Reports are emitted on the ticker every Report_Interval, not only at exit.
func TestReportOnTicker(t *testing.T) {
	srv := startServer(t)
	i, _ := newInstance(t, srv, "Exclude", "key=exec", "Report_Interval", "10s")
	now := time.Now()
	i.mu.Lock()
	i.now = func() time.Time { return now }
	i.mu.Unlock()
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, flatten(filterEvents()))
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	i.mu.Lock()
	i.now = func() time.Time { return now.Add(11 * time.Second) }
	i.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, reports, _ := sent(t, srv); len(reports) == 1 {
			if sumKinds(reports[0]["filtered"]) != 3 {
				t.Fatalf("report %v", reports[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report from the ticker within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
