// Command flbchunk converts audit.log lines, kernel log lines or journal entries (JSONL, one
// `journalctl -o json` object per line) into fluent-bit chunk files, the msgpack an output
// plugin receives from fluent-bit. For tests and the demo.
//
//	flbchunk -in audit.log -out DIR -n 4 [-time eventtime|uint|int|float] [-v1] [-str] [-map32]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flbchunk:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("flbchunk", flag.ContinueOnError)
	in := fs.String("in", "", "input file: audit.log / kernel log lines, or journal JSONL (required)")
	format := fs.String("format", "auto", "input format: auto, line or journal (auto: journal when the first line starts with '{')")
	out := fs.String("out", "", "output directory for chunk-NNN.msgpack files (required)")
	n := fs.Int("n", 1, "number of chunk files to split the records into (1..10000)")
	tf := fs.String("time", "eventtime", "record time encoding: eventtime, uint, int or float")
	v1 := fs.Bool("v1", false, "write [time, map] records instead of fluent-bit >= 2.1 [[time, metadata], map]")
	str := fs.Bool("str", false, "write values as msgpack str instead of bin")
	map32 := fs.Bool("map32", false, "always write map32 headers (as in_systemd does)")
	groups := fs.Bool("groups", false, "wrap each chunk's records in group start/end markers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return fmt.Errorf("-in and -out are required")
	}
	if *n < 1 || *n > 10000 {
		return fmt.Errorf("-n %d: want 1..10000", *n)
	}
	opt := flbchunk.Options{V2: !*v1, Bin: !*str, Map32: *map32}
	switch *tf {
	case "eventtime":
		opt.Time = flbchunk.EventTime
	case "uint":
		opt.Time = flbchunk.Uint
	case "int":
		opt.Time = flbchunk.Int
	case "float":
		opt.Time = flbchunk.Float
	default:
		return fmt.Errorf("-time %q: want eventtime, uint, int or float", *tf)
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	journal := false
	switch *format {
	case "auto":
		journal = len(lines) > 0 && bytes.HasPrefix(bytes.TrimSpace(lines[0]), []byte("{"))
	case "journal":
		journal = true
	case "line":
	default:
		return fmt.Errorf("-format %q: want auto, line or journal", *format)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	now := time.Now()
	per := (len(lines) + *n - 1) / *n
	if per == 0 {
		per = 1
	}
	files := 0
	for i := 0; i < *n; i++ {
		lo, hi := min(i*per, len(lines)), min((i+1)*per, len(lines))
		w := flbchunk.NewWriter(opt)
		if *groups {
			w.GroupStart(false)
		}
		for j, l := range lines[lo:hi] {
			if journal {
				ts, fields, err := flbchunk.JournalJSON(l, now)
				if err != nil {
					return fmt.Errorf("%s line %d: %w", *in, lo+j+1, err)
				}
				w.Record(ts, fields)
			} else {
				w.Line(now, string(l))
			}
		}
		if *groups {
			w.GroupEnd(false)
		}
		name := filepath.Join(*out, fmt.Sprintf("chunk-%03d.msgpack", i))
		if err := os.WriteFile(name, w.Bytes(), 0o644); err != nil {
			return err
		}
		files++
	}
	fmt.Fprintf(stdout, "%d records in %d chunk files under %s\n", len(lines), files, *out)
	return nil
}
