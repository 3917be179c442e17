package entry

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/parser"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func build(tb testing.TB, b *Builder, ev *parser.Event) *loggingpb.LogEntry {
	tb.Helper()
	return b.Build(parser.Item{Kind: parser.ItemEvent, Event: ev})
}

// jsonOf decodes an entry's jsonPayload through protojson, as Cloud Logging would see it.
func jsonOf(tb testing.TB, e *loggingpb.LogEntry) map[string]any {
	tb.Helper()
	s, err := Payload(e)
	if err != nil {
		tb.Fatalf("Payload: %v", err)
	}
	js, err := protojson.Marshal(s)
	if err != nil {
		tb.Fatalf("protojson.Marshal: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		tb.Fatalf("decode payload: %v", err)
	}
	return m
}

// path walks a decoded payload: path(m, "process", "argv", 1).
func path(m any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[k]
		case int:
			l, ok := m.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			m = l[k]
		}
	}
	return m
}

func mustMarshal(tb testing.TB, e *loggingpb.LogEntry, limit int) []byte {
	tb.Helper()
	b, err := proto.Marshal(e)
	if err != nil {
		tb.Fatalf("proto.Marshal: %v", err)
	}
	if limit > 0 && len(b) > limit {
		tb.Fatalf("entry is %d bytes, over the cap of %d", len(b), limit)
	}
	return b
}

