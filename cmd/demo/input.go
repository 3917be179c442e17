package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Shapes of input, named after the fluent-bit input that produces them.
const (
	shapeAuditLog = "audit.log"
	shapeKernel   = "kernel log"
	shapeJournal  = "journal"
)

// source is one input file and what the demo made of it: one plugin instance each.
type source struct {
	path    string
	shape   string
	via     string // the fluent-bit input that would read it
	name    string // chost instance name
	logName string

	records int // records handed to the plugin
	skipped int // lines the fluent-bit input configuration would not pass on
	bytes   int64
	first   time.Time // audit time span of the records that carry one
	last    time.Time
	chunks  []string
}

// Chunk bounds: fluent-bit's in_tail and in_systemd hand over chunks of a few hundred KB at
// most; several chunks per file also exercise the plugin across flushes.
const (
	maxChunkRecords = 2000
	maxChunkBytes   = 256 << 10
)

// defaultCorpus finds the bundled corpus: next to the working directory (make demo runs from
// the repository root) or next to this source file (go run from elsewhere in the tree).
func defaultCorpus() (string, error) {
	rel := filepath.Join("parser", "testdata", "corpus")
	if st, err := os.Stat(rel); err == nil && st.IsDir() {
		return rel, nil
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", rel)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	return "", fmt.Errorf("bundled corpus %s not found: run the demo from the repository root, or pass -corpus DIR or -input FILE", rel)
}

// sources returns the inputs to feed: the user's file, or the corpus's two shapes.
func sources(o options, logName string) ([]*source, error) {
	if o.input != "" {
		shape, err := detect(o.input)
		if err != nil {
			return nil, err
		}
		return []*source{newSource(o.input, shape, "input", logName)}, nil
	}
	dir := o.corpus
	if dir == "" {
		var err error
		if dir, err = defaultCorpus(); err != nil {
			return nil, err
		}
	}
	return []*source{
		newSource(filepath.Join(dir, "audit.log"), shapeAuditLog, "auditlog", logName),
		newSource(filepath.Join(dir, "journal.jsonl"), shapeJournal, "journal", logName+"-journal"),
	}, nil
}

func newSource(path, shape, name, logName string) *source {
	s := &source{path: path, shape: shape, name: name, logName: logName}
	switch shape {
	case shapeJournal:
		s.via = "in_systemd"
	default:
		s.via = "in_tail"
	}
	return s
}

// detect tells a journal export (JSON objects) from audit.log and kernel log lines by the first
// non-blank line, and audit.log from a kernel log by the first audit line.
func detect(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("-input: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	sawAny := false
	for n := 0; n < 1000; n++ {
		line, err := r.ReadSlice('\n')
		t := bytes.TrimSpace(line)
		if len(t) > 0 {
			sawAny = true
			switch {
			case t[0] == '{':
				return shapeJournal, nil
			case bytes.HasPrefix(t, []byte("type=")) || bytes.HasPrefix(t, []byte("node=")):
				return shapeAuditLog, nil
			case bytes.Contains(t, []byte("audit: type=")):
				return shapeKernel, nil
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return "", fmt.Errorf("-input %s: %w", path, err)
		}
	}
	if !sawAny {
		return "", fmt.Errorf("-input %s is empty", path)
	}
	return "", fmt.Errorf("-input %s: not an audit log: no line starts with type= or node= (audit.log), contains \"audit: type=\" (kernel log) or is a JSON object (journalctl -o json) in its first 1000 lines", path)
}

// convert writes the source's records as fluent-bit chunk files under dir, in the form the
// fluent-bit input that reads this shape produces.
func (s *source) convert(dir string, now time.Time) error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	opt := flbchunk.Options{V2: true, Bin: true} // in_tail, fluent-bit >= 2.1
	if s.shape == shapeJournal {
		opt.Map32 = true // in_systemd
	}
	w := flbchunk.NewWriter(opt)
	inChunk := 0
	flushChunk := func() error {
		if inChunk == 0 {
			return nil
		}
		name := filepath.Join(dir, fmt.Sprintf("%s-%04d.msgpack", s.name, len(s.chunks)))
		if err := os.WriteFile(name, w.Bytes(), 0o644); err != nil {
			return err
		}
		s.chunks = append(s.chunks, name)
		w.Reset()
		inChunk = 0
		return nil
	}
	r := bufio.NewReaderSize(f, 1<<20)
	lineno := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			lineno++
			s.bytes += int64(len(line))
			if e := s.add(w, line, lineno, now); e != nil {
				return e
			}
			inChunk = w.Len()
			if w.Len() >= maxChunkBytes || s.records%maxChunkRecords == 0 {
				if e := flushChunk(); e != nil {
					return e
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
	}
	return flushChunk()
}

// add appends one input line as a record, or counts it as skipped when the fluent-bit input
// configuration (conf/) would not pass it on.
func (s *source) add(w *flbchunk.Writer, line []byte, lineno int, now time.Time) error {
	t := bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(t)) == 0 {
		return nil // in_tail skips empty lines
	}
	switch s.shape {
	case shapeJournal:
		ts, fields, err := flbchunk.JournalJSON(t, now)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", s.path, lineno, err)
		}
		if v, ok := field(fields, "_TRANSPORT"); ok && v != "audit" {
			// conf/input-journal.conf: Systemd_Filter _TRANSPORT=audit
			s.skipped++
			return nil
		}
		w.Record(ts, fields)
		at := ts
		if us, ok := field(fields, "_SOURCE_REALTIME_TIMESTAMP"); ok {
			if n, err := strconv.ParseInt(us, 10, 64); err == nil {
				at = time.UnixMicro(n)
			}
		}
		s.span(at)
	case shapeKernel:
		if !bytes.Contains(t, []byte("audit: type=")) {
			// Other kernel messages: a grep filter in front of the plugin would drop them.
			s.skipped++
			return nil
		}
		w.Line(now, string(t))
		s.spanLine(t)
	default:
		w.Line(now, string(t))
		s.spanLine(t)
	}
	s.records++
	return nil
}

func (s *source) spanLine(line []byte) {
	if r, err := parser.ParseLine(line); err == nil && r.Key.UnixMilli > 0 {
		s.span(r.Key.Time())
	}
}

func (s *source) span(t time.Time) {
	if s.first.IsZero() || t.Before(s.first) {
		s.first = t
	}
	if t.After(s.last) {
		s.last = t
	}
}

func field(fs []flbchunk.Field, key string) (string, bool) {
	for _, f := range fs {
		if f.Key == key && len(f.Values) > 0 {
			return string(f.Values[0]), true
		}
	}
	return "", false
}
