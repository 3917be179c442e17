package deploytest

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the directory holding go.mod, found upwards from the test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// required reports whether tests that need host tools must run instead of skipping.
func required() bool { return os.Getenv("AUDIT_TESTS_REQUIRED") == "1" }

// skipOrFail skips with the reason, or fails when AUDIT_TESTS_REQUIRED=1.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if required() {
		t.Fatalf("AUDIT_TESTS_REQUIRED=1 but %s", reason)
	}
	t.Skip(reason)
}
