package deploytest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// captureLockPath is the lock scripts/capture-corpus.sh and internal/e2e take before they
// change kernel audit state (AUDIT_CAPTURE_LOCK overrides it).
func captureLockPath() string {
	if p := os.Getenv("AUDIT_CAPTURE_LOCK"); p != "" {
		return p
	}
	return "/run/lock/audit-capture.lock"
}

// takeCaptureLock takes an exclusive flock on path, as `flock` in capture-corpus.sh and
// internal/e2e's lockCapture do, polling for up to wait while another holder has it.
func takeCaptureLock(path string, wait time.Duration) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("audit capture lock %s: %w", path, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("audit capture lock %s: %w (another audit capture or end-to-end test holds it)", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// lockCapture holds the capture lock until the test ends, waiting up to two minutes for a
// capture or end-to-end test in progress: `go test ./...` runs packages in parallel, and this
// package's disable mode would remove the rules the e2e test loaded.
func lockCapture(t *testing.T) {
	t.Helper()
	release, err := takeCaptureLock(captureLockPath(), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

// The lock excludes the flock(1) the capture script uses, waits for a holder to let go, and
// gives up with the path named.
func TestCaptureLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "audit-capture.lock")
	release, err := takeCaptureLock(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("flock"); err == nil {
		if err := exec.Command("flock", "-n", path, "true").Run(); err == nil {
			t.Error("flock(1) took the lock while the test held it")
		}
	}
	if _, err := takeCaptureLock(path, 300*time.Millisecond); err == nil || !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("second holder: err %v, want EWOULDBLOCK naming %s", err, path)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		release()
	}()
	start := time.Now()
	again, err := takeCaptureLock(path, 10*time.Second)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer again()
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("took the lock after %v while it was held for 300ms", d)
	}
}
