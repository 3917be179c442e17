package parser

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(passwd, "# comment\nroot:x:0:0:root:/root:/bin/bash\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n")
	write(group, "root:x:0:\nstaff:x:50:alice\n")
	n, err := NewNames(passwd, group, 2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	n.users.now = func() time.Time { return now }
	for _, tc := range []struct {
		uid  uint32
		name string
		ok   bool
	}{{0, "root", true}, {1000, "alice", true}, {1001, "bob", true}, {7, "", false}, {1000, "alice", true}} {
		if name, ok := n.User(tc.uid); name != tc.name || ok != tc.ok {
			t.Errorf("User(%d) = %q %v, want %q %v", tc.uid, name, ok, tc.name, tc.ok)
		}
	}
	if l := n.users.lru.Len(); l > 2 {
		t.Errorf("cache holds %d entries, bound is 2", l)
	}
	if name, ok := n.Group(50); name != "staff" || !ok {
		t.Errorf("Group(50) = %q %v", name, ok)
	}

	// A change of the file is seen after the recheck interval, not before.
	write(passwd, "root:x:0:0::/:/bin/sh\ncarol:x:1000:1000::/:/bin/sh\n")
	os.Chtimes(passwd, now.Add(time.Hour), now.Add(time.Hour))
	if name, _ := n.User(1000); name != "alice" {
		t.Errorf("re-read before the recheck interval: %q", name)
	}
	now = now.Add(namesRecheck + time.Second)
	if name, _ := n.User(1000); name != "carol" {
		t.Errorf("after the file changed: User(1000) = %q, want carol", name)
	}

	// Concurrent use (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				n.User(uint32(j % 5))
				n.Group(uint32(j % 3))
			}
		}(i)
	}
	wg.Wait()

	var nilNames *Names
	if _, ok := nilNames.User(0); ok {
		t.Error("nil Names resolved a user")
	}
}

func TestNewNamesErrors(t *testing.T) {
	if _, err := NewNames("/nonexistent/passwd", "", 10); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := NewNames("/etc/passwd", "", 0); err == nil {
		t.Error("cache size 0 accepted")
	}
	if _, err := NewNames("", "", 10); err == nil {
		t.Error("no files accepted")
	}
	p := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(p, []byte("a:x:5:5::/:/bin/sh\n"), 0o600)
	n, err := NewNames(p, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Group(5); ok {
		t.Error("group resolved without a group file")
	}
	// A file that disappears resolves nothing instead of failing.
	os.Remove(p)
	n.users.now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, ok := n.User(5); ok {
		t.Error("resolved from a removed file")
	}
}
