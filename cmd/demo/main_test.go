package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// artifacts returns the plugin .so and the C host: the ones `make test` built (CHOST_PLUGIN_SO,
// CHOST_BIN), or built here into a temporary directory. It skips without gcc, unless
// AUDIT_TESTS_REQUIRED=1 (CI), where a skip would hide that the demo was never run.
func artifacts(t *testing.T) (so, host string) {
	t.Helper()
	so, host = os.Getenv("CHOST_PLUGIN_SO"), os.Getenv("CHOST_BIN")
	if so != "" && host != "" {
		return so, host
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("AUDIT_TESTS_REQUIRED") == "1" {
			t.Fatal("gcc not found but AUDIT_TESTS_REQUIRED=1: the demo test needs gcc to build the plugin and the C host")
		}
		t.Skip("gcc not found: cannot build the c-shared plugin and the C host (install gcc, or set CHOST_PLUGIN_SO and CHOST_BIN)")
	}
	a, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return a[0], a[1]
}

var buildOnce = sync.OnceValues(func() ([2]string, error) {
	dir, err := os.MkdirTemp("", "demotest")
	if err != nil {
		return [2]string{}, err
	}
	so, host := filepath.Join(dir, "out_auditd_cloud_logging.so"), filepath.Join(dir, "chost")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", so, "./plugin")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		return [2]string{}, fmt.Errorf("building the plugin: %v\n%s", err, out)
	}
	cc := exec.Command("gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-o", host,
		filepath.Join(repoRoot(), "plugin", "chost", "chost.c"), "-ldl", "-lpthread")
	if out, err := cc.CombinedOutput(); err != nil {
		return [2]string{}, fmt.Errorf("building the C host: %v\n%s", err, out)
	}
	return [2]string{so, host}, nil
})

// nonBlankLines counts what in_tail / in_systemd would hand over: one record per line.
func nonBlankLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			n++
		}
	}
	return n
}

var (
	summaryRe = regexp.MustCompile(`(?m)^  (audit\.log|journal|kernel log) \((in_tail|in_systemd)\): (\d+) records → (\d+) events → (\d+) entries, (\d+) unparsed, (\d+) lost(?:, (\d+) filter reports)?(?:, (\d+) other)?$`)
	pluginRe  = regexp.MustCompile(`(?m)^    the plugin's own count: records in (\d+), events assembled (\d+), unparsed (\d+), duplicates (\d+), entries written (\d+), rejected (\d+)$`)
	rowRe     = regexp.MustCompile(`(?m)^  \d\d:\d\d:\d\d\.\d\d\d  \S`)
	shippedRe = regexp.MustCompile(`(?m)^    shipped: (\d+) events, (\d+) entries, `)
	monthRe   = regexp.MustCompile(`(?m)^    per 30-day month, 1 node: ([0-9.]+) GiB → \$([0-9.]+) at \$0\.50/GiB; \$([0-9.]+) after the free 50 GiB$`)
)

