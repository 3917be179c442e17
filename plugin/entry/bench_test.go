package entry

import (
	"strconv"
	"testing"

	"cloud.google.com/go/logging"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/proto"
)

// The three workloads of the parser issue, as events: (a) the COS journal shape
// (SYSCALL+EXECVE), (b) full auditd events (SYSCALL, EXECVE, CWD, PATH×2, PROCTITLE, EOE),
// (c) mixed (connect with SOCKADDR, failed USER_LOGIN, AVC denial, TTY).
func workloads(tb testing.TB) map[string][]*parser.Event {
	return map[string][]*parser.Event{
		"cos":   {cosExec(tb)},
		"full":  {fullExec(tb)},
		"mixed": mixedEvents(tb),
	}
}

func records(evs []*parser.Event) int {
	n := 0
	for _, ev := range evs {
		n += len(ev.Records)
	}
	return n
}

// BenchmarkBuild: one op is one entry. ns/record and allocs/record divide by the records of
// the workload's events.
func BenchmarkBuild(b *testing.B) {
	for _, name := range []string{"cos", "full", "mixed"} {
		evs := workloads(b)[name]
		bl := NewBuilder(Options{NodeName: testNode})
		b.Run(name, func(b *testing.B) {
			// Entries are given back in batches once "sent", as the plugin does.
			sent := make([]*loggingpb.LogEntry, 0, 512)
			benchLoop(b, evs, func(ev *parser.Event) {
				sent = append(sent, bl.Build(parser.Item{Kind: parser.ItemEvent, Event: ev}))
				if len(sent) == cap(sent) {
					bl.Release(sent)
					sent = sent[:0]
				}
			})
		})
		b.Run(name+"+marshal", func(b *testing.B) {
			benchLoop(b, evs, func(ev *parser.Event) {
				if _, err := proto.Marshal(bl.Build(parser.Item{Kind: parser.ItemEvent, Event: ev})); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkBaseline: the Go client's path for the same content: logging.Entry with a map
// payload, converted by logging.ToLogEntry.
func BenchmarkBaseline(b *testing.B) {
	for _, name := range []string{"cos", "full", "mixed"} {
		evs := workloads(b)[name]
		b.Run(name, func(b *testing.B) {
			benchLoop(b, evs, func(ev *parser.Event) {
				if _, err := logging.ToLogEntry(mapEntry(ev), "projects/p"); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"+marshal", func(b *testing.B) {
			benchLoop(b, evs, func(ev *parser.Event) {
				e, err := logging.ToLogEntry(mapEntry(ev), "projects/p")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := proto.Marshal(e); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func benchLoop(b *testing.B, evs []*parser.Event, fn func(*parser.Event)) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		fn(evs[i%len(evs)])
		i++
	}
	recsPerOp := float64(records(evs)) / float64(len(evs))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/recsPerOp, "ns/record")
}

// mapEntry is the baseline's entry: the same payload content as Build writes, as the map a
// user of the Go client would build.
func mapEntry(ev *parser.Event) logging.Entry {
	sm := &ev.Summary
	proc := map[string]any{"pid": atof(sm.PID), "ppid": atof(sm.PPID), "exe": sm.Exe, "comm": sm.Comm}
	if sm.Cwd != "" {
		proc["cwd"] = sm.Cwd
	}
	if len(sm.Argv) > 0 {
		proc["argv"] = sm.Argv
		proc["argc"] = sm.Argc
	}
	user := map[string]any{}
	for _, id := range []struct {
		k  string
		id parser.ID
	}{{"auid", sm.AUID}, {"uid", sm.UID}, {"euid", sm.EUID}, {"gid", sm.GID}} {
		if id.id.Set {
			user[id.k] = id.id.Num
			if id.id.Name != "" {
				user[id.k+"_name"] = id.id.Name
			}
		}
	}
	recs := make([]any, 0, len(ev.Records))
	for i := range ev.Records {
		r := &ev.Records[i]
		fields := make(map[string]any, len(r.Fields))
		for j := range r.Fields {
			fields[r.Fields[j].Key] = parser.Interpret(r, &r.Fields[j], nil)
		}
		recs = append(recs, map[string]any{"type": r.TypeName(), "fields": fields})
	}
	payload := map[string]any{
		"summary": SummaryLine(ev), "type": ev.Records[0].TypeName(), "serial": ev.Key.Serial,
		"node": testNode, "process": proc, "user": user, "records": recs,
	}
	if sm.Syscall != "" {
		payload["syscall"] = map[string]any{"name": sm.Syscall, "arch": sm.Arch, "success": sm.Success == "yes", "exit": atof(sm.Exit), "exit_name": sm.ExitName}
	}
	if len(sm.Paths) > 0 {
		paths := make([]any, len(sm.Paths))
		for i, p := range sm.Paths {
			paths[i] = map[string]any{"name": p.Name, "nametype": p.Nametype}
		}
		payload["paths"] = paths
	}
	if p := sm.Peer; p != nil {
		payload["peer"] = map[string]any{"family": p.Family, "addr": p.Addr, "port": p.Port}
	}
	if len(sm.Keys) > 0 {
		payload["keys"] = sm.Keys
	}
	return logging.Entry{
		Timestamp: ev.Key.Time(),
		Severity:  logging.Severity(SeverityOf(ev)),
		InsertID:  InsertID(ev.Key),
		Labels:    map[string]string{"types": "SYSCALL,EXECVE", "keys": "exec", "node": testNode},
		Payload:   payload,
	}
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
