package output

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"cloud.google.com/go/logging"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/fluent/fluent-bit-go/output"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/internal/benchdata"
	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
)

// BenchmarkEndToEnd: msgpack chunk → marshalled WriteLogEntriesRequest bytes, per record, for
// the parser issue's three workloads and for the real corpus, ours beside a baseline built
// from the usual libraries:
//
//	fluent-bit-go output.NewDecoder + GetRecord (map[interface{}]interface{} per record)
//	→ go-libaudit v2.6.2 auparse (ParseLogLine, or Parse with the numeric type for the
//	  journal and kernel forms, which carry no "msg=" header) + msg.Data()
//	→ libaudit.NewReassembler (auditbeat's defaults: 50 in flight, 2 s) → aucoalesce.CoalesceMessages
//	→ logging.Entry whose Payload is a map[string]interface{} converted by hand from the
//	  coalesced event's fields (cheaper than letting the client json round-trip the struct,
//	  so the baseline is the faster of the two ways a Go client user would write it)
//	→ logging.ToLogEntry(e, "projects/p") → proto.Marshal of the WriteLogEntriesRequest.
//
// The three workloads (internal/benchdata: cos, auditd, mixed) run as a node does: one
// instance (ours: New once; baseline: one reassembler) takes a chunk of 512 events per round,
// each round continuing the stream (serials and times move on), with the default
// Event_Quiet and Event_Timeout; events complete as the stream moves on and each round
// writes what completed. The corpus workloads (corpus-*: one real capture in three forms,
// with its 18 KB hex arguments and 2,050-argument exec) cannot be continued, so each of their
// rounds runs a fresh instance (New, Flush, Close; construction not measured).
//
// Metrics: ns/record, allocs/record, B/record (wall time and runtime.MemStats around the
// measured part only). "paired" alternates both pipelines in each round, so both see the
// same machine load, and reports speedup = baseline ns / ours ns and allocs-ratio =
// baseline allocs / ours allocs.
func BenchmarkEndToEnd(b *testing.B) {
	for _, w := range e2eWorkloads(b) {
		if w.lap != nil {
			benchSteady(b, w)
			continue
		}
		cfg := benchConfig(b)
		// One untimed pass each: both sides must read the workload and produce entries, else
		// the comparison is meaningless.
		{
			o := runOurs(b, cfg, w.data)
			bl := &baseline{cfg: cfg}
			bl.run(b, w.data)
			b.Logf("%s: %d records; ours %d entries, %d request bytes; baseline %d entries, %d request bytes, %d records it could not parse or decode (msg.Data: split EXECVE arguments), %d coalesce errors, %d lost",
				w.name, w.records, o.entries, o.bytes, bl.written, bl.bytes, bl.parseErrs, bl.coalesceErrs, bl.lost)
			if o.entries == 0 || bl.written == 0 || bl.parseErrs > w.records/10 {
				b.Fatalf("%s: ours %d entries, baseline %d entries, %d baseline parse errors", w.name, o.entries, bl.written, bl.parseErrs)
			}
		}
		b.Run(w.name+"/ours", func(b *testing.B) {
			var m e2eMeasure
			for n := 0; n < b.N; n++ {
				i := newOurs(b, cfg)
				m.run(func() { i.flushClose(b, w.data) })
			}
			m.report(b, "", w.records)
		})
		b.Run(w.name+"/baseline", func(b *testing.B) {
			var m e2eMeasure
			for n := 0; n < b.N; n++ {
				bl := &baseline{cfg: cfg}
				ra := bl.reassembler(b)
				m.run(func() { bl.runWith(b, ra, w.data) })
			}
			m.report(b, "", w.records)
		})
		b.Run(w.name+"/paired", func(b *testing.B) {
			var ours, base e2eMeasure
			for n := 0; n < b.N; n++ {
				i := newOurs(b, cfg)
				bl := &baseline{cfg: cfg}
				ra := bl.reassembler(b)
				if n%2 == 0 {
					ours.run(func() { i.flushClose(b, w.data) })
					base.run(func() { bl.runWith(b, ra, w.data) })
				} else {
					base.run(func() { bl.runWith(b, ra, w.data) })
					ours.run(func() { i.flushClose(b, w.data) })
				}
			}
			ours.report(b, "ours-", w.records)
			base.report(b, "base-", w.records)
			b.ReportMetric(float64(base.ns)/float64(max(ours.ns, 1)), "speedup")
			b.ReportMetric(float64(base.allocs)/float64(max(ours.allocs, 1)), "allocs-ratio")
		})
	}
}

