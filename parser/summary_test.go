package parser

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func oneEvent(t *testing.T, cfg AssemblerConfig, lines ...string) *Event {
	t.Helper()
	a := NewAssembler(cfg)
	addLines(t, a, wall0, lines...)
	evs := events(a.DrainAll(nil))
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	return evs[0]
}

func TestSummaryExecve(t *testing.T) {
	e := oneEvent(t, AssemblerConfig{},
		auditLine("SYSCALL", baseMs, 10, `arch=c000003e syscall=59 success=yes exit=0 a0=55d a1=55e a2=55f a3=0 items=2 ppid=4321 pid=4322 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="ls" exe="/usr/bin/ls" subj=unconfined key=657865630177617463686564`+"\x1d"+`ARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" GID="root" EUID="root"`),
		auditLine("EXECVE", baseMs, 10, `argc=3 a0="ls" a1="-l" a2=2F746D702F612062`),
		auditLine("CWD", baseMs, 10, `cwd=2F686F6D652F616C6963652F6D792064697220`),
		auditLine("PATH", baseMs, 10, `item=0 name="/usr/bin/ls" inode=1234 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL`),
		auditLine("PATH", baseMs, 10, `item=1 name=(null) inode=99 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=PARENT`),
		auditLine("PROCTITLE", baseMs, 10, `proctitle=6C73002D6C002F746D702F612062`),
		auditLine("EOE", baseMs, 10, ``),
	)
	s := e.Summary
	check := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	check("PID", s.PID, "4322")
	check("PPID", s.PPID, "4321")
	check("Exe", s.Exe, "/usr/bin/ls")
	check("Comm", s.Comm, "ls")
	check("Cwd", s.Cwd, "/home/alice/my dir ")
	check("Title", s.Title, "ls -l /tmp/a b")
	check("Syscall", s.Syscall, "execve")
	check("Arch", s.Arch, "x86_64")
	check("Success", s.Success, "yes")
	check("Exit", s.Exit, "0")
	check("ExitName", s.ExitName, "")
	check("TTY", s.TTY, "pts0")
	check("Ses", s.Ses, "3")
	if !slices.Equal(s.Argv, []string{"ls", "-l", "/tmp/a b"}) || s.Argc != 3 {
		t.Errorf("argv %q argc %d", s.Argv, s.Argc)
	}
	if !slices.Equal(s.Keys, []string{"exec", "watched"}) {
		t.Errorf("keys %q", s.Keys)
	}
	if s.AUID != (ID{Num: 1000, Name: "alice", Set: true}) || s.UID != (ID{Num: 0, Name: "root", Set: true}) || s.GID.Name != "root" || s.EUID.Name != "root" {
		t.Errorf("ids %+v %+v %+v %+v", s.AUID, s.UID, s.GID, s.EUID)
	}
	want := []PathItem{{Name: "/usr/bin/ls", Nametype: "NORMAL", Inode: "1234", Mode: "0100755"}, {Name: "", Nametype: "PARENT", Inode: "99", Mode: "0100644"}}
	if !slices.Equal(s.Paths, want) {
		t.Errorf("paths %+v", s.Paths)
	}
}

func TestSummaryFailedOpenAndUnset(t *testing.T) {
	e := oneEvent(t, AssemblerConfig{},
		auditLine("SYSCALL", baseMs, 11, `arch=40000003 syscall=5 success=no exit=-13 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=4294967295 uid=33 gid=33 euid=33 tty=(none) ses=4294967295 comm="cat" exe="/bin/cat" key=(null)`),
		auditLine("EOE", baseMs, 11, ``),
	)
	s := e.Summary
	if s.Syscall != "open" || s.Arch != "i386" || s.Success != "no" || s.Exit != "-13" || s.ExitName != "EACCES" {
		t.Errorf("syscall %q arch %q success %q exit %q %q", s.Syscall, s.Arch, s.Success, s.Exit, s.ExitName)
	}
	if !s.AUID.Set || !s.AUID.Unset || s.AUID.Name != "" || s.Ses != "" || s.Keys != nil || s.TTY != "(none)" {
		t.Errorf("auid %+v ses %q keys %q tty %q", s.AUID, s.Ses, s.Keys, s.TTY)
	}
	if s.Argv != nil || s.Peer != nil || s.Paths != nil {
		t.Errorf("argv %q peer %v paths %v", s.Argv, s.Peer, s.Paths)
	}
}

