// Package chosttest runs the built plugin .so inside the C host (plugin/chost), which loads it
// with dlopen and calls it exactly as fluent-bit's Go proxy does, against a fake Cloud Logging
// server. It is the test for "the built .so loaded by a C host exactly as fluent-bit loads it".
//
// With CHOST_PLUGIN_SO and CHOST_BIN set (make test does) it uses those artifacts; otherwise
// it builds both into a temporary directory.
package chosttest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output/fakelogging"
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildDir is the temporary directory artifacts built into, removed by TestMain.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// artifacts returns the plugin .so and the C host, built once per test binary.
var artifacts = sync.OnceValues(func() ([2]string, error) {
	so, host := os.Getenv("CHOST_PLUGIN_SO"), os.Getenv("CHOST_BIN")
	if so != "" && host != "" {
		return [2]string{so, host}, nil
	}
	dir, err := os.MkdirTemp("", "chosttest")
	if err != nil {
		return [2]string{}, err
	}
	buildDir = dir
	so, host = filepath.Join(dir, "out_auditd_cloud_logging.so"), filepath.Join(dir, "chost")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", so, "./plugin")
	build.Dir = root()
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		return [2]string{}, fmt.Errorf("building the plugin: %v\n%s", err, out)
	}
	cc := exec.Command("gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-o", host,
		filepath.Join(root(), "plugin", "chost", "chost.c"), "-ldl", "-lpthread")
	if out, err := cc.CombinedOutput(); err != nil {
		return [2]string{}, fmt.Errorf("building the C host: %v\n%s", err, out)
	}
	return [2]string{so, host}, nil
})

func corpus(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(), "parser", "testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

// chunks returns one chunk per record form fluent-bit produces (see the names).
func chunks(t *testing.T) map[string][]byte {
	ts := time.Unix(1795637200, 0)
	audit := corpus(t, "audit.log")
	kernel := corpus(t, "kernel.log")
	journal := corpus(t, "journal.jsonl")
	lines := func(o flbchunk.Options, ls []string, groups, malformed bool) []byte {
		w := flbchunk.NewWriter(o)
		if groups {
			w.GroupStart(false)
		}
		for k, l := range ls {
			w.Line(ts, l)
			if malformed && k == len(ls)/2 {
				w.Raw(flbchunk.BadBody)
			}
		}
		if groups {
			w.GroupEnd(true)
		}
		return append([]byte(nil), w.Bytes()...)
	}
	jw := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true, Map32: true})
	for _, l := range journal[:120] {
		rts, fields, err := flbchunk.JournalJSON([]byte(l), ts)
		if err != nil {
			t.Fatal(err)
		}
		jw.Record(rts, fields)
	}
	return map[string][]byte{
		// in_tail on fluent-bit >= 2.1: [[EventTime, {}], {"log": bin}]
		"auditlog-v2-eventtime-bin": lines(flbchunk.Options{V2: true, Bin: true}, audit[:100], false, false),
		// old forward protocol: [uint, {"log": str}]
		"kernel-v1-uint-str": lines(flbchunk.Options{Time: flbchunk.Uint}, kernel[:100], false, false),
		// float time, log groups, a malformed record in the middle
		"auditlog-v2-float-groups-malformed": lines(flbchunk.Options{Time: flbchunk.Float, V2: true, Bin: true}, audit[100:200], true, true),
		// int time, V1
		"auditlog-v1-int": lines(flbchunk.Options{Time: flbchunk.Int}, audit[200:260], false, false),
		// in_systemd: map32 headers, bin values, arrays for repeated fields
		"journal-v2-map32": append([]byte(nil), jw.Bytes()...),
	}
}

// instanceKeys are the [OUTPUT] properties of one instance; Match is invisible to the plugin
// as in fluent-bit.
func instanceKeys(addr, logName string) map[string]string {
	return map[string]string{
		"Match": "*", "Project_ID": "test-project", "Log_Name": logName, "Cluster_Name": "c1",
		"Cluster_Location": "us-central1", "Node_Name": "node-1", "Endpoint": addr, "Insecure": "on",
		"Event_Quiet": "20s", "Event_Timeout": "60s", "Write_Timeout": "5s",
	}
}

