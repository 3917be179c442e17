package deploytest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The stubs play the host's tools. They log every call to $STUB_LOG and keep the kernel's audit
// state in files under $STUB_STATE, so a test can script a host and then read what the script did.

const stubChroot = `#!/bin/sh
echo "chroot $*" >>"$STUB_LOG"
root=$1; shift
# A real chroot fails when the program is missing inside the new root.
if [ ! -x "$root$1" ]; then
	echo "chroot: failed to run command '$1': No such file or directory" >&2
	exit 127
fi
tool=$(basename "$1"); shift
exec "$STUB_DIR/$tool" "$@"
`

const stubAuditctl = `#!/bin/sh
echo "auditctl $*" >>"$STUB_LOG"
S=$STUB_STATE
touch "$S/rules"
enabled=$(cat "$S/enabled")
immutable() { echo "The audit system is in immutable mode, no rule changes allowed" >&2; exit 255; }
case $1 in
-s)
	[ -e "$S/status_fail" ] && { echo "Error receiving audit netlink packet" >&2; exit 1; }
	printf 'enabled %s\nfailure 1\npid %s\nrate_limit 0\nbacklog_limit 8192\nlost 0\nbacklog 0\n' "$enabled" "$(cat "$S/pid")"
	;;
-l)
	if [ -s "$S/rules" ]; then cat "$S/rules"; else echo "No rules"; fi
	;;
-e)
	[ "$enabled" = 2 ] && immutable
	echo "$2" >"$S/enabled"
	;;
-a|-w)
	[ "$enabled" = 2 ] && immutable
	if [ -e "$S/reject" ] && printf '%s\n' "$*" | grep -qF -- "$(cat "$S/reject")"; then
		echo "Error sending add rule data request (Invalid argument)" >&2; exit 255
	fi
	if grep -qxF -- "$*" "$S/rules"; then
		echo "Error sending add rule data request (Rule exists)" >&2; exit 255
	fi
	printf '%s\n' "$*" >>"$S/rules"
	;;
-d|-W)
	[ "$enabled" = 2 ] && immutable
	if [ "$1" = -d ]; then op=-a; else op=-w; fi
	shift
	want="$op $*"
	if ! grep -qxF -- "$want" "$S/rules"; then
		echo "Error sending delete rule data request (No such file or directory)" >&2; exit 255
	fi
	grep -vxF -- "$want" "$S/rules" >"$S/rules.new"; mv "$S/rules.new" "$S/rules"
	;;
-D)
	[ "$enabled" = 2 ] && immutable
	if [ "${2:-}" = -k ]; then
		grep -v -e " -k $3\$" -e " -F key=$3\$" "$S/rules" >"$S/rules.new"; mv "$S/rules.new" "$S/rules"
	else
		: >"$S/rules"
	fi
	;;
*)
	echo "stub auditctl: unexpected arguments: $*" >&2; exit 64
	;;
esac
exit 0
`

const stubSystemctl = `#!/bin/sh
echo "systemctl $*" >>"$STUB_LOG"
S=$STUB_STATE
case $1 in
start)
	[ -e "$S/start_fail" ] && { echo "Job for $2.service failed." >&2; exit 1; }
	# What cloud-audit-setup does: replace the rules, then lock them.
	printf '%s\n' "-a always,exit -F arch=b64 -S execve" "-a always,exit -F arch=b64 -S socket -F key=funky_socket" >"$S/rules"
	echo 2 >"$S/enabled"
	;;
is-active)
	if [ "$2" = systemd-journald-audit.socket ]; then
		st=$(cat "$S/journald_audit" 2>/dev/null || echo active)
		echo "$st"
		[ "$st" = active ]
		exit $?
	fi
	# Answers come from active_seq, one line per call; the last line repeats.
	n=$(wc -l <"$S/active_seq")
	st=$(head -n 1 "$S/active_seq")
	if [ "$n" -gt 1 ]; then tail -n +2 "$S/active_seq" >"$S/seq.new"; mv "$S/seq.new" "$S/active_seq"; fi
	echo "$st"
	[ "$st" = active ]
	exit $?
	;;
status)
	echo "x cloud-audit-setup.service - COS audit setup"
	echo "     Active: failed (Result: exit-code)"
	exit 3
	;;
*)
	echo "stub systemctl: unexpected arguments: $*" >&2; exit 64
	;;
esac
`