// benchSteady runs a continuable workload through one instance of each pipeline.
func benchSteady(b *testing.B, w e2eWorkload) {
	cfg := steadyConfig(b)
	// Untimed check: a few laps must give both sides entries for (nearly) every event.
	{
		o := newOurs(b, cfg)
		bl := &baseline{cfg: cfg, tb: b}
		ra := bl.reassembler(b)
		const laps = 4
		for lap := 0; lap < laps; lap++ {
			data := w.lap(lap)
			o.flush(b, data)
			bl.feed(b, ra, data)
		}
		o.i.Close(context.Background())
		bl.close(b, ra)
		written := int(o.i.Counters().Written)
		b.Logf("%s: %d laps of %d records, %d events; ours %d entries, %d request bytes; baseline %d entries, %d request bytes, %d parse errors, %d coalesce errors, %d lost",
			w.name, laps, w.records, w.events, written, o.w.bytes, bl.written, bl.bytes, bl.parseErrs, bl.coalesceErrs, bl.lost)
		if written < laps*w.events || bl.written < laps*w.events*9/10 || bl.parseErrs > 0 {
			b.Fatalf("%s: ours %d entries, baseline %d, for %d events", w.name, written, bl.written, laps*w.events)
		}
	}
	run := func(b *testing.B, ours, base *e2eMeasure) {
		laps := newOffHeapLaps(b, w.lap, b.N)
		defer laps.free(b)
		o := newOurs(b, cfg)
		bl := &baseline{cfg: cfg, tb: b}
		ra := bl.reassembler(b)
		for n := 0; n < b.N; n++ {
			data := laps.chunks[n]
			steps := []func(){}
			if ours != nil {
				steps = append(steps, func() { ours.run(func() { o.flush(b, data) }) })
			}
			if base != nil {
				steps = append(steps, func() { base.run(func() { bl.feed(b, ra, data) }) })
			}
			if n%2 == 1 {
				slices.Reverse(steps)
			}
			for _, f := range steps {
				f()
			}
		}
		// What is still in flight at the end is part of the work too.
		if ours != nil {
			ours.run(func() { o.i.Close(context.Background()) })
		}
		if base != nil {
			base.run(func() { bl.close(b, ra) })
		}
	}
	b.Run(w.name+"/ours", func(b *testing.B) {
		var m e2eMeasure
		run(b, &m, nil)
		m.report(b, "", w.records)
	})
	b.Run(w.name+"/baseline", func(b *testing.B) {
		var m e2eMeasure
		run(b, nil, &m)
		m.report(b, "", w.records)
	})
	b.Run(w.name+"/paired", func(b *testing.B) {
		var ours, base e2eMeasure
		run(b, &ours, &base)
		ours.report(b, "ours-", w.records)
		base.report(b, "base-", w.records)
		b.ReportMetric(float64(base.ns)/float64(max(ours.ns, 1)), "speedup")
		b.ReportMetric(float64(base.allocs)/float64(max(ours.allocs, 1)), "allocs-ratio")
	})
}

// offHeapLaps holds the chunks of the measured rounds outside the Go heap, where fluent-bit's
// chunks are (C memory the plugin only reads during the call). Generating a round's chunk
// in the loop made twice the garbage the plugin makes (fmt, the msgpack writer), and the
// collections it triggered landed in the measured part: ours was charged for garbage no node
// makes. Pre-generated chunks in the Go heap would be no better: a larger live heap makes
// collections rarer than on a node. Unmapping at the end also proves nothing kept a chunk.
type offHeapLaps struct {
	mem    []byte
	chunks [][]byte
}

func newOffHeapLaps(tb testing.TB, lap func(int) []byte, n int) offHeapLaps {
	// Laps of one workload differ only in their numbers: the first one's size with headroom
	// bounds every lap; a lap outgrowing it fails below.
	per := len(lap(0))*5/4 + 4096
	mem, err := syscall.Mmap(-1, 0, per*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		tb.Fatalf("mmap %d laps of %d bytes: %v", n, per, err)
	}
	l := offHeapLaps{mem: mem, chunks: make([][]byte, n)}
	for i := range n {
		c := lap(i)
		if len(c) > per {
			tb.Fatalf("lap %d is %d bytes, more than the %d reserved", i, len(c), per)
		}
		l.chunks[i] = mem[i*per : i*per+copy(mem[i*per:(i+1)*per], c)]
	}
	runtime.GC() // the generator's garbage is gone before the first measured round
	return l
}

func (l offHeapLaps) free(tb testing.TB) {
	if err := syscall.Munmap(l.mem); err != nil {
		tb.Fatal(err)
	}
}

