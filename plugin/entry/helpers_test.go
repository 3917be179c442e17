package entry

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Test events are built directly from parsed records with a hand-written Summary, so these
// tests pin the entry builder's behaviour independently of the assembler's summary code.

const (
	testNode = "gke-test-node-1"
	testBoot = "e2bde05ef9f343829efbfc074ead0c4d"
)

func parseLines(tb testing.TB, lines ...string) []parser.Record {
	tb.Helper()
	recs := make([]parser.Record, 0, len(lines))
	for _, l := range lines {
		r, err := parser.ParseLine([]byte(l))
		if err != nil {
			tb.Fatalf("ParseLine(%q): %v", l, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// journalRecs parses "TYPE body" messages the way in_systemd hands them over (COS shape).
func journalRecs(tb testing.TB, serial uint64, usec int64, msgs ...string) []parser.Record {
	tb.Helper()
	var recs []parser.Record
	for _, m := range msgs {
		name, _, _ := strings.Cut(m, " ")
		num := map[string]string{"SYSCALL": "1300", "EXECVE": "1309", "SOCKADDR": "1306"}[name]
		r, err := parser.ParseJournal(parser.JournalRecord{
			Message:        []byte(m),
			AuditType:      []byte(num),
			AuditID:        []byte(strconv.FormatUint(serial, 10)),
			SourceRealtime: []byte(strconv.FormatInt(usec, 10)),
			BootID:         []byte(testBoot),
			Hostname:       []byte(testNode),
		})
		if err != nil {
			tb.Fatalf("ParseJournal(%q): %v", m, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func root(name string) parser.ID { return parser.ID{Num: 0, Name: name, Set: true} }
func uid(n uint32, name string) parser.ID {
	return parser.ID{Num: n, Name: name, Set: true}
}

var unsetID = parser.ID{Num: 4294967295, Unset: true, Set: true}

// cosExec: workload (a), the COS journal shape: SYSCALL + EXECVE, no end marker.
func cosExec(tb testing.TB) *parser.Event {
	recs := journalRecs(tb, 1845, 1795637125200000,
		`SYSCALL arch=c000003e syscall=59 success=yes exit=0 a0=559907ee8770 a1=559907ee91d0 a2=559907ebe8b0 a3=559907ebd730 items=2 ppid=17391 pid=17392 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=14 comm="curl" exe="/usr/bin/curl" key="exec"`,
		`EXECVE argc=2 a0="curl" a1="https://x"`)
	return &parser.Event{
		Key:     recs[0].Key,
		Records: recs,
		Reason:  parser.CompleteQuiet,
		Summary: parser.Summary{
			PID: "17392", PPID: "17391", Exe: "/usr/bin/curl", Comm: "curl",
			Argv: []string{"curl", "https://x"}, Argc: 2,
			AUID: root("root"), UID: root("root"), EUID: root("root"), GID: root("root"),
			Syscall: "execve", Arch: "x86_64", Success: "yes", Exit: "0",
			Keys: []string{"exec"}, TTY: "(none)", Ses: "14",
		},
	}
}

// fullExec: workload (b), auditd's audit.log shape: SYSCALL, EXECVE, CWD, PATH×2,
// PROCTITLE, EOE.
func fullExec(tb testing.TB) *parser.Event {
	recs := parseLines(tb,
		`type=SYSCALL msg=audit(1795637125.200:1845): arch=c000003e syscall=59 success=yes exit=0 a0=559907ee8770 a1=559907ee91d0 a2=559907ebe8b0 a3=559907ebd730 items=2 ppid=17391 pid=17392 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=14 comm="curl" exe="/usr/bin/curl" key="exec"`,
		`type=EXECVE msg=audit(1795637125.200:1845): argc=2 a0="curl" a1="https://x"`,
		`type=CWD msg=audit(1795637125.200:1845): cwd="/root"`,
		`type=PATH msg=audit(1795637125.200:1845): item=0 name="/usr/bin/curl" inode=247746 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		`type=PATH msg=audit(1795637125.200:1845): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=325835 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		`type=PROCTITLE msg=audit(1795637125.200:1845): proctitle=6375726C0068747470733A2F2F78`,
		`type=EOE msg=audit(1795637125.200:1845): `,
	)
	return &parser.Event{
		Key:     recs[0].Key,
		Records: recs,
		Reason:  parser.CompleteEOE,
		Summary: parser.Summary{
			PID: "17392", PPID: "17391", Exe: "/usr/bin/curl", Comm: "curl", Cwd: "/root",
			Title: "curl https://x", Argv: []string{"curl", "https://x"}, Argc: 2,
			AUID: root("root"), UID: root("root"), EUID: root("root"), GID: root("root"),
			Syscall: "execve", Arch: "x86_64", Success: "yes", Exit: "0",
			Paths: []parser.PathItem{
				{Name: "/usr/bin/curl", Nametype: "NORMAL", Inode: "247746", Mode: "0100755"},
				{Name: "/lib64/ld-linux-x86-64.so.2", Nametype: "NORMAL", Inode: "325835", Mode: "0100755"},
			},
			Keys: []string{"exec"}, TTY: "(none)", Ses: "14",
		},
	}
}

// connectEvent: SYSCALL + SOCKADDR + PROCTITLE (connect to 127.0.0.1:80).
func connectEvent(tb testing.TB) *parser.Event {
	recs := parseLines(tb,
		`type=SYSCALL msg=audit(1795637126.100:1900): arch=c000003e syscall=42 success=no exit=-111 a0=5 a1=7ffc a2=10 a3=0 items=0 ppid=100 pid=200 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" key="net"`,
		`type=SOCKADDR msg=audit(1795637126.100:1900): saddr=020000507F0000010000000000000000`,
		`type=PROCTITLE msg=audit(1795637126.100:1900): proctitle=6375726C003132372E302E302E31`,
	)
	return &parser.Event{
		Key: recs[0].Key, Records: recs, Reason: parser.CompleteProctitle,
		Summary: parser.Summary{
			PID: "200", PPID: "100", Exe: "/usr/bin/curl", Comm: "curl", Title: "curl 127.0.0.1",
			AUID: uid(1000, "alice"), UID: root("root"), EUID: root("root"), GID: root("root"),
			Syscall: "connect", Arch: "x86_64", Success: "no", Exit: "-111", ExitName: "ECONNREFUSED",
			Peer: &parser.SockAddr{Family: "inet", Addr: "127.0.0.1", Port: 80},
			Keys: []string{"net"}, TTY: "pts0", Ses: "3",
		},
	}
}

// failedLogin: a standalone USER_LOGIN with res=failed.
func failedLogin(tb testing.TB) *parser.Event {
	recs := parseLines(tb,
		`type=USER_LOGIN msg=audit(1795637126.200:1901): pid=1234 uid=0 auid=1000 ses=4294967295 subj=unconfined msg='op=login acct="alice" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.1 terminal=sshd res=failed'`)
	return &parser.Event{
		Key: recs[0].Key, Records: recs, Reason: parser.CompleteStandalone,
		Summary: parser.Summary{
			PID: "1234", Exe: "/usr/sbin/sshd", AUID: uid(1000, "alice"), UID: root("root"),
			Success: "no", Terminal: "sshd", Hostname: "10.0.0.1", Acct: "alice", Op: "login",
			Ses: "4294967295",
		},
	}
}

// avcDenied: an enforced SELinux denial (AVC + SYSCALL).
func avcDenied(tb testing.TB) *parser.Event {
	recs := parseLines(tb,
		`type=AVC msg=audit(1795637126.300:1902): avc:  denied  { read } for  pid=4321 comm="cat" name="shadow" dev="sda1" ino=1234 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0`,
		`type=SYSCALL msg=audit(1795637126.300:1902): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=4321 auid=4294967295 uid=48 gid=48 euid=48 suid=48 fsuid=48 egid=48 sgid=48 fsgid=48 tty=(none) ses=4294967295 comm="cat" exe="/usr/bin/cat" key=(null)`,
	)
	return &parser.Event{
		Key: recs[0].Key, Records: recs, Reason: parser.CompleteQuiet,
		Summary: parser.Summary{
			PID: "4321", PPID: "1", Exe: "/usr/bin/cat", Comm: "cat",
			AUID: unsetID, UID: uid(48, "apache"), EUID: uid(48, "apache"), GID: uid(48, "apache"),
			Syscall: "openat", Arch: "x86_64", Success: "no", Exit: "-13", ExitName: "EACCES",
			TTY: "(none)", Ses: "4294967295",
		},
	}
}

// ttyInput: a TTY record (pam_tty_audit).
func ttyInput(tb testing.TB) *parser.Event {
	recs := parseLines(tb,
		`type=TTY msg=audit(1795637126.400:1903): tty pid=2000 uid=1000 auid=1000 ses=3 major=136 minor=0 comm="bash" data=6C73202D6C610D`)
	return &parser.Event{
		Key: recs[0].Key, Records: recs, Reason: parser.CompleteStandalone,
		Summary: parser.Summary{
			PID: "2000", Comm: "bash", AUID: uid(1000, "alice"), UID: uid(1000, "alice"), Ses: "3",
		},
	}
}

// mixedEvents: workload (c).
func mixedEvents(tb testing.TB) []*parser.Event {
	return []*parser.Event{connectEvent(tb), failedLogin(tb), avcDenied(tb), ttyInput(tb)}
}

// single builds a one-record event from an audit.log line with the given summary.
func single(tb testing.TB, line string, sm parser.Summary) *parser.Event {
	recs := parseLines(tb, line)
	return &parser.Event{Key: recs[0].Key, Records: recs, Reason: parser.CompleteStandalone, Summary: sm}
}

var testTime = time.Unix(1795637126, 500_000_000).UTC()