type fakeHost struct {
	t                        *testing.T
	root, stubs, state, logf string
	script                   string
	env                      map[string]string
}

// newFakeHost builds a host root whose os-release says ID=osID, with an executable auditctl and
// systemctl (placeholders: the chroot stub runs the stubs instead), and the stubs in a PATH dir.
func newFakeHost(t *testing.T, osID string) *fakeHost {
	t.Helper()
	dir := t.TempDir()
	h := &fakeHost{
		t:      t,
		root:   filepath.Join(dir, "host"),
		stubs:  filepath.Join(dir, "stubs"),
		state:  filepath.Join(dir, "state"),
		logf:   filepath.Join(dir, "calls.log"),
		script: filepath.Join(repoRoot(t), "scripts", "audit-setup.sh"),
	}
	for _, d := range []string{h.stubs, h.state, filepath.Join(h.root, "etc"), filepath.Join(h.root, "usr/sbin"), filepath.Join(h.root, "usr/bin")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(h.root, "etc/os-release"), []byte("NAME=\"Test OS\"\nID="+osID+"\nVERSION_ID=\"1\"\n"), 0o644))
	h.hostTool("usr/sbin/auditctl")
	h.hostTool("usr/bin/systemctl")
	for name, body := range map[string]string{"chroot": stubChroot, "auditctl": stubAuditctl, "systemctl": stubSystemctl} {
		must(t, os.WriteFile(filepath.Join(h.stubs, name), []byte(body), 0o755))
	}
	h.setState("enabled", "1")
	h.setState("pid", "731")
	h.setState("active_seq", "active")
	h.env = map[string]string{
		"PATH":             h.stubs + ":/usr/bin:/bin",
		"HOST_ROOT":        h.root,
		"NODE_NAME":        "gke-node-a",
		"AUDIT_RULES_FILE": filepath.Join(dir, "no-custom-rules"),
		"STUB_DIR":         h.stubs,
		"STUB_STATE":       h.state,
		"STUB_LOG":         h.logf,
	}
	return h
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (h *fakeHost) hostTool(rel string) {
	must(h.t, os.WriteFile(filepath.Join(h.root, rel), []byte("#!/bin/false\n"), 0o755))
}

// useCustomRules writes body as the custom rules file (the audit-rules ConfigMap's audit.rules)
// and points the script at it; it returns the file's path.
func (h *fakeHost) useCustomRules(body string) string {
	custom := filepath.Join(h.t.TempDir(), "audit.rules")
	must(h.t, os.WriteFile(custom, []byte(body), 0o644))
	h.env["AUDIT_RULES_FILE"] = custom
	return custom
}

func (h *fakeHost) setState(name, content string) {
	must(h.t, os.WriteFile(filepath.Join(h.state, name), []byte(content+"\n"), 0o644))
}

func (h *fakeHost) setRules(lines ...string) {
	body := ""
	if len(lines) > 0 {
		body = strings.Join(lines, "\n") + "\n"
	}
	must(h.t, os.WriteFile(filepath.Join(h.state, "rules"), []byte(body), 0o644))
}

func (h *fakeHost) rules() []string { return readLines(h.t, filepath.Join(h.state, "rules")) }

func (h *fakeHost) enabled() string {
	b, err := os.ReadFile(filepath.Join(h.state, "enabled"))
	must(h.t, err)
	return strings.TrimSpace(string(b))
}

func (h *fakeHost) calls() []string { return readLines(h.t, h.logf) }

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	must(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	must(t, sc.Err())
	return out
}

type runResult struct {
	stdout, stderr string
	code           int
}

func (r runResult) all() string { return r.stdout + r.stderr }

// run executes the script with /bin/sh (dash on Debian, so bashisms fail here too).
func (h *fakeHost) run(args ...string) runResult {
	h.t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{h.script}, args...)...)
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	r := runResult{stdout: out.String(), stderr: errb.String(), code: code}
	h.checkEveryLineNamesNode(r)
	return r
}

func (h *fakeHost) checkEveryLineNamesNode(r runResult) {
	h.t.Helper()
	node := h.env["NODE_NAME"]
	if node == "" {
		return
	}
	for _, l := range strings.Split(strings.TrimSpace(r.all()), "\n") {
		if l != "" && !strings.HasPrefix(l, node+": ") {
			h.t.Errorf("output line does not start with the node name %q: %q", node, l)
		}
	}
}

