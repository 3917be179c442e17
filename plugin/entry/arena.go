package entry

import (
	"sync"
	"unsafe"

	"github.com/gke-audit/auditd-cloud-logging/parser"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The arena hands out what entries keep (the LogEntry with its Timestamp, the payload's
// encoded bytes, composed strings) from chunks, so one allocation serves many entries, and
// holds the scratch space of a build (the payload tree, interpreted values), reused across
// builds.
//
// Nothing is handed out twice, so entries built from the same chunk are independent; a
// chunk stays in memory while any entry built from it does (entries live until their
// write request is sent).

const (
	chunkEntries = 16
	chunkBytes   = 4096
	// chunkPayload is the byte chunk encoded payloads are taken from; larger payloads get
	// their own allocation.
	chunkPayload = 64 << 10
)

type entryNode struct {
	e  loggingpb.LogEntry
	ts timestamppb.Timestamp
}

type arena struct {
	entries []entryNode

	// bytes backs the strings a build composes itself (summary line, insertId). Bytes
	// handed out are never written again, so the strings made over them stay immutable.
	bytes []byte
	// payloads backs the encoded payloads.
	payloads []byte

	// scratch space of one Build, reused across builds
	tree   payload
	line   []byte   // the summary line being written
	interp []byte   // the interpreted values of the records' fields
	ends   []int    // where each value ends in interp
	vals   []string // the values, over interp
	view   parser.Event
	recs   []parser.Record
	fields []parser.Field
}

var arenas = sync.Pool{New: func() any { return new(arena) }}

func (a *arena) entry() *entryNode {
	if len(a.entries) == 0 {
		a.entries = make([]entryNode, chunkEntries)
	}
	n := &a.entries[0]
	a.entries = a.entries[1:]
	return n
}

// string returns a string with b's content, stored in the arena's byte chunks: one
// allocation serves many entries' composed strings.
func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > chunkBytes/4 {
		return string(b)
	}
	if cap(a.bytes)-len(a.bytes) < len(b) {
		a.bytes = make([]byte, 0, chunkBytes)
	}
	start := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return unsafe.String(&a.bytes[start], len(b))
}

// take returns an empty slice with room for n bytes that no other caller is given.
func (a *arena) take(n int) []byte {
	if n > chunkPayload/4 {
		return make([]byte, 0, n)
	}
	if cap(a.payloads)-len(a.payloads) < n {
		a.payloads = make([]byte, 0, chunkPayload)
	}
	start := len(a.payloads)
	a.payloads = a.payloads[:start+n]
	return a.payloads[start : start : start+n]
}
