package e2e

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Record types as systemd's journald-audit.c filters them.
const (
	typeUser        = 1005 // AUDIT_USER: the one type below 1100 journald keeps
	firstUserMsg    = 1100 // AUDIT_FIRST_USER_MSG: journald ignores control types below it
	firstDaemonType = 1200 // 1200-1299 are written by auditd itself, never sent by the kernel
	lastDaemonType  = 1299
)

// inJournal reports whether journald would store a record of type t with this body.
func inJournal(t uint16, body string) bool {
	if t >= firstDaemonType && t <= lastDaemonType {
		return false
	}
	if t < firstUserMsg && t != typeUser {
		return false
	}
	return strings.TrimLeft(body, " \t\n") != ""
}

// journalRecords reshapes audit.log lines into what journald stores and in_systemd hands over
// (systemd src/journal/journald-audit.c, as parser/testdata/corpus/derive does): MESSAGE
// "<TYPE_NAME> <body>" with the whitespace after the header skipped, the _AUDIT_* fields, no
// EOE and no records journald never receives. It returns one field list per kept record with
// the record's arrival time.
func journalRecords(lines [][]byte, hostname, bootID string) (times []time.Time, recs [][]flbchunk.Field) {
	for _, line := range lines {
		r, err := parser.ParseLine(line)
		if err != nil {
			continue
		}
		i := bytes.Index(line, []byte("msg=audit("))
		if i < 0 {
			continue
		}
		j := bytes.Index(line[i:], []byte("):"))
		if j < 0 {
			continue
		}
		body := string(bytes.TrimRight(line[i+j+2:], "\r\n"))
		if !inJournal(r.Type, body) {
			continue
		}
		name := parser.TypeName(r.Type)
		if strings.HasPrefix(name, "UNKNOWN[") {
			name = "AUDIT" + strconv.Itoa(int(r.Type))
		}
		src := r.Key.UnixMilli * 1000
		times = append(times, time.UnixMicro(src+1000))
		recs = append(recs, []flbchunk.Field{
			flbchunk.F("MESSAGE", name+" "+strings.TrimLeft(body, " \t\n")),
			flbchunk.F("PRIORITY", "5"),
			flbchunk.F("SYSLOG_FACILITY", "4"),
			flbchunk.F("SYSLOG_IDENTIFIER", "audit"),
			flbchunk.F("_AUDIT_ID", strconv.FormatUint(r.Key.Serial, 10)),
			flbchunk.F("_AUDIT_TYPE", strconv.Itoa(int(r.Type))),
			flbchunk.F("_AUDIT_TYPE_NAME", name),
			flbchunk.F("_BOOT_ID", bootID),
			flbchunk.F("_HOSTNAME", hostname),
			flbchunk.F("_SOURCE_REALTIME_TIMESTAMP", strconv.FormatInt(src, 10)),
			flbchunk.F("_TRANSPORT", "audit"),
		})
	}
	return times, recs
}
