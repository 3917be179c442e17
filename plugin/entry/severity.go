package entry

import (
	"strings"

	"github.com/gke-audit/auditd-cloud-logging/parser"
	ltype "google.golang.org/genproto/googleapis/logging/type"
)

// SeverityOf returns the severity of an event: the highest severity any of its records
// carries (see docs/entry.md for the map and why). An incomplete event keeps the severity
// of what arrived; the entry says it is incomplete in a label and in the payload.
func SeverityOf(ev *parser.Event) ltype.LogSeverity {
	sev := ltype.LogSeverity_INFO
	for i := range ev.Records {
		if s := recordSeverity(ev, &ev.Records[i]); s > sev {
			sev = s
		}
	}
	return sev
}

func recordSeverity(ev *parser.Event, r *parser.Record) ltype.LogSeverity {
	t := r.Type
	switch {
	case t == tAvc || t == tUserAvc:
		return avcSeverity(r)
	case t == tSelinuxErr || t == tUserSelinuxErr:
		return ltype.LogSeverity_WARNING
	case t == tApparmorDenied || t == tApparmorKill || t == tApparmorError:
		return ltype.LogSeverity_WARNING
	case t == tApparmorAllowed || t == tApparmorStatus:
		return ltype.LogSeverity_NOTICE
	case t >= tAnomFirst && t <= tAnomLast:
		// Crashes (ANOM_ABEND) are common on a busy node; WARNING makes them visible
		// without drowning the few ERRORs that mean the audit trail itself is at risk.
		return ltype.LogSeverity_WARNING
	case t >= tIntegrityFirst && t <= tIntegrityLast:
		// IMA/EVM found a file whose measurement does not match: tampering or corruption.
		if failed(r) {
			return ltype.LogSeverity_ERROR
		}
		return ltype.LogSeverity_INFO
	case t >= tUserAnomFirst && t <= tUserAnomLast:
		return ltype.LogSeverity_WARNING
	case t == tCryptoFailure || t == tCryptoReplay:
		return ltype.LogSeverity_WARNING
	case t >= tCryptoFirst && t <= tCryptoLast:
		if failed(r) {
			return ltype.LogSeverity_WARNING
		}
		return ltype.LogSeverity_INFO
	case t == tDaemonAbort || t == tDaemonErr:
		// The audit daemon failing means records stop being written: the trail has a hole.
		return ltype.LogSeverity_ERROR
	case t == tDaemonStart || t == tDaemonEnd || t == tDaemonConfig || t == tDaemonReconfig:
		return ltype.LogSeverity_NOTICE
	case t == tUserErr || t == tAcctLock:
		return ltype.LogSeverity_WARNING
	case t == tServiceStart || t == tServiceStop:
		// systemd writes these for every unit; a unit failing is operational, not a
		// security signal, so failure only lifts them to NOTICE.
		if failed(r) {
			return ltype.LogSeverity_NOTICE
		}
		return ltype.LogSeverity_INFO
	case configType(t):
		if failed(r) {
			return ltype.LogSeverity_WARNING
		}
		return ltype.LogSeverity_NOTICE
	case t >= tUserAuth && t <= 1199:
		// Logins, authentication, account checks, credentials, sudo commands: a failure
		// is what an operator looks for (brute force, denied sudo).
		if failed(r) {
			return ltype.LogSeverity_WARNING
		}
		return ltype.LogSeverity_INFO
	case t == tSyscall:
		// Failed syscalls are normal (path lookups fail with ENOENT all the time); only
		// permission failures hint at something trying what it may not.
		if ev.Summary.Success == "no" || fieldIs(r, "success", "no") {
			switch exitName(ev, r) {
			case "EACCES", "EPERM":
				return ltype.LogSeverity_NOTICE
			}
		}
	}
	return ltype.LogSeverity_INFO
}

