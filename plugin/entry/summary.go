package entry

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// maxSummary bounds the human line; the full data is in the payload.
const maxSummary = 512

// maxSummaryArg bounds one argument or value quoted in the line.
const maxSummaryArg = 160

// SummaryLine returns a one-line human description of the event. The template depends on
// what kind of event it is (in this order): an SELinux/AppArmor decision, a kernel anomaly,
// a login/authentication/account step, a sudo command, a service start/stop, an audit
// configuration change, a network call (SOCKADDR), a program execution, TTY input, a file
// syscall, any other syscall, and a generic "TYPE key=value ..." line for the rest.
// See docs/entry.md for an example of each.
func SummaryLine(ev *parser.Event) string {
	var buf [maxSummary + 64]byte
	return string(appendSummary(buf[:0], ev))
}

// appendSummary appends the summary line of ev to b.
func appendSummary(b []byte, ev *parser.Event) []byte {
	s := summaryWriter{b: b}
	s.write(ev)
	if r := ev.Repeats; r != nil {
		// The suffix is what makes a collapsed entry readable: cut the line, never the suffix.
		var sb [96]byte
		suffix := append(sb[:0], " (×"...)
		suffix = strconv.AppendInt(suffix, int64(r.Count), 10)
		if !r.First.IsZero() && !r.Last.IsZero() {
			suffix = append(suffix, " between "...)
			suffix = r.First.UTC().AppendFormat(suffix, time.RFC3339)
			suffix = append(suffix, " and "...)
			suffix = r.Last.UTC().AppendFormat(suffix, time.RFC3339)
		}
		suffix = append(suffix, ')')
		return append(s.finishAt(maxSummary-len(suffix)), suffix...)
	}
	return s.finish()
}

type summaryWriter struct{ b []byte }

func (s *summaryWriter) str(v string) { s.b = append(s.b, v...) }

// val writes a value taken from the event, cut to maxSummaryArg bytes at a rune boundary.
func (s *summaryWriter) val(v string) {
	if len(v) > maxSummaryArg {
		s.str(cutUTF8(v, maxSummaryArg))
		s.str("…")
		return
	}
	s.str(v)
}

// arg writes a command-line argument, quoted when it would otherwise be ambiguous.
func (s *summaryWriter) arg(v string) {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\"'\\") && utf8.ValidString(v) {
		s.val(v)
		return
	}
	s.b = strconv.AppendQuote(s.b, cutUTF8(v, maxSummaryArg))
}

func (s *summaryWriter) finish() []byte { return s.finishAt(maxSummary) }

// finishAt cuts the line to at most limit bytes, ending in "…" when cut.
func (s *summaryWriter) finishAt(limit int) []byte {
	if len(s.b) > limit {
		s.b = append([]byte(cutUTF8(string(s.b), limit-3)), "…"...)
	}
	return s.b
}

// id writes a user/group id by name when known, else by number; "unset" for -1.
func (s *summaryWriter) id(id parser.ID) {
	switch {
	case id.Unset:
		s.str("unset")
	case id.Name != "":
		s.val(id.Name)
	default:
		s.b = strconv.AppendUint(s.b, uint64(id.Num), 10)
	}
}

// who writes the acting user: "uid=root", or "auid=alice uid=root" when the login user
// differs from the current one (sudo, su, setuid programs).
func (s *summaryWriter) who(sm *parser.Summary) {
	if sm.AUID.Set && !sm.AUID.Unset && (!sm.UID.Set || sm.AUID.Num != sm.UID.Num) {
		s.str("auid=")
		s.id(sm.AUID)
		if sm.UID.Set {
			s.str(" ")
		}
	}
	if sm.UID.Set {
		s.str("uid=")
		s.id(sm.UID)
	} else if !sm.AUID.Set || sm.AUID.Unset {
		s.str("unknown user")
	}
}

// program writes the executable, or the command name when the exe is not known.
func (s *summaryWriter) program(sm *parser.Summary) bool {
	switch {
	case sm.Exe != "":
		s.val(sm.Exe)
	case sm.Comm != "":
		s.val(sm.Comm)
	default:
		return false
	}
	return true
}

// outcome writes " failed: ENOENT" for a failed syscall or " (failed)" otherwise.
func (s *summaryWriter) outcome(sm *parser.Summary) {
	if sm.Success != "no" {
		return
	}
	s.str(" failed")
	switch {
	case sm.ExitName != "":
		s.str(": ")
		s.str(sm.ExitName)
	case sm.Exit != "" && sm.Syscall != "":
		s.str(": exit=")
		s.val(sm.Exit)
	}
}