func TestSeverity(t *testing.T) {
	sys := func(exit string, success string) string {
		return `type=SYSCALL msg=audit(1795637126.300:10): arch=c000003e syscall=257 success=` + success + ` exit=` + exit + ` a0=0 a1=0 a2=0 a3=0 items=1 ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=1 comm="cat" exe="/usr/bin/cat" key=(null)`
	}
	user := func(typ, res string) string {
		return `type=` + typ + ` msg=audit(1795637126.200:11): pid=1234 uid=0 auid=1000 ses=2 subj=unconfined msg='op=PAM:x acct="alice" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.1 terminal=ssh res=` + res + `'`
	}
	aa := func(verdict string) string {
		return `type=AVC msg=audit(1795637126.300:12): apparmor="` + verdict + `" operation="open" profile="/usr/sbin/cupsd" name="/etc/x" pid=5 comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`
	}
	cases := []struct {
		name string
		ev   func(tb testing.TB) *parser.Event
		want ltype.LogSeverity
	}{
		{"exec", cosExec, ltype.LogSeverity_INFO},
		{"full exec", fullExec, ltype.LogSeverity_INFO},
		{"connect refused", connectEvent, ltype.LogSeverity_INFO},
		{"selinux denied", avcDenied, ltype.LogSeverity_WARNING},
		{"selinux denied permissive", func(tb testing.TB) *parser.Event {
			return single(tb, `type=AVC msg=audit(1795637126.300:12): avc:  denied  { read } for  pid=1 comm="cat" name="x" scontext=a tcontext=b tclass=file permissive=1`, parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"selinux granted", func(tb testing.TB) *parser.Event {
			return single(tb, `type=AVC msg=audit(1795637126.300:12): avc:  granted  { setenforce } for  pid=1 comm="setenforce" scontext=a tcontext=b tclass=security`, parser.Summary{})
		}, ltype.LogSeverity_INFO},
		{"user avc denied", func(tb testing.TB) *parser.Event {
			return single(tb, `type=USER_AVC msg=audit(1795637126.300:12): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='avc:  denied  { start } for auid=n/a uid=0 gid=0 cmdline="" scontext=a tcontext=b tclass=service exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?'`, parser.Summary{})
		}, ltype.LogSeverity_WARNING},
		{"apparmor denied", func(tb testing.TB) *parser.Event { return single(tb, aa("DENIED"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"apparmor allowed (complain)", func(tb testing.TB) *parser.Event { return single(tb, aa("ALLOWED"), parser.Summary{}) }, ltype.LogSeverity_NOTICE},
		{"apparmor status", func(tb testing.TB) *parser.Event { return single(tb, aa("STATUS"), parser.Summary{}) }, ltype.LogSeverity_NOTICE},
		{"apparmor audit", func(tb testing.TB) *parser.Event { return single(tb, aa("AUDIT"), parser.Summary{}) }, ltype.LogSeverity_INFO},
		{"anom abend", func(tb testing.TB) *parser.Event {
			return single(tb, `type=ANOM_ABEND msg=audit(1795637126.300:13): auid=1000 uid=1000 gid=1000 ses=1 pid=77 comm="crashy" exe="/usr/bin/crashy" sig=11 res=1`, parser.Summary{})
		}, ltype.LogSeverity_WARNING},
		{"anom promiscuous", func(tb testing.TB) *parser.Event {
			return single(tb, `type=ANOM_PROMISCUOUS msg=audit(1795637126.300:13): dev=eth0 prom=256 old_prom=0 auid=1000 uid=0 gid=0 ses=1`, parser.Summary{})
		}, ltype.LogSeverity_WARNING},
		{"user anomaly", func(tb testing.TB) *parser.Event {
			return single(tb, `type=ANOM_LOGIN_FAILURES msg=audit(1795637126.300:13): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=max-failed-logins acct="alice" exe="/usr/sbin/sshd" hostname=? addr=? terminal=? res=success'`, parser.Summary{})
		}, ltype.LogSeverity_WARNING},
		{"failed login", failedLogin, ltype.LogSeverity_WARNING},
		{"login", func(tb testing.TB) *parser.Event { return single(tb, user("USER_LOGIN", "success"), parser.Summary{}) }, ltype.LogSeverity_INFO},
		{"failed auth", func(tb testing.TB) *parser.Event { return single(tb, user("USER_AUTH", "failed"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"failed acct", func(tb testing.TB) *parser.Event { return single(tb, user("USER_ACCT", "failed"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"user err", func(tb testing.TB) *parser.Event { return single(tb, user("USER_ERR", "failed"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"sudo refused", func(tb testing.TB) *parser.Event { return single(tb, user("USER_CMD", "failed"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"session start", func(tb testing.TB) *parser.Event { return single(tb, user("USER_START", "success"), parser.Summary{}) }, ltype.LogSeverity_INFO},
		{"account locked", func(tb testing.TB) *parser.Event { return single(tb, user("ACCT_LOCK", "success"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"crypto key failed", func(tb testing.TB) *parser.Event {
			return single(tb, user("CRYPTO_KEY_USER", "failed"), parser.Summary{})
		}, ltype.LogSeverity_WARNING},
		{"crypto key ok", func(tb testing.TB) *parser.Event {
			return single(tb, user("CRYPTO_KEY_USER", "success"), parser.Summary{})
		}, ltype.LogSeverity_INFO},
		{"add user", func(tb testing.TB) *parser.Event { return single(tb, user("ADD_USER", "success"), parser.Summary{}) }, ltype.LogSeverity_NOTICE},
		{"add user failed", func(tb testing.TB) *parser.Event { return single(tb, user("ADD_USER", "failed"), parser.Summary{}) }, ltype.LogSeverity_WARNING},
		{"user mgmt", func(tb testing.TB) *parser.Event { return single(tb, user("USER_MGMT", "success"), parser.Summary{}) }, ltype.LogSeverity_NOTICE},
		{"password change", func(tb testing.TB) *parser.Event {
			return single(tb, user("USER_CHAUTHTOK", "success"), parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"service start", func(tb testing.TB) *parser.Event {
			return single(tb, user("SERVICE_START", "success"), parser.Summary{})
		}, ltype.LogSeverity_INFO},
		{"service start failed", func(tb testing.TB) *parser.Event {
			return single(tb, user("SERVICE_START", "failed"), parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"config change", func(tb testing.TB) *parser.Event {
			return single(tb, `type=CONFIG_CHANGE msg=audit(1795637126.300:14): auid=1000 ses=1 subj=unconfined op=add_rule key="passwd" list=4 res=1`, parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"config change failed", func(tb testing.TB) *parser.Event {
			return single(tb, `type=CONFIG_CHANGE msg=audit(1795637126.300:14): auid=1000 ses=1 subj=unconfined op=add_rule key="passwd" list=4 res=0`, parser.Summary{})
		}, ltype.LogSeverity_WARNING},
		{"daemon start", func(tb testing.TB) *parser.Event {
			return single(tb, `type=DAEMON_START msg=audit(1795637126.300:15): op=start ver=3.0.9 format=raw kernel=6.1.0 auid=4294967295 pid=1 uid=0 ses=4294967295 subj=unconfined res=success`, parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"daemon abort", func(tb testing.TB) *parser.Event {
			return single(tb, `type=DAEMON_ABORT msg=audit(1795637126.300:15): op=abort auid=4294967295 pid=1 uid=0 ses=4294967295 subj=unconfined res=failed`, parser.Summary{})
		}, ltype.LogSeverity_ERROR},
		{"mac policy load", func(tb testing.TB) *parser.Event {
			return single(tb, `type=MAC_POLICY_LOAD msg=audit(1795637126.300:16): auid=4294967295 ses=4294967295 lsm=selinux res=1`, parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"kernel module", func(tb testing.TB) *parser.Event {
			return single(tb, `type=KERN_MODULE msg=audit(1795637126.300:16): name="ext4"`, parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"netfilter cfg is routine", func(tb testing.TB) *parser.Event {
			return single(tb, `type=NETFILTER_CFG msg=audit(1795637126.300:17): table=filter family=2 entries=30 op=xt_replace pid=9 comm="iptables-restor"`, parser.Summary{})
		}, ltype.LogSeverity_INFO},
		{"integrity failure", func(tb testing.TB) *parser.Event {
			return single(tb, `type=INTEGRITY_DATA msg=audit(1795637126.300:18): pid=1 uid=0 auid=4294967295 ses=4294967295 op=appraise_data cause=invalid-hash comm="sh" name="/usr/bin/x" dev="sda1" ino=5 res=0`, parser.Summary{})
		}, ltype.LogSeverity_ERROR},
		{"integrity measurement", func(tb testing.TB) *parser.Event {
			return single(tb, `type=INTEGRITY_RULE msg=audit(1795637126.300:18): file="/usr/bin/x" hash="sha256:00" ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="sh" exe="/bin/sh" res=1`, parser.Summary{})
		}, ltype.LogSeverity_INFO},
		{"open ENOENT", func(tb testing.TB) *parser.Event {
			return single(tb, sys("-2", "no"), parser.Summary{Syscall: "openat", Success: "no", Exit: "-2", ExitName: "ENOENT"})
		}, ltype.LogSeverity_INFO},
		{"open EACCES", func(tb testing.TB) *parser.Event {
			return single(tb, sys("-13", "no"), parser.Summary{Syscall: "openat", Success: "no", Exit: "-13", ExitName: "EACCES"})
		}, ltype.LogSeverity_NOTICE},
		{"EPERM without summary errno", func(tb testing.TB) *parser.Event {
			return single(tb, sys("-1", "no"), parser.Summary{})
		}, ltype.LogSeverity_NOTICE},
		{"unknown type", func(tb testing.TB) *parser.Event {
			return single(tb, `type=UNKNOWN[1999] msg=audit(1795637126.300:19): foo=bar`, parser.Summary{})
		}, ltype.LogSeverity_INFO},
		{"incomplete denial keeps its severity", func(tb testing.TB) *parser.Event {
			ev := avcDenied(tb)
			ev.Records = ev.Records[:1]
			ev.Incomplete, ev.Reason = true, parser.CompleteEvicted
			return ev
		}, ltype.LogSeverity_WARNING},
	}
	b := NewBuilder(Options{NodeName: testNode})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev(t)
			if got := SeverityOf(ev); got != c.want {
				t.Errorf("SeverityOf = %v, want %v (records %v)", got, c.want, ev.Records[0].Text)
			}
			if got := build(t, b, ev).Severity; got != c.want {
				t.Errorf("Build severity = %v, want %v", got, c.want)
			}
		})
	}
	if got := b.Build(parser.Item{Kind: parser.ItemUnparsed, Unparsed: &parser.Unparsed{Text: "x", Reason: "y"}}).Severity; got != ltype.LogSeverity_WARNING {
		t.Errorf("unparsed severity = %v, want WARNING", got)
	}
	if got := b.Build(parser.Item{Kind: parser.ItemLost, Lost: &parser.Lost{From: 1, To: 2, Count: 2}}).Severity; got != ltype.LogSeverity_WARNING {
		t.Errorf("lost severity = %v, want WARNING", got)
	}
}

func TestLabels(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode})
	full := fullExec(t)
	inc := avcDenied(t)
	inc.Incomplete = true
	multi := cosExec(t)
	multi.Summary.Keys = []string{"exec", "root-cmd"}
	cases := []struct {
		name string
		ev   *parser.Event
		want map[string]string
	}{
		{"cos", cosExec(t), map[string]string{"types": "SYSCALL,EXECVE", "keys": "exec", "node": testNode}},
		{"full, EOE and repeated PATH left out", full, map[string]string{"types": "SYSCALL,EXECVE,CWD,PATH,PROCTITLE", "keys": "exec", "node": testNode}},
		{"no key, incomplete", inc, map[string]string{"types": "AVC,SYSCALL", "node": testNode, "incomplete": "true"}},
		{"several keys", multi, map[string]string{"types": "SYSCALL,EXECVE", "keys": "exec,root-cmd", "node": testNode}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // the second build takes the types label from the cache
				got := build(t, b, c.ev).Labels
				if len(got) != len(c.want) {
					t.Fatalf("labels = %v, want %v", got, c.want)
				}
				for k, v := range c.want {
					if got[k] != v {
						t.Errorf("label %s = %q, want %q", k, got[k], v)
					}
				}
			}
		})
	}
	// The event's own node wins over the configured one.
	ev := fullExec(t)
	ev.Key.Node = "other-node"
	if got := build(t, b, ev).Labels["node"]; got != "other-node" {
		t.Errorf("node label = %q, want the event's node", got)
	}
	// More than 8 distinct types: not cached, still right and bounded.
	var lines []string
	for _, typ := range []string{"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "SOCKADDR", "BPRM_FCAPS", "MMAP", "FD_PAIR", "OBJ_PID"} {
		lines = append(lines, `type=`+typ+` msg=audit(1795637126.300:20): x=1`)
	}
	recs := parseLines(t, lines...)
	got := build(t, b, &parser.Event{Key: recs[0].Key, Records: recs}).Labels["types"]
	if want := "SYSCALL,EXECVE,CWD,PATH,PROCTITLE,SOCKADDR,BPRM_FCAPS,MMAP,FD_PAIR,OBJ_PID"; got != want {
		t.Errorf("types label = %q, want %q", got, want)
	}
}

func TestSummaryLine(t *testing.T) {
	withRepeats := cosExec(t)
	withRepeats.Summary.Cwd = "/root"
	withRepeats.Repeats = &parser.Repeats{Count: 60, First: time.Date(2026, 11, 25, 12, 0, 1, 0, time.UTC),
		Last: time.Date(2026, 11, 25, 12, 0, 59, 500e6, time.FixedZone("x", 3600))}
	longRepeats := fullExec(t)
	longArgs := []string{strings.Repeat("y", 150), strings.Repeat("z", 150), strings.Repeat("w", 150), strings.Repeat("v", 150)}
	longRepeats.Summary.Argv = append([]string{"x"}, longArgs...)
	longRepeats.Repeats = &parser.Repeats{Count: 7}
	sudo := fullExec(t)
	sudo.Summary.AUID = uid(1000, "alice")
	failedExec := cosExec(t)
	failedExec.Summary.Success, failedExec.Summary.ExitName, failedExec.Summary.Argv = "no", "ENOENT", nil
	spaces := fullExec(t)
	spaces.Summary.Argv = []string{"echo", "two words", "", `q"uote`}
	noNames := fullExec(t)
	noNames.Summary.UID = uid(1001, "")
	noNames.Summary.AUID = uid(1001, "")
	v6 := connectEvent(t)
	v6.Summary.Peer = &parser.SockAddr{Family: "inet6", Addr: "::1", Port: 443}
	v6.Summary.Success, v6.Summary.ExitName = "yes", ""
	unix := connectEvent(t)
	unix.Summary.Peer = &parser.SockAddr{Family: "local", Addr: "/run/containerd/containerd.sock"}
	unix.Summary.Success, unix.Summary.ExitName = "yes", ""
	okLogin := failedLogin(t)
	okLogin.Records = parseLines(t, strings.Replace(okLogin.Records[0].Text, "res=failed", "res=success", 1))
	file := single(t, `type=SYSCALL msg=audit(1795637126.300:10): arch=c000003e syscall=257 success=no exit=-13 items=2 ppid=1 pid=2 auid=1000 uid=1000 comm="cat" exe="/usr/bin/cat"`,
		parser.Summary{UID: uid(1000, "alice"), AUID: uid(1000, "alice"), Exe: "/usr/bin/cat", Syscall: "openat",
			Success: "no", Exit: "-13", ExitName: "EACCES",
			Paths: []parser.PathItem{{Name: "/etc/", Nametype: "PARENT"}, {Name: "/etc/shadow", Nametype: "NORMAL"}}})
	long := fullExec(t)
	long.Summary.Argv = []string{"x", strings.Repeat("y", 5000)}

	cases := []struct {
		name string
		ev   *parser.Event
		want string
	}{
		{"exec", fullExec(t), "uid=root ran /usr/bin/curl https://x in /root"},
		{"exec without cwd (COS)", cosExec(t), "uid=root ran /usr/bin/curl https://x"},
		{"exec collapsed", withRepeats, "uid=root ran /usr/bin/curl https://x in /root (×60 between 2026-11-25T12:00:01Z and 2026-11-25T11:00:59Z)"},
		{"collapsed long line keeps its suffix", longRepeats, ("uid=root ran /usr/bin/curl " + strings.Join(longArgs, " "))[:maxSummary-len(" (×7)")-3] + "… (×7)"},
		{"exec via sudo", sudo, "auid=alice uid=root ran /usr/bin/curl https://x in /root"},
		{"exec failed", failedExec, "uid=root failed to run /usr/bin/curl: ENOENT"},
		{"exec quoting", spaces, `uid=root ran /usr/bin/curl "two words" "" "q\"uote" in /root`},
		{"exec without names", noNames, "uid=1001 ran /usr/bin/curl https://x in /root"},
		{"exec long argument", long, "uid=root ran /usr/bin/curl " + strings.Repeat("y", maxSummaryArg) + "… in /root"},
		{"connect", connectEvent(t), "connect to 127.0.0.1:80 by /usr/bin/curl (auid=alice uid=root) failed: ECONNREFUSED"},
		{"connect v6", v6, "connect to [::1]:443 by /usr/bin/curl (auid=alice uid=root)"},
		{"connect unix", unix, "connect to unix:/run/containerd/containerd.sock by /usr/bin/curl (auid=alice uid=root)"},
		{"failed login", failedLogin(t), "alice (auid=1000) failed login from 10.0.0.1 via /usr/sbin/sshd"},
		{"login", okLogin, "alice (auid=1000) login from 10.0.0.1 via /usr/sbin/sshd"},
		{"selinux", avcDenied(t), "SELinux denied { read } for cat on shadow (class file)"},
		{"apparmor", single(t, `type=AVC msg=audit(1795637126.300:12): apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd" name="/etc/x" pid=5 comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, parser.Summary{}),
			"AppArmor DENIED open of /etc/x by cupsd (profile /usr/sbin/cupsd)"},
		{"tty", ttyInput(t), `tty input by uid=alice (ses 3): "ls -la\r"`},
		{"file", file, "uid=alice openat /etc/shadow (+1 paths) by /usr/bin/cat failed: EACCES"},
		{"abend", single(t, `type=ANOM_ABEND msg=audit(1795637126.300:13): auid=1000 uid=1000 gid=1000 ses=1 pid=77 comm="crashy" exe="/usr/bin/crashy" sig=11 res=1`,
			parser.Summary{PID: "77", Exe: "/usr/bin/crashy", UID: uid(1000, "alice"), AUID: uid(1000, "alice")}),
			"/usr/bin/crashy (pid 77) crashed with signal 11 (uid=alice)"},
		{"config change", single(t, `type=CONFIG_CHANGE msg=audit(1795637126.300:14): auid=1000 ses=1 subj=unconfined op=add_rule key="passwd" list=4 res=1`,
			parser.Summary{AUID: uid(1000, "alice")}),
			"audit configuration changed: add_rule key=passwd list=4 by auid=alice"},
		{"service", single(t, `type=SERVICE_START msg=audit(1795637126.300:15): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=kubelet comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=failed'`, parser.Summary{}),
			"service kubelet failed to start"},
		{"sudo command", single(t, `type=USER_CMD msg=audit(1795637126.300:16): pid=9 uid=1000 auid=1000 ses=2 msg='cwd="/home/alice" cmd=6C73202F726F6F74 exe="/usr/bin/sudo" terminal=pts/0 res=success'`,
			parser.Summary{AUID: uid(1000, "alice"), UID: uid(1000, "alice"), Exe: "/usr/bin/sudo"}),
			`auid=alice ran command "ls /root" via /usr/bin/sudo in /home/alice`},
		{"generic", single(t, `type=NETFILTER_CFG msg=audit(1795637126.300:17): table=filter family=2 entries=30 op=xt_replace pid=9 comm="iptables-restor"`, parser.Summary{}),
			"NETFILTER_CFG table=filter family=2 entries=30 op=xt_replace comm=iptables-restor"},
		{"bare syscall", single(t, `type=SYSCALL msg=audit(1795637126.300:18): arch=c000003e syscall=175 success=yes exit=0`,
			parser.Summary{Syscall: "init_module", Exe: "/usr/bin/kmod", UID: root("root"), Success: "yes"}),
			"uid=root init_module by /usr/bin/kmod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SummaryLine(c.ev); got != c.want {
				t.Errorf("SummaryLine =\n  %s\nwant\n  %s", got, c.want)
			}
		})
	}
	// Bounded whatever the event holds.
	huge := fullExec(t)
	huge.Summary.Argv = make([]string, 10000)
	for i := range huge.Summary.Argv {
		huge.Summary.Argv[i] = "argument"
	}
	if got := SummaryLine(huge); len(got) > maxSummary+8 {
		t.Errorf("summary line is %d bytes, want at most about %d", len(got), maxSummary)
	}
}

func TestInsertID(t *testing.T) {
	k := parser.EventKey{Node: testNode, BootID: testBoot, UnixMilli: 1795637125200, Serial: 1845}
	id := InsertID(k)
	if id != InsertID(k) {
		t.Fatal("same key, different ids")
	}
	if len(id) != 22 {
		t.Errorf("id %q is %d characters, want 22", id, len(id))
	}
	for name, other := range map[string]parser.EventKey{
		"serial":    {Node: k.Node, BootID: k.BootID, UnixMilli: k.UnixMilli, Serial: k.Serial + 1},
		"boot":      {Node: k.Node, BootID: "other", UnixMilli: k.UnixMilli, Serial: k.Serial},
		"node":      {Node: "other", BootID: k.BootID, UnixMilli: k.UnixMilli, Serial: k.Serial},
		"time":      {Node: k.Node, BootID: k.BootID, UnixMilli: k.UnixMilli + 1, Serial: k.Serial},
		"node/boot": {Node: k.Node + k.BootID[:1], BootID: k.BootID[1:], UnixMilli: k.UnixMilli, Serial: k.Serial},
	} {
		if InsertID(other) == id {
			t.Errorf("changing the %s keeps the id %s", name, id)
		}
	}

	// Built entries: a rebuilt event (a replayed chunk) keeps its id; the builder's node
	// name stands in for an event without one.
	b := NewBuilder(Options{NodeName: testNode})
	ev := fullExec(t)
	e1, e2 := build(t, b, ev), build(t, b, fullExec(t))
	if e1.InsertId != e2.InsertId {
		t.Errorf("rebuilt event: ids %s and %s", e1.InsertId, e2.InsertId)
	}
	withNode := ev.Key
	withNode.Node = testNode
	if e1.InsertId != InsertID(withNode) {
		t.Errorf("entry id %s, want InsertID with the builder's node %s", e1.InsertId, InsertID(withNode))
	}
	if other := build(t, NewBuilder(Options{NodeName: "node-2"}), ev); other.InsertId == e1.InsertId {
		t.Error("same event on two nodes shares an id")
	}
	if got, want := e1.Timestamp.AsTime(), ev.Key.Time(); !got.Equal(want) {
		t.Errorf("timestamp %v, want the event's own time %v", got, want)
	}

	u := &parser.Unparsed{Text: "garbage", Reason: "no type=", Node: testNode, Time: testTime}
	u2 := *u
	u2.Text = "garbage2"
	l := &parser.Lost{Node: testNode, BootID: testBoot, From: 5, To: 7, Count: 3, Time: testTime}
	l2 := *l
	l2.To = 8
	ids := map[string]string{}
	for name, it := range map[string]parser.Item{
		"unparsed":  {Kind: parser.ItemUnparsed, Unparsed: u},
		"unparsed2": {Kind: parser.ItemUnparsed, Unparsed: &u2},
		"lost":      {Kind: parser.ItemLost, Lost: l},
		"lost2":     {Kind: parser.ItemLost, Lost: &l2},
		"event":     {Kind: parser.ItemEvent, Event: ev},
	} {
		id := b.Build(it).InsertId
		if id != b.Build(it).InsertId {
			t.Errorf("%s: id not stable", name)
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("%s and %s share id %s", name, prev, id)
		}
		ids[id] = name
	}
}

func TestPayloadShape(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode, IncludeRaw: true})
	ev := fullExec(t)
	e := build(t, b, ev)
	if e.LogName != "" || e.Resource != nil {
		t.Errorf("LogName/Resource set (%q, %v): the delivery writer owns them", e.LogName, e.Resource)
	}
	mustMarshal(t, e, b.MaxEntryBytes())
	p := jsonOf(t, e)
	want := map[string]any{
		"summary":                "uid=root ran /usr/bin/curl https://x in /root",
		"type":                   "SYSCALL",
		"serial":                 1845.0,
		"node":                   testNode,
		"process/pid":            17392.0,
		"process/ppid":           17391.0,
		"process/exe":            "/usr/bin/curl",
		"process/comm":           "curl",
		"process/cwd":            "/root",
		"process/argv/0":         "curl",
		"process/argv/1":         "https://x",
		"process/argc":           2.0,
		"user/auid":              0.0,
		"user/auid_name":         "root",
		"user/uid_name":          "root",
		"user/euid":              0.0,
		"user/gid_name":          "root",
		"syscall/name":           "execve",
		"syscall/arch":           "x86_64",
		"syscall/success":        true,
		"syscall/exit":           0.0,
		"paths/0/name":           "/usr/bin/curl",
		"paths/0/nametype":       "NORMAL",
		"paths/1/name":           "/lib64/ld-linux-x86-64.so.2",
		"keys/0":                 "exec",
		"ses":                    14.0,
		"records/0/type":         "SYSCALL",
		"records/0/fields/arch":  "x86_64",
		"records/0/fields/uid":   "root",
		"records/0/fields/comm":  "curl",
		"records/3/fields/mode":  "file,755",
		"records/5/type":         "PROCTITLE",
		"records/6/type":         "EOE",
		"records/2/raw":          `type=CWD msg=audit(1795637125.200:1845): cwd="/root"`,
		"records/1/type":         "EXECVE",
		"records/1/fields/argc":  "2",
		"records/0/fields/items": "2",
	}
	for k, v := range want {
		var keys []any
		for _, s := range strings.Split(k, "/") {
			if n, err := parseIndex(s); err == nil {
				keys = append(keys, n)
			} else {
				keys = append(keys, s)
			}
		}
		if got := path(p, keys...); got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	// Omitted: empty, redundant or default-valued fields.
	for _, k := range []string{"boot_id", "incomplete", "truncated", "tty", "result", "peer", "repeats", "completion"} {
		if _, ok := p[k]; ok {
			t.Errorf("payload has %q = %v, want it omitted", k, p[k])
		}
	}
	if _, ok := p["process"].(map[string]any)["title"]; ok {
		t.Error("title equal to the argv is repeated")
	}
	// The EXECVE record keeps argc only: its arguments are process.argv, capped once.
	if f := p["records"].([]any)[1].(map[string]any)["fields"].(map[string]any); len(f) != 1 {
		t.Errorf("EXECVE record fields %v, want only argc (the arguments are in process.argv)", f)
	}
	if _, ok := p["records"].([]any)[6].(map[string]any)["fields"]; ok {
		t.Error("EOE record has a fields object")
	}

	// Without IncludeRaw there is no raw text.
	p = jsonOf(t, build(t, NewBuilder(Options{}), ev))
	if got := path(p, "records", 2, "raw"); got != nil {
		t.Errorf("raw without IncludeRaw: %v", got)
	}

	// Mixed events: peer, result, user names, unset auid, incomplete and repeats.
	c := jsonOf(t, build(t, b, connectEvent(t)))
	for k, v := range map[string]any{"peer/family": "inet", "peer/addr": "127.0.0.1", "peer/port": 80.0,
		"syscall/success": false, "syscall/exit": -111.0, "syscall/exit_name": "ECONNREFUSED",
		"user/auid": 1000.0, "user/auid_name": "alice", "tty": "pts0", "process/title": "curl 127.0.0.1",
		"records/1/fields/saddr": "{ saddr_fam=inet laddr=127.0.0.1 lport=80 }"} {
		if got := path(c, splitPath(k)...); got != v {
			t.Errorf("connect %s = %#v, want %#v", k, got, v)
		}
	}
	l := jsonOf(t, build(t, b, failedLogin(t)))
	for k, v := range map[string]any{"result": "failed", "user/acct": "alice", "hostname": "10.0.0.1",
		"terminal": "sshd", "op": "login", "type": "USER_LOGIN"} {
		if got := path(l, splitPath(k)...); got != v {
			t.Errorf("login %s = %#v, want %#v", k, got, v)
		}
	}
	if _, ok := l["ses"]; ok {
		t.Error("unset session written")
	}
	inc := avcDenied(t)
	inc.Incomplete, inc.Reason = true, parser.CompleteEvicted
	inc.Repeats = &parser.Repeats{Count: 3, First: testTime, Last: testTime.Add(time.Minute)}
	a := jsonOf(t, build(t, b, inc))
	for k, v := range map[string]any{"incomplete": true, "completion": "evicted", "type": "AVC",
		"user/auid": 4294967295.0, "user/auid_name": "unset", "user/uid": 48.0, "user/uid_name": "apache",
		"repeats/count": 3.0, "repeats/first": "2026-11-25T20:05:26.5Z", "repeats/last": "2026-11-25T20:06:26.5Z"} {
		if got := path(a, splitPath(k)...); got != v {
			t.Errorf("avc %s = %#v, want %#v", k, got, v)
		}
	}
}

func splitPath(k string) []any {
	var keys []any
	for _, s := range strings.Split(k, "/") {
		if n, err := parseIndex(s); err == nil {
			keys = append(keys, n)
		} else {
			keys = append(keys, s)
		}
	}
	return keys
}

func parseIndex(s string) (int, error) {
	n := 0
	if s == "" {
		return 0, errNotIndex
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errNotIndex
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

var errNotIndex = &json.UnsupportedValueError{Str: "not an index"}

func TestUnparsedAndLost(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode})
	u := b.Build(parser.Item{Kind: parser.ItemUnparsed, Unparsed: &parser.Unparsed{
		Text: "kernel: something else", Reason: "not an audit record", Time: testTime}})
	mustMarshal(t, u, b.MaxEntryBytes())
	p := jsonOf(t, u)
	for k, v := range map[string]any{"summary": "unparsed input: not an audit record", "raw": "kernel: something else",
		"reason": "not an audit record", "node": testNode} {
		if p[k] != v {
			t.Errorf("unparsed %s = %#v, want %#v", k, p[k], v)
		}
	}
	if u.Labels["kind"] != "unparsed" || u.Labels["node"] != testNode || !u.Timestamp.AsTime().Equal(testTime) {
		t.Errorf("unparsed labels %v, time %v", u.Labels, u.Timestamp.AsTime())
	}

	l := b.Build(parser.Item{Kind: parser.ItemLost, Lost: &parser.Lost{
		Node: "n1", BootID: testBoot, From: 1041, To: 1043, Count: 3, Time: testTime}})
	mustMarshal(t, l, b.MaxEntryBytes())
	p = jsonOf(t, l)
	for k, v := range map[string]any{"summary": "3 audit events lost (serials 1041–1043)", "lost": 3.0,
		"from": 1041.0, "to": 1043.0, "node": "n1", "boot_id": testBoot} {
		if p[k] != v {
			t.Errorf("lost %s = %#v, want %#v", k, p[k], v)
		}
	}
	if l.Labels["kind"] != "lost" || l.Labels["node"] != "n1" {
		t.Errorf("lost labels %v", l.Labels)
	}
	one := jsonOf(t, b.Build(parser.Item{Kind: parser.ItemLost, Lost: &parser.Lost{From: 9, To: 9, Count: 1}}))
	if one["summary"] != "1 audit event lost (serial 9)" {
		t.Errorf("single lost summary %q", one["summary"])
	}

	// A malformed item still becomes an entry, never nil or a panic.
	for _, it := range []parser.Item{{}, {Kind: parser.ItemEvent}, {Kind: parser.ItemLost}, {Kind: 99}} {
		e := b.Build(it)
		if e == nil || e.Severity != ltype.LogSeverity_WARNING {
			t.Errorf("Build(%+v) = %v", it, e)
			continue
		}
		mustMarshal(t, e, 0)
	}
}

func TestUTF8Safety(t *testing.T) {
	bad := "caf\xc3 \xff\xfe end\\"
	ev := fullExec(t)
	ev.Key.Node = bad
	ev.Key.BootID = bad
	ev.Summary.Exe = bad
	ev.Summary.Argv = []string{bad, "ok", bad}
	ev.Summary.Keys = []string{bad}
	ev.Summary.Paths = append(ev.Summary.Paths, parser.PathItem{Name: bad, Nametype: bad})
	ev.Summary.Peer = &parser.SockAddr{Family: bad, Raw: bad}
	ev.Summary.AUID.Name = bad
	ev.Summary.Acct, ev.Summary.Hostname, ev.Summary.Terminal, ev.Summary.Op = bad, bad, bad, bad
	ev.Summary.Title = bad
	ev.Records[0].Fields = append(ev.Records[0].Fields, parser.Field{Key: bad, Value: bad, Quoted: true})
	ev.Records[1].Text = bad
	b := NewBuilder(Options{NodeName: bad, IncludeRaw: true})
	e := build(t, b, ev)
	mustMarshal(t, e, b.MaxEntryBytes())
	p := jsonOf(t, e)
	if got, want := path(p, "process", "exe"), `caf\xc3 \xff\xfe end\x5c`; got != want {
		t.Errorf("exe = %q, want the reversible escape %q", got, want)
	}
	if got := e.Labels["node"]; got != `caf\xc3 \xff\xfe end\x5c` {
		t.Errorf("node label %q", got)
	}
	u := b.Build(parser.Item{Kind: parser.ItemUnparsed, Unparsed: &parser.Unparsed{Text: bad, Reason: bad, Node: bad}})
	mustMarshal(t, u, b.MaxEntryBytes())
	l := b.Build(parser.Item{Kind: parser.ItemLost, Lost: &parser.Lost{Node: bad, BootID: bad}})
	mustMarshal(t, l, b.MaxEntryBytes())
}

func TestTitleRedundant(t *testing.T) {
	for _, c := range []struct {
		title string
		argv  []string
		want  bool
	}{
		{"curl https://x", []string{"curl", "https://x"}, true},
		{"curl https://", []string{"curl", "https://x"}, true}, // the kernel's 128-byte cut
		{"curl", []string{"curl", "https://x"}, true},
		{"curl https://y", []string{"curl", "https://x"}, false},
		{"bash -c x", []string{"curl"}, false},
		{"curl  x", []string{"curl", "x"}, false},
		{"curl x", nil, false},
		{"", []string{"a"}, true},
	} {
		if got := titleRedundant(c.title, c.argv); got != c.want {
			t.Errorf("titleRedundant(%q, %q) = %v, want %v", c.title, c.argv, got, c.want)
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	ev := single(t, `type=USER_ACCT msg=audit(1795637126.300:30): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:accounting uid=5 acct="bob" exe="/bin/su" res=success'`, parser.Summary{})
	p := jsonOf(t, build(t, NewBuilder(Options{}), ev))
	f := path(p, "records", 0, "fields").(map[string]any)
	if f["uid"] != "root" || f["uid_2"] == nil {
		t.Errorf("repeated key uid: fields %v, want uid=root and uid_2", f)
	}
}

// TestKnownKeySequences: a record whose type was last seen with keys free of repeats is
// still checked when its own keys differ (same count, a repeat), and the next clean record
// of the type is written as it is.
func TestKnownKeySequences(t *testing.T) {
	b := NewBuilder(Options{})
	line := `type=USER_ACCT msg=audit(1795637126.300:30): pid=1 uid=0 auid=1000 ses=1`
	for i, tc := range []struct {
		keys []string
		want map[string]any
	}{
		{[]string{"pid", "uid", "auid", "ses"}, map[string]any{"pid": "1", "uid": "root", "auid": "1000", "ses": "1"}},
		{[]string{"pid", "uid", "auid", "ses"}, map[string]any{"pid": "1", "uid": "root", "auid": "1000", "ses": "1"}},
		{[]string{"pid", "uid", "pid", "ses"}, map[string]any{"pid": "1", "uid": "root", "pid_2": "1000", "ses": "1"}},
		{[]string{"pid", "uid", "auid", "uid"}, map[string]any{"pid": "1", "uid": "root", "auid": "1000", "uid_2": "1"}},
		{[]string{"pid", "uid", "auid", "ses"}, map[string]any{"pid": "1", "uid": "root", "auid": "1000", "ses": "1"}},
	} {
		ev := single(t, line, parser.Summary{})
		for j, k := range tc.keys {
			ev.Records[0].Fields[j].Key = k
		}
		f := path(jsonOf(t, build(t, b, ev)), "records", 0, "fields").(map[string]any)
		if len(f) != len(tc.want) {
			t.Fatalf("record %d: fields %v, want %v", i, f, tc.want)
		}
		for k := range tc.want {
			if _, ok := f[k]; !ok {
				t.Fatalf("record %d: fields %v, want %v", i, f, tc.want)
			}
		}
	}
}

// TestManyRepeatedKeys: a hostile record repeating keys stays linear (this test would take
// minutes with a quadratic de-duplication) and keeps every value.
func TestManyRepeatedKeys(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`type=UNKNOWN[1999] msg=audit(1795637126.300:31):`)
	for i := range 20000 {
		sb.WriteString(" k=" + strconv.Itoa(i) + " k_3=x")
	}
	ev := single(t, sb.String(), parser.Summary{})
	b := NewBuilder(Options{MaxEntryBytes: 1 << 30})
	p := jsonOf(t, build(t, b, ev))
	f := path(p, "records", 0, "fields").(map[string]any)
	if len(f) != 40000 || f["k"] != "0" || f["k_2"] != "1" || f["k_3"] != "x" {
		t.Errorf("%d fields; k=%v k_2=%v k_3=%v", len(f), f["k"], f["k_2"], f["k_3"])
	}
}

// TestCleanedKeysCollide: keys that differ as bytes but are the same once cleaned (an invalid
// byte and its escaped spelling) both keep their values.
func TestCleanedKeysCollide(t *testing.T) {
	ev := single(t, `type=UNKNOWN[1999] msg=audit(1795637126.300:31): x=1`, parser.Summary{})
	ev.Records[0].Fields = []parser.Field{{Key: "a\xff", Value: "1"}, {Key: `a\xff`, Value: "2"}}
	e := build(t, NewBuilder(Options{}), ev)
	checkPayload(t, e)
	f := path(jsonOf(t, e), "records", 0, "fields").(map[string]any)
	if len(f) != 2 || f[`a\xff`] != "1" || f[`a\xff_2`] != "2" {
		t.Errorf("fields %v, want both values", f)
	}
}

// TestManyDistinctKeys: a record with more keys than repeatsKey's filter holds keeps them all.
func TestManyDistinctKeys(t *testing.T) {
	for _, n := range []int{maxFilteredKeys - 1, maxFilteredKeys, maxFilteredKeys + 1, 20000} {
		var sb strings.Builder
		sb.WriteString(`type=UNKNOWN[1999] msg=audit(1795637126.300:31):`)
		for i := range n {
			sb.WriteString(" k" + strconv.Itoa(i) + "=" + strconv.Itoa(i))
		}
		ev := single(t, sb.String(), parser.Summary{})
		e := build(t, NewBuilder(Options{MaxEntryBytes: 1 << 30}), ev)
		checkPayload(t, e)
		f := path(jsonOf(t, e), "records", 0, "fields").(map[string]any)
		if len(f) != n || f["k0"] != "0" || f["k"+strconv.Itoa(n-1)] != strconv.Itoa(n-1) {
			t.Errorf("%d keys: %d fields", n, len(f))
		}
	}
}

// TestConcurrentBuild: builders share pooled arenas; entries built at the same time on
// several goroutines must not share or overwrite each other's nodes.
func TestConcurrentBuild(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode, IncludeRaw: true})
	evs := append(mixedEvents(t), fullExec(t), cosExec(t))
	det := proto.MarshalOptions{Deterministic: true}
	want := make([][]byte, len(evs))
	for i, ev := range evs {
		want[i], _ = det.Marshal(build(t, b, ev))
	}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			var kept []*loggingpb.LogEntry
			for i := range 300 {
				kept = append(kept, b.Build(parser.Item{Kind: parser.ItemEvent, Event: evs[(i+g)%len(evs)]}))
			}
			for i, e := range kept {
				got, err := det.Marshal(e)
				if err != nil || string(got) != string(want[(i+g)%len(evs)]) {
					done <- fmt.Errorf("goroutine %d entry %d differs from the serial build (err %v)", g, i, err)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestLateFragmentGetsItsOwnID: records that arrive after their event was shipped come out of
// the assembler as a second, incomplete event with the same key. Cloud Logging de-duplicates
// entries by insertId and timestamp, so the two must not share an id, or one is lost silently.
func TestLateFragmentGetsItsOwnID(t *testing.T) {
	recs := parseLines(t,
		`type=SYSCALL msg=audit(1795637125.200:1845): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="true" exe="/usr/bin/true" key="exec"`,
		`type=PROCTITLE msg=audit(1795637125.200:1845): proctitle="true"`,
		`type=PATH msg=audit(1795637125.200:1845): item=0 name="/usr/bin/true" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
	)
	asm := parser.NewAssembler(parser.AssemblerConfig{})
	now := time.Unix(1795637125, 0)
	asm.Add(recs[0], now)
	asm.Add(recs[1], now) // PROCTITLE completes the event
	items := asm.Drain(now, nil)
	asm.Add(recs[2], now) // the PATH record arrives late
	items = asm.DrainAll(items)
	var events []*parser.Event
	for _, it := range items {
		if it.Kind == parser.ItemEvent {
			events = append(events, it.Event)
		}
	}
	if len(events) != 2 || events[0].Key != events[1].Key || !events[1].Incomplete {
		t.Fatalf("want the event and its late fragment with one key, got %d events", len(events))
	}
	b := NewBuilder(Options{NodeName: testNode})
	first, late := build(t, b, events[0]), build(t, b, events[1])
	if first.InsertId == late.InsertId {
		t.Fatalf("event and late fragment share insertId %s: Cloud Logging would drop one", first.InsertId)
	}
	if again := build(t, b, events[1]); again.InsertId != late.InsertId {
		t.Fatalf("rebuilt fragment changed id: %s then %s", late.InsertId, again.InsertId)
	}
}

func TestIsArgField(t *testing.T) {
	for k, want := range map[string]bool{
		"a0": true, "a12": true, "a3_len": true, "a3[0]": true, "a10[17]": true,
		"argc": false, "a": false, "a_len": false, "arch": false, "a0x": false, "a1[": false, "auid": false, "b0": false,
	} {
		if got := isArgField(k); got != want {
			t.Errorf("isArgField(%q) = %v, want %v", k, got, want)
		}
	}
}

// TestLabelSetsShared: entries with the same label values share one map, entries with other
// values get their own, and past maxLabelSets shapes labels are still right but not cached.
func TestLabelSetsShared(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode})
	mapID := func(m map[string]string) uintptr { return reflect.ValueOf(m).Pointer() }
	e1, e2 := build(t, b, fullExec(t)), build(t, b, fullExec(t))
	if mapID(e1.Labels) != mapID(e2.Labels) {
		t.Error("two entries of the same shape got separate label maps")
	}
	other := fullExec(t)
	other.Key.Node = "other-node"
	e3 := build(t, b, other)
	if mapID(e3.Labels) == mapID(e1.Labels) || e3.Labels["node"] != "other-node" || e1.Labels["node"] != testNode {
		t.Errorf("labels of another node: %v shared with %v", e3.Labels, e1.Labels)
	}
	for i := range maxLabelSets + 10 {
		ev := cosExec(t)
		ev.Key.Node = "node-" + strconv.Itoa(i)
		if got := build(t, b, ev).Labels["node"]; got != ev.Key.Node {
			t.Fatalf("node label = %q, want %q", got, ev.Key.Node)
		}
	}
	if n := len(b.labelSets); n != maxLabelSets {
		t.Errorf("label cache holds %d sets, want the bound %d", n, maxLabelSets)
	}
}

// TestSharedObjects: the user and syscall objects of entries with the same values are one
// value, other values get their own, an oversized value is not cached, and past maxShared
// distinct users objects are still right.
func TestSharedObjects(t *testing.T) {
	b := NewBuilder(Options{NodeName: testNode})
	e1, e2 := build(t, b, fullExec(t)), build(t, b, fullExec(t))
	if len(b.users) != 1 || len(b.syscalls) != 1 {
		t.Errorf("two entries of the same content made %d user and %d syscall objects, want one each", len(b.users), len(b.syscalls))
	}
	for _, k := range []string{kUser, kSyscall} {
		v1, v2 := jsonOf(t, e1)[k], jsonOf(t, e2)[k]
		if v1 == nil || !reflect.DeepEqual(v1, v2) {
			t.Errorf("%s: entries of the same content got %v and %v", k, v1, v2)
		}
	}
	other := fullExec(t)
	other.Summary.UID = uid(1000, "alice")
	other.Summary.Exit = "-2"
	e3 := build(t, b, other)
	if got := path(jsonOf(t, e3), "user", "uid_name"); got != "alice" {
		t.Errorf("user.uid_name = %v, want alice", got)
	}
	if got := path(jsonOf(t, e3), "syscall", "exit"); got != -2.0 {
		t.Errorf("syscall.exit = %v, want -2", got)
	}
	if got := path(jsonOf(t, e1), "user", "uid_name"); got != "root" {
		t.Errorf("first entry's user.uid_name changed to %v", got)
	}
	long := fullExec(t)
	long.Summary.Acct = strings.Repeat("x", sharedLimit+1)
	before := len(b.users)
	if got := path(jsonOf(t, build(t, b, long)), "user", "acct"); got != long.Summary.Acct {
		t.Errorf("user.acct = %v, want the long value", got)
	}
	if len(b.users) != before {
		t.Error("a user with an oversized value was cached")
	}
	for i := range maxShared + 10 {
		ev := cosExec(t)
		ev.Summary.UID = uid(uint32(2000+i), "")
		if got := path(jsonOf(t, build(t, b, ev)), "user", "uid"); got != float64(2000+i) {
			t.Fatalf("user.uid = %v, want %d", got, 2000+i)
		}
	}
	if len(b.users) != maxShared {
		t.Errorf("user cache holds %d objects, want the bound %d", len(b.users), maxShared)
	}
}

// TestCutProcessValueMarksTruncated: an exe cut to maxValue marks the entry truncated even
// when the user object that follows needs no cut.
func TestCutProcessValueMarksTruncated(t *testing.T) {
	ev := fullExec(t)
	ev.Summary.Exe = "/" + strings.Repeat("x", maxValue+markerBytes+10)
	p := jsonOf(t, build(t, NewBuilder(Options{NodeName: testNode}), ev))
	if p[kTruncated] != true {
		t.Errorf("truncated = %v, want true", p[kTruncated])
	}
	if exe, _ := path(p, "process", "exe").(string); !strings.Contains(exe, "[truncated") {
		t.Errorf("process.exe = %.40q..., want a truncation marker", exe)
	}
}