type e2eWorkload struct {
	name    string
	data    []byte           // the corpus workloads' chunk
	lap     func(int) []byte // the continuable workloads' chunk of round n
	records int              // per chunk
	events  int
}

// e2eWorkloads: the parser issue's three workloads (internal/benchdata), each in the input
// form it stands for (COS: in_systemd journal records; auditd and mixed: in_tail audit.log
// lines), then the real corpus in all three forms. Chunks are as fluent-bit 4.x/5.x sends
// them (EventTime, values as bin).
func e2eWorkloads(tb testing.TB) []e2eWorkload {
	var out []e2eWorkload
	for _, w := range benchdata.All(512) {
		lap := func(n int) []byte {
			s := w.Shift(n)
			if w.Name == "cos" {
				cw := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true, Map32: true})
				for _, r := range s.Records {
					cw.Record(time.UnixMilli(r.UnixMilli), journalFields(r))
				}
				return append([]byte(nil), cw.Bytes()...)
			}
			return lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, s.Lines())
		}
		out = append(out, e2eWorkload{name: w.Name, lap: lap, records: len(w.Records), events: w.Events})
	}
	for _, tc := range []struct{ name, file string }{{"corpus-auditlog", "audit.log"}, {"corpus-journal", "journal.jsonl"}, {"corpus-kernel", "kernel.log"}} {
		lines := corpus(tb, tc.file)
		var data []byte
		if tc.file == "journal.jsonl" {
			data = journalChunk(tb, flbchunk.Options{V2: true, Bin: true, Map32: true}, lines)
		} else {
			data = lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, lines)
		}
		out = append(out, e2eWorkload{name: tc.name, data: data, records: len(lines)})
	}
	return out
}

// journalFields: the fields in_systemd hands over for one audit record (as in the corpus's
// journal.jsonl, captured from a real journald).
func journalFields(r benchdata.Record) []flbchunk.Field {
	us := strconv.FormatInt(r.UnixMilli*1000, 10)
	return []flbchunk.Field{
		flbchunk.F("__REALTIME_TIMESTAMP", us), flbchunk.F("_BOOT_ID", "e2bde05ef9f343829efbfc074ead0c4d"),
		flbchunk.F("_HOSTNAME", "gke-node-1"), flbchunk.F("_TRANSPORT", "audit"),
		flbchunk.F("_AUDIT_TYPE", strconv.Itoa(int(r.TypeNum))), flbchunk.F("_AUDIT_ID", strconv.FormatUint(r.Serial, 10)),
		flbchunk.F("SYSLOG_FACILITY", "4"), flbchunk.F("SYSLOG_IDENTIFIER", "audit"),
		flbchunk.F("_AUDIT_TYPE_NAME", r.Type), flbchunk.F("MESSAGE", r.Message()),
		flbchunk.F("PRIORITY", "5"), flbchunk.F("_SOURCE_REALTIME_TIMESTAMP", us),
	}
}

func benchConfig(tb testing.TB) config.Config {
	cfg, err := config.Parse(config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l",
		"Node_Name": "n", "Event_Quiet": "1m", "Event_Timeout": "10m"})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// steadyConfig is the plugin's defaults (Event_Quiet 500ms, Event_Timeout 5s, ...).