func (s *summaryWriter) write(ev *parser.Event) {
	sm := &ev.Summary
	main := mainRecord(ev)
	if main == nil {
		s.str("empty event")
		return
	}
	t := main.Type
	switch {
	case t == tAvc || t == tUserAvc || (t >= tApparmorAllowed && t <= tApparmorKill):
		s.avc(main, sm)
	case t >= tAnomFirst && t <= tAnomLast:
		s.anomaly(main, sm)
	case t == tUserCmd:
		s.userCmd(main, sm)
	case t == tServiceStart || t == tServiceStop:
		s.service(main, sm)
	case userAuthVerb(t) != "":
		s.userAuth(main, sm)
	case t == tConfigChange:
		s.configChange(main, sm)
	case t == tTTY || t == tUserTTY:
		s.tty(main, sm)
	case sm.Peer != nil && sm.Syscall != "":
		s.network(sm)
	case len(sm.Argv) > 0 || sm.Syscall == "execve" || sm.Syscall == "execveat" || has(ev, tExecve):
		s.exec(sm)
	case sm.Syscall != "" && len(sm.Paths) > 0:
		s.file(sm)
	case sm.Syscall != "":
		s.syscall(sm)
	default:
		s.generic(main, sm)
	}
}

// mainRecord is the record that says what the event is: the first one that is not an
// auxiliary part of a syscall (AVC, CONFIG_CHANGE, ANOM_*, USER_* ...), else the SYSCALL
// record, else the first record.
func mainRecord(ev *parser.Event) *parser.Record {
	var sys *parser.Record
	for i := range ev.Records {
		r := &ev.Records[i]
		if !auxiliary(r.Type) {
			return r
		}
		if r.Type == tSyscall && sys == nil {
			sys = r
		}
	}
	if sys != nil {
		return sys
	}
	if len(ev.Records) > 0 {
		return &ev.Records[0]
	}
	return nil
}

func has(ev *parser.Event, t uint16) bool {
	for i := range ev.Records {
		if ev.Records[i].Type == t {
			return true
		}
	}
	return false
}

// get returns a record field's decoded value, "" when absent or "?"/"(null)".
func get(r *parser.Record, key string) string {
	f, ok := r.Get(key)
	if !ok || f.Absent {
		return ""
	}
	return f.Value
}

// "uid=root ran /usr/bin/curl https://x in /root"
func (s *summaryWriter) exec(sm *parser.Summary) {
	s.who(sm)
	if sm.Success == "no" {
		s.str(" failed to run ")
	} else {
		s.str(" ran ")
	}
	args := sm.Argv
	if !s.program(sm) {
		if len(args) == 0 {
			s.str("a program")
		} else {
			s.arg(args[0])
		}
	}
	for i := 1; i < len(args) && len(s.b) < maxSummary; i++ {
		s.str(" ")
		s.arg(args[i])
	}
	if sm.Cwd != "" {
		s.str(" in ")
		s.val(sm.Cwd)
	}
	if sm.Success == "no" && sm.ExitName != "" {
		s.str(": ")
		s.str(sm.ExitName)
	}
}

// "connect to 127.0.0.1:80 by /usr/bin/curl (uid=root)"
func (s *summaryWriter) network(sm *parser.Summary) {
	s.val(sm.Syscall)
	switch sm.Syscall {
	case "bind":
		s.str(" on ")
	case "accept", "accept4", "recvfrom", "recvmsg", "recvmmsg":
		s.str(" from ")
	default:
		s.str(" to ")
	}
	s.peer(sm.Peer)
	s.by(sm)
	s.str(" (")
	s.who(sm)
	s.str(")")
	s.outcome(sm)
}

func (s *summaryWriter) peer(p *parser.SockAddr) {
	switch p.Family {
	case "inet":
		s.val(p.Addr)
		s.str(":")
		s.b = strconv.AppendInt(s.b, int64(p.Port), 10)
	case "inet6":
		s.str("[")
		s.val(p.Addr)
		s.str("]:")
		s.b = strconv.AppendInt(s.b, int64(p.Port), 10)
	case "local":
		s.str("unix:")
		s.val(p.Addr)
	case "netlink":
		s.str("netlink:")
		s.val(p.Addr)
	default:
		s.str("family ")
		s.val(p.Family)
		if p.Addr != "" {
			s.str(" ")
			s.val(p.Addr)
		}
	}
}

