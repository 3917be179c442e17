package parser

import (
	"errors"
	"strconv"
	"time"
)

// JournalRecord is what fluent-bit's in_systemd hands over for one audit journal entry.
// Values are the raw field bytes; a field repeated in the journal arrives as several values,
// and the first one is used.
type JournalRecord struct {
	Message        []byte // MESSAGE: "<TYPE_NAME> <body>" as journald writes it, or a bare body
	AuditType      []byte // _AUDIT_TYPE, decimal
	AuditID        []byte // _AUDIT_ID, the serial
	SourceRealtime []byte // _SOURCE_REALTIME_TIMESTAMP, microseconds since the epoch
	BootID         []byte // _BOOT_ID
	Hostname       []byte // _HOSTNAME
	RecordTime     time.Time // the record's own time, used when _SOURCE_REALTIME_TIMESTAMP is missing
}

// ParseLine parses one audit.log line (optionally "node=NAME " prefixed, optionally with
// auditd's ENRICHED suffix) or one kernel log line ("audit: type=1300 audit(...): ...").
// The line is copied; the Record does not alias it.
func ParseLine(line []byte) (Record, error) {
	return Record{}, errors.New("ParseLine: not implemented")
}

// ParseJournal parses one journal record.
func ParseJournal(j JournalRecord) (Record, error) {
	return Record{}, errors.New("ParseJournal: not implemented")
}

// TypeName returns the name of a record type number, or "UNKNOWN[n]".
func TypeName(t uint16) string { return "UNKNOWN[" + strconv.Itoa(int(t)) + "]" }