func steadyConfig(tb testing.TB) config.Config {
	cfg, err := config.Parse(config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n"})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// e2eMeasure accumulates wall time and allocations of the measured parts.
type e2eMeasure struct {
	ns, allocs, bytes uint64
	gcs               uint32
}

func (m *e2eMeasure) run(f func()) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	f()
	d := time.Since(start)
	runtime.ReadMemStats(&m1)
	m.ns += uint64(d.Nanoseconds())
	m.allocs += m1.Mallocs - m0.Mallocs
	m.bytes += m1.TotalAlloc - m0.TotalAlloc
	m.gcs += m1.NumGC - m0.NumGC
}

func (m *e2eMeasure) report(b *testing.B, prefix string, records int) {
	n := float64(b.N) * float64(records)
	b.ReportMetric(float64(m.ns)/n, prefix+"ns/record")
	b.ReportMetric(float64(m.allocs)/n, prefix+"allocs/record")
	b.ReportMetric(float64(m.bytes)/n, prefix+"B/record")
	b.ReportMetric(float64(m.gcs)*1e6/n, prefix+"GCs/Mrecord")
}

// ours is one plugin instance writing through the production encoder.
type ours struct {
	i *Instance
	w *marshalWriter
}

func newOurs(tb testing.TB, cfg config.Config) ours {
	w := &marshalWriter{cfg: cfg}
	i, err := New(cfg, w, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return ours{i, w}
}

func (o ours) flushClose(tb testing.TB, data []byte) {
	o.flush(tb, data)
	o.i.Close(context.Background())
}

func (o ours) flush(tb testing.TB, data []byte) {
	if out := o.i.Flush(data, "audit"); out != delivery.OK {
		tb.Fatal(out)
	}
}

type oursResult struct{ entries, bytes int }

func runOurs(tb testing.TB, cfg config.Config, data []byte) oursResult {
	o := newOurs(tb, cfg)
	o.flushClose(tb, data)
	return oursResult{int(o.i.Counters().Written), o.w.bytes}
}

// baseline is the library pipeline; it is its own reassembler stream.
type baseline struct {
	cfg          config.Config
	entries      []*loggingpb.LogEntry // completed since the last request
	written      int                   // entries marshalled into requests
	bytes        int
	parseErrs    int
	coalesceErrs int
	lost         int
	tb           testing.TB
}

func (bl *baseline) reassembler(tb testing.TB) *libaudit.Reassembler {
	ra, err := libaudit.NewReassembler(50, 2*time.Second, bl)
	if err != nil {
		tb.Fatal(err)
	}
	return ra
}

func (bl *baseline) run(tb testing.TB, data []byte) { bl.runWith(tb, bl.reassembler(tb), data) }

func (bl *baseline) runWith(tb testing.TB, ra *libaudit.Reassembler, data []byte) {
	bl.push(tb, ra, data)
	bl.close(tb, ra)
}

// feed is one flush of a long-running baseline: decode and reassemble the chunk, then send
// what completed.
func (bl *baseline) feed(tb testing.TB, ra *libaudit.Reassembler, data []byte) {
	bl.push(tb, ra, data)
	bl.request(tb)
}

// close flushes the reassembler and sends the rest.
func (bl *baseline) close(tb testing.TB, ra *libaudit.Reassembler) {
	if err := ra.Close(); err != nil {
		tb.Fatal(err)
	}
	bl.request(tb)
}

func (bl *baseline) push(tb testing.TB, ra *libaudit.Reassembler, data []byte) {
	bl.tb = tb
	dec := output.NewDecoder(unsafe.Pointer(&data[0]), len(data))
	for {
		ret, _, rec := output.GetRecord(dec)
		if ret != 0 {
			break
		}
		msg, err := baselineParse(rec)
		if err != nil {
			bl.parseErrs++
			continue
		}
		if _, err := msg.Data(); err != nil {
			bl.parseErrs++
		}
		ra.PushMessage(msg)
	}
}

// request marshals the entries completed since the last request, as one write.
func (bl *baseline) request(tb testing.TB) {
	if len(bl.entries) == 0 {
		return
	}
	req := &loggingpb.WriteLogEntriesRequest{LogName: bl.cfg.LogPath(), Resource: bl.cfg.MonitoredResource(),
		Entries: bl.entries, PartialSuccess: true}
	buf, err := proto.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	bl.bytes += len(buf)
	bl.written += len(bl.entries)
	bl.entries = bl.entries[:0]
}

func (bl *baseline) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	ev, err := aucoalesce.CoalesceMessages(msgs)
	if err != nil {
		bl.coalesceErrs++
		return
	}
	e, err := logging.ToLogEntry(baselineEntry(ev), "projects/p")
	if err != nil {
		bl.tb.Fatal(err)
	}
	bl.entries = append(bl.entries, e)
}

func (bl *baseline) EventsLost(n int) { bl.lost += n }

func recString(rec map[interface{}]interface{}, k string) string {
	switch v := rec[k].(type) {
	case []byte:
		return string(v)
	case string:
		return v
	}
	return ""
}

var errBaselineRecord = errors.New(`baseline: log line has no "type=N " header`)

// baselineParse turns a decoded fluent-bit record into an auparse message the way a user of
// go-libaudit would: audit.log lines through ParseLogLine; kernel lines and journal fields
// (no "msg=" header, numeric type) through Parse with the header rebuilt.
func baselineParse(rec map[interface{}]interface{}) (*auparse.AuditMessage, error) {
	if line := recString(rec, "log"); line != "" {
		if strings.HasPrefix(line, "type=") {
			return auparse.ParseLogLine(line)
		}
		// Kernel form: "audit: type=1300 audit(1795637123.024:1718): ...".
		i := strings.Index(line, "type=")
		if i < 0 {
			return nil, errBaselineRecord
		}
		rest := line[i+len("type="):]
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return nil, errBaselineRecord
		}
		typ, err := strconv.ParseUint(rest[:sp], 10, 16)
		if err != nil {
			return nil, err
		}
		return auparse.Parse(auparse.AuditMessageType(typ), rest[sp+1:])
	}
	// Journal: MESSAGE is "SYSCALL arch=..."; time and serial are separate fields.
	typ, err := strconv.ParseUint(recString(rec, "_AUDIT_TYPE"), 10, 16)
	if err != nil {
		return nil, err
	}
	us, err := strconv.ParseInt(recString(rec, "_SOURCE_REALTIME_TIMESTAMP"), 10, 64)
	if err != nil {
		return nil, err
	}
	body := recString(rec, "MESSAGE")
	if sp := strings.IndexByte(body, ' '); sp >= 0 {
		body = body[sp+1:]
	}
	ms := strconv.FormatInt(us%1e6/1000+1000, 10)[1:] // three digits, zero-padded
	hdr := "audit(" + strconv.FormatInt(us/1e6, 10) + "." + ms + ":" + recString(rec, "_AUDIT_ID") + "): "
	return auparse.Parse(auparse.AuditMessageType(typ), hdr+body)
}