// "uid=alice openat /etc/shadow by /usr/bin/cat failed: EACCES"
func (s *summaryWriter) file(sm *parser.Summary) {
	s.who(sm)
	s.str(" ")
	s.val(sm.Syscall)
	p := sm.Paths[0]
	for _, it := range sm.Paths {
		if it.Nametype != "PARENT" {
			p = it
			break
		}
	}
	s.str(" ")
	s.arg(p.Name)
	if len(sm.Paths) > 1 {
		s.str(" (+")
		s.b = strconv.AppendInt(s.b, int64(len(sm.Paths)-1), 10)
		s.str(" paths)")
	}
	s.by(sm)
	s.outcome(sm)
}

// "uid=root init_module by /usr/bin/kmod"
func (s *summaryWriter) syscall(sm *parser.Summary) {
	s.who(sm)
	s.str(" ")
	s.val(sm.Syscall)
	s.by(sm)
	s.outcome(sm)
}

func (s *summaryWriter) by(sm *parser.Summary) {
	n := len(s.b)
	s.str(" by ")
	if !s.program(sm) {
		s.b = s.b[:n]
	}
}

// "SELinux denied { read } for cat on /etc/shadow (class file)"
// "AppArmor DENIED open of /etc/x by cupsd (profile /usr/sbin/cupsd)"
func (s *summaryWriter) avc(r *parser.Record, sm *parser.Summary) {
	comm := get(r, "comm")
	if comm == "" {
		comm = sm.Comm
	}
	if aa := get(r, "apparmor"); aa != "" || r.Type >= tApparmorAllowed {
		s.str("AppArmor ")
		if aa == "" {
			aa = strings.TrimPrefix(parser.TypeName(r.Type), "APPARMOR_")
		}
		s.val(aa)
		if op := get(r, "operation"); op != "" {
			s.str(" ")
			s.val(op)
		}
		if name := get(r, "name"); name != "" {
			s.str(" of ")
			s.arg(name)
		}
		if comm != "" {
			s.str(" by ")
			s.val(comm)
		}
		if prof := get(r, "profile"); prof != "" {
			s.str(" (profile ")
			s.val(prof)
			s.str(")")
		}
		return
	}
	s.str("SELinux ")
	verdict := avcVerdict(r)
	if verdict == "" {
		verdict = "decision"
	}
	s.str(verdict)
	if verdict == "denied" && get(r, "permissive") == "1" {
		s.str(" (permissive)")
	}
	if perms := avcPerms(r); perms != "" {
		s.str(" { ")
		s.val(perms)
		s.str(" }")
	}
	if comm != "" {
		s.str(" for ")
		s.val(comm)
	}
	obj := get(r, "path")
	if obj == "" {
		obj = get(r, "name")
	}
	if obj == "" && len(sm.Paths) > 0 {
		obj = sm.Paths[len(sm.Paths)-1].Name
	}
	if obj != "" {
		s.str(" on ")
		s.arg(obj)
	}
	if tc := get(r, "tclass"); tc != "" {
		s.str(" (class ")
		s.val(tc)
		s.str(")")
	}
}

// "/usr/bin/crashy (pid 42) crashed with signal 11 (uid=root)"
func (s *summaryWriter) anomaly(r *parser.Record, sm *parser.Summary) {
	switch r.Type {
	case tAnomAbend:
		if !s.program(sm) {
			s.str("a process")
		}
		if sm.PID != "" {
			s.str(" (pid ")
			s.val(sm.PID)
			s.str(")")
		}
		s.str(" crashed")
		if sig := get(r, "sig"); sig != "" {
			s.str(" with signal ")
			s.val(sig)
		}
		s.str(" (")
		s.who(sm)
		s.str(")")
	case tAnomPromiscuous:
		s.str("device ")
		s.val(get(r, "dev"))
		s.str(" promiscuous mode ")
		if get(r, "prom") == "0" {
			s.str("off")
		} else {
			s.str("on")
		}
		s.str(" (")
		s.who(sm)
		s.str(")")
	default:
		s.str(parser.TypeName(r.Type))
		s.by(sm)
		s.str(" (")
		s.who(sm)
		s.str(")")
	}
}

// userAuthVerb names the step a login/authentication record reports, "" for other types.
func userAuthVerb(t uint16) string {
	switch t {
	case tUserAuth:
		return "authentication"
	case tUserAcct:
		return "account check"
	case tUserLogin:
		return "login"
	case tUserLogout:
		return "logout"
	case tUserStart:
		return "session start"
	case tUserEnd:
		return "session end"
	case tCredAcq:
		return "credential acquisition"
	case tCredDisp:
		return "credential disposal"
	case tCredRefr:
		return "credential refresh"
	case tUserChauthtok:
		return "password change"
	case tGrpAuth:
		return "group authentication"
	case tGrpChauthtok:
		return "group password change"
	case tUserErr:
		return "user error"
	case tAcctLock:
		return "account lock"
	case tAcctUnlock:
		return "account unlock"
	case tUserRoleChange:
		return "role change"
	}
	return ""
}

