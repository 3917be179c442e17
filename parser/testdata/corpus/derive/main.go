// Command derive reshapes the captured audit.log into the other two input shapes the parser
// accepts, exactly as the real producers would emit the same records:
//
//   - journal.jsonl: what journald (src/journal/journald-audit.c) stores for each record it
//     reads from the kernel, and fluent-bit's in_systemd hands over: MESSAGE "<TYPE_NAME> <body>",
//     _AUDIT_TYPE, _AUDIT_ID, _SOURCE_REALTIME_TIMESTAMP, ... One JSON object per line.
//   - journal-cos.jsonl: the same, restricted to the record types COS's cloud-audit-setup
//     keeps (its exclude rule drops every other type, PROCTITLE, PATH and CWD included).
//   - kernel.log: the kernel's printk form "audit: type=1300 audit(1.2:3): body", as seen when
//     no audit daemon is registered.
//
// It deliberately does not use the parser package (whose output these files test); plain
// string handling of auditd's fixed line layout is enough.
//
// Run from the module root: go run ./parser/testdata/corpus/derive
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/elastic/go-libaudit/v2/auparse"
)

// record is one audit.log line split into its parts.
type record struct {
	typeName string
	typeNum  int
	sec      uint64
	msec     uint64
	serial   string
	body     string // everything after "msg=audit(...):", leading space(s) kept
}

const (
	typeUser        = 1005 // AUDIT_USER: the one type below 1100 journald keeps
	typeLogin       = 1006
	typeEOE         = 1320
	firstUserMsg    = 1100 // AUDIT_FIRST_USER_MSG: journald ignores control types below it
	firstDaemonType = 1200 // 1200-1299 are written by auditd itself, never sent by the kernel
	lastDaemonType  = 1299
)

// cosKept are the types cloud-audit-setup does not exclude ("-a exclude,always -F msgtype!=...").
var cosKept = map[string]bool{
	"AVC": true, "EXECVE": true, "INTEGRITY_RULE": true, "SYSCALL": true,
	"TTY": true, "USER_ACCT": true, "USER_END": true, "USER_START": true,
}

func main() {
	dir := flag.String("dir", "parser/testdata/corpus", "corpus directory holding audit.log and capture-info.txt")
	arrival := flag.Int64("arrival-us", 1000, "µs between a record's own time and the journal entry's __REALTIME_TIMESTAMP")
	flag.Parse()
	if err := run(*dir, *arrival); err != nil {
		fmt.Fprintln(os.Stderr, "derive:", err)
		os.Exit(1)
	}
}