// baselineEntry: the coalesced event's fields as the JSON-typed map the Go client converts.
func baselineEntry(ev *aucoalesce.Event) logging.Entry {
	obj := func(kv ...string) map[string]interface{} {
		m := make(map[string]interface{}, len(kv)/2)
		for k := 0; k+1 < len(kv); k += 2 {
			if kv[k+1] != "" {
				m[kv[k]] = kv[k+1]
			}
		}
		return m
	}
	strMap := func(in map[string]string) map[string]interface{} {
		m := make(map[string]interface{}, len(in))
		for k, v := range in {
			m[k] = v
		}
		return m
	}
	strList := func(in []string) []interface{} {
		l := make([]interface{}, len(in))
		for k, v := range in {
			l[k] = v
		}
		return l
	}
	proc := obj("pid", ev.Process.PID, "ppid", ev.Process.PPID, "title", ev.Process.Title, "name", ev.Process.Name,
		"exe", ev.Process.Exe, "cwd", ev.Process.CWD)
	if len(ev.Process.Args) > 0 {
		proc["args"] = strList(ev.Process.Args)
	}
	payload := map[string]interface{}{
		"sequence":    float64(ev.Sequence),
		"category":    ev.Category.String(),
		"record_type": ev.Type.String(),
		"result":      ev.Result,
		"session":     ev.Session,
		"summary": map[string]interface{}{
			"actor":  obj("primary", ev.Summary.Actor.Primary, "secondary", ev.Summary.Actor.Secondary),
			"action": ev.Summary.Action,
			"object": obj("type", ev.Summary.Object.Type, "primary", ev.Summary.Object.Primary, "secondary", ev.Summary.Object.Secondary),
			"how":    ev.Summary.How,
		},
		"user":    map[string]interface{}{"ids": strMap(ev.User.IDs), "names": strMap(ev.User.Names), "selinux": strMap(ev.User.SELinux)},
		"process": proc,
	}
	if len(ev.Tags) > 0 {
		payload["tags"] = strList(ev.Tags)
	}
	if f := ev.File; f != nil {
		m := obj("path", f.Path, "device", f.Device, "inode", f.Inode, "mode", f.Mode, "uid", f.UID, "gid", f.GID,
			"owner", f.Owner, "group", f.Group)
		if len(f.SELinux) > 0 {
			m["selinux"] = strMap(f.SELinux)
		}
		payload["file"] = m
	}
	for k, a := range map[string]*aucoalesce.Address{"source": ev.Source, "destination": ev.Dest} {
		if a != nil {
			payload[k] = obj("hostname", a.Hostname, "ip", a.IP, "port", a.Port, "path", a.Path)
		}
	}
	if ev.Net != nil {
		payload["network"] = map[string]interface{}{"direction": ev.Net.Direction.String()}
	}
	if len(ev.Data) > 0 {
		payload["data"] = strMap(ev.Data)
	}
	if len(ev.Paths) > 0 {
		paths := make([]interface{}, len(ev.Paths))
		for k, p := range ev.Paths {
			paths[k] = strMap(p)
		}
		payload["paths"] = paths
	}
	sev := logging.Info
	if ev.Result == "fail" {
		sev = logging.Warning
	}
	keys := strings.Join(ev.Tags, ",")
	return logging.Entry{
		Timestamp: ev.Timestamp,
		Severity:  sev,
		InsertID:  strconv.FormatInt(ev.Timestamp.UnixMilli(), 10) + ":" + strconv.FormatUint(uint64(ev.Sequence), 10),
		Labels:    map[string]string{"type": ev.Type.String(), "keys": keys, "node": "n"},
		Payload:   payload,
	}
}
