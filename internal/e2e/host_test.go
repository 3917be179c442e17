package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/audittest"
)

// artifacts returns the plugin .so and the C host: the ones `make test` built (CHOST_PLUGIN_SO,
// CHOST_BIN), or built into a temporary directory.
func artifacts(t *testing.T) (so, host string) {
	t.Helper()
	so, host = os.Getenv("CHOST_PLUGIN_SO"), os.Getenv("CHOST_BIN")
	if so != "" && host != "" {
		return so, host
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		audittest.SkipOrFail(t, "gcc not found: cannot build the C host")
	}
	dir := t.TempDir()
	so, host = filepath.Join(dir, "out_auditd_cloud_logging.so"), filepath.Join(dir, "chost")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", so, "./plugin")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, out)
	}
	cc := exec.Command("gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-o", host,
		filepath.Join(repoRoot(), "plugin", "chost", "chost.c"), "-ldl", "-lpthread")
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("building the C host: %v\n%s", err, out)
	}
	return so, host
}

// liveHost runs the C host on a script it reads from a FIFO, so the test can hand it flushes
// while the workload runs, as fluent-bit hands over chunks while in_tail follows a file, and
// wait for each call's answer.
type liveHost struct {
	t      *testing.T
	cmd    *exec.Cmd
	script *os.File
	lines  chan string

	mu     sync.Mutex
	stdout []string
	stderr strings.Builder
	done   chan error
}

type syncWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startHost(t *testing.T, so, host, dir string) *liveHost {
	t.Helper()
	fifo := filepath.Join(dir, "chost.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_RDWR never blocks on a FIFO, and keeps the write end open until Close.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := &liveHost{t: t, script: f, lines: make(chan string, 1024), done: make(chan error, 1)}
	h.cmd = exec.Command(host, so, fifo)
	h.cmd.Stderr = syncWriter{&h.mu, &h.stderr}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("starting the C host: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.mu.Lock()
			h.stdout = append(h.stdout, sc.Text())
			h.mu.Unlock()
			h.lines <- sc.Text()
		}
		close(h.lines)
		h.done <- h.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = h.cmd.Process.Kill() // an error when it already exited; os.Process handles that safely
		h.script.Close()
	})
	return h
}

func (h *liveHost) send(format string, a ...any) {
	h.t.Helper()
	if _, err := fmt.Fprintf(h.script, format+"\n", a...); err != nil {
		h.t.Fatalf("writing to the C host's script: %v", err)
	}
}

// await returns the next output line starting with prefix, failing after timeout.
func (h *liveHost) await(prefix string, timeout time.Duration) string {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				h.t.Fatalf("the C host ended while waiting for %q\n%s", prefix, h.output())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			h.t.Fatalf("no %q from the C host within %s\n%s", prefix, timeout, h.output())
		}
	}
}

// finish ends the script and waits for the host to exit every instance and unregister.
func (h *liveHost) finish(timeout time.Duration) error {
	h.t.Helper()
	h.script.Close()
	go func() {
		for range h.lines {
		}
	}()
	select {
	case err := <-h.done:
		return err
	case <-time.After(timeout):
		_ = h.cmd.Process.Kill()
		return fmt.Errorf("the C host did not finish within %s", timeout)
	}
}

func (h *liveHost) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return "--- chost stdout ---\n" + strings.Join(h.stdout, "\n") + "\n--- plugin log ---\n" + h.stderr.String()
}
