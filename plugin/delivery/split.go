package delivery

import (
	"fmt"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// MaxEntriesPerRequest caps the entries in one request. The API documents no count limit;
// its quota counts requests (120,000 entries.write per minute per project), so large
// requests are good and the byte limit usually binds first (8 MiB holds ~4,000-8,000 audit
// entries). The cap keeps one request's partial-error map and server work bounded.
const MaxEntriesPerRequest = 10000

// entriesFieldNumber is WriteLogEntriesRequest.entries.
const entriesFieldNumber = 4

// batch is a run of consecutive entries that fit in one request.
type batch struct {
	entries []*loggingpb.LogEntry
	size    int // exact proto.Size of the request carrying them
}

// split cuts entries into batches whose requests (baseSize bytes of request-level fields
// plus the entries) are at most maxBytes and MaxEntriesPerRequest entries. A request's
// size is exactly baseSize plus, per entry, its tag, length varint and body: repeated
// message fields encode independently, so each entry is sized once and nothing is
// marshalled here. An entry that cannot fit even alone is rejected, never sent: the API
// would refuse the whole request. Batches share entries' backing array (no copying).
func split(entries []*loggingpb.LogEntry, baseSize, maxBytes int) ([]batch, []Rejected) {
	var (
		batches  []batch
		rejected []Rejected
		start    = 0
		size     = baseSize
	)
	tag := protowire.SizeTag(entriesFieldNumber)
	flush := func(end int) {
		if end > start {
			batches = append(batches, batch{entries: entries[start:end], size: size})
		}
		start, size = end, baseSize
	}
	for i, e := range entries {
		if e == nil {
			flush(i)
			start = i + 1
			rejected = append(rejected, Rejected{Reason: "nil entry (a bug in the caller)"})
			continue
		}
		n := entrySizeOrProto(e)
		cost := tag + protowire.SizeBytes(n)
		if baseSize+cost > maxBytes {
			flush(i)
			start = i + 1
			rejected = append(rejected, Rejected{Entry: e, Reason: fmt.Sprintf(
				"entry of %d bytes does not fit in a request of at most %d bytes (Max_Request_Bytes); the API limits entries to 256 KiB", n, maxBytes)})
			continue
		}
		if size+cost > maxBytes || i-start >= MaxEntriesPerRequest {
			flush(i)
		}
		size += cost
	}
	flush(len(entries))
	return batches, rejected
}

// halve cuts a batch into two with exact sizes, for a request the server refused as too large.
func halve(b batch, baseSize int) [2]batch {
	mid := len(b.entries) / 2
	first := batch{entries: b.entries[:mid], size: baseSize}
	tag := protowire.SizeTag(entriesFieldNumber)
	for _, e := range first.entries {
		first.size += tag + protowire.SizeBytes(entrySizeOrProto(e))
	}
	return [2]batch{first, {entries: b.entries[mid:], size: b.size - (first.size - baseSize)}}
}

// entrySizeOrProto is proto.Size(e), through the wire encoder when it handles e.
func entrySizeOrProto(e *loggingpb.LogEntry) int {
	if n, ok := entrySize(e); ok {
		return n
	}
	return proto.Size(e)
}