// account writes "alice (auid=1000)": the account the step is about, then the login user.
func (s *summaryWriter) account(sm *parser.Summary) {
	switch {
	case sm.Acct != "":
		s.val(sm.Acct)
		if sm.AUID.Set && !sm.AUID.Unset {
			s.str(" (auid=")
			s.b = strconv.AppendUint(s.b, uint64(sm.AUID.Num), 10)
			s.str(")")
		}
	case sm.AUID.Set && !sm.AUID.Unset:
		s.str("auid=")
		s.id(sm.AUID)
	default:
		s.who(sm)
	}
}

// "alice (auid=1000) failed login from 10.0.0.1 via /usr/sbin/sshd"
func (s *summaryWriter) userAuth(r *parser.Record, sm *parser.Summary) {
	s.account(sm)
	s.str(" ")
	if failed(r) {
		s.str("failed ")
	}
	s.str(userAuthVerb(r.Type))
	if h := sm.Hostname; h != "" && h != "?" {
		s.str(" from ")
		s.val(h)
	} else if t := sm.Terminal; t != "" && t != "?" {
		s.str(" on ")
		s.val(t)
	}
	n := len(s.b)
	s.str(" via ")
	if !s.program(sm) {
		s.b = s.b[:n]
	}
}

// "alice (auid=1000) ran command "ls /root" via /usr/bin/sudo in /home/alice"
func (s *summaryWriter) userCmd(r *parser.Record, sm *parser.Summary) {
	s.account(sm)
	if failed(r) {
		s.str(" was refused command ")
	} else {
		s.str(" ran command ")
	}
	s.arg(get(r, "cmd"))
	n := len(s.b)
	s.str(" via ")
	if !s.program(sm) {
		s.b = s.b[:n]
	}
	if cwd := get(r, "cwd"); cwd != "" {
		s.str(" in ")
		s.val(cwd)
	}
}

// "service kubelet started" / "service foo failed to stop"
func (s *summaryWriter) service(r *parser.Record, sm *parser.Summary) {
	s.str("service ")
	unit := get(r, "unit")
	if unit == "" {
		unit = "?"
	}
	s.val(unit)
	verb := " started"
	if r.Type == tServiceStop {
		verb = " stopped"
	}
	if failed(r) {
		verb = " failed to start"
		if r.Type == tServiceStop {
			verb = " failed to stop"
		}
	}
	s.str(verb)
}

// "audit configuration changed: add_rule key=passwd list=exit by auid=alice uid=root"
func (s *summaryWriter) configChange(r *parser.Record, sm *parser.Summary) {
	s.str("audit configuration changed")
	first := true
	for _, k := range [...]string{"op", "key", "list", "audit_enabled", "audit_failure", "audit_backlog_limit"} {
		v := get(r, k)
		if v == "" {
			continue
		}
		if first {
			s.str(": ")
			first = false
		} else {
			s.str(" ")
		}
		if k != "op" {
			s.str(k)
			s.str("=")
		}
		s.val(v)
	}
	s.str(" by ")
	s.who(sm)
	if failed(r) {
		s.str(" (failed)")
	}
}

// "tty input by auid=alice (ses 3): ls -la"
func (s *summaryWriter) tty(r *parser.Record, sm *parser.Summary) {
	s.str("tty input by ")
	s.who(sm)
	if sm.Ses != "" {
		s.str(" (ses ")
		s.val(sm.Ses)
		s.str(")")
	}
	if d := get(r, "data"); d != "" {
		s.str(": ")
		s.arg(d)
	}
}

// "NETFILTER_CFG table=filter family=2 entries=30 op=xt_replace (uid=root)": the type and
// the record's first fields, for types without a template of their own.
func (s *summaryWriter) generic(r *parser.Record, sm *parser.Summary) {
	s.str(parser.TypeName(r.Type))
	n := 0
	for i := range r.Fields {
		f := &r.Fields[i]
		switch f.Key {
		case "pid", "uid", "auid", "ses", "subj", "msg", "ppid", "euid", "gid", "egid", "suid",
			"fsuid", "sgid", "fsgid", "tty":
			continue
		}
		if f.Absent || n == 6 {
			continue
		}
		s.str(" ")
		s.val(clean(f.Key))
		s.str("=")
		s.arg(f.Value)
		n++
	}
	if sm.UID.Set || (sm.AUID.Set && !sm.AUID.Unset) {
		s.str(" (")
		s.who(sm)
		s.str(")")
	}
	s.outcome(sm)
}
