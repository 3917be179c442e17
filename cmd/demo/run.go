package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gke-audit/auditd-cloud-logging/emulator"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
)

const (
	demoProject = "demo-project"
	demoNode    = "demo-node"
)

// fixed are the properties the demo sets itself: the plugin must talk to the emulator.
var fixed = []string{"Endpoint", "Insecure", "Project_ID"}

// result is what a run produced, for the test.
type result struct {
	sources         []*source
	stats           []*stats
	emulatorEntries int // entries the emulator stored, duplicates included
	emulatorUnique  int // distinct (logName, insertId, timestamp)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*result, error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st := &stepper{w: stderr, total: 6, start: time.Now()}

	if err := checkArtifacts(o); err != nil {
		return nil, err
	}
	props, err := instanceProps(o.sets)
	if err != nil {
		return nil, err
	}
	logName := props.get("Log_Name")
	if logName == "" {
		logName = config.DefaultLogName
	}
	srcs, err := sources(o, logName)
	if err != nil {
		return nil, err
	}

	st.step("starting the Cloud Logging emulator on 127.0.0.1")
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	addr, stopEmu, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: listening on 127.0.0.1: %w", err)
	}
	defer stopEmu()
	st.note("listening on %s (project %s)", addr, demoProject)

	work, err := os.MkdirTemp("", "auditd-demo-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		defer st.note("kept the working directory %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	st.step("converting the input into fluent-bit chunks")
	now := time.Now()
	for _, s := range srcs {
		if err := s.convert(work, now); err != nil {
			return nil, err
		}
		skipped := ""
		if s.skipped > 0 {
			skipped = fmt.Sprintf(", %d lines skipped as fluent-bit's input config would", s.skipped)
		}
		st.note("%s: %s as %s reads it: %d records in %d chunks%s", s.path, s.shape, s.via, s.records, len(s.chunks), skipped)
		if s.records == 0 {
			return nil, fmt.Errorf("%s: no audit records to send", s.path)
		}
	}

	st.step("running the plugin (%s) in the C host (%s), as fluent-bit would", o.so, o.chost)
	script := filepath.Join(work, "chost.script")
	if err := os.WriteFile(script, []byte(chostScript(srcs, props, addr)), 0o644); err != nil {
		return nil, err
	}
	exits, err := runCHost(ctx, o, script, stderr)
	if err != nil {
		return nil, err
	}

	st.step("listing what arrived through the Cloud Logging client (ListLogEntries)")
	var all []*stats
	for _, s := range srcs {
		entries, err := listEntries(ctx, addr, s.logName)
		if err != nil {
			return nil, err
		}
		sts := newStats(s, entries)
		all = append(all, sts)
		st.note("log %s: %d entries", s.logName, len(entries))
	}
	for i, e := range exits {
		if i < len(all) {
			all[i].plugin = e
		}
	}

	st.step("printing the events and the summary")
	printTable(stdout, all, o.rows)
	printSummary(stdout, all)

	st.step("estimating volume and cost")
	printEstimate(stdout, all, o, props)

	res := &result{sources: srcs, stats: all}
	stored := srv.Entries()
	res.emulatorEntries = len(stored)
	seen := map[string]bool{}
	for _, e := range stored {
		k := e.GetLogName() + "\x00" + e.GetInsertId() + "\x00" + e.GetTimestamp().AsTime().String()
		seen[k] = true
	}
	res.emulatorUnique = len(seen)
	fmt.Fprintf(stderr, "demo: done in %.1fs\n", time.Since(st.start).Seconds())
	return res, nil
}

func checkArtifacts(o options) error {
	if _, err := os.Stat(o.so); err != nil {
		return fmt.Errorf("plugin %s not found: run `make plugin` (or `make demo`, which builds it), or pass -so PATH", o.so)
	}
	if _, err := os.Stat(o.chost); err != nil {
		return fmt.Errorf("C host %s not found: run `make chost` (or `make demo`), or pass -chost PATH", o.chost)
	}
	return nil
}

