// Package benchdata holds the three benchmark workloads named by the parser and plugin issues,
// so that the parser's and the plugin's benchmarks measure the same records:
//
//	(a) COS: the COS journal shape of an execve, SYSCALL + EXECVE, no end marker
//	(b) Auditd: a full auditd execve event, SYSCALL, EXECVE, CWD, PATH×2, PROCTITLE, EOE
//	(c) Mixed: connect (SYSCALL, SOCKADDR, PROCTITLE, EOE), USER_ACCT, an SELinux AVC denial
//	    with its SYSCALL, and a TTY record
//
// The records are synthetic but shaped like real ones (the field sets of a Debian 12 auditd).
// The package does not import parser (parser's own tests use it), so record type numbers are
// written here; a test checks them against parser's tables.
package benchdata

import "fmt"

// BaseMs is the record time of the first event, in milliseconds since the epoch.
const BaseMs int64 = 1795635275000

// FirstSerial is the serial of the first event of every workload.
const FirstSerial uint64 = 1000

// Record is one audit record of a workload.
type Record struct {
	Type      string // record type name, "SYSCALL"
	TypeNum   uint16 // its number, 1300
	UnixMilli int64
	Serial    uint64
	Body      string // the key=value part after "audit(...): "
}

var typeNums = map[string]uint16{
	"USER_ACCT": 1101, "SYSCALL": 1300, "PATH": 1302, "SOCKADDR": 1306, "CWD": 1307, "EXECVE": 1309,
	"TTY": 1319, "EOE": 1320, "PROCTITLE": 1327, "AVC": 1400,
}

// TypeNums returns the record type numbers the workloads use, by name.
func TypeNums() map[string]uint16 {
	m := make(map[string]uint16, len(typeNums))
	for k, v := range typeNums {
		m[k] = v
	}
	return m
}

func rec(typ string, ms int64, serial uint64, body string) Record {
	n, ok := typeNums[typ]
	if !ok {
		panic("benchdata: no number for record type " + typ)
	}
	return Record{typ, n, ms, serial, body}
}

// Line is the record as auditd writes it to audit.log.
func (r Record) Line() string {
	return fmt.Sprintf("type=%s msg=audit(%d.%03d:%d): %s", r.Type, r.UnixMilli/1000, r.UnixMilli%1000, r.Serial, r.Body)
}

// KernelLine is the record as the kernel logs it when no audit daemon runs.
func (r Record) KernelLine() string {
	return fmt.Sprintf("audit: type=%d audit(%d.%03d:%d): %s", r.TypeNum, r.UnixMilli/1000, r.UnixMilli%1000, r.Serial, r.Body)
}

// Message is the journal's MESSAGE field for the record ("SYSCALL arch=...").
func (r Record) Message() string { return r.Type + " " + r.Body }

// SyscallBody is an execve SYSCALL record's body for process pid.
func SyscallBody(pid int) string {
	return fmt.Sprintf(`arch=c000003e syscall=59 success=yes exit=0 a0=55d a1=55e a2=55f a3=0 items=2 ppid=1 pid=%d auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="ls" exe="/usr/bin/ls" key="exec"`, pid)
}

// COSEvent is one execve event in the COS journal shape (no EOE, PROCTITLE, PATH, CWD).
func COSEvent(ms int64, serial uint64) []Record {
	return []Record{
		rec("SYSCALL", ms, serial, SyscallBody(100+int(serial))),
		rec("EXECVE", ms, serial, `argc=2 a0="ls" a1="-l"`),
	}
}

// AuditdEvent is one execve event as a full auditd writes it.
func AuditdEvent(ms int64, serial uint64) []Record {
	return []Record{
		rec("SYSCALL", ms, serial, SyscallBody(100+int(serial))),
		rec("EXECVE", ms, serial, `argc=2 a0="ls" a1="-l"`),
		rec("CWD", ms, serial, `cwd="/root"`),
		rec("PATH", ms, serial, `item=0 name="/usr/bin/ls" inode=1234 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`),
		rec("PATH", ms, serial, `item=1 name="/lib64/ld-linux-x86-64.so.2" inode=99 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`),
		rec("PROCTITLE", ms, serial, `proctitle=6C73002D6C`),
		rec("EOE", ms, serial, ``),
	}
}

