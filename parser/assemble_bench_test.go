package parser

import (
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// Benchmarks: parse + assemble (+ summary) per record, beside a go-libaudit baseline
// (auparse.ParseLogLine + Data, libaudit.Reassembler, aucoalesce.CoalesceMessages) on the same
// lines in the same run. b.N counts records, so ns/op and allocs/op are per record.
//
// The lines are synthetic but shaped like real ones (field sets of a Debian 12 auditd). Every
// lap over the workload shifts serials and times so that no event repeats (a repeat would be
// a cheap duplicate for us and a different event for go-libaudit).

const benchEvents = 512

type benchWorkload struct {
	lines      []string
	nEvents    int
	lastSerial uint64
}

func benchCOS() benchWorkload {
	var w benchWorkload
	for i := 0; i < benchEvents; i++ {
		s := uint64(1000 + i)
		w.lines = append(w.lines, cosEvent(baseMs+int64(i), s)...)
		w.lastSerial = s
	}
	w.nEvents = benchEvents
	return w
}

func benchAuditd() benchWorkload {
	var w benchWorkload
	for i := 0; i < benchEvents; i++ {
		s := uint64(1000 + i)
		w.lines = append(w.lines, auditdEvent(baseMs+int64(i), s)...)
		w.lastSerial = s
	}
	w.nEvents = benchEvents
	return w
}

func benchMixed() benchWorkload {
	var w benchWorkload
	s := uint64(1000)
	for i := 0; i < benchEvents/4; i++ {
		ms := baseMs + int64(i)*4
		// connect to 127.0.0.1:80
		w.lines = append(w.lines,
			auditLine("SYSCALL", ms, s, `arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=2 comm="curl" exe="/usr/bin/curl" subj=unconfined key="funky_socket"`),
			auditLine("SOCKADDR", ms, s, `saddr=020000507F0000010000000000000000`),
			auditLine("PROCTITLE", ms, s, `proctitle=6375726C00687474703A2F2F3132372E302E302E312F`),
			auditLine("EOE", ms, s, ``))
		s++
		w.lines = append(w.lines,
			auditLine("USER_ACCT", ms+1, s, `pid=3 uid=0 auid=1000 ses=2 subj=unconfined msg='op=PAM:accounting grantors=pam_permit acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=/dev/pts/1 res=success'`))
		s++
		w.lines = append(w.lines,
			auditLine("AVC", ms+2, s, `avc:  denied  { read } for  pid=4 comm="cat" name="shadow" dev="sda1" ino=5 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0`),
			auditLine("SYSCALL", ms+2, s, `arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=4 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=2 comm="cat" exe="/usr/bin/cat" subj=unconfined key=(null)`),
			auditLine("PROCTITLE", ms+2, s, `proctitle=636174002F6574632F736861646F77`),
			auditLine("EOE", ms+2, s, ``))
		s++
		w.lines = append(w.lines,
			auditLine("TTY", ms+3, s, `tty pid=5 uid=1000 auid=1000 ses=2 major=136 minor=1 comm="bash" data=6C73202D6C0D`))
		w.lastSerial = s
		s++
	}
	w.nEvents = benchEvents
	return w
}

func BenchmarkAssemble(b *testing.B) {
	for _, wl := range []struct {
		name string
		w    benchWorkload
	}{{"cos", benchCOS()}, {"auditd", benchAuditd()}, {"mixed", benchMixed()}} {
		b.Run(wl.name+"/parser", func(b *testing.B) { benchOurs(b, wl.w) })
		b.Run(wl.name+"/libaudit", func(b *testing.B) { benchLibaudit(b, wl.w) })
	}
}

func benchOurs(b *testing.B, w benchWorkload) {
	lines := make([][]byte, len(w.lines))
	for i, l := range w.lines {
		lines[i] = []byte(l)
	}
	span := w.lastSerial - 1000 + 1
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
		r, err := ParseLine(lines[j])
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
	span := uint32(w.lastSerial - 1000 + 1)
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
	for _, wl := range []struct {
		name string
		w    benchWorkload
	}{{"cos", benchCOS()}, {"auditd", benchAuditd()}, {"mixed", benchMixed()}} {
		b.Run(wl.name, func(b *testing.B) {
			recs := make([]Record, len(wl.w.lines))
			for i, l := range wl.w.lines {
				recs[i] = mustParse(b, l)
			}
			span := wl.w.lastSerial - 1000 + 1
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