// props are plugin properties with fluent-bit's case-insensitive keys, in the order given.
type props struct {
	keys []string
	vals map[string]string // lower-case key → value
}

func (p *props) get(k string) string { return p.vals[strings.ToLower(k)] }

func (p *props) set(k, v string) {
	lk := strings.ToLower(k)
	if _, ok := p.vals[lk]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[lk] = v
}

// instanceProps builds the properties every instance gets: the demo's defaults, then -set.
func instanceProps(sets []string) (*props, error) {
	p := &props{vals: map[string]string{}}
	p.set("Cluster_Name", "demo")
	p.set("Cluster_Location", "local")
	p.set("Node_Name", demoNode)
	// Names for uid/gid numbers, as the DaemonSet mounts the host's files.
	if _, err := os.Stat("/etc/passwd"); err == nil {
		p.set("Passwd_File", "/etc/passwd")
	}
	if _, err := os.Stat("/etc/group"); err == nil {
		p.set("Group_File", "/etc/group")
	}
	known := map[string]string{}
	for _, k := range config.Keys {
		known[strings.ToLower(k)] = k
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("-set %q: want Key=Value, e.g. -set Exclude=exe=/usr/bin/true", s)
		}
		canon, isKey := known[strings.ToLower(k)]
		if !isKey {
			return nil, fmt.Errorf("-set %s: not a key this plugin reads; it reads: %s", k, strings.Join(config.Keys, ", "))
		}
		for _, f := range fixed {
			if strings.EqualFold(f, k) {
				return nil, fmt.Errorf("-set %s: the demo sets %s itself (the plugin must write to the local emulator)", k, strings.Join(fixed, ", "))
			}
		}
		if strings.ContainsAny(v, "\"\r\n") {
			// plugin/chost's script quotes values with blanks in double quotes and has no escapes.
			return nil, fmt.Errorf("-set %s=%q: the C host cannot pass a value containing a double quote or a line break", k, v)
		}
		if v == "" {
			return nil, fmt.Errorf("-set %s=: empty value (leave the key out to keep its default)", k)
		}
		p.set(canon, v)
	}
	return p, nil
}