// Workload is a run of events with consecutive serials, one millisecond apart (a busy node:
// 1,000 audit events a second).
type Workload struct {
	Name       string
	Records    []Record
	Events     int
	LastSerial uint64
}

// COS is workload (a): events execve events in the COS journal shape.
func COS(events int) Workload { return repeat("cos", events, COSEvent) }

// Auditd is workload (b): events full auditd execve events.
func Auditd(events int) Workload { return repeat("auditd", events, AuditdEvent) }

// repeat makes a workload of events events of one shape, a serial and a millisecond apart.
func repeat(name string, events int, event func(ms int64, serial uint64) []Record) Workload {
	w := Workload{Name: name, Events: events}
	for i := 0; i < events; i++ {
		s := FirstSerial + uint64(i)
		w.Records = append(w.Records, event(BaseMs+int64(i), s)...)
		w.LastSerial = s
	}
	return w
}

// Mixed is workload (c): events/4 rounds of a refused connect, a USER_ACCT, an AVC denial and
// a TTY record (four events per round).
func Mixed(events int) Workload {
	w := Workload{Name: "mixed", Events: events / 4 * 4}
	s := FirstSerial
	for i := 0; i < events/4; i++ {
		ms := BaseMs + int64(i)*4
		w.Records = append(w.Records,
			rec("SYSCALL", ms, s, `arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=2 comm="curl" exe="/usr/bin/curl" subj=unconfined key="funky_socket"`),
			rec("SOCKADDR", ms, s, `saddr=020000507F0000010000000000000000`),
			rec("PROCTITLE", ms, s, `proctitle=6375726C00687474703A2F2F3132372E302E302E312F`),
			rec("EOE", ms, s, ``))
		s++
		w.Records = append(w.Records,
			rec("USER_ACCT", ms+1, s, `pid=3 uid=0 auid=1000 ses=2 subj=unconfined msg='op=PAM:accounting grantors=pam_permit acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=/dev/pts/1 res=success'`))
		s++
		w.Records = append(w.Records,
			rec("AVC", ms+2, s, `avc:  denied  { read } for  pid=4 comm="cat" name="shadow" dev="sda1" ino=5 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0`),
			rec("SYSCALL", ms+2, s, `arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=4 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=2 comm="cat" exe="/usr/bin/cat" subj=unconfined key=(null)`),
			rec("PROCTITLE", ms+2, s, `proctitle=636174002F6574632F736861646F77`),
			rec("EOE", ms+2, s, ``))
		s++
		w.Records = append(w.Records,
			rec("TTY", ms+3, s, `tty pid=5 uid=1000 auid=1000 ses=2 major=136 minor=1 comm="bash" data=6C73202D6C0D`))
		w.LastSerial = s
		s++
	}
	return w
}

// Shift returns the workload as its lap-th repetition would arrive: serials and times moved
// on by lap whole workloads, so that laps continue one stream without repeating an event.
func (w Workload) Shift(lap int) Workload {
	d := uint64(lap) * (w.LastSerial - FirstSerial + 1)
	out := w
	out.Records = make([]Record, len(w.Records))
	for i, r := range w.Records {
		r.Serial += d
		r.UnixMilli += int64(d) // consecutive serials are one millisecond apart
		out.Records[i] = r
	}
	out.LastSerial += d
	return out
}

// All returns the three workloads, each of the given number of events.
func All(events int) []Workload { return []Workload{COS(events), Auditd(events), Mixed(events)} }

// Lines returns the workload's records as audit.log lines.
func (w Workload) Lines() []string {
	out := make([]string, len(w.Records))
	for i, r := range w.Records {
		out[i] = r.Line()
	}
	return out
}
