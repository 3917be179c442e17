package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gke-audit/auditd-cloud-logging/internal/audittest"
)

// projectKeys are the keys the bundled rules use (disable mode finds rules by them).
var projectKeys = []string{"gke_audit_exec", "funky_socket"}

func auditctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("auditctl", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func auditRules(t *testing.T) []string {
	t.Helper()
	out, err := auditctl(t, "-l")
	if err != nil {
		t.Fatalf("auditctl -l: %v: %s", err, out)
	}
	if out == "No rules" || out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func auditEnabled(t *testing.T) string {
	t.Helper()
	out, err := auditctl(t, "-s")
	if err != nil {
		t.Fatalf("auditctl -s: %v: %s", err, out)
	}
	m := regexp.MustCompile(`(?m)^enabled (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("auditctl -s has no enabled line: %s", out)
	}
	return m[1]
}

func receiverPID(t *testing.T) string {
	t.Helper()
	out, err := auditctl(t, "-s")
	if err != nil {
		t.Fatalf("auditctl -s: %v: %s", err, out)
	}
	m := regexp.MustCompile(`(?m)^pid (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("auditctl -s has no pid line: %s", out)
	}
	return m[1]
}

func hasProjectKey(rule string) bool {
	for _, k := range projectKeys {
		if strings.HasSuffix(rule, " key="+k) || strings.Contains(rule, " key="+k+" ") ||
			strings.HasSuffix(rule, " -k "+k) || strings.Contains(rule, " -k "+k+" ") {
			return true
		}
	}
	return false
}

// TestScriptRealAuditctl loads the non-COS rule set into this machine's kernel with the real
// auditctl, checks `auditctl -l`, removes it with disable mode, and restores the rules and the
// enabled flag found before. It never locks (-e 2) and never touches the failure mode. It holds
// the audit capture lock (see audittest.Lock) throughout.
func TestScriptRealAuditctl(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to change kernel audit rules")
	}
	if _, err := exec.LookPath("auditctl"); err != nil {
		skipOrFail(t, "auditctl is not installed")
	}
	if out, err := auditctl(t, "-s"); err != nil {
		skipOrFail(t, "kernel audit is not available: auditctl -s: "+out)
	}
	if osr, err := os.ReadFile("/etc/os-release"); err == nil && regexp.MustCompile(`(?m)^ID="?cos"?$`).Match(osr) {
		skipOrFail(t, "this machine is COS: the script would start cloud-audit-setup, which locks the rules")
	}
	// Before reading the state to restore: the e2e test and the corpus capture change it too.
	audittest.Lock(t)
	priorEnabled := auditEnabled(t)
	if priorEnabled == "2" {
		skipOrFail(t, "audit rules are locked on this machine (enabled 2)")
	}
	priorRules := auditRules(t)
	for _, r := range priorRules {
		if hasProjectKey(r) {
			skipOrFail(t, "this machine already has a rule with a project key, which disable mode would remove: "+r)
		}
	}

	t.Cleanup(func() {
		for _, k := range projectKeys {
			if out, err := auditctl(t, "-D", "-k", k); err != nil {
				t.Errorf("cleanup: auditctl -D -k %s: %v: %s", k, err, out)
			}
		}
		have := map[string]bool{}
		for _, r := range auditRules(t) {
			have[r] = true
		}
		for _, r := range priorRules {
			if !have[r] {
				if out, err := auditctl(t, strings.Fields(r)...); err != nil {
					t.Errorf("cleanup: restoring %q: %v: %s", r, err, out)
				}
			}
		}
		if auditEnabled(t) != priorEnabled {
			if out, err := auditctl(t, "-e", priorEnabled); err != nil {
				t.Errorf("cleanup: auditctl -e %s: %v: %s", priorEnabled, err, out)
			}
		}
		if got := auditRules(t); strings.Join(got, "\n") != strings.Join(priorRules, "\n") {
			t.Errorf("cleanup: rules differ from before the test:\nbefore %q\nafter  %q", priorRules, got)
		}
		if got := auditEnabled(t); got != priorEnabled {
			t.Errorf("cleanup: enabled %s, was %s", got, priorEnabled)
		}
	})

	run := func(args ...string) runResult {
		t.Helper()
		cmd := exec.Command("/bin/sh", append([]string{filepath.Join(repoRoot(t), "scripts/audit-setup.sh")}, args...)...)
		cmd.Env = append(os.Environ(),
			"HOST_ROOT=/",
			"NODE_NAME=real-node",
			"AUDIT_RULES_FILE="+filepath.Join(t.TempDir(), "none"),
			// No auditd may run here: load anyway (the script then leaves auditing off).
			"AUDIT_REQUIRE_RECEIVER=false",
			"AUDIT_LOCK=false",
		)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := runResult{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}
	expect := func(r runResult, code int, contains ...string) {
		t.Helper()
		if r.code != code {
			t.Fatalf("exit %d, want %d:\n%s", r.code, code, r.all())
		}
		for _, c := range contains {
			if !strings.Contains(r.all(), c) {
				t.Errorf("output lacks %q:\n%s", c, r.all())
			}
		}
	}

	expect(run(), 0, "real-node: loaded 3 rules, 0 were already loaded")
	var loaded []string
	for _, r := range auditRules(t) {
		if hasProjectKey(r) {
			loaded = append(loaded, r)
		}
	}
	wantRe := []*regexp.Regexp{
		regexp.MustCompile(`^-a always,exit -F arch=b64 -S execve -F key=gke_audit_exec$`),
		regexp.MustCompile(`^-a always,exit -F arch=b32 -S execve -F key=gke_audit_exec$`),
		regexp.MustCompile(`^-a always,exit -F arch=b64 -S socket -F success=1 -F a0!=0x0 -F a0!=0x1 -F a0!=0x2 -F a0!=0x[aA] -F a0!=0x10 -F a0!=0x11 -F key=funky_socket$`),
	}
	if len(loaded) != len(wantRe) {
		t.Fatalf("auditctl -l shows %d project rules, want %d: %q", len(loaded), len(wantRe), loaded)
	}
	for i, re := range wantRe {
		if !re.MatchString(loaded[i]) {
			t.Errorf("rule %d = %q, want match %s", i, loaded[i], re)
		}
	}
	// Without a receiver the script leaves the flag alone (enabling would flood the kernel log);
	// with one (auditd or journald) it turns auditing on.
	wantEnabled := priorEnabled
	if receiverPID(t) != "0" {
		wantEnabled = "1"
	}
	if got := auditEnabled(t); got != wantEnabled {
		t.Errorf("enabled %s after setup, want %s", got, wantEnabled)
	}

	// A restarted init container finds the rules and succeeds without duplicating them; this
	// relies on the real auditctl's "Rule exists" message.
	expect(run(), 0, "loaded 0 rules, 3 were already loaded")

	expect(run("disable"), 0, "removed 3 rules (0 were not loaded)", "disable done")
	for _, r := range auditRules(t) {
		if hasProjectKey(r) {
			t.Errorf("rule left after disable: %q", r)
		}
	}
	// Disabling twice relies on the real auditctl's message for a rule that is not loaded.
	expect(run("disable"), 0, "removed 0 rules (3 were not loaded)")
}