func TestCHostTwoInstances(t *testing.T) {
	art, err := artifacts()
	if err != nil {
		t.Fatal(err)
	}
	so, host := art[0], art[1]
	srv, err := fakelogging.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	dir := t.TempDir()
	ch := chunks(t)
	for name, data := range ch {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := func(n string) string { return filepath.Join(dir, n) }
	props := func(m map[string]string) string {
		var kv []string
		for k, v := range m {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		return strings.Join(kv, " ")
	}
	// What each instance receives, in order: the reference run below replays the same.
	flushesA := []string{"auditlog-v2-eventtime-bin", "auditlog-v2-eventtime-bin", "auditlog-v2-float-groups-malformed", "auditlog-v1-int"}
	flushesB := []string{"journal-v2-map32", "kernel-v1-uint-str"}
	script := strings.Join([]string{
		"instance a " + props(instanceKeys(srv.Addr, "log-a")),
		"instance b " + props(instanceKeys(srv.Addr, "log-b")),
		"instance bad expect=ERROR Resource=k8s_pod " + props(map[string]string{"Project_ID": "p"}),
		// The server fails the first request: RETRY, then fluent-bit replays the same chunk.
		"flush a " + path(flushesA[0]) + " expect=RETRY",
		"flush a " + path(flushesA[1]) + " expect=OK",
		"flush b " + path(flushesB[0]) + " expect=OK",
		"flush a " + path(flushesA[2]) + " expect=OK",
		// Workers 4: the same chunk flushed concurrently (a replay race) is shipped once.
		"flushpar b 4 " + path(flushesB[1]) + " expect=OK",
		"flush a " + path(flushesA[3]) + " tag=audit.log expect=OK",
		"sleep 50",
		"exit a expect=OK",
		"exit b expect=OK",
	}, "\n") + "\n"
	scriptPath := path("script")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(fakelogging.Unavailable())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, host, so, scriptPath)
	cmd.Env = append(os.Environ(), "GCE_METADATA_HOST=127.0.0.1:1", "NODE_NAME=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Logf("chost stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if err != nil {
		t.Fatalf("chost: %v", err)
	}
	out := stdout.String()
	for _, want := range []string{
		"register rc=0 type=2 proxy=11 flags=0 name=auditd_cloud_logging",
		"init a rc=1 (OK) expect=OK ok",
		"init bad rc=0 (ERROR) expect=ERROR ok",
		"flush a " + path(flushesA[0]) + " rc=2 (RETRY) expect=RETRY ok",
		"exit b rc=1 (OK) expect=OK ok",
		"unregister done",
		"failures=0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("chost output lacks %q", want)
		}
	}
	errOut := stderr.String()
	for _, want := range []string{
		"] [error] [output:auditd_cloud_logging:auditd_cloud_logging.2] configuration: ", // names the bad key
		"Resource",
		"] [ warn] [output:auditd_cloud_logging:auditd_cloud_logging.0] write failed",
		"malformed msgpack records",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("plugin log lacks %q", want)
		}
	}

	// The reference: the same chunks through output.Instance in this process.
	ref := map[string][]string{}
	for _, inst := range []struct {
		log     string
		flushes []string
	}{{"log-a", flushesA}, {"log-b", append(flushesB, flushesB[1], flushesB[1], flushesB[1])}} {
		rs, err := fakelogging.Start()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(config.MapGetter(instanceKeys(rs.Addr, inst.log)))
		if err != nil {
			t.Fatal(err)
		}
		w, err := delivery.NewCloudWriter(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		o, err := output.New(cfg, w, func(string, string) {})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range inst.flushes {
			if r := o.Flush(ch[f], "audit"); r != delivery.OK {
				t.Fatalf("reference flush %s: %v", f, r)
			}
		}
		o.Close(context.Background())
		ref["projects/test-project/logs/"+inst.log] = rs.InsertIDs()["projects/test-project/logs/"+inst.log]
		rs.Stop()
	}

	got := srv.InsertIDs()
	if len(got) != 2 {
		t.Fatalf("server got logs %v, want log-a and log-b", keys(got))
	}
	for log, want := range ref {
		ids := got[log]
		for k := 1; k < len(ids); k++ {
			if ids[k] == ids[k-1] {
				t.Errorf("%s: insertId %s written twice", log, ids[k])
			}
		}
		if len(want) == 0 || strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %d entries, the in-process reference wrote %d (or they differ)", log, len(ids), len(want))
		}
		t.Logf("%s: %d entries", log, len(ids))
	}
	// The failed first request's entries were all written later, with the same insertIds.
	reqs := srv.Requests()
	accepted := map[string]bool{}
	for _, e := range srv.Accepted() {
		accepted[e.InsertId] = true
	}
	if len(reqs) == 0 || len(reqs[0].Entries) == 0 {
		t.Fatal("no request reached the server")
	}
	for _, e := range reqs[0].Entries {
		if !accepted[e.InsertId] {
			t.Errorf("entry %s of the refused request was never written", e.InsertId)
		}
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A script expectation that does not hold makes the host exit non-zero: the harness can fail.
func TestCHostReportsFailedExpectation(t *testing.T) {
	art, err := artifacts()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	// Missing everything: Init must fail, but the script expects OK.
	if err := os.WriteFile(script, []byte("instance x Resource=bogus\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(art[1], art[0], script)
	cmd.Env = append(os.Environ(), "GCE_METADATA_HOST=127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "init x rc=0 (ERROR) expect=OK FAILED") {
		t.Fatalf("chost should fail: err %v\n%s", err, out)
	}
}

// The plugin reads the command line of the process it runs in as fluent-bit's, and the
// configuration file it names, to find keys fluent-bit would hand on without a word: a misspelt
// plugin key fails Init (naming the file, line and the key meant), any other unknown key is a
// warning. The C host passes its extra arguments through, so the plugin sees "-c FILE" here as
// it would in fluent-bit.
func TestCHostChecksConfigurationKeys(t *testing.T) {
	art, err := artifacts()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := "script"
	write("fluent-bit.conf", "[SERVICE]\n    Flush 1\n@INCLUDE output.conf\n")
	run := func(expect string, args ...string) string {
		t.Helper()
		write(script, fmt.Sprintf("instance a expect=%s Project_ID=p Cluster_Name=c Cluster_Location=l Node_Name=n Dry_Run=On\n", expect))
		cmd := exec.Command(art[1], append([]string{art[0], script}, args...)...)
		cmd.Dir = dir // "-c fluent-bit.conf" is relative to the working directory, as for fluent-bit
		cmd.Env = append(os.Environ(), "GCE_METADATA_HOST=127.0.0.1:1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chost %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	write("output.conf", "[OUTPUT]\n    Name auditd_cloud_logging\n    Match *\n    Workers 1\n    Exlude exe=/usr/bin/true\n")
	out := run("ERROR", "-c", "fluent-bit.conf")
	for _, want := range []string{"init a rc=0 (ERROR)", `output.conf:5: key "exlude" is read neither by this plugin nor by fluent-bit; did you mean "Exclude"?`} {
		if !strings.Contains(out, want) {
			t.Errorf("misspelt key: output lacks %q:\n%s", want, out)
		}
	}

	write("output.conf", "[OUTPUT]\n    Name auditd_cloud_logging\n    Match *\n    Exclude exe=/usr/bin/true\n    Buffer_Size 1M\n")
	out = run("OK", "--conf=fluent-bit.conf")
	for _, want := range []string{"init a rc=1 (OK)", `output.conf:5: key "buffer_size" is read neither by this plugin nor by fluent-bit; it has no effect`,
		// Paths as fluent-bit read them: relative to the working directory both share.
		"configuration keys checked in fluent-bit.conf, output.conf and on the command line: 1 auditd_cloud_logging section(s), 1 unknown key(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("unknown key: output lacks %q:\n%s", want, out)
		}
	}

	// Arguments are numbered as in argv: chost's own two come first here, so "-p" is the ninth.
	out = run("ERROR", "-e", "plugin.so", "-o", "auditd_cloud_logging", "-m", "*", "-p", "Include_Rw=on")
	if want := `command line argument 9: key "include_rw" is read neither by this plugin nor by fluent-bit; did you mean "Include_Raw"?`; !strings.Contains(out, want) {
		t.Errorf("command line: output lacks %q:\n%s", want, out)
	}
}