func TestSummaryUnknownArchAndSyscall(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	addLines(t, a, wall0,
		auditLine("SYSCALL", baseMs, 11, `arch=c000003e syscall=99999 success=yes exit=3 pid=2`),
		auditLine("SYSCALL", baseMs, 12, `arch=deadbeef syscall=2 success=yes exit=3 pid=2`),
	)
	evs := events(a.DrainAll(nil))
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	// numbers the tables do not know are kept as written
	if s := evs[0].Summary; s.Syscall != "99999" || s.Arch != "x86_64" {
		t.Errorf("syscall %q arch %q", s.Syscall, s.Arch)
	}
	if s := evs[1].Summary; s.Syscall != "2" || s.Arch != "deadbeef" {
		t.Errorf("syscall %q arch %q", s.Syscall, s.Arch)
	}
}

func TestSummaryNetwork(t *testing.T) {
	e := oneEvent(t, AssemblerConfig{},
		auditLine("SYSCALL", baseMs, 12, `arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 tty=pts1 ses=2 comm="curl" exe="/usr/bin/curl" key="funky_socket"`),
		auditLine("SOCKADDR", baseMs, 12, `saddr=020000507F0000010000000000000000`),
		auditLine("PROCTITLE", baseMs, 12, `proctitle="curl"`),
	)
	s := e.Summary
	if s.Peer == nil || s.Peer.Family != "inet" || s.Peer.Addr != "127.0.0.1" || s.Peer.Port != 80 {
		t.Fatalf("peer %+v", s.Peer)
	}
	if s.Syscall != "connect" || s.ExitName != "ECONNREFUSED" || s.Title != "curl" || !slices.Equal(s.Keys, []string{"funky_socket"}) {
		t.Errorf("%+v", s)
	}
}

func TestSummaryUserRecord(t *testing.T) {
	e := oneEvent(t, AssemblerConfig{},
		auditLine("USER_START", baseMs, 13, `pid=777 uid=0 auid=1000 ses=5 subj=unconfined msg='op=PAM:session_open grantors=pam_unix acct="root" exe="/usr/bin/su" hostname=? addr=10.1.2.3 terminal=/dev/pts/0 res=success'`),
	)
	s := e.Summary
	if s.PID != "777" || s.Op != "PAM:session_open" || s.Acct != "root" || s.Exe != "/usr/bin/su" || s.Hostname != "10.1.2.3" ||
		s.Terminal != "/dev/pts/0" || s.Success != "yes" || s.Ses != "5" || s.AUID.Num != 1000 || s.Syscall != "" {
		t.Errorf("%+v", s)
	}
	e = oneEvent(t, AssemblerConfig{},
		auditLine("USER_LOGIN", baseMs, 14, `pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=28756E6B6E6F776E207573657229 exe="/usr/sbin/sshd" hostname=host.example addr=10.1.2.3 terminal=ssh res=failed'`),
	)
	s = e.Summary
	if s.Hostname != "host.example" || s.Acct != "(unknown user)" || s.Success != "no" {
		t.Errorf("%+v", s)
	}
}

func TestSummaryMixedAVC(t *testing.T) {
	// an AVC logged inside a syscall: the SYSCALL's process fields win
	e := oneEvent(t, AssemblerConfig{},
		auditLine("AVC", baseMs, 15, `avc:  denied  { read } for  pid=9 comm="other" name="shadow" dev="sda1" ino=5 scontext=a tcontext=b tclass=file permissive=0`),
		auditLine("SYSCALL", baseMs, 15, `arch=c000003e syscall=257 success=no exit=-13 ppid=1 pid=10 auid=1000 uid=1000 gid=1000 euid=1000 comm="cat" exe="/bin/cat" key=(null)`),
		auditLine("PROCTITLE", baseMs, 15, `proctitle=636174002F6574632F736861646F77`),
	)
	s := e.Summary
	if s.PID != "10" || s.Comm != "cat" || s.Syscall != "openat" || s.Title != "cat /etc/shadow" {
		t.Errorf("%+v", s)
	}
}

func TestSummaryNames(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(group, []byte("root:x:0:\nstaff:x:50:alice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := NewNames(passwd, group, 16)
	if err != nil {
		t.Fatal(err)
	}
	e := oneEvent(t, AssemblerConfig{Names: names},
		auditLine("SYSCALL", baseMs, 16, `arch=c000003e syscall=59 success=yes exit=0 pid=2 auid=1000 uid=0 gid=50 euid=4242`+"\x1d"+`UID="enriched-root"`),
	)
	s := e.Summary
	if s.AUID.Name != "alice" || s.UID.Name != "enriched-root" || s.GID.Name != "staff" || s.EUID.Name != "" || !s.EUID.Set || s.EUID.Num != 4242 {
		t.Errorf("auid %+v uid %+v gid %+v euid %+v", s.AUID, s.UID, s.GID, s.EUID)
	}
}
