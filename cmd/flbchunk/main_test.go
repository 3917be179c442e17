package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/plugin/chunk"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "audit.log")
	lines := []string{
		"type=SYSCALL msg=audit(1.2:3): a=b",
		"type=PROCTITLE msg=audit(1.2:3): proctitle=6C73",
		"node=n1 type=EOE msg=audit(1.2:3): ",
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jin := filepath.Join(dir, "j.jsonl")
	if err := os.WriteFile(jin, []byte(`{"MESSAGE":"SYSCALL a=b","_AUDIT_TYPE":"1300","__REALTIME_TIMESTAMP":"1000000"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		files int
		kind  chunk.Kind
		n     int
	}{
		{[]string{"-in", in, "-n", "2", "-time", "float", "-groups"}, 2, chunk.KindLine, 3},
		{[]string{"-in", in, "-v1", "-str", "-map32", "-time", "uint"}, 1, chunk.KindLine, 3},
		{[]string{"-in", jin, "-n", "1"}, 1, chunk.KindJournal, 1},
	} {
		out := filepath.Join(t.TempDir(), "chunks")
		if err := run(append(tc.args, "-out", out), io.Discard); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		files, _ := filepath.Glob(filepath.Join(out, "chunk-*.msgpack"))
		if len(files) != tc.files {
			t.Fatalf("%v: %d files", tc.args, len(files))
		}
		n := 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			st := chunk.Decode(data, func(_ time.Time, in chunk.Input) {
				if in.Kind != tc.kind {
					t.Errorf("%v: kind %v", tc.args, in.Kind)
				}
				n++
			})
			if st.Malformed != 0 {
				t.Errorf("%v: %+v", tc.args, st)
			}
		}
		if n != tc.n {
			t.Errorf("%v: %d records, want %d", tc.args, n, tc.n)
		}
	}
	for _, bad := range [][]string{{}, {"-in", in}, {"-in", in, "-out", dir, "-n", "0"}, {"-in", in, "-out", dir, "-time", "x"},
		{"-in", in, "-out", dir, "-format", "x"}, {"-in", filepath.Join(dir, "missing"), "-out", dir}} {
		if err := run(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