// configType reports records that say the system's security configuration changed.
// NETFILTER_CFG and BPF are left out on purpose: kube-proxy and CNI plugins rewrite
// firewall rules and load BPF programs constantly on a Kubernetes node.
func configType(t uint16) bool {
	switch t {
	case tConfigChange, tFeatureChange, tKernModule, tMacPolicyLoad, tMacStatus, tMacConfigChange,
		tUserMgmt, tUsysConfig, tAddUser, tDelUser, tAddGroup, tDelGroup, tChgrpID, tChuserID,
		tGrpMgmt, tAcctUnlock, tSoftwareUpdate, tUserChauthtok, tGrpChauthtok,
		tSystemBoot, tSystemShutdown, tSystemRunlevel,
		tUserRoleChange, tRoleAssign, tRoleRemove, tLabelOverride, tLabelLevelChg, tFsRelabel,
		tUserMacPolicy, tRoleModify, tUserMacConfig, tUserMacStatus:
		return true
	}
	return false
}

// avcSeverity: an enforced denial is a WARNING; a denial that was not enforced (SELinux
// permissive=1, AppArmor complain mode "ALLOWED") and policy status changes are NOTICE;
// granted/audit records are INFO.
func avcSeverity(r *parser.Record) ltype.LogSeverity {
	if f, ok := r.Get("apparmor"); ok {
		switch strings.ToUpper(f.Value) {
		case "DENIED", "KILL", "ERROR":
			return ltype.LogSeverity_WARNING
		case "ALLOWED", "STATUS":
			return ltype.LogSeverity_NOTICE
		}
		return ltype.LogSeverity_INFO
	}
	if avcVerdict(r) != "denied" {
		return ltype.LogSeverity_INFO
	}
	if fieldIs(r, "permissive", "1") {
		return ltype.LogSeverity_NOTICE
	}
	return ltype.LogSeverity_WARNING
}

// avcVerdict returns "denied" or "granted" for an SELinux AVC record ("avc:  denied  { read
// } for ..."), or "". The verdict is not a key=value pair, so it is read from the text, or
// from a seresult field when a parser provides one.
func avcVerdict(r *parser.Record) string {
	if f, ok := r.Get("seresult"); ok {
		return f.Value
	}
	s := r.Text
	i := strings.Index(s, "avc:")
	if i < 0 {
		return ""
	}
	s = strings.TrimLeft(s[i+4:], " ")
	switch {
	case strings.HasPrefix(s, "denied"):
		return "denied"
	case strings.HasPrefix(s, "granted"):
		return "granted"
	}
	return ""
}

// avcPerms returns the permission list of an SELinux AVC record ("read write"), or "".
func avcPerms(r *parser.Record) string {
	if f, ok := r.Get("seperms"); ok {
		return f.Value
	}
	s := r.Text
	i := strings.Index(s, "avc:")
	if i < 0 {
		return ""
	}
	s = s[i:]
	a := strings.IndexByte(s, '{')
	b := strings.IndexByte(s, '}')
	if a < 0 || b < a {
		return ""
	}
	return strings.TrimSpace(s[a+1 : b])
}

// failed reports a record whose result says failure: res=failed/0/no (user space, IMA) or
// success=no (syscalls).
func failed(r *parser.Record) bool {
	if f, ok := r.Get("res"); ok {
		switch f.Value {
		case "failed", "fail", "0", "no":
			return true
		}
		return false
	}
	return fieldIs(r, "success", "no")
}

func fieldIs(r *parser.Record, key, want string) bool {
	f, ok := r.Get(key)
	return ok && f.Value == want
}

// exitName returns the errno name of a failed syscall, from the summary when the parser
// filled it, else from the common negative exits so the severity does not depend on it.
func exitName(ev *parser.Event, r *parser.Record) string {
	if ev.Summary.ExitName != "" {
		return ev.Summary.ExitName
	}
	f, _ := r.Get("exit")
	switch f.Value {
	case "-13":
		return "EACCES"
	case "-1":
		return "EPERM"
	}
	return ""
}
