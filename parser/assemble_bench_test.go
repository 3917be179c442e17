package parser

import (
	"syscall"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/benchdata"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// Benchmarks: parse + assemble (+ summary) per record, beside a go-libaudit baseline
// (auparse.ParseLogLine + Data, libaudit.Reassembler, aucoalesce.CoalesceMessages) on the same
// lines in the same run. b.N counts records, so ns/op and allocs/op are per record.
//
// The workloads are internal/benchdata's (the plugin's end-to-end benchmark uses the same
// records). Every lap over a workload shifts serials and times so that no event repeats (a
// repeat would be a cheap duplicate for us and a different event for go-libaudit).

const benchEvents = 512

type benchWorkload struct {
	name       string
	lines      []string
	nEvents    int
	lastSerial uint64
}

func benchWorkloads() []benchWorkload {
	var out []benchWorkload
	for _, w := range benchdata.All(benchEvents) {
		out = append(out, benchWorkload{w.Name, w.Lines(), w.Events, w.LastSerial})
	}
	return out
}

func BenchmarkAssemble(b *testing.B) {
	for _, wl := range benchWorkloads() {
		b.Run(wl.name+"/parser", func(b *testing.B) { benchOurs(b, wl, false) })
		// the same, with the consumer handing each batch of events back (Assembler.Recycle)
		// and parsing with the assembler's ParseLine (records' field arrays reused), as the
		// plugin does
		b.Run(wl.name+"/parser+recycle", func(b *testing.B) { benchOurs(b, wl, true) })
		b.Run(wl.name+"/libaudit", func(b *testing.B) { benchLibaudit(b, wl) })
	}
}

func benchOurs(b *testing.B, w benchWorkload, recycle bool) {
	lines := make([][]byte, len(w.lines))
	for i, l := range w.lines {
		lines[i] = []byte(l)
	}
	span := w.lastSerial - benchdata.FirstSerial + 1
	a := NewAssembler(AssemblerConfig{})
	out := make([]Item, 0, 1024)
	now := wall0
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		j := i % len(lines)
		lap := uint64(i / len(lines))
		parse := ParseLine
		if recycle {
			parse = a.ParseLine
		}
		r, err := parse(lines[j])
		if err != nil {
			b.Fatal(err)
		}
		r.Key.Serial += lap * span
		r.Key.UnixMilli += int64(lap * span)
		a.Add(r, now)
		if j%256 == 255 || j == len(lines)-1 {
			now = now.Add(time.Millisecond)
			out = a.Drain(now, out[:0])
			for _, it := range out {
				if it.Kind == ItemEvent {
					events++
				}
			}
			if recycle {
				a.Recycle(out)
			}
		}
	}
	cpu.report(b)
	b.StopTimer()
	out = a.DrainAll(out[:0])
	for _, it := range out {
		if it.Kind == ItemEvent {
			events++
		}
	}
	laps := float64(b.N) / float64(len(lines))
	if want := laps * float64(w.nEvents); float64(events) < want-1 {
		b.Fatalf("%d events for %.1f laps of %d", events, laps, w.nEvents)
	}
}

type libauditSink struct{ events, lost int }

func (s *libauditSink) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	if _, err := aucoalesce.CoalesceMessages(msgs); err == nil {
		s.events++
	}
}
func (s *libauditSink) EventsLost(n int) { s.lost += n }

func benchLibaudit(b *testing.B, w benchWorkload) {
	span := uint32(w.lastSerial - benchdata.FirstSerial + 1)
	sink := &libauditSink{}
	r, err := libaudit.NewReassembler(DefaultMaxInFlight, DefaultTimeout, sink)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	defer cpu.report(b)
	for i := 0; i < b.N; i++ {
		j := i % len(w.lines)
		lap := uint32(i / len(w.lines))
		msg, err := auparse.ParseLogLine(w.lines[j])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := msg.Data(); err != nil {
			b.Fatal(err)
		}
		msg.Sequence += lap * span
		msg.Timestamp = msg.Timestamp.Add(time.Duration(lap*span) * time.Millisecond)
		r.PushMessage(msg)
	}
}

// cpuClock measures the process's CPU time (user+system, GC included): on a shared machine
// wall-clock ns/op depends on the neighbours, CPU time much less.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{cpuNow()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/rec")
}

// BenchmarkAssembleOnly measures the assembler and summary alone, on records parsed once.
func BenchmarkAssembleOnly(b *testing.B) {
	for _, wl := range benchWorkloads() {
		b.Run(wl.name, func(b *testing.B) {
			recs := make([]Record, len(wl.lines))
			for i, l := range wl.lines {
				recs[i] = mustParse(b, l)
			}
			span := wl.lastSerial - benchdata.FirstSerial + 1
			a := NewAssembler(AssemblerConfig{})
			out := make([]Item, 0, 1024)
			now := wall0
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				j := i % len(recs)
				lap := uint64(i / len(recs))
				r := recs[j]
				r.Key.Serial += lap * span
				r.Key.UnixMilli += int64(lap * span)
				a.Add(r, now)
				if j%256 == 255 || j == len(recs)-1 {
					now = now.Add(time.Millisecond)
					out = a.Drain(now, out[:0])
				}
			}
			cpu.report(b)
		})
	}
}
