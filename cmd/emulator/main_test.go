package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vkit "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestMain lets the test binary act as the emulator command for the signal test.
func TestMain(m *testing.M) {
	if os.Getenv("EMULATOR_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestCheckListen(t *testing.T) {
	cases := []struct {
		addr   string
		remote bool
		want   string // "" = allowed
	}{
		{"127.0.0.1:8085", false, ""},
		{"127.0.0.2:0", false, ""},
		{"[::1]:8085", false, ""},
		{"localhost:8085", false, ""},
		{"0.0.0.0:8085", false, "host 0.0.0.0 is not a loopback address"},
		{":8085", false, "empty host (all interfaces)"},
		{"[::]:8085", false, "host :: is not a loopback"},
		{"10.1.2.3:8085", false, "-allow-remote"},
		{"example.com:8085", false, "host example.com"},
		{"0.0.0.0:8085", true, ""},
		{"127.0.0.1", false, "want host:port"},
		{"127.0.0.1:http-nope", false, "bad port"},
	}
	for _, tc := range cases {
		err := checkListen(tc.addr, tc.remote)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s remote=%v: %v", tc.addr, tc.remote, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s remote=%v: err %v, want %q", tc.addr, tc.remote, err, tc.want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "0.0.0.0:0"}, "not a loopback address"},
		{[]string{"-max-request-bytes", "0"}, "-max-request-bytes 0: must be a positive"},
		{[]string{"-max-entry-bytes", "-1"}, "-max-entry-bytes -1"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-listen", "127.0.0.1:0", "-jsonl", "/nonexistent-dir/x.jsonl"}, "/nonexistent-dir/x.jsonl"},
	}
	for _, tc := range cases {
		var stderr bytes.Buffer
		code := run(context.Background(), tc.args, io.Discard, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// syncBuffer is written by run's goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitAddr(t *testing.T, stderr interface{ String() string }) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(stderr.String(), "\n") {
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				return a
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no \"listening on\" line; stderr: %s", stderr.String())
	return ""
}

func write(t *testing.T, addr string, ids ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := vkit.NewClient(ctx, option.WithEndpoint(addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := &loggingpb.WriteLogEntriesRequest{LogName: "projects/p/logs/linux-auditd", Resource: &monitoredres.MonitoredResource{Type: "k8s_node"}}
	for _, id := range ids {
		req.Entries = append(req.Entries, &loggingpb.LogEntry{InsertId: id, Timestamp: timestamppb.Now(),
			Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "hello " + id}})
	}
	_, err = c.WriteLogEntries(ctx, req)
	return err
}

func TestRunPrintsAndWritesJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-print", "-jsonl", path, "-max-request-bytes", "2000"}, &stdout, &stderr)
	}()
	addr := waitAddr(t, &stderr)
	if err := write(t, addr, "one", "two"); err != nil {
		t.Fatal(err)
	}
	// -max-request-bytes is honoured.
	many := make([]string, 60)
	for i := range many {
		many[i] = "padding-entry-id"
	}
	if err := write(t, addr, many...); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "2000 bytes") {
		t.Errorf("request over -max-request-bytes: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped after 2 write requests, 2 entries stored") {
		t.Errorf("stderr %q lacks the shutdown summary", stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"stdout": stdout.String(), "jsonl": string(data)} {
		var got []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var e loggingpb.LogEntry
			if err := protojson.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s line %q: %v", name, sc.Text(), err)
			}
			got = append(got, e.GetInsertId()+"="+e.GetTextPayload())
		}
		if strings.Join(got, ",") != "one=hello one,two=hello two" {
			t.Errorf("%s has %v", name, got)
		}
	}
}

// TestSignalStopsGracefully runs the real command in a child process and sends SIGTERM.
func TestSignalStopsGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-listen", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), "EMULATOR_TEST_MAIN=1")
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			addr := waitAddr(t, &stderr)
			if err := write(t, addr, "x"); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case err := <-waited:
				if err != nil {
					t.Fatalf("exit: %v; stderr %s", err, stderr.String())
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("did not exit after %v; stderr %s", sig, stderr.String())
			}
			if !strings.Contains(stderr.String(), "stopped after 1 write requests, 1 entries stored") {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}
