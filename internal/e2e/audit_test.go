package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func auditctl(args ...string) (string, error) {
	out, err := exec.Command("auditctl", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// auditStatus parses `auditctl -s` ("enabled 1", "pid 123", ...).
func auditStatus() (map[string]string, error) {
	out, err := auditctl("-s")
	if err != nil {
		return nil, fmt.Errorf("auditctl -s: %v: %s", err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			m[f[0]] = f[1]
		}
	}
	if m["enabled"] == "" {
		return nil, fmt.Errorf("auditctl -s printed no enabled line: %s", out)
	}
	return m, nil
}

func auditRules(t *testing.T) []string {
	t.Helper()
	out, err := auditctl("-l")
	if err != nil {
		t.Fatalf("auditctl -l: %v: %s", err, out)
	}
	if out == "No rules" || out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// auditdConf is scripts/capture-corpus.sh's throw-away configuration (one file for both):
// its own log file, nothing under /etc/audit or /var/log/audit touched.
func auditdConf(t *testing.T, dir string) []byte {
	t.Helper()
	in, err := os.ReadFile("../../scripts/auditd-throwaway.conf.in")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer("@DIR@", dir, "@LOG_FORMAT@", "RAW", "@NAME_FORMAT@", "NONE").Replace(string(in)))
}

// startAuditd starts Debian's auditd in the foreground (-n, so the child is the daemon) with
// -s nochange (the enabled flag stays ours to manage) and waits until the kernel names it as
// the audit receiver. It returns the log path; the daemon is stopped at cleanup.
func startAuditd(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "plugins.d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "auditd.conf")
	if err := os.WriteFile(conf, auditdConf(t, dir), 0o640); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("auditd", "-n", "-s", "nochange", "-c", dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting auditd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("auditd %d did not stop on SIGTERM within 10s; killing it", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	pid := fmt.Sprint(cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("auditd exited at start: %v\n%s", err, out.String())
		default:
		}
		if st, err := auditStatus(); err == nil && st["pid"] == pid {
			return filepath.Join(dir, "audit.log")
		}
		if time.Now().After(deadline) {
			t.Fatalf("auditd %s did not register with the kernel within 10s\n%s", pid, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setupScript runs scripts/audit-setup.sh against this machine (HOST_ROOT=/) in the given mode
// with the given custom rules file (a missing file selects the bundled rules).
func setupScript(t *testing.T, mode, rulesFile string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", filepath.Join(repoRoot(), "scripts", "audit-setup.sh"), mode)
	cmd.Env = append(os.Environ(),
		"HOST_ROOT=/",
		"NODE_NAME=e2e-node",
		"AUDIT_RULES_FILE="+rulesFile,
		"AUDIT_LOCK=false",
		"AUDIT_REQUIRE_RECEIVER=true",
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
