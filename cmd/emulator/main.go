// Command emulator runs the local Cloud Logging emulator: a plaintext gRPC server for
// google.logging.v2.LoggingServiceV2 that keeps entries in memory, optionally appends them
// to a JSON-lines file and prints them. Point the plugin at it with
// `Endpoint 127.0.0.1:8085` and `Insecure On`. See emulator/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// shutdownGrace bounds how long in-flight calls may finish after a signal.
const shutdownGrace = 5 * time.Second

// run is main without process globals; it returns the exit code (2 for bad usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: emulator [flags]\n\nA local Cloud Logging API (gRPC, plaintext) for trying the plugin without a cloud account.\n"+
			"Plugin settings: Endpoint <listen address>, Insecure On.\n\nflags:\n")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:8085", "`host:port` to serve gRPC on; must be a loopback address unless -allow-remote")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback -listen address (the server has no authentication)")
	jsonl := fs.String("jsonl", "", "append each accepted entry as one JSON line to `FILE`")
	maxReq := fs.Int("max-request-bytes", emulator.DefaultMaxRequestBytes, "reject WriteLogEntries requests larger than this, as the API does")
	maxEntry := fs.Int("max-entry-bytes", emulator.DefaultMaxEntryBytes, "reject log entries larger than this, as the API does")
	print := fs.Bool("print", false, "print each accepted entry as one JSON line to stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "emulator: unexpected argument %q (all settings are flags; see -h)\n", fs.Arg(0))
		return 2
	}
	if *maxReq <= 0 {
		fmt.Fprintf(stderr, "emulator: -max-request-bytes %d: must be a positive byte count (the API's limit is %d)\n", *maxReq, emulator.DefaultMaxRequestBytes)
		return 2
	}
	if *maxEntry <= 0 {
		fmt.Fprintf(stderr, "emulator: -max-entry-bytes %d: must be a positive byte count (the API's limit is %d)\n", *maxEntry, emulator.DefaultMaxEntryBytes)
		return 2
	}
	if err := checkListen(*listen, *allowRemote); err != nil {
		fmt.Fprintf(stderr, "emulator: -listen %s\n", err)
		return 2
	}

	opts := emulator.Options{MaxRequestBytes: *maxReq, MaxEntryBytes: *maxEntry, JSONLFile: *jsonl}
	if *print {
		opts.Print = stdout
	}
	srv, err := emulator.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "emulator: %v\n", err)
		return 1
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "emulator: %v\n", err)
		_ = srv.Close()
		return 1
	}
	fmt.Fprintf(stderr, "listening on %s\n", lis.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		_ = srv.Close()
		if err != nil {
			fmt.Fprintf(stderr, "emulator: %v\n", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	fmt.Fprintf(stderr, "shutting down (waiting up to %v for in-flight calls)\n", shutdownGrace)
	srv.Stop(shutdownGrace)
	if err := <-served; err != nil {
		fmt.Fprintf(stderr, "emulator: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "stopped after %d write requests, %d entries stored\n", srv.Requests(), len(srv.Entries()))
	return 0
}

// checkListen refuses addresses reachable from other machines: the emulator accepts
// anything from anyone, so exposing it must be a deliberate choice.
func checkListen(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %v (want host:port, e.g. 127.0.0.1:8085)", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q: bad port %q", addr, port)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := "host " + host
	if host == "" {
		what = "an empty host (all interfaces)"
	}
	return fmt.Errorf("%q: %s is not a loopback address; use 127.0.0.1 or ::1, or pass -allow-remote to expose the unauthenticated emulator", addr, what)
}