// chostScript writes one instance per source, flushes its chunks in order, lets the quiet
// window pass (so the last events complete as they would on a live node) and exits.
func chostScript(srcs []*source, p *props, addr string) string {
	var b strings.Builder
	b.WriteString("# written by cmd/demo\n")
	for _, s := range srcs {
		fmt.Fprintf(&b, "instance %s expect=OK Endpoint=%s Insecure=On Project_ID=%s Log_Name=%s", s.name, addr, demoProject, s.logName)
		for _, k := range p.keys {
			if strings.EqualFold(k, "Log_Name") {
				continue
			}
			v := p.get(k)
			if strings.ContainsAny(v, " \t") {
				v = `"` + v + `"` // the C host keeps blanks inside double quotes
			}
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
		b.WriteString("\n")
	}
	for _, s := range srcs {
		for _, c := range s.chunks {
			fmt.Fprintf(&b, "flush %s %s tag=audit expect=OK\n", s.name, c)
		}
	}
	quiet := 1200
	if d, err := time.ParseDuration(p.get("Event_Quiet")); err == nil && d > 0 && d < 10*time.Second {
		quiet = int(d.Milliseconds()) + 700
	}
	fmt.Fprintf(&b, "sleep %d\n", quiet)
	for _, s := range srcs {
		fmt.Fprintf(&b, "exit %s expect=OK\n", s.name)
	}
	return b.String()
}

// pluginExit is the plugin's own count, from the line it logs when an instance exits
// ("exit: records in N, events N (N incomplete; shipped N, filtered N, ...), unparsed N, ...").
// Counts are read by name, so a count added to the line does not break the demo.
type pluginExit struct {
	found bool
	idx   int
	n     map[string]int // "records in", "events", "incomplete", "filtered", "entries written", ...
}

var (
	exitLine  = regexp.MustCompile(`\[output:auditd_cloud_logging:auditd_cloud_logging\.(\d+)\] exit: (records in \d+.*)$`)
	exitCount = regexp.MustCompile(`(?:^|[ (;,])([a-z][a-z -]*?) (\d+)|(\d+) (incomplete)`)
)

func parseExit(line string) (pluginExit, bool) {
	m := exitLine.FindStringSubmatch(line)
	if m == nil {
		return pluginExit{}, false
	}
	e := pluginExit{found: true, n: map[string]int{}}
	e.idx, _ = strconv.Atoi(m[1])
	for _, c := range exitCount.FindAllStringSubmatch(m[2], -1) {
		if c[4] != "" {
			e.n[c[4]], _ = strconv.Atoi(c[3])
		} else {
			e.n[strings.TrimSpace(c[1])], _ = strconv.Atoi(c[2])
		}
	}
	return e, true
}

var problemLine = regexp.MustCompile(`\[\s*(error|warn)\]`)

// runCHost runs the C host and returns the plugin's exit counts per instance, in init order.
func runCHost(ctx context.Context, o options, script string, stderr io.Writer) ([]pluginExit, error) {
	cmd := exec.CommandContext(ctx, o.chost, o.so, script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if o.verbose {
		cmd.Stdout = io.MultiWriter(&out, prefixWriter(stderr, "chost: "))
		cmd.Stderr = io.MultiWriter(&errb, prefixWriter(stderr, "plugin: "))
	}
	start := time.Now()
	runErr := cmd.Run()
	if runErr != nil {
		tail := func(b []byte) string {
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			return strings.Join(lines, "\n")
		}
		why := runErr.Error()
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			switch ee.ExitCode() {
			case 1:
				why = "a plugin call did not return what was expected (see the FAILED line)"
			case 2:
				why = "the C host could not load or drive the plugin (rebuild with `make plugin chost`)"
			}
		}
		if ctx.Err() != nil {
			why = "timed out (-timeout " + o.timeout.String() + ")"
		}
		return nil, fmt.Errorf("C host: %s\n--- chost output ---\n%s\n--- plugin log ---\n%s", why, tail(out.Bytes()), tail(errb.Bytes()))
	}
	var exits []pluginExit
	problems := 0
	for _, line := range strings.Split(errb.String(), "\n") {
		if e, ok := parseExit(line); ok {
			exits = append(exits, e)
		}
		if problemLine.MatchString(line) && !o.verbose {
			problems++
			if problems <= 10 {
				fmt.Fprintln(stderr, "plugin: "+line)
			}
		}
	}
	if problems > 10 {
		fmt.Fprintf(stderr, "plugin: ... %d more warnings/errors (run with -v to see all)\n", problems-10)
	}
	sort.Slice(exits, func(i, j int) bool { return exits[i].idx < exits[j].idx })
	fmt.Fprintf(stderr, "demo:       the C host ran %d flushes in %.1fs\n", strings.Count(out.String(), "\nflush "), time.Since(start).Seconds())
	return exits, nil
}

type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func prefixWriter(w io.Writer, prefix string) io.Writer { return &lineWriter{w: w, prefix: prefix} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// listEntries reads a log back through the real Cloud Logging Go client.
func listEntries(ctx context.Context, addr, logName string) ([]*loggingpb.LogEntry, error) {
	client, err := logging.NewClient(ctx,
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return nil, fmt.Errorf("Cloud Logging client: %w", err)
	}
	defer client.Close()
	it := client.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + demoProject},
		Filter:        fmt.Sprintf("logName=%q", "projects/"+demoProject+"/logs/"+url.PathEscape(logName)),
		OrderBy:       "timestamp asc",
		PageSize:      1000,
	})
	var out []*loggingpb.LogEntry
	for {
		e, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ListLogEntries %s: %w", logName, err)
		}
		out = append(out, e)
	}
	return out, nil
}
