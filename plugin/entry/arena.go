package entry

import (
	"sync"
	"sync/atomic"
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
// Nothing is handed out twice while in use, so entries built from the same chunk are
// independent; a chunk stays in memory while any entry built from it does (entries live
// until their write request is sent).
//
// Entries given back through Builder.Release once their request is sent are reused: the
// entry itself, and the payload chunk once no entry uses it any more. Without it the
// payloads were most of what the plugin allocates (a 64 KB chunk per ~60 COS events) and so
// decided how often the GC ran; reused chunks also need no zeroing, as nothing reads the
// bytes of a chunk beyond what a build wrote.

const (
	chunkEntries = 16
	chunkBytes   = 4096
	// chunkPayload is the byte chunk encoded payloads are taken from; larger payloads get
	// their own allocation.
	chunkPayload = 64 << 10
)

// entryNode is an entry with what it owns. e must stay the first field: Release finds the
// node from the *LogEntry it handed out.
type entryNode struct {
	e     loggingpb.LogEntry
	ts    timestamppb.Timestamp
	owner *Builder      // the builder that made it; Release ignores entries of others
	chunk *payloadChunk // where the payload is, nil for one of its own
}

// payloadChunk is a byte chunk payloads are taken from. refs counts the entries whose payload
// is in it plus one for the arena while it takes from it; at zero the chunk is reusable.
type payloadChunk struct {
	buf  []byte
	refs atomic.Int32
}

// recycled holds the entry nodes and payload chunks given back, for any arena (arenas come
// from one sync.Pool). Bounded: a burst of releases beyond it is left to the GC.
var recycled struct {
	mu     sync.Mutex
	nodes  []*entryNode
	chunks []*payloadChunk
}

const (
	maxRecycledNodes  = 4096
	maxRecycledChunks = 64 // 4 MB
)

// unref drops one reference to c, keeping c for reuse when it was the last.
func (c *payloadChunk) unref() {
	if c == nil || c.refs.Add(-1) != 0 {
		return
	}
	recycled.mu.Lock()
	if len(recycled.chunks) < maxRecycledChunks {
		recycled.chunks = append(recycled.chunks, c)
	}
	recycled.mu.Unlock()
}

type arena struct {
	entries []entryNode

	// bytes backs the strings a build composes itself (summary line, insertId). Bytes
	// handed out are never written again, so the strings made over them stay immutable.
	bytes []byte
	// payloads backs the encoded payloads: the unused part of chunk.
	payloads []byte
	chunk    *payloadChunk

	// scratch space of one Build, reused across builds
	tree   payload
	line   []byte   // the summary line being written
	interp []byte   // the interpreted values of the records' fields
	ends   []int    // where each value ends in interp
	vals   []string // the values, over interp
	view   parser.Event
	// keySeqs: per record type (by its number modulo the length), the last key sequence
	// found free of repeats (see uniqueKeys). The keys keep one record's text alive each.
	keySeqs [32]keySeq
	recs    []parser.Record
	fields  []parser.Field
	rec     parser.Record // withoutArgs's copy
	// users, syscalls: recently used shared objects (see memo)
	users    memo[userKey]
	syscalls memo[syscallKey]
}

type keySeq struct {
	typ  uint16
	keys []string
}

var arenas = sync.Pool{New: func() any { return new(arena) }}

func (a *arena) entry(owner *Builder) *entryNode {
	recycled.mu.Lock()
	n := pop(&recycled.nodes)
	recycled.mu.Unlock()
	if n != nil {
		n.owner = owner
		return n
	}
	if len(a.entries) == 0 {
		a.entries = make([]entryNode, chunkEntries)
	}
	n = &a.entries[0]
	a.entries = a.entries[1:]
	n.owner = owner
	return n
}

// pop takes the last of the recycled items in *s (nil when there is none), clearing its slot.
func pop[T any](s *[]*T) *T {
	k := len(*s)
	if k == 0 {
		return nil
	}
	v := (*s)[k-1]
	(*s)[k-1] = nil
	*s = (*s)[:k-1]
	return v
}

// nodeOf returns the node of an entry the arena handed out.
func nodeOf(e *loggingpb.LogEntry) *entryNode { return (*entryNode)(unsafe.Pointer(e)) }

// Release and nodeOf find the node at the entry's address.
const _ = -uint(unsafe.Offsetof(entryNode{}.e)) // compile error unless e is the first field

// fromArena reports whether e is the LogEntry of an entryNode, without reading past e: an
// arena's entry points its Timestamp at the node's own ts, right behind it. (A LogEntry
// made elsewhere never has its Timestamp there: that address is past its end.)
func fromArena(e *loggingpb.LogEntry) bool {
	return uintptr(unsafe.Pointer(e.Timestamp)) == uintptr(unsafe.Pointer(e))+unsafe.Offsetof(entryNode{}.ts)
}

// Release gives back entries built by b once nothing will read them again (their request
// is sent, or they are dropped): their memory is reused for later entries. Entries built
// by another Builder, or not by a Builder at all, are ignored. After
// Release, neither the entries nor anything reached from them (payload bytes, timestamp)
// may be used; strings read from them before stay valid.
func (b *Builder) Release(entries []*loggingpb.LogEntry) {
	var free [64]*entryNode
	n := 0
	flush := func() {
		recycled.mu.Lock()
		k := min(n, maxRecycledNodes-len(recycled.nodes))
		recycled.nodes = append(recycled.nodes, free[:max(k, 0)]...)
		recycled.mu.Unlock()
		clear(free[:n])
		n = 0
	}
	for _, e := range entries {
		if e == nil || !fromArena(e) {
			continue
		}
		nd := nodeOf(e)
		if nd.owner != b {
			continue
		}
		nd.chunk.unref()
		*nd = entryNode{}
		free[n] = nd
		if n++; n == len(free) {
			flush()
		}
	}
	if n > 0 {
		flush()
	}
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

// takePayload returns an empty slice with room for n bytes, for en's payload, that no other
// caller is given; en keeps a reference to its chunk (dropping the one of an earlier
// payload, when the shrinker encodes a second one).
func (a *arena) takePayload(en *entryNode, n int) []byte {
	en.chunk.unref()
	en.chunk = nil
	if n > chunkPayload/4 {
		return make([]byte, 0, n)
	}
	if cap(a.payloads)-len(a.payloads) < n {
		a.chunk.unref() // the arena's own reference
		a.chunk = nil
		recycled.mu.Lock()
		a.chunk = pop(&recycled.chunks)
		recycled.mu.Unlock()
		if a.chunk == nil {
			a.chunk = &payloadChunk{buf: make([]byte, chunkPayload)}
		}
		a.chunk.refs.Store(1)
		a.payloads = a.chunk.buf[:0]
	}
	a.chunk.refs.Add(1)
	en.chunk = a.chunk
	start := len(a.payloads)
	a.payloads = a.payloads[:start+n]
	return a.payloads[start : start : start+n]
}