type summary struct {
	shape                                          string
	records, events, entries, unp, lost            int
	reports, other, pRecords, pEvents, pUnp, pWrit int
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func parseSummaries(t *testing.T, out string) []summary {
	t.Helper()
	ms := summaryRe.FindAllStringSubmatch(out, -1)
	ps := pluginRe.FindAllStringSubmatch(out, -1)
	if len(ms) == 0 || len(ps) != len(ms) {
		t.Fatalf("want a summary line and a plugin count line per input, got %d and %d in:\n%s", len(ms), len(ps), out)
	}
	var s []summary
	for i, m := range ms {
		p := ps[i]
		s = append(s, summary{shape: m[1], records: atoi(t, m[3]), events: atoi(t, m[4]), entries: atoi(t, m[5]),
			unp: atoi(t, m[6]), lost: atoi(t, m[7]), reports: atoi(t, m[8]), other: atoi(t, m[9]),
			pRecords: atoi(t, p[1]), pEvents: atoi(t, p[2]), pUnp: atoi(t, p[3]), pWrit: atoi(t, p[5])})
	}
	return s
}

func TestDemoBundledCorpus(t *testing.T) {
	so, host := artifacts(t)
	var stdout, stderr bytes.Buffer
	res, err := run(context.Background(), []string{"-so", so, "-chost", host, "-rows", "20",
		"-corpus", filepath.Join(repoRoot(), "parser", "testdata", "corpus")}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo failed: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr.String())

	corpus := filepath.Join(repoRoot(), "parser", "testdata", "corpus")
	want := map[string]int{
		"audit.log": nonBlankLines(t, filepath.Join(corpus, "audit.log")),
		"journal":   nonBlankLines(t, filepath.Join(corpus, "journal.jsonl")),
	}
	sums := parseSummaries(t, out)
	if len(sums) != 2 {
		t.Fatalf("want summaries for audit.log and journal, got %+v", sums)
	}
	total := 0
	for _, s := range sums {
		if s.records != want[s.shape] {
			t.Errorf("%s: summary says %d records, the input has %d lines", s.shape, s.records, want[s.shape])
		}
		if s.pRecords != s.records {
			t.Errorf("%s: the plugin read %d records, the demo sent %d", s.shape, s.pRecords, s.records)
		}
		if s.events+s.unp+s.lost+s.reports+s.other != s.entries {
			t.Errorf("%s: %d events + %d unparsed + %d lost + %d reports + %d other != %d entries", s.shape, s.events, s.unp, s.lost, s.reports, s.other, s.entries)
		}
		if s.pWrit != s.entries {
			t.Errorf("%s: the plugin wrote %d entries, %d were listed", s.shape, s.pWrit, s.entries)
		}
		if s.events != s.pEvents {
			t.Errorf("%s: %d events listed, the plugin assembled %d (no filters set)", s.shape, s.events, s.pEvents)
		}
		// The corpus is real auditd output: every record parses, and no serial is missing.
		if s.events == 0 || s.unp != 0 || s.lost != 0 {
			t.Errorf("%s: want events and no unparsed/lost entries, got %+v", s.shape, s)
		}
		total += s.entries
	}
	if total != res.emulatorUnique || res.emulatorEntries != res.emulatorUnique {
		t.Errorf("summaries list %d entries; the emulator holds %d (%d distinct)", total, res.emulatorEntries, res.emulatorUnique)
	}
	rows := rowRe.FindAllString(out, -1)
	if len(rows) == 0 || len(rows) > 20 {
		t.Errorf("want 1..20 table rows, got %d", len(rows))
	}
	for _, marker := range []string{"corpus-missing", "openat ENOENT", "nobody (auid root)", "execve"} {
		if !strings.Contains(out, marker) {
			t.Errorf("the table does not show %q", marker)
		}
	}

	// The estimate: counts agree with the summary, and the prices follow from the volume.
	sh := shippedRe.FindAllStringSubmatch(out, -1)
	mo := monthRe.FindAllStringSubmatch(out, -1)
	if len(sh) != 2 || len(mo) != 2 {
		t.Fatalf("want a shipped and a monthly line per input, got %d and %d", len(sh), len(mo))
	}
	for i, s := range sums {
		if atoi(t, sh[i][1]) != s.events || atoi(t, sh[i][2]) != s.entries {
			t.Errorf("%s: estimate shipped %s events %s entries, summary %d/%d", s.shape, sh[i][1], sh[i][2], s.events, s.entries)
		}
		g, _ := strconv.ParseFloat(mo[i][1], 64)
		gross, _ := strconv.ParseFloat(mo[i][2], 64)
		net, _ := strconv.ParseFloat(mo[i][3], 64)
		if math.Abs(gross-g*0.5) > 0.05+g*0.001 || math.Abs(net-math.Max(0, g-50)*0.5) > 0.05+g*0.001 {
			t.Errorf("%s: %v GiB should cost $%.2f gross, $%.2f net; printed $%v / $%v", s.shape, g, g*0.5, math.Max(0, g-50)*0.5, gross, net)
		}
	}
	for _, section := range []string{"top exe by bytes", "top rule key by bytes", "top record type by bytes"} {
		if !strings.Contains(out, section) {
			t.Errorf("estimate lacks %q", section)
		}
	}
	if !strings.Contains(stderr.String(), "demo: [6/6]") {
		t.Errorf("step lines missing from stderr:\n%s", stderr.String())
	}
}

// The estimate is computed from what arrived, so a setting that changes the entries changes it.
func TestDemoSettingsChangeEstimate(t *testing.T) {
	so, host := artifacts(t)
	input := filepath.Join(repoRoot(), "parser", "testdata", "corpus", "kernel.log")
	bytesOf := func(extra ...string) (int64, summary) {
		var stdout, stderr bytes.Buffer
		res, err := run(context.Background(), append([]string{"-so", so, "-chost", host, "-input", input, "-rows", "3"}, extra...), &stdout, &stderr)
		if err != nil {
			t.Fatalf("demo %v failed: %v\n%s", extra, err, stderr.String())
		}
		sums := parseSummaries(t, stdout.String())
		if len(sums) != 1 || sums[0].shape != "kernel log" {
			t.Fatalf("want one kernel log summary, got %+v", sums)
		}
		return res.stats[0].bytes, sums[0]
	}
	plain, s1 := bytesOf()
	raw, s2 := bytesOf("-set", "Include_Raw=On")
	if s1.records != nonBlankLines(t, input) || s1.entries != s2.entries {
		t.Errorf("records %d (want %d), entries %d vs %d", s1.records, nonBlankLines(t, input), s1.entries, s2.entries)
	}
	if raw <= plain {
		t.Errorf("Include_Raw=On shipped %d bytes, default %d: the estimate does not follow the settings", raw, plain)
	}
	// A filter: the excluded events are missing from the entries, and so from the estimate.
	filtered, s3 := bytesOf("-set", "Exclude=exe=/usr/bin/true")
	if s3.pEvents != s1.pEvents || s3.events >= s1.events || filtered >= plain {
		t.Errorf("Exclude=exe=/usr/bin/true: %d of %d assembled events shipped, %d bytes (unfiltered: %d events, %d bytes)",
			s3.events, s3.pEvents, filtered, s1.events, plain)
	}
	if s3.events+s3.reports+s3.unp+s3.lost != s3.entries {
		t.Errorf("filtered run: %+v does not add up", s3)
	}
	// A rule of two conditions reaches the plugin whole through the C host (a quoted value with
	// a blank): with a key no event has, the conjunction excludes nothing. Split at the blank,
	// it would exclude every /usr/bin/true event as above.
	_, s4 := bytesOf("-set", "Exclude=exe=/usr/bin/true key=no-such-key")
	if s4.events != s1.events {
		t.Errorf("Exclude='exe=/usr/bin/true key=no-such-key' shipped %d events, want all %d", s4.events, s1.events)
	}
}

func TestDemoBadArguments(t *testing.T) {
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists")
	empty := filepath.Join(dir, "empty.log")
	junk := filepath.Join(dir, "junk.log")
	for _, f := range []struct{ p, s string }{{exists, "x"}, {empty, ""}, {junk, "hello\nworld\n"}} {
		if err := os.WriteFile(f.p, []byte(f.s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ok := []string{"-so", exists, "-chost", exists}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-so", filepath.Join(dir, "nope.so"), "-chost", exists}, "run `make plugin`"},
		{[]string{"-so", exists, "-chost", filepath.Join(dir, "nope")}, "run `make chost`"},
		{append(ok, "-set", "Bogus_Key=1"), "-set Bogus_Key: not a key this plugin reads"},
		{append(ok, "-set", "endpoint=1.2.3.4:5"), "the demo sets Endpoint"},
		{append(ok, "-set", "Project_ID=p"), "the demo sets"},
		{append(ok, "-set", "novalue"), "want Key=Value"},
		{append(ok, "-set", "Include_Raw="), "empty value"},
		{append(ok, "-set", `Labels=a="b"`), "cannot pass a value containing a double quote"},
		{append(ok, "-rows", "-1"), "-rows -1"},
		{append(ok, "-nodes", "0"), "-nodes 0"},
		{append(ok, "-price-per-gib", "-1"), "want 0 or more"},
		{append(ok, "-input", filepath.Join(dir, "missing.log")), "no such file"},
		{append(ok, "-input", empty), "is empty"},
		{append(ok, "-input", junk), "not an audit log"},
		{append(ok, "extra"), "unexpected argument"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		_, err := run(context.Background(), c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error containing %q, got %v", c.args, c.want, err)
		}
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ text, want string }{
		"auditlog":  {"\n\ntype=SYSCALL msg=audit(1.2:3): arch=c000003e\n", shapeAuditLog},
		"enriched":  {"node=vm type=SYSCALL msg=audit(1.2:3): arch=c000003e\n", shapeAuditLog},
		"kernel":    {"Nov 25 kernel: eth0 up\nNov 25 kernel: audit: type=1300 audit(1.2:3): arch=c000003e\n", shapeKernel},
		"journal":   {`{"MESSAGE":"SYSCALL arch=c000003e"}` + "\n", shapeJournal},
		"prose":     {"just some text\n", ""},
		"blankonly": {"\n \n\t\n", ""},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := detect(p)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: detected %q, want an error", name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, c.want)
		}
	}
}

// Kernel logs carry other messages and journal exports other transports: the demo passes on
// only what the shipped fluent-bit inputs would, and counts the rest as skipped.
func TestConvertSkipsWhatFluentBitWouldNotPass(t *testing.T) {
	dir := t.TempDir()
	k := filepath.Join(dir, "kern.log")
	if err := os.WriteFile(k, []byte("kernel: eth0 up\nkernel: audit: type=1300 audit(1795637123.024:1718): arch=c000003e syscall=44\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j := filepath.Join(dir, "j.jsonl")
	if err := os.WriteFile(j, []byte(`{"_TRANSPORT":"audit","MESSAGE":"SYSCALL arch=c000003e","_SOURCE_REALTIME_TIMESTAMP":"1795637123024000"}`+"\n"+
		`{"_TRANSPORT":"stdout","MESSAGE":"hello"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, shape string }{{k, shapeKernel}, {j, shapeJournal}} {
		s := newSource(c.path, c.shape, "x", "log")
		if err := s.convert(dir, s.first); err != nil {
			t.Fatal(err)
		}
		if s.records != 1 || s.skipped != 1 || len(s.chunks) != 1 {
			t.Errorf("%s: records %d skipped %d chunks %d, want 1/1/1", c.shape, s.records, s.skipped, len(s.chunks))
		}
		if got := s.first.UnixMilli(); got != 1795637123024 {
			t.Errorf("%s: span starts at %d, want the record's audit time 1795637123024", c.shape, got)
		}
	}
}

func TestParseExit(t *testing.T) {
	cases := []struct {
		line string
		want map[string]int
	}{
		{"[2026/11/25 20:44:43] [ info] [output:auditd_cloud_logging:auditd_cloud_logging.1] exit: records in 853, events 137 (0 incomplete), " +
			"unparsed 0, duplicates 2, lost serials 0, entries written 137, rejected 1, unsent 0, retries 0",
			map[string]int{"records in": 853, "events": 137, "incomplete": 0, "unparsed": 0, "duplicates": 2, "lost serials": 0,
				"entries written": 137, "rejected": 1, "unsent": 0, "retries": 0}},
		{"[2026/11/25 20:44:43] [ info] [output:auditd_cloud_logging:auditd_cloud_logging.0] exit: records in 550, events 119 (3 incomplete; " +
			"shipped 100, filtered 12, collapsed 5, rate-limited 2), unparsed 4, duplicates 0, lost serials 0, entries written 104, rejected 0, unsent 0, retries 1",
			map[string]int{"records in": 550, "events": 119, "incomplete": 3, "shipped": 100, "filtered": 12, "collapsed": 5, "rate-limited": 2,
				"unparsed": 4, "duplicates": 0, "lost serials": 0, "entries written": 104, "rejected": 0, "unsent": 0, "retries": 1}},
	}
	for i, c := range cases {
		e, ok := parseExit(c.line)
		if !ok || e.idx != 1-i {
			t.Fatalf("case %d: not parsed (ok %v idx %d)", i, ok, e.idx)
		}
		if fmt.Sprint(e.n) != fmt.Sprint(c.want) {
			t.Errorf("case %d:\n got %v\nwant %v", i, e.n, c.want)
		}
	}
	for _, bad := range []string{"", "exit: records in 5", "[output:auditd_cloud_logging:auditd_cloud_logging.0] writing to x"} {
		if _, ok := parseExit(bad); ok {
			t.Errorf("%q parsed as an exit line", bad)
		}
	}
}
