// Package audittest holds what the tests that change kernel audit state share: the lock
// they take so that no two run at once, and the rule that CI turns skips into failures.
package audittest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// LockPath is the lock scripts/capture-corpus.sh and internal/e2e take before they
// change kernel audit state (AUDIT_CAPTURE_LOCK overrides it).
func LockPath() string {
	if p := os.Getenv("AUDIT_CAPTURE_LOCK"); p != "" {
		return p
	}
	return "/run/lock/audit-capture.lock"
}

// TakeLock takes an exclusive flock on path, as `flock` in capture-corpus.sh and
// the tests do, polling for up to wait while another holder has it.
func TakeLock(path string, wait time.Duration) (release func(), err error) {
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

// Lock holds the capture lock until the test ends, waiting up to two minutes for a capture
// or another audit test in progress: `go test ./...` runs packages in parallel, and one
// test's rule changes would break another's.
func Lock(t testing.TB) {
	t.Helper()
	release, err := TakeLock(LockPath(), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

// Required reports whether CI asked (AUDIT_TESTS_REQUIRED=1) for tests that need root, kernel
// audit or Debian's audit tools to fail instead of skipping when those are missing.
func Required() bool { return os.Getenv("AUDIT_TESTS_REQUIRED") == "1" }

// SkipOrFail skips the test with the reason, or fails it when Required.
func SkipOrFail(t testing.TB, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if Required() {
		t.Fatalf("%s (AUDIT_TESTS_REQUIRED=1 makes this a failure)", msg)
	}
	t.Skip(msg + " (set AUDIT_TESTS_REQUIRED=1 to make this a failure)")
}
