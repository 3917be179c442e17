package audittest

import (
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The lock excludes the flock(1) the capture script uses, waits for a holder to let go, and
// gives up with the path named.
func TestCaptureLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "audit-capture.lock")
	release, err := TakeLock(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("flock"); err == nil {
		if err := exec.Command("flock", "-n", path, "true").Run(); err == nil {
			t.Error("flock(1) took the lock while the test held it")
		}
	}
	if _, err := TakeLock(path, 300*time.Millisecond); err == nil || !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("second holder: err %v, want EWOULDBLOCK naming %s", err, path)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		release()
	}()
	start := time.Now()
	again, err := TakeLock(path, 10*time.Second)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer again()
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("took the lock after %v while it was held for 300ms", d)
	}
}