func (h *fakeHost) want(r runResult, code int, contains ...string) {
	h.t.Helper()
	if r.code != code {
		h.t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s\ncalls:\n%s", r.code, code, r.stdout, r.stderr, strings.Join(h.calls(), "\n"))
	}
	for _, c := range contains {
		if !strings.Contains(r.all(), c) {
			h.t.Errorf("output lacks %q:\n%s", c, r.all())
		}
	}
}

func (h *fakeHost) called(prefix string) int {
	n := 0
	for _, c := range h.calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// bundledRules returns the rule lines of scripts/rules/auditd-cloud-logging.rules as the stub
// stores them (comments and blank lines dropped, blanks collapsed).
func bundledRules(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, l := range readLines(t, filepath.Join(repoRoot(t), "scripts/rules/auditd-cloud-logging.rules")) {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	if len(out) == 0 {
		t.Fatal("bundled rules file has no rules")
	}
	return out
}

func TestScriptCOSStartsUnitAndWaits(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.setState("enabled", "1")
	h.setState("pid", "0") // journald reads the multicast group and registers no pid
	h.setState("active_seq", "activating\nactivating\nactive")
	r := h.run()
	h.want(r, 0, "mode setup on cos 1", "started cloud-audit-setup", "cloud-audit-setup is active",
		"locked until reboot (enabled 2), 2 rules loaded, records read by journald (multicast, no receiver pid)", "setup done")
	if n := h.called("systemctl start cloud-audit-setup"); n != 1 {
		t.Errorf("systemctl start called %d times, want 1", n)
	}
	if n := h.called("systemctl is-active cloud-audit-setup"); n != 3 {
		t.Errorf("is-active polled %d times, want 3 (activating, activating, active)", n)
	}
	if n := h.called("chroot " + h.root + " /usr/bin/systemctl start cloud-audit-setup"); n != 1 {
		t.Errorf("systemctl was not run inside the host root: %v", h.calls())
	}
	if h.called("auditctl -a") != 0 {
		t.Error("COS setup loaded rules itself instead of leaving it to cloud-audit-setup")
	}
}

func TestScriptCOSSecondRunIsNoOp(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.want(h.run(), 0)
	before := len(h.calls())
	r := h.run()
	h.want(r, 0, "immutable until the node reboots", "-a always,exit -F arch=b64 -S socket -F key=funky_socket", "already ran (rules locked); nothing to do")
	for _, c := range h.calls()[before:] {
		if strings.HasPrefix(c, "systemctl") || strings.HasPrefix(c, "auditctl -a") || strings.HasPrefix(c, "auditctl -e") {
			t.Errorf("second run changed state: %s", c)
		}
	}
}

func TestScriptCOSUnitFails(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.setState("active_seq", "activating\nfailed")
	r := h.run()
	h.want(r, 5, "cloud-audit-setup failed", "Active: failed")
	if !strings.Contains(r.stderr, "ERROR") {
		t.Errorf("failure not reported on stderr: %q", r.stderr)
	}
}

func TestScriptCOSStartRefused(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.setState("start_fail", "")
	h.want(h.run(), 5, "systemctl start cloud-audit-setup failed", "Job for cloud-audit-setup.service failed")
}

func TestScriptCOSTimeout(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.setState("active_seq", "activating")
	h.env["AUDIT_SETUP_TIMEOUT"] = "1"
	h.want(h.run(), 5, "still 'activating' after 1s")
}

func TestScriptCOSWithoutSystemctl(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	must(t, os.Remove(filepath.Join(h.root, "usr/bin/systemctl")))
	h.want(h.run(), 4, "COS node without systemctl")
	if h.called("systemctl") != 0 {
		t.Error("systemctl called although missing")
	}
}

// COS and others link /etc/os-release to /usr/lib/os-release; an absolute link must resolve inside
// the host root, not in the container.
func TestScriptOSReleaseAbsoluteSymlink(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	must(t, os.MkdirAll(filepath.Join(h.root, "usr/lib"), 0o755))
	must(t, os.Rename(filepath.Join(h.root, "etc/os-release"), filepath.Join(h.root, "usr/lib/os-release")))
	must(t, os.Symlink("/usr/lib/os-release", filepath.Join(h.root, "etc/os-release")))
	h.want(h.run(), 0, "mode setup on cos")
	if h.called("systemctl start") != 1 {
		t.Error("COS branch not taken through the symlinked os-release")
	}
}

func TestScriptNonCOSLoadsBundledRules(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.setRules("-w /etc/shadow -p wa -k site_rule")
	want := bundledRules(t)
	r := h.run()
	h.want(r, 0, "mode setup on ubuntu", "loading the bundled rules", "loaded 3 rules, 0 were already loaded", "setup done")
	got := h.rules()
	if len(got) != len(want)+1 || got[0] != "-w /etc/shadow -p wa -k site_rule" {
		t.Fatalf("host rules after setup = %q; want the site rule kept plus %q", got, want)
	}
	for i, w := range want {
		if got[i+1] != w {
			t.Errorf("rule %d = %q, want %q", i, got[i+1], w)
		}
	}
	if h.called("auditctl -D") != 0 || h.called("auditctl -e") != 0 {
		t.Errorf("setup deleted rules or changed the enabled flag: %v", h.calls())
	}
	if h.called("systemctl") != 0 {
		t.Error("non-COS setup used systemctl")
	}

	// A second run (pod restart) is a no-op success.
	r = h.run()
	h.want(r, 0, "loaded 0 rules, 3 were already loaded")
	if len(h.rules()) != len(want)+1 {
		t.Errorf("second run changed the rules: %q", h.rules())
	}
}

func TestScriptNonCOSEnablesAuditing(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.setState("enabled", "0")
	h.want(h.run(), 0, "enabled kernel auditing (it was off)", "kernel audit is enabled (enabled 1)")
	if h.enabled() != "1" {
		t.Errorf("enabled = %s, want 1", h.enabled())
	}
}

func TestScriptNoReceiverLeavesAuditingOff(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.setState("enabled", "0")
	h.setState("pid", "0")
	h.env["AUDIT_REQUIRE_RECEIVER"] = "false"
	h.want(h.run(), 0, "left kernel auditing off (enabled 0)", "loaded 3 rules")
	if h.enabled() != "0" || h.called("auditctl -e") != 0 {
		t.Errorf("auditing enabled with no receiver: enabled=%s calls=%v", h.enabled(), h.calls())
	}
}

func TestScriptNonCOSWithoutAuditctl(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	must(t, os.Remove(filepath.Join(h.root, "usr/sbin/auditctl")))
	r := h.run()
	h.want(r, 4, "the host has no auditctl", "apt-get install auditd")
	if h.called("chroot") != 0 {
		t.Errorf("tools were run although auditctl is missing: %v", h.calls())
	}
}

func TestScriptNonCOSNoReceiver(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.setState("pid", "0")
	h.want(h.run(), 7, "no process receives audit records", "systemctl enable --now auditd")
	if h.called("auditctl -a") != 0 {
		t.Error("rules loaded although nothing receives the records")
	}
	h.env["AUDIT_REQUIRE_RECEIVER"] = "false"
	h.want(h.run(), 0, "loading anyway because AUDIT_REQUIRE_RECEIVER=false")
	if h.called("auditctl -a") != 3 {
		t.Errorf("rules not loaded with AUDIT_REQUIRE_RECEIVER=false: %v", h.calls())
	}
}

func TestScriptRejectedRule(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.setState("reject", "arch=b32")
	r := h.run()
	h.want(r, 6, `auditctl rejected "-a always,exit -F arch=b32 -S execve -k gke_audit_exec": Error sending add rule data request (Invalid argument)`,
		"1 rules of")
	if !regexp.MustCompile(`auditd-cloud-logging\.rules:\d+: auditctl rejected`).MatchString(r.stderr) {
		t.Errorf("rejection does not name file and line: %q", r.stderr)
	}
	// The other rules were still tried and loaded.
	if len(h.rules()) != 2 {
		t.Errorf("rules after a rejection = %q, want the 2 accepted ones", h.rules())
	}
}

func TestScriptLockedNonCOS(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.setState("enabled", "2")
	h.setRules("-a always,exit -F arch=b64 -S execve -k other")
	r := h.run()
	h.want(r, 0, "locked (enabled 2)", "immutable until the node reboots", "1 rules loaded", "-a always,exit -F arch=b64 -S execve -k other", "nothing changed")
	if h.called("auditctl -a") != 0 || h.called("auditctl -e") != 0 {
		t.Errorf("locked host was modified: %v", h.calls())
	}
}

func TestScriptCustomRules(t *testing.T) {
	t.Parallel()
	for _, osID := range []string{"ubuntu", "cos"} {
		t.Run(osID, func(t *testing.T) {
			h := newFakeHost(t, osID)
			if osID == "cos" {
				// As on a COS node: journald reads the multicast group, auditctl -s shows pid 0.
				h.setState("pid", "0")
			}
			custom := h.useCustomRules("# mine\n-a always,exit -F arch=b64 -S openat -F exit=-EACCES -k denied   # trailing comment\n\n-e 2\n")
			r := h.run()
			h.want(r, 0, "loading custom rules from "+custom, "skipping '-e 2' (lock); set AUDIT_LOCK=true", "loaded 1 rules, 0 were already loaded, 1 lines skipped")
			if got := h.rules(); len(got) != 1 || got[0] != "-a always,exit -F arch=b64 -S openat -F exit=-EACCES -k denied" {
				t.Errorf("rules = %q, want only the custom rule", got)
			}
			if h.called("auditctl -e 2") != 0 {
				t.Error("locked without AUDIT_LOCK=true")
			}
			if h.called("systemctl start") != 0 {
				t.Error("custom rules on COS still started cloud-audit-setup")
			}
			if osID == "cos" && !strings.Contains(r.stdout, "journald reads audit records from the kernel's multicast group") {
				t.Errorf("COS with pid 0 not explained: %q", r.stdout)
			}
		})
	}
}

// On COS, pid 0 is journald reading the multicast group, not a missing receiver: custom rules
// load and auditing is turned on if it was off, whatever AUDIT_REQUIRE_RECEIVER says.
func TestScriptCOSCustomRulesWithoutReceiverPid(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.setState("pid", "0")
	h.setState("enabled", "0")
	h.useCustomRules("-a always,exit -F arch=b64 -S execve -k mine\n")
	h.want(h.run(), 0, "loaded 1 rules", "enabled kernel auditing (it was off)", "records read by journald")
	if h.enabled() != "1" || len(h.rules()) != 1 {
		t.Errorf("enabled=%s rules=%q", h.enabled(), h.rules())
	}
}

// On COS with journald's audit socket stopped, nothing reads the records: custom rules are
// refused (exit 7) unless AUDIT_REQUIRE_RECEIVER=false, as on other nodes without auditd.
func TestScriptCOSWithoutJournaldAudit(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "cos")
	h.setState("pid", "0")
	h.setState("journald_audit", "inactive")
	h.useCustomRules("-a always,exit -F arch=b64 -S execve -k mine\n")
	h.want(h.run(), 7, "systemd-journald-audit.socket is not active", "systemctl start systemd-journald-audit.socket")
	if len(h.rules()) != 0 {
		t.Errorf("rules loaded with nothing reading them: %q", h.rules())
	}
	h.env["AUDIT_REQUIRE_RECEIVER"] = "false"
	h.want(h.run(), 0, "loading anyway because AUDIT_REQUIRE_RECEIVER=false", "loaded 1 rules")
}

func TestScriptLockWhenAsked(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.env["AUDIT_LOCK"] = "true"
	h.want(h.run(), 0, "locked the rules (AUDIT_LOCK=true)", "until the node reboots", "enabled 2")
	if h.called("auditctl -e 2") != 1 || h.enabled() != "2" {
		t.Errorf("AUDIT_LOCK=true did not lock: enabled=%s calls=%v", h.enabled(), h.calls())
	}
}

func TestScriptDisableRemovesOnlyProjectRules(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	h.want(h.run(), 0)
	// An older version's rule with a project key, and a site rule that must survive.
	h.setRules(append(h.rules(), "-a always,exit -F arch=b64 -S execveat -k gke_audit_exec", "-w /etc/shadow -p wa -k site_rule")...)
	r := h.run("disable")
	h.want(r, 0, "mode disable on ubuntu", "removed 3 rules (0 were not loaded)", "swept keys:", "gke_audit_exec", "funky_socket", "1 rules loaded", "disable done")
	if got := h.rules(); len(got) != 1 || got[0] != "-w /etc/shadow -p wa -k site_rule" {
		t.Errorf("rules after disable = %q, want only the site rule", got)
	}
	// Disabling again finds nothing and still succeeds.
	h.want(h.run("disable"), 0, "removed 0 rules (3 were not loaded)")
	// MODE from the environment works too; the argument wins over it.
	h.env["MODE"] = "disable"
	h.want(h.run(), 0, "mode disable")
	h.want(h.run("setup"), 0, "mode setup")
}

func TestScriptDisableLocked(t *testing.T) {
	t.Parallel()
	for _, osID := range []string{"cos", "ubuntu"} {
		t.Run(osID, func(t *testing.T) {
			h := newFakeHost(t, osID)
			h.setState("enabled", "2")
			h.setRules("-a always,exit -F arch=b64 -S execve")
			r := h.run("disable")
			h.want(r, 8, "immutable until the node reboots", "cannot remove the audit rules", "Recreate this node", "one node pool at a time")
			if h.called("auditctl -d") != 0 || h.called("auditctl -D") != 0 {
				t.Errorf("tried to change locked rules: %v", h.calls())
			}
		})
	}
}

func TestScriptBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"unknown mode arg", nil, []string{"remove"}, 2, "unknown mode 'remove'"},
		{"unknown mode env", map[string]string{"MODE": "on"}, nil, 2, "unknown mode 'on'"},
		{"bad lock", map[string]string{"AUDIT_LOCK": "yes"}, nil, 2, "AUDIT_LOCK='yes'"},
		{"bad receiver", map[string]string{"AUDIT_REQUIRE_RECEIVER": "1"}, nil, 2, "AUDIT_REQUIRE_RECEIVER='1'"},
		{"bad timeout", map[string]string{"AUDIT_SETUP_TIMEOUT": "10s"}, nil, 2, "AUDIT_SETUP_TIMEOUT='10s'"},
		{"no host root", map[string]string{"HOST_ROOT": "/nonexistent/host"}, nil, 3, "host root /nonexistent/host is not mounted"},
		{"missing bundled rules", map[string]string{"BUNDLED_RULES": "/nonexistent.rules"}, nil, 2, "rules file /nonexistent.rules is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newFakeHost(t, "ubuntu")
			for k, v := range c.env {
				h.env[k] = v
			}
			h.want(h.run(c.args...), c.code, c.msg)
			if h.called("auditctl -a") != 0 || h.called("auditctl -e") != 0 {
				t.Errorf("bad input still changed the host: %v", h.calls())
			}
		})
	}

	t.Run("no os-release", func(t *testing.T) {
		h := newFakeHost(t, "ubuntu")
		must(t, os.Remove(filepath.Join(h.root, "etc/os-release")))
		h.want(h.run(), 3, "no readable os-release")
	})
	t.Run("custom rules without rules", func(t *testing.T) {
		h := newFakeHost(t, "ubuntu")
		h.useCustomRules("# only a comment\n")
		h.want(h.run(), 2, "has no auditctl lines")
	})
	t.Run("status query fails", func(t *testing.T) {
		h := newFakeHost(t, "ubuntu")
		h.setState("status_fail", "")
		h.want(h.run(), 6, "auditctl -s failed")
	})
}

