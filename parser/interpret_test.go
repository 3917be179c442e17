package parser

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// handLog is a small audit.log written by hand after records captured from auditd 3.0.9 on
// kernel 6.x, covering the field types Interpret handles. ausearch -i reads it in
// TestInterpretMatchesAusearch.
var handLog = []string{
	`type=SYSCALL msg=audit(1795635275.481:5): arch=c000003e syscall=59 success=yes exit=0 a0=55d a1=55e a2=55f a3=0 items=2 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="ls" exe="/usr/bin/ls" subj=unconfined key=6B310161`,
	`type=EXECVE msg=audit(1795635275.481:5): argc=4 a0="ls" a1=2D6C2061 a2=610A62 a3="x"`,
	`type=CWD msg=audit(1795635275.481:5): cwd="/root"`,
	`type=PATH msg=audit(1795635275.481:5): item=0 name="/usr/bin/ls" inode=123 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
	`type=PATH msg=audit(1795635275.481:5): item=1 name=2F746D702F6120622E747874 inode=124 dev=08:01 mode=0104755 ouid=4294967295 ogid=4294967295 rdev=00:00 nametype=CREATE cap_fp=2000 cap_fi=0 cap_fe=0 cap_fver=0`,
	`type=PROCTITLE msg=audit(1795635275.481:5): proctitle=6C73002D6C0061`,
	`type=SYSCALL msg=audit(1795635276.000:6): arch=c000003e syscall=257 success=no exit=-2 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=636174206162 exe="/usr/bin/cat" key=(null)`,
	`type=PATH msg=audit(1795635276.000:6): item=0 name="/nope" nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
	`type=SYSCALL msg=audit(1795635277.000:7): arch=c000003e syscall=42 success=no exit=-111 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="curl" exe="/usr/bin/curl" key="net"`,
	`type=SOCKADDR msg=audit(1795635277.000:7): saddr=020000507F0000010000000000000000`,
	`type=SYSCALL msg=audit(1795635278.000:8): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=6e a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="nc" exe="/usr/bin/nc" key=(null)`,
	`type=SOCKADDR msg=audit(1795635278.000:8): saddr=01002F746D702F736F636B00`,
	`type=SYSCALL msg=audit(1795635279.000:9): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=1c a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="nc" exe="/usr/bin/nc" key=(null)`,
	`type=SOCKADDR msg=audit(1795635279.000:9): saddr=0A0001BB000000000000000000000000000000000000000100000000`,
	`type=SYSCALL msg=audit(1795635280.000:10): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=d a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="x" exe="/usr/bin/x" key=(null)`,
	`type=SOCKADDR msg=audit(1795635280.000:10): saddr=0100006162630000`,
	`type=SYSCALL msg=audit(1795635281.000:11): arch=c000003e syscall=44 success=yes exit=12 a0=3 a1=7ffd a2=c a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="ip" exe="/usr/sbin/ip" key=(null)`,
	`type=SOCKADDR msg=audit(1795635281.000:11): saddr=100000000000000000000000`,
	`type=SYSCALL msg=audit(1795635282.000:12): arch=40000003 syscall=102 success=yes exit=0 a0=3 a1=ffd0 a2=0 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="old" exe="/old" key=(null)`,
	`type=SYSCALL msg=audit(1795635283.000:13): arch=c000003e syscall=9999 success=no exit=-512 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="y" exe="/y" key=(null)`,
	`type=USER_ACCT msg=audit(1795635284.000:14): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op=PAM:accounting grantors=pam_permit acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=/dev/pts/0 res=success'`,
	`type=USER_START msg=audit(1795635285.000:15): pid=1 uid=0 auid=0 ses=3 subj=unconfined msg='op=PAM:session_open grantors=pam_unix acct=6A6F686E20646F65 exe="/usr/bin/su" hostname=host addr=10.0.0.1 terminal=pts/0 res=failed'`,
	`type=SYSCALL msg=audit(1795635286.000:16): arch=c000003e syscall=2 success=no exit=-13 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" key=(null)`,
	`type=AVC msg=audit(1795635286.000:16): avc:  denied  { read write } for  pid=1 comm="x" dev="sda1" name=2F746D70 path="/a b" scontext=a:b:c tclass=file permissive=0`,
	`type=TTY msg=audit(1795635287.000:17): tty pid=1 uid=0 auid=0 ses=1 major=136 minor=0 comm="bash" data=6C730D1B5B41`,
	`type=CONFIG_CHANGE msg=audit(1795635288.000:18): auid=0 ses=1 op=add_rule key="my key" list=4 res=1`,
	`type=LOGIN msg=audit(1795635289.000:19): pid=1 uid=0 subj=unconfined old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=1 res=1`,
	`type=ANOM_PROMISCUOUS msg=audit(1795635290.000:20): dev=eth0 prom=256 old_prom=0 auid=4294967295 uid=0 gid=0 ses=4294967295`,
	`type=KERN_MODULE msg=audit(1795635291.000:21): name=6D6F64`,
	`type=SYSCALL msg=audit(1795635292.000:22): arch=c000003e syscall=90 success=yes exit=0 a0=1 a1=1ed a2=0 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="chmod" exe="/usr/bin/chmod" key=(null)`,
	`type=PATH msg=audit(1795635292.000:22): item=0 name="/d" inode=1 dev=08:01 mode=041777 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
	"type=SYSCALL msg=audit(1795635293.000:23): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"sh\" exe=\"/bin/sh\" key=(null)\x1dARCH=x86_64 SYSCALL=execve AUID=\"root\" UID=\"root\" GID=\"root\" EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\"",
	`type=CAPSET msg=audit(1795635294.000:24): pid=1 cap_pi=0 cap_pp=3000 cap_pe=3000 cap_pa=0`,
	`type=EXECVE msg=audit(1795635295.000:25): argc=2 a0="sh" a1_len=6 a1[0]=616263 a1[1]="def"`,
}

// ausearchLines runs ausearch -i on the lines and returns its output records by
// "TYPE serial" in output order.
func ausearchLines(t *testing.T, lines []string) map[string][]string {
	t.Helper()
	bin, err := exec.LookPath("ausearch")
	if err != nil {
		if os.Getenv("AUDIT_TESTS_REQUIRED") == "1" {
			t.Fatalf("ausearch not found and AUDIT_TESTS_REQUIRED=1: %v", err)
		}
		t.Skip("ausearch not installed (apt-get install auditd); set AUDIT_TESTS_REQUIRED=1 to make this a failure")
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-i", "--input", path)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ausearch: %v", err)
	}
	got := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "type=") {
			continue
		}
		typ, rest, _ := strings.Cut(l[len("type="):], " ")
		o := strings.Index(rest, ") : ")
		c := strings.LastIndex(rest[:max(o, 0)], ":")
		if o < 0 || c < 0 {
			t.Fatalf("unexpected ausearch line %q", l)
		}
		k := typ + " " + rest[c+1:o]
		got[k] = append(got[k], rest[o+len(") : "):])
	}
	return got
}

func testNames(t *testing.T) *Names {
	n, err := NewNames("/etc/passwd", "/etc/group", 100)
	if err != nil {
		t.Skipf("no /etc/passwd or /etc/group: %v", err)
	}
	return n
}

// TestInterpretMatchesAusearch checks every field of every record against ausearch -i: the
// output must hold "key=<Interpret>" for each field, in field order.
func TestInterpretMatchesAusearch(t *testing.T) {
	au := ausearchLines(t, handLog)
	names := testNames(t)
	for _, line := range handLog {
		r, err := ParseLine([]byte(line))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		k := r.TypeName() + " " + strconv.FormatUint(r.Key.Serial, 10)
		if len(au[k]) == 0 {
			t.Errorf("ausearch printed no %s record", k)
			continue
		}
		// ausearch prints an event's records in reverse; several records of one type
		// (PATH items) are told apart by trying each.
		var best []string
		for _, out := range au[k] {
			diffs := compareRecord(&r, out, names)
			if best == nil || len(diffs) < len(best) {
				best = diffs
			}
			if len(diffs) == 0 {
				break
			}
		}
		for _, d := range best {
			t.Errorf("%s: %s", k, d)
		}
	}
}

// compareRecord lists the fields whose interpretation is not in ausearch's output line.
func compareRecord(r *Record, out string, names *Names) []string {
	diffs := []string{}
	pos := 0
	for fi := range r.Fields {
		f := &r.Fields[fi]
		want := f.Key + "=" + Interpret(r, f, names)
		if r.Type == typeAVC && (f.Key == "denied" || f.Key == "granted") {
			want = f.Key + "  { " + f.Value + " }"
		}
		j := indexField(out[pos:], want)
		if j < 0 {
			diffs = append(diffs, fmt.Sprintf("ausearch has no %q after %q\n  ausearch: %s", want, out[:pos], out))
			continue
		}
		pos += j + len(want)
	}
	return diffs
}

// indexField finds want in s at a field start and followed by a field end.
func indexField(s, want string) int {
	from := 0
	for {
		j := strings.Index(s[from:], want)
		if j < 0 {
			return -1
		}
		j += from
		startOK := j == 0 || s[j-1] == ' ' || s[j-1] == '\''
		end := j + len(want)
		endOK := end == len(s) || s[end] == ' ' || s[end] == '\''
		if startOK && endOK {
			return j
		}
		from = j + 1
	}
}

func TestInterpret(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o600)
	os.WriteFile(group, []byte("root:x:0:\nstaff:x:50:\n"), 0o600)
	names, err := NewNames(passwd, group, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Expected strings as ausearch -i 3.0.9 printed them for these fields (names from the
	// files above instead of the machine's).
	tests := []struct {
		line, key, want string
	}{
		{handLog[0], "arch", "x86_64"},
		{handLog[0], "syscall", "execve"},
		{handLog[0], "auid", "unset"},
		{handLog[0], "uid", "root"},
		{handLog[0], "ses", "unset"},
		{handLog[0], "comm", "ls"},
		{handLog[0], "key", "k1 key=a"},
		{handLog[0], "a0", "0x55d"},
		{handLog[0], "subj", "unconfined"},
		{handLog[1], "a1", "-l a"},
		{handLog[1], "a2", `a\012b`},
		{handLog[4], "mode", "file,suid,755"},
		{handLog[4], "ouid", "unset"},
		{handLog[4], "cap_fp", "net_raw"},
		{handLog[5], "proctitle", "ls -l a"},
		{handLog[6], "exit", "ENOENT(No such file or directory)"},
		{handLog[6], "comm", "cat ab"},
		{handLog[8], "exit", "ECONNREFUSED(Connection refused)"},
		{handLog[8], "key", "net"},
		{handLog[9], "saddr", "{ saddr_fam=inet laddr=127.0.0.1 lport=80 }"},
		{handLog[11], "saddr", "{ saddr_fam=local path=/tmp/sock }"},
		{handLog[13], "saddr", "{ saddr_fam=inet6 laddr=::1 lport=443 }"},
		{handLog[15], "saddr", "{ saddr_fam=local path=abc }"},
		{handLog[17], "saddr", "{ saddr_fam=netlink nlnk-fam=16 nlnk-pid=0 }"},
		{handLog[18], "arch", "i386"},
		{handLog[18], "syscall", "socketcall(connect)"},
		{handLog[19], "syscall", "unknown-syscall(9999)"},
		{handLog[19], "exit", "(null)(Unknown error 512)"},
		{handLog[21], "acct", "john doe"},
		{handLog[21], "res", "failed"},
		{handLog[20], "acct", "root"},
		{handLog[23], "dev", `"sda1"`},
		{handLog[23], "name", "/tmp"},
		{handLog[23], "path", "/a b"},
		{handLog[24], "data", `"ls",<ret>,<up>`},
		{handLog[25], "res", "yes"},
		{handLog[25], "key", "my key"},
		{handLog[26], "old-auid", "unset"},
		{handLog[27], "prom", "yes"},
		{handLog[27], "old_prom", "no"},
		{handLog[28], "name", "mod"},
		{handLog[30], "mode", "dir,sticky,777"},
		{handLog[31], "auid", "root"},
		{handLog[33], "a1[0]", "abc"},
		{`type=SYSCALL msg=audit(1.000:1): uid=1000 gid=50 egid=51 euid=77`, "uid", "alice"},
		{`type=SYSCALL msg=audit(1.000:1): uid=1000 gid=50 egid=51 euid=77`, "gid", "staff"},
		{`type=SYSCALL msg=audit(1.000:1): uid=1000 gid=50 egid=51 euid=77`, "egid", "unknown(51)"},
		{`type=SYSCALL msg=audit(1.000:1): uid=1000 gid=50 egid=51 euid=77`, "euid", "unknown(77)"},
		{`type=SYSCALL msg=audit(1.000:1): arch=deadbeef syscall=1`, "arch", "unknown-elf-type(deadbeef)"},
		{`type=CONFIG_CHANGE msg=audit(1.000:1): perm=0 res=0`, "perm", "read,write,exec,attr"},
		{`type=CONFIG_CHANGE msg=audit(1.000:1): perm=6 res=0`, "perm", "read,write"},
		{`type=CONFIG_CHANGE msg=audit(1.000:1): perm=6 res=0`, "res", "no"},
		{`type=MQ_OPEN msg=audit(1.000:1): oflag=0 mode=04644`, "mode", "suid,0644"},
	}
	for _, tc := range tests {
		r, err := ParseLine([]byte(tc.line))
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		var f *Field
		for i := range r.Fields {
			if r.Fields[i].Key == tc.key {
				f = &r.Fields[i]
				break
			}
		}
		if f == nil {
			t.Errorf("%s: no such field in %q", tc.key, tc.line)
			continue
		}
		if got := Interpret(&r, f, names); got != tc.want {
			t.Errorf("%s %s=%s: Interpret = %q, want %q", r.TypeName(), tc.key, f.Raw(), got, tc.want)
		}
	}
	// Without names: numbers stay, as ausearch prints for users it cannot find.
	r, _ := ParseLine([]byte(`type=SYSCALL msg=audit(1.000:1): uid=1000`))
	if got := Interpret(&r, &r.Fields[0], nil); got != "unknown(1000)" {
		t.Errorf("nil Names: %q", got)
	}
}

func TestSockAddr(t *testing.T) {
	tests := []struct {
		hex  string
		want SockAddr
	}{
		{"020000507F0000010000000000000000", SockAddr{Family: "inet", Addr: "127.0.0.1", Port: 80}},
		{"0A0001BB000000000000000000000000000000000000000100000000", SockAddr{Family: "inet6", Addr: "::1", Port: 443}},
		{"0A0000500000000000000000000000000000FFFF7F00000100000000", SockAddr{Family: "inet6", Addr: "::ffff:127.0.0.1", Port: 80}},
		{"0A00005000000000FE80000000000000000000000000000102000000", SockAddr{Family: "inet6", Addr: "fe80::1%2", Port: 80}},
		{"01002F746D702F736F636B00", SockAddr{Family: "local", Addr: "/tmp/sock"}},
		{"0100006162630000", SockAddr{Family: "local", Addr: `@abc\x00\x00`}},
		{"01000061", SockAddr{Family: "local", Addr: "@a"}},
		{"0100", SockAddr{Family: "local"}},
		{"01002FFF", SockAddr{Family: "local", Addr: `/\xff`}},
		{"100000000C00000000000000", SockAddr{Family: "netlink", Addr: "12"}},
		{"11000300", SockAddr{Family: "17", Raw: "11000300"}},
		{"0200", SockAddr{Family: "2", Raw: "0200"}},
		{"02", SockAddr{Raw: "02"}},
		{"XYZ0", SockAddr{Raw: "XYZ0"}},
		{"", SockAddr{Raw: ""}},
		{"020000507f000001", SockAddr{Family: "inet", Addr: "127.0.0.1", Port: 80}},
	}
	for _, tc := range tests {
		if got := DecodeSockAddr(tc.hex); got != tc.want {
			t.Errorf("DecodeSockAddr(%q) = %+v, want %+v", tc.hex, got, tc.want)
		}
	}
	// Abstract names with NULs unescape back to their bytes.
	if got := string(Unescape(DecodeSockAddr("0100006162630000").Addr)); got != "@abc\x00\x00" {
		t.Errorf("abstract name round trip: %q", got)
	}
}
