// Command demo is the README's first command (`make demo`): it pushes a real audit log through
// the built plugin (.so) exactly as fluent-bit would, into a local Cloud Logging emulator, and
// prints what arrived, a summary and a cost estimate. No cloud account is needed.
//
//	go run ./cmd/demo -so build/out_auditd_cloud_logging.so -chost build/chost \
//	    [-input FILE] [-set Key=Value ...] [-rows N] [-price-per-gib USD] [-nodes N]
//
// Without -input it uses the bundled corpus (parser/testdata/corpus): audit.log as in_tail reads
// it and journal.jsonl as in_systemd reads it, as two plugin instances. With -input it reads an
// audit.log, a kernel log or a journal export (`journalctl -o json`), detected from its content.
//
// Step lines go to stderr, the results to stdout. docs/demo.md shows a real run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "demo: FAILED:", err)
		}
		os.Exit(1)
	}
}

// options are the command line flags.
type options struct {
	so, chost   string
	input       string
	corpus      string
	sets        []string
	rows        int
	pricePerGiB float64
	freeGiB     float64
	nodes       int
	timeout     time.Duration
	verbose     bool
	keep        bool
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.so, "so", "build/out_auditd_cloud_logging.so", "the plugin built by `make plugin`")
	fs.StringVar(&o.chost, "chost", "build/chost", "the C host built by `make chost` (loads the .so as fluent-bit does)")
	fs.StringVar(&o.input, "input", "", "your own audit.log, kernel log or journal JSON export (journalctl -o json); default: the bundled corpus")
	fs.StringVar(&o.corpus, "corpus", "", "directory of the bundled corpus (default: parser/testdata/corpus of this repository)")
	fs.Var((*setFlags)(&o.sets), "set", "Key=Value: a plugin configuration key for every instance (repeatable), e.g. -set Exclude=exe=/usr/bin/true")
	fs.IntVar(&o.rows, "rows", 25, "rows of the event table (0: none)")
	fs.Float64Var(&o.pricePerGiB, "price-per-gib", 0.50, "Cloud Logging ingestion price in USD per GiB")
	fs.Float64Var(&o.freeGiB, "free-gib", 50, "free ingestion per project per month, GiB")
	fs.IntVar(&o.nodes, "nodes", 1, "number of nodes like this one, for the monthly estimate")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&o.verbose, "v", false, "also print the C host's and the plugin's own output")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (chunk files, chost script) and print its path")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if o.rows < 0 {
		return o, fmt.Errorf("-rows %d: want 0 or more", o.rows)
	}
	if o.pricePerGiB < 0 || o.freeGiB < 0 {
		return o, fmt.Errorf("-price-per-gib %v / -free-gib %v: want 0 or more", o.pricePerGiB, o.freeGiB)
	}
	if o.nodes < 1 {
		return o, fmt.Errorf("-nodes %d: want 1 or more", o.nodes)
	}
	return o, nil
}

// stepper prints numbered progress lines to stderr.
type stepper struct {
	w     io.Writer
	n     int
	total int
	start time.Time
}

func (s *stepper) step(format string, a ...any) {
	s.n++
	fmt.Fprintf(s.w, "demo: [%d/%d] %s\n", s.n, s.total, fmt.Sprintf(format, a...))
}

func (s *stepper) note(format string, a ...any) {
	fmt.Fprintf(s.w, "demo:       %s\n", fmt.Sprintf(format, a...))
}
