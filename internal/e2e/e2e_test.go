package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/emulator"
	"github.com/gke-audit/auditd-cloud-logging/internal/audittest"
	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
)

const (
	project = "e2e-project"
	// The workload's login uid. Every rule of the test's own rule file is confined to it, so
	// the rest of this (shared) machine, whose processes have no login uid, stays out.
	workloadAUID = "0"
	bigArgs      = 2050 // arguments of the long command line: 2050 × 64 bytes ≈ 131 KB > 128 KB
)

// e2eRules are loaded through audit-setup.sh's custom-rules path, next to the bundled rules
// (every execve): the failed opens, and connect, of the workload.
const e2eRules = `# end-to-end test rules (internal/e2e)
-a always,exit -F arch=b64 -S openat -F exit=-ENOENT -F auid=0 -k e2e_noent
-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid=0 -k e2e_access
-a always,exit -F arch=b64 -S connect -F auid=0 -k e2e_net
`

// TestAuditdEndToEnd: real auditd → growing audit.log → the .so in the C host (tail-like
// chunks, one answered RETRY and replayed) → emulator; then the same records as journal
// records. See the package comment.
func TestAuditdEndToEnd(t *testing.T) {
	if os.Geteuid() != 0 {
		audittest.SkipOrFail(t, "needs root: it starts auditd and loads audit rules")
	}
	for _, tool := range []string{"auditd", "auditctl", "runuser", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			audittest.SkipOrFail(t, "%s not installed (Debian: apt-get install auditd util-linux bash)", tool)
		}
	}
	if _, err := os.Stat("/proc/self/loginuid"); err != nil {
		audittest.SkipOrFail(t, "no kernel audit: /proc/self/loginuid is missing (kernel without CONFIG_AUDIT)")
	}
	if _, err := auditStatus(); err != nil {
		audittest.SkipOrFail(t, "no kernel audit: %v", err)
	}
	so, host := artifacts(t)

	audittest.Lock(t) // released last: cleanups run in reverse order
	prior, err := auditStatus()
	if err != nil {
		t.Fatal(err)
	}
	priorRules := auditRules(t)
	t.Logf("before: enabled=%s backlog_limit=%s pid=%s rules=%q", prior["enabled"], prior["backlog_limit"], prior["pid"], priorRules)
	if prior["enabled"] == "2" {
		audittest.SkipOrFail(t, "audit configuration is locked (enabled 2) until reboot")
	}
	if prior["pid"] != "0" {
		audittest.SkipOrFail(t, "an audit daemon (pid %s) already receives the kernel's records; stop it first", prior["pid"])
	}
	for _, r := range priorRules {
		if strings.Contains(r, "gke_audit_exec") || strings.Contains(r, "funky_socket") || strings.Contains(r, "e2e_") {
			audittest.SkipOrFail(t, "this machine already has a rule with one of the project's keys, which the test's cleanup would remove: %s", r)
		}
	}

	work, err := os.MkdirTemp("", "e2e-audit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	// Traversable by nobody, so nobody's open of the secret fails on the file's own mode.
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if work, err = filepath.EvalSymlinks(work); err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(work, "e2e.rules")
	if err := os.WriteFile(rulesFile, []byte(e2eRules), 0o644); err != nil {
		t.Fatal(err)
	}

	// Restore the audit state found, whatever happens below. Registered before any change;
	// it runs after auditd is stopped (cleanups run last-registered first).
	t.Cleanup(func() {
		if out, err := setupScript(t, "disable", rulesFile); err != nil {
			t.Errorf("cleanup: audit-setup.sh disable: %v\n%s", err, out)
		}
		have := map[string]bool{}
		for _, r := range auditRules(t) {
			have[r] = true
		}
		for _, r := range priorRules {
			if !have[r] {
				if out, err := auditctl(strings.Fields(r)...); err != nil {
					t.Errorf("cleanup: restoring rule %q: %v: %s", r, err, out)
				}
			}
		}
		if out, err := auditctl("-e", prior["enabled"]); err != nil {
			t.Errorf("cleanup: auditctl -e %s: %v: %s", prior["enabled"], err, out)
		}
		if out, err := auditctl("-b", prior["backlog_limit"]); err != nil {
			t.Errorf("cleanup: auditctl -b %s: %v: %s", prior["backlog_limit"], err, out)
		}
		now, err := auditStatus()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		rules := auditRules(t)
		t.Logf("after: enabled=%s backlog_limit=%s pid=%s rules=%q", now["enabled"], now["backlog_limit"], now["pid"], rules)
		if now["enabled"] != prior["enabled"] || now["backlog_limit"] != prior["backlog_limit"] ||
			strings.Join(rules, "\n") != strings.Join(priorRules, "\n") {
			t.Errorf("cleanup: audit state differs from what the test found: enabled %s→%s backlog %s→%s rules %q→%q",
				prior["enabled"], now["enabled"], prior["backlog_limit"], now["backlog_limit"], priorRules, rules)
		}
	})

	// The emulator, with a scripted outage for the write that carries the long command line.
	marker := "e2e-" + randHex(4)
	bigMarker := marker + "-big"
	var armed atomic.Bool
	var failedMu sync.Mutex
	var failedIDs []string
	fault := func(_ context.Context, req *loggingpb.WriteLogEntriesRequest) error {
		if !armed.Load() || !strings.HasSuffix(req.GetLogName(), "/e2e-live") {
			return nil
		}
		hit := false
		for _, e := range req.GetEntries() {
			if argvAt(e, 1) == bigMarker {
				hit = true
			}
		}
		if !hit || !armed.CompareAndSwap(true, false) {
			return nil
		}
		failedMu.Lock()
		for _, e := range req.GetEntries() {
			failedIDs = append(failedIDs, e.GetInsertId())
		}
		failedMu.Unlock()
		return status.Error(codes.Unavailable, "e2e: scripted outage")
	}
	srv, err := emulator.New(emulator.Options{Fault: fault})
	if err != nil {
		t.Fatal(err)
	}
	addr, stopEmu, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopEmu)

	// A listener for the workload's connect.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	port := lis.Addr().(*net.TCPAddr).Port
	var accepted atomic.Int32
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()

	// auditd, a large backlog (restored at cleanup), and the rules through the project's script.
	logPath := startAuditd(t, filepath.Join(work, "auditd"))
	if out, err := auditctl("-b", "8192"); err != nil {
		t.Fatalf("auditctl -b 8192: %v: %s", err, out)
	}
	out, err := setupScript(t, "setup", filepath.Join(work, "no-custom-rules"))
	if err != nil || !strings.Contains(out, "loaded 3 rules") {
		t.Fatalf("audit-setup.sh setup (bundled rules): %v\n%s", err, out)
	}
	t.Logf("audit-setup.sh (bundled rules):\n%s", out)
	out, err = setupScript(t, "setup", rulesFile)
	if err != nil || !strings.Contains(out, "loaded 3 rules") {
		t.Fatalf("audit-setup.sh setup (custom rules): %v\n%s", err, out)
	}
	if st, _ := auditStatus(); st["enabled"] != "1" {
		t.Fatalf("auditing is not enabled after setup: %v", st)
	}

	// The C host with three instances: live follows the log as it grows; whole gets the same
	// bytes in one chunk at the end; journal gets the same records reshaped as journal records.
	// Write_Timeout leaves room for a slow machine: the emulator runs under the race detector in
	// this process, and 5 s was once too short for the whole log's 556 entries while other
	// packages' tests ran beside it (the write failed DeadlineExceeded, the flush said RETRY).
	h := startHost(t, so, host, work)
	common := fmt.Sprintf("Endpoint=%s Insecure=On Project_ID=%s Cluster_Name=e2e Cluster_Location=local Node_Name=e2e-node "+
		"Passwd_File=/etc/passwd Group_File=/etc/group Write_Timeout=20s Event_Quiet=20s Event_Timeout=60s", addr, project)
	for _, name := range []string{"live", "whole", "journal"} {
		h.send("instance %s expect=OK Log_Name=e2e-%s %s", name, name, common)
		h.await("init "+name+" ", 30*time.Second)
	}

	tail := &tailer{path: logPath}
	var chunks [][]byte // the bytes of each chunk, for the other two instances
	flushLive := func(i int, data []byte, expect string) {
		t.Helper()
		path := filepath.Join(work, fmt.Sprintf("live-%d.msgpack", i))
		if err := os.WriteFile(path, lineChunk(data), 0o644); err != nil {
			t.Fatal(err)
		}
		h.send("flush live %s expect=%s", path, expect)
		if l := h.await("flush live "+path+" rc=", 30*time.Second); !strings.HasSuffix(l, " ok") {
			t.Fatalf("%s\n%s", l, h.output())
		}
	}

	dir := filepath.Join(work, "dir with spaces ü")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(work, "secret")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	workload := func(script string) {
		t.Helper()
		cmd := exec.Command("/bin/bash", "-c", "set -e; echo "+workloadAUID+" >/proc/self/loginuid\n"+
			"export LC_ALL=C LANG=C PATH=/usr/sbin:/usr/bin:/sbin:/bin\ncd \"$1\"\n"+script, "workload", dir, marker, secret, fmt.Sprint(port))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("workload: %v\n%s\n%s", err, out, script)
		}
	}

	// Chunk 0: odd arguments and a failed open.
	workload(`/bin/echo "$2-odd" "hello world" "it's" '"double"' $'line1\nline2' $'tab\there' 'ünïcødé ✓ 日本' $'bad \xff\xfe utf8' '' >/dev/null
cat "/nonexistent/$2-missing" 2>/dev/null || true
/bin/true "$2-sync0"`)
	chunks = append(chunks, tail.until(t, marker+"-sync0"))
	flushLive(0, chunks[0], "OK")

	// Chunk 1: an argv over 128 KB. Its write fails once (Unavailable → FLB_RETRY) and the same
	// chunk is replayed, as fluent-bit does.
	workload(`z=$(printf 'z%.0s' {1..55}); args=()
for ((i = 1; i <= ` + fmt.Sprint(bigArgs) + `; i++)); do printf -v a 'arg-%04d-%s' "$i" "$z"; args+=("$a"); done
/bin/true "$2-big" "${args[@]}"
/bin/true "$2-sync1"`)
	chunks = append(chunks, tail.until(t, marker+"-sync1"))
	armed.Store(true)
	flushLive(1, chunks[1], "RETRY")
	if armed.Load() {
		t.Fatal("the flush answered RETRY without the scripted outage being hit")
	}
	flushLive(1, chunks[1], "OK")

	// Chunk 2: a connect to 127.0.0.1, a user change, and nobody's refused open.
	workload(`exec 3<>"/dev/tcp/127.0.0.1/$4"; exec 3>&-
runuser -u nobody -- /bin/true "$2-nobody"
runuser -u nobody -- /bin/cat "$3" >/dev/null 2>&1 || true
/bin/true "$2-sync2"`)
	chunks = append(chunks, tail.until(t, marker+"-sync2"))
	flushLive(2, chunks[2], "OK")

	// The other shapes of the same bytes.
	all := bytes.Join(chunks, nil)
	wholePath := filepath.Join(work, "whole.msgpack")
	if err := os.WriteFile(wholePath, lineChunk(all), 0o644); err != nil {
		t.Fatal(err)
	}
	h.send("flush whole %s expect=OK", wholePath)
	h.await("flush whole ", 60*time.Second)
	hostname, _ := os.Hostname()
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	for i, c := range chunks {
		times, recs := journalRecords(splitLines(c), hostname, strings.ReplaceAll(strings.TrimSpace(string(bootID)), "-", ""))
		w := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true, Map32: true})
		for k := range recs {
			w.Record(times[k], recs[k])
		}
		path := filepath.Join(work, fmt.Sprintf("journal-%d.msgpack", i))
		if err := os.WriteFile(path, w.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		h.send("flush journal %s expect=OK", path)
		h.await("flush journal "+path+" rc=", 60*time.Second)
	}
	for _, name := range []string{"live", "whole", "journal"} {
		h.send("exit %s expect=OK", name)
	}
	if err := h.finish(60 * time.Second); err != nil {
		t.Fatalf("C host: %v\n%s", err, h.output())
	}
	t.Logf("C host:\n%s", h.output())

	byLog := map[string][]*loggingpb.LogEntry{}
	for _, e := range srv.Entries() {
		name := e.GetLogName()[strings.LastIndex(e.GetLogName(), "/")+1:]
		byLog[name] = append(byLog[name], e)
	}
	live, whole, journal := byLog["e2e-live"], byLog["e2e-whole"], byLog["e2e-journal"]
	t.Logf("entries: live %d, whole %d, journal %d; log %d bytes in %d chunks; listener accepted %d",
		len(live), len(whole), len(journal), len(all), len(chunks), accepted.Load())

	checkWorkload(t, live, workloadWant{marker: marker, dir: dir, secret: secret, port: port})
	checkRetry(t, live, failedIDs)
	checkSameEvents(t, live, whole)
	checkJournal(t, live, journal)
	if accepted.Load() != 1 {
		t.Errorf("the listener accepted %d connections, want 1", accepted.Load())
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tailer hands out what was appended to a file since the last call, in whole lines, as
// in_tail does.
type tailer struct {
	path string
	off  int64
}

// until waits (up to 20 s) until the file holds a line containing marker, then returns every
// complete line appended since the last call.
func (tl *tailer) until(t *testing.T, marker string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(tl.path)
		if err != nil {
			t.Fatal(err)
		}
		rest := data[tl.off:]
		if i := bytes.Index(rest, []byte(marker)); i >= 0 {
			if nl := bytes.IndexByte(rest[i:], '\n'); nl >= 0 {
				end := bytes.LastIndexByte(rest, '\n') + 1
				tl.off += int64(end)
				return rest[:end]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no complete line with %q after 20s (auditd not writing? %d bytes so far)", tl.path, marker, len(data))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// lineChunk encodes lines as in_tail's records: [[EventTime, {}], {"log": line}].
func lineChunk(data []byte) []byte {
	w := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true})
	now := time.Now()
	for _, l := range splitLines(data) {
		w.Line(now, string(l))
	}
	return w.Bytes()
}

// payload returns an entry's jsonPayload as plain Go values.
func payload(e *loggingpb.LogEntry) map[string]any { return e.GetJsonPayload().AsMap() }

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func argv(e *loggingpb.LogEntry) []string {
	l, _ := path(payload(e), "process", "argv").([]any)
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	return out
}

func argvAt(e *loggingpb.LogEntry, i int) string {
	v := e.GetJsonPayload().GetFields()["process"].GetStructValue().GetFields()["argv"].GetListValue().GetValues()
	if i < len(v) {
		return v[i].GetStringValue()
	}
	return ""
}

func pathNames(e *loggingpb.LogEntry) []string {
	l, _ := path(payload(e), "paths").([]any)
	var out []string
	for _, v := range l {
		if m, ok := v.(map[string]any); ok {
			s, _ := m["name"].(string)
			out = append(out, s)
		}
	}
	return out
}

func events(es []*loggingpb.LogEntry) []*loggingpb.LogEntry {
	var out []*loggingpb.LogEntry
	for _, e := range es {
		if e.GetLabels()["kind"] == "" {
			out = append(out, e)
		}
	}
	return out
}

// one returns the single entry matching, failing when there are none or several.
func one(t *testing.T, what string, es []*loggingpb.LogEntry, match func(*loggingpb.LogEntry) bool) *loggingpb.LogEntry {
	t.Helper()
	var found []*loggingpb.LogEntry
	for _, e := range es {
		if match(e) {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		var ids []string
		for _, e := range found {
			ids = append(ids, e.GetInsertId()+" "+fmt.Sprint(payload(e)["summary"]))
		}
		t.Errorf("%s: %d entries, want exactly 1: %q", what, len(found), ids)
		return nil
	}
	return found[0]
}

type workloadWant struct {
	marker, dir, secret string
	port                int
}

func resolved(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// expect compares decoded payload fields (paths of keys, dot-separated) with wanted values.
func expect(t *testing.T, what string, e *loggingpb.LogEntry, sev string, want map[string]any) {
	t.Helper()
	if e == nil {
		return
	}
	if got := e.GetSeverity().String(); got != sev {
		t.Errorf("%s: severity %s, want %s", what, got, sev)
	}
	p := payload(e)
	for k, w := range want {
		got := path(p, strings.Split(k, ".")...)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, got, w)
		}
	}
	if p["incomplete"] != nil {
		t.Errorf("%s: flagged incomplete (%v)", what, p["completion"])
	}
}

func checkWorkload(t *testing.T, live []*loggingpb.LogEntry, w workloadWant) {
	t.Helper()
	evs := events(live)
	for _, e := range live {
		if k := e.GetLabels()["kind"]; k == "unparsed" {
			t.Errorf("unparsed entry: %v", payload(e))
		} else if k == "lost" {
			t.Logf("lost events reported (the kernel dropped records): %v", payload(e)["summary"])
		}
	}

	odd := one(t, "odd-argument exec", evs, func(e *loggingpb.LogEntry) bool { return argvAt(e, 1) == w.marker+"-odd" })
	expect(t, "odd-argument exec", odd, "INFO", map[string]any{
		"type": "SYSCALL", "syscall.name": "execve", "syscall.success": true,
		"process.exe": resolved(t, "/bin/echo"), "process.cwd": w.dir, "process.argc": float64(10),
		"user.uid": float64(0), "user.uid_name": "root", "user.auid": float64(0), "user.auid_name": "root",
		"keys": []any{"gke_audit_exec"},
	})
	if odd != nil {
		want := []string{"/bin/echo", w.marker + "-odd", "hello world", "it's", `"double"`, "line1\nline2", "tab\there",
			"ünïcødé ✓ 日本", `bad \xff\xfe utf8`, ""}
		if got := argv(odd); !reflect.DeepEqual(got, want) {
			t.Errorf("odd-argument exec: argv\n got %q\nwant %q", got, want)
		}
	}

	missing := "/nonexistent/" + w.marker + "-missing"
	noent := one(t, "failed open (ENOENT)", evs, func(e *loggingpb.LogEntry) bool {
		return payload(e)["keys"] != nil && contains(pathNames(e), missing)
	})
	expect(t, "failed open (ENOENT)", noent, "INFO", map[string]any{
		"syscall.name": "openat", "syscall.success": false, "syscall.exit": float64(-2), "syscall.exit_name": "ENOENT",
		"process.exe": resolved(t, "/bin/cat"), "process.cwd": w.dir, "user.uid_name": "root", "keys": []any{"e2e_noent"},
	})

	big := one(t, "long argv exec", evs, func(e *loggingpb.LogEntry) bool { return argvAt(e, 1) == w.marker+"-big" })
	expect(t, "long argv exec", big, "INFO", map[string]any{
		"syscall.name": "execve", "process.exe": resolved(t, "/bin/true"), "process.argc": float64(bigArgs + 2),
	})
	if big != nil {
		// Over the parser's argv cap (Argv_Max_Bytes, 64 KiB) arguments are left out of the
		// middle: the head and the tail are exact, and argv_truncated counts what is missing.
		full := []string{"/bin/true", w.marker + "-big"}
		for i := 1; i <= bigArgs; i++ {
			full = append(full, fmt.Sprintf("arg-%04d-%s", i, strings.Repeat("z", 55)))
		}
		got := argv(big)
		head, tail := got, []string(nil)
		for i, a := range got {
			if strings.HasPrefix(a, "[... ") && strings.HasSuffix(a, " left out ...]") {
				head, tail = got[:i], got[i+1:]
				break
			}
		}
		cutArgs, _ := path(payload(big), "process", "argv_truncated", "args").(float64)
		okHead := len(head) <= len(full) && reflect.DeepEqual(head, full[:len(head)])
		okTail := len(tail) <= len(full)-len(head) && reflect.DeepEqual(tail, full[len(full)-len(tail):])
		if !okHead || !okTail || len(head)+len(tail)+int(cutArgs) != len(full) || cutArgs == 0 {
			t.Errorf("long argv: %d head + %d tail arguments kept (exact: %v, %v), argv_truncated %v; want %d in all",
				len(head), len(tail), okHead, okTail, path(payload(big), "process", "argv_truncated"), len(full))
		}
		t.Logf("long argv: %d arguments, %d + %d kept exactly, argv_truncated %v", len(full), len(head), len(tail),
			path(payload(big), "process", "argv_truncated"))
	}

	conn := one(t, "connect to 127.0.0.1", evs, func(e *loggingpb.LogEntry) bool {
		p := payload(e)
		return path(p, "peer", "addr") == "127.0.0.1" && path(p, "peer", "port") == float64(w.port)
	})
	expect(t, "connect to 127.0.0.1", conn, "INFO", map[string]any{
		"syscall.name": "connect", "syscall.success": true, "syscall.exit": float64(0), "peer.family": "inet",
		"process.exe": resolved(t, "/bin/bash"), "user.uid_name": "root", "keys": []any{"e2e_net"},
	})

	nobody := one(t, "exec as nobody", evs, func(e *loggingpb.LogEntry) bool { return argvAt(e, 1) == w.marker+"-nobody" })
	expect(t, "exec as nobody", nobody, "INFO", map[string]any{
		"syscall.name": "execve", "user.uid": float64(65534), "user.uid_name": "nobody", "user.auid_name": "root",
	})
	// Each runuser opens one PAM session for nobody, recorded as USER_START with the login uid.
	starts := 0
	for _, e := range evs {
		p := payload(e)
		if p["type"] == "USER_START" && path(p, "user", "acct") == "nobody" && path(p, "user", "auid") == float64(0) &&
			path(p, "process", "exe") == resolved(t, "/usr/sbin/runuser") {
			starts++
			expect(t, "runuser session start", e, "INFO", map[string]any{"result": "success"})
		}
	}
	if starts != 2 {
		t.Errorf("%d USER_START entries for runuser -u nobody, want 2 (one per runuser)", starts)
	}
	denied := one(t, "open refused to nobody (EACCES)", evs, func(e *loggingpb.LogEntry) bool {
		return contains(pathNames(e), w.secret) && path(payload(e), "syscall", "exit_name") == "EACCES"
	})
	expect(t, "open refused to nobody (EACCES)", denied, "NOTICE", map[string]any{
		"syscall.success": false, "user.uid_name": "nobody", "process.exe": resolved(t, "/bin/cat"), "keys": []any{"e2e_access"},
	})

	// The rules loaded by audit-setup.sh show up as audit configuration changes.
	rulesLoaded := 0
	for _, e := range evs {
		p := payload(e)
		if p["type"] == "CONFIG_CHANGE" && strings.Contains(fmt.Sprint(p["summary"]), "add_rule key=e2e_noent") {
			rulesLoaded++
			if e.GetSeverity().String() != "NOTICE" {
				t.Errorf("CONFIG_CHANGE severity %s, want NOTICE", e.GetSeverity())
			}
		}
	}
	if rulesLoaded != 1 {
		t.Errorf("%d CONFIG_CHANGE entries for loading the e2e_noent rule, want 1", rulesLoaded)
	}
}

// checkRetry: the write that failed was retried with the same insertIds, each stored once,
// and no insertId is stored twice at all.
func checkRetry(t *testing.T, live []*loggingpb.LogEntry, failed []string) {
	t.Helper()
	if len(failed) == 0 {
		t.Fatal("no write failed: the RETRY path was not exercised")
	}
	n := map[string]int{}
	for _, e := range live {
		n[e.GetInsertId()]++
	}
	for _, id := range failed {
		if n[id] != 1 {
			t.Errorf("insertId %s of the failed write stored %d times after the replay, want 1", id, n[id])
		}
	}
	for id, c := range n {
		if c > 1 {
			t.Errorf("insertId %s stored %d times", id, c)
		}
	}
}

// checkSameEvents: the log fed in several chunks (with a replay) and the same bytes fed at once
// give the same entries with the same insertIds.
func checkSameEvents(t *testing.T, live, whole []*loggingpb.LogEntry) {
	t.Helper()
	byID := map[string]*loggingpb.LogEntry{}
	for _, e := range whole {
		byID[e.GetInsertId()] = e
	}
	if len(live) != len(whole) {
		t.Errorf("live %d entries, whole %d", len(live), len(whole))
	}
	diff := 0
	for _, e := range live {
		w := byID[e.GetInsertId()]
		if w == nil {
			t.Errorf("insertId %s (%v) of the chunked feed is not in the one-chunk feed", e.GetInsertId(), payload(e)["summary"])
			diff++
		} else if !proto.Equal(e.GetJsonPayload(), w.GetJsonPayload()) || e.GetSeverity() != w.GetSeverity() {
			t.Errorf("insertId %s: payload differs between the chunked and the one-chunk feed:\n%v\n%v", e.GetInsertId(), payload(e), payload(w))
			diff++
		}
		if diff > 5 {
			t.Fatal("too many differences")
		}
	}
}

// content is what must be equal between an audit.log event and its journal twin: everything
// in the payload except the stream identity (node, boot_id).
func content(e *loggingpb.LogEntry) map[string]any {
	p := payload(e)
	delete(p, "node")
	delete(p, "boot_id")
	return p
}

// checkJournal: the journal-shaped records give the same events, matched by serial and time,
// except auditd's own DAEMON_* events, which journald never receives; events with a LOGIN
// record (which journald drops) must exist but differ by that record.
func checkJournal(t *testing.T, live, journal []*loggingpb.LogEntry) {
	t.Helper()
	type key struct {
		serial any
		ts     int64
	}
	jj := map[key]*loggingpb.LogEntry{}
	for _, e := range events(journal) {
		jj[key{payload(e)["serial"], e.GetTimestamp().AsTime().UnixMilli()}] = e
	}
	compared, skipped, partial, diff := 0, 0, 0, 0
	for _, e := range events(live) {
		types := strings.Split(e.GetLabels()["types"], ",")
		daemonOnly, login := true, false
		for _, ty := range types {
			daemonOnly = daemonOnly && strings.HasPrefix(ty, "DAEMON_")
			login = login || ty == "LOGIN"
		}
		if daemonOnly {
			skipped++ // auditd's own records never reach the journal
			continue
		}
		j := jj[key{payload(e)["serial"], e.GetTimestamp().AsTime().UnixMilli()}]
		if j == nil {
			t.Errorf("journal shape lacks the event %v %v", payload(e)["serial"], payload(e)["summary"])
			diff++
		} else if login {
			partial++ // the journal has the event without its LOGIN record: the rest is compared by the count
		} else if a, b := content(e), content(j); !reflect.DeepEqual(a, b) || e.GetSeverity() != j.GetSeverity() {
			var keys []string
			for k := range a {
				if !reflect.DeepEqual(a[k], b[k]) {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			t.Errorf("serial %v: journal event differs in %v:\n%v\n%v", payload(e)["serial"], keys, a, b)
			diff++
		}
		compared++
		if diff > 5 {
			t.Fatal("too many differences")
		}
	}
	if compared == 0 {
		t.Fatal("no event compared with its journal twin")
	}
	if want := len(events(live)) - skipped; len(events(journal)) != want {
		t.Errorf("journal shape gave %d events, want %d (%d live events, %d written by auditd only)", len(events(journal)), want, len(events(live)), skipped)
	}
	t.Logf("journal shape: %d events equal to their audit.log twins (%d of them without the LOGIN record journald drops), %d auditd-only events", compared, partial, skipped)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