func TestScriptNodeNameFallsBackToHostname(t *testing.T) {
	t.Parallel()
	h := newFakeHost(t, "ubuntu")
	delete(h.env, "NODE_NAME")
	host, err := os.ReadFile("/proc/sys/kernel/hostname")
	if err != nil {
		t.Skipf("no /proc/sys/kernel/hostname: %v", err)
	}
	r := h.run()
	h.want(r, 0)
	name := strings.TrimSpace(string(host))
	for _, l := range strings.Split(strings.TrimSpace(r.all()), "\n") {
		if !strings.HasPrefix(l, name+": ") {
			t.Errorf("line does not start with the hostname %q: %q", name, l)
		}
	}
}

func TestScriptShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		skipOrFail(t, "shellcheck is not installed")
	}
	out, err := exec.Command(sc, "--shell=sh", "--severity=style", filepath.Join(repoRoot(t), "scripts/audit-setup.sh")).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// Every bundled rule carries a key: disable mode and queries find the project's rules by key.
func TestBundledRulesAreKeyed(t *testing.T) {
	keyed := regexp.MustCompile(`(^| )(-k \S+|-F key=\S+)( |$)`)
	for _, r := range bundledRules(t) {
		if strings.HasPrefix(r, "-a ") || strings.HasPrefix(r, "-A ") || strings.HasPrefix(r, "-w ") {
			if !keyed.MatchString(r) {
				t.Errorf("bundled rule without a key: %q", r)
			}
		}
		if strings.HasPrefix(r, "-e ") || strings.HasPrefix(r, "-f ") || strings.HasPrefix(r, "-D") {
			t.Errorf("bundled rules must not change global state: %q", r)
		}
	}
}