func run(dir string, arrivalUS int64) error {
	info, err := readInfo(filepath.Join(dir, "capture-info.txt"))
	if err != nil {
		return err
	}
	for _, k := range []string{"hostname", "boot_id"} {
		if info[k] == "" {
			return fmt.Errorf("capture-info.txt: key %q missing or empty (re-run scripts/capture-corpus.sh)", k)
		}
	}
	recs, err := readLog(filepath.Join(dir, "audit.log"))
	if err != nil {
		return err
	}

	var journal, cos, kernel bytes.Buffer
	counts := map[string][3]int{}
	for _, r := range recs {
		c := counts[r.typeName]
		if inJournal(r) {
			writeJournal(&journal, r, info, arrivalUS)
			c[0]++
			if cosKept[r.typeName] {
				writeJournal(&cos, r, info, arrivalUS)
				c[1]++
			}
		}
		if inKernelLog(r) {
			fmt.Fprintf(&kernel, "audit: type=%d audit(%d.%03d:%s):%s\n", r.typeNum, r.sec, r.msec, r.serial, r.body)
			c[2]++
		}
		counts[r.typeName] = c
	}
	for name, b := range map[string]*bytes.Buffer{"journal.jsonl": &journal, "journal-cos.jsonl": &cos, "kernel.log": &kernel} {
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("%-16s %8s %8s %8s\n", "type", "journal", "cos", "kernel")
	for _, n := range names {
		c := counts[n]
		fmt.Printf("%-16s %8d %8d %8d\n", n, c[0], c[1], c[2])
	}
	return nil
}

// inJournal mirrors journald: only what the kernel multicasts (never auditd's own DAEMON_*
// records), only types >= AUDIT_FIRST_USER_MSG plus AUDIT_USER, and never an empty body.
func inJournal(r record) bool {
	if r.typeNum >= firstDaemonType && r.typeNum <= lastDaemonType {
		return false
	}
	if r.typeNum < firstUserMsg && r.typeNum != typeUser {
		return false
	}
	return strings.TrimLeft(r.body, " \t\n") != ""
}

// inKernelLog mirrors kauditd_printk_skb, which prints every kernel record except EOE.
func inKernelLog(r record) bool {
	if r.typeNum >= firstDaemonType && r.typeNum <= lastDaemonType {
		return false
	}
	return r.typeNum != typeEOE
}

// journalTypeName is systemd's audit_type_name_alloca: libaudit's name, else "AUDIT%04i".
func journalTypeName(r record) string {
	if strings.HasPrefix(r.typeName, "UNKNOWN[") {
		return fmt.Sprintf("AUDIT%04d", r.typeNum)
	}
	return r.typeName
}

func writeJournal(b *bytes.Buffer, r record, info map[string]string, arrivalUS int64) {
	src := r.sec*1_000_000 + r.msec*1_000
	body := strings.TrimLeft(r.body, " \t\n") // journald skips the whitespace after the header
	name := journalTypeName(r)
	fields := [][2]string{
		{"__REALTIME_TIMESTAMP", strconv.FormatUint(src+uint64(arrivalUS), 10)},
		{"_BOOT_ID", info["boot_id"]},
		{"_HOSTNAME", info["hostname"]},
		{"_TRANSPORT", "audit"},
		{"_AUDIT_TYPE", strconv.Itoa(r.typeNum)},
		{"_AUDIT_ID", r.serial},
		{"SYSLOG_FACILITY", "4"},
		{"SYSLOG_IDENTIFIER", "audit"},
		{"_AUDIT_TYPE_NAME", name},
		{"MESSAGE", name + " " + body},
		{"PRIORITY", "5"},
		{"_SOURCE_REALTIME_TIMESTAMP", strconv.FormatUint(src, 10)},
	}
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, f[0])
		b.WriteByte(':')
		writeJSONString(b, f[1])
	}
	b.WriteString("}\n")
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

func readInfo(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	info := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			info[k] = v
		}
	}
	return info, nil
}

func readLog(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var recs []record
	for n := 1; sc.Scan(); n++ {
		r, err := splitLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// splitLine takes auditd's fixed layout: [node=N ]type=NAME msg=audit(S.MS:SERIAL):BODY[\x1dENRICHED].
func splitLine(line string) (record, error) {
	if i := strings.IndexByte(line, 0x1d); i >= 0 {
		line = line[:i]
	}
	if strings.HasPrefix(line, "node=") {
		_, rest, ok := strings.Cut(line, " ")
		if !ok {
			return record{}, errors.New("node= prefix without a record after it")
		}
		line = rest
	}
	rest, ok := strings.CutPrefix(line, "type=")
	if !ok {
		return record{}, fmt.Errorf("line does not start with type=: %.60q", line)
	}
	var r record
	r.typeName, rest, ok = strings.Cut(rest, " msg=audit(")
	if !ok {
		return record{}, fmt.Errorf("no msg=audit( after type=%s", r.typeName)
	}
	stamp, body, ok := strings.Cut(rest, "):")
	if !ok {
		return record{}, fmt.Errorf("unterminated audit( header: %.60q", rest)
	}
	r.body = body
	ts, serial, ok := strings.Cut(stamp, ":")
	if !ok {
		return record{}, fmt.Errorf("header %q has no :serial", stamp)
	}
	secs, msecs, ok := strings.Cut(ts, ".")
	var err1, err2, err3 error
	r.sec, err1 = strconv.ParseUint(secs, 10, 64)
	r.msec, err2 = strconv.ParseUint(msecs, 10, 64)
	_, err3 = strconv.ParseUint(serial, 10, 64)
	if !ok || err1 != nil || err2 != nil || err3 != nil {
		return record{}, fmt.Errorf("header %q is not sec.msec:serial", stamp)
	}
	r.serial = serial
	if n, ok := strings.CutPrefix(r.typeName, "UNKNOWN["); ok {
		v, err := strconv.Atoi(strings.TrimSuffix(n, "]"))
		if err != nil {
			return record{}, fmt.Errorf("type %q: bad number", r.typeName)
		}
		r.typeNum = v
		return r, nil
	}
	t, err := auparse.GetAuditMessageType(r.typeName)
	if err != nil {
		return record{}, fmt.Errorf("type %q: %w", r.typeName, err)
	}
	r.typeNum = int(t)
	return r, nil
}
