package entry

import (
	"sync"
	"unsafe"

	"github.com/gke-audit/auditd-cloud-logging/parser"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The payload of one entry is a tree of some 20–200 protobuf nodes, and each structpb node
// is two objects (the Value and its oneof wrapper). Allocating them one by one is most of
// the cost of the Go client's map path. The arena hands them out from chunks instead: a
// node and its wrapper live side by side in one slice element, and one allocation serves
// many entries.
//
// Nodes are never handed out twice, so entries built from the same chunk are independent;
// a chunk stays in memory while any entry built from it does (entries live until their
// write request is sent). Maps cannot be pooled this way: each Struct gets its own.

const (
	chunkNodes   = 256
	chunkStructs = 64
	chunkPtrs    = 512
	chunkEntries = 16
	chunkBytes   = 4096
)

type strNode struct {
	v structpb.Value
	k structpb.Value_StringValue
}

type numNode struct {
	v structpb.Value
	k structpb.Value_NumberValue
}

type boolNode struct {
	v structpb.Value
	k structpb.Value_BoolValue
}

type structNode struct {
	v structpb.Value
	k structpb.Value_StructValue
	s structpb.Struct
}

type listNode struct {
	v structpb.Value
	k structpb.Value_ListValue
	l structpb.ListValue
}

type entryNode struct {
	e  loggingpb.LogEntry
	ts timestamppb.Timestamp
	jp loggingpb.LogEntry_JsonPayload
	s  structpb.Struct
}

type arena struct {
	strs    []strNode
	nums    []numNode
	bools   []boolNode
	structs []structNode
	lists   []listNode
	ptrs    []*structpb.Value
	entries []entryNode

	// bytes backs the strings a build composes itself (summary line, insertId). Bytes
	// handed out are never written again, so the strings made over them stay immutable.
	bytes []byte

	// scratch space of one Build, reused across builds
	line   []byte // the summary line being written
	vals   []string
	view   parser.Event
	recs   []parser.Record
	fields []parser.Field
}

var arenas = sync.Pool{New: func() any { return new(arena) }}

func (a *arena) str(s string) *structpb.Value {
	if len(a.strs) == 0 {
		a.strs = make([]strNode, chunkNodes)
	}
	n := &a.strs[0]
	a.strs = a.strs[1:]
	n.k.StringValue = s
	n.v.Kind = &n.k
	return &n.v
}

func (a *arena) num(f float64) *structpb.Value {
	if len(a.nums) == 0 {
		a.nums = make([]numNode, chunkNodes)
	}
	n := &a.nums[0]
	a.nums = a.nums[1:]
	n.k.NumberValue = f
	n.v.Kind = &n.k
	return &n.v
}

func (a *arena) boolean(b bool) *structpb.Value {
	if len(a.bools) == 0 {
		a.bools = make([]boolNode, chunkNodes/4)
	}
	n := &a.bools[0]
	a.bools = a.bools[1:]
	n.k.BoolValue = b
	n.v.Kind = &n.k
	return &n.v
}

// object returns a Struct value with room for size fields (an exact size keeps maps of up
// to 8 fields in the runtime's small, two-allocation form).
func (a *arena) object(size int) (*structpb.Value, map[string]*structpb.Value) {
	if len(a.structs) == 0 {
		a.structs = make([]structNode, chunkStructs)
	}
	n := &a.structs[0]
	a.structs = a.structs[1:]
	m := make(map[string]*structpb.Value, size)
	n.s.Fields = m
	n.k.StructValue = &n.s
	n.v.Kind = &n.k
	return &n.v, m
}

// list returns a list value with capacity for n elements; append to l.Values up to n.
func (a *arena) list(n int) (*structpb.Value, *structpb.ListValue) {
	if len(a.lists) == 0 {
		a.lists = make([]listNode, chunkStructs)
	}
	ln := &a.lists[0]
	a.lists = a.lists[1:]
	ln.l.Values = a.ptrSlice(n)
	ln.k.ListValue = &ln.l
	ln.v.Kind = &ln.k
	return &ln.v, &ln.l
}

// ptrSlice returns an empty slice with capacity n whose backing array no other slice can
// grow into (the full slice expression caps it).
func (a *arena) ptrSlice(n int) []*structpb.Value {
	if n > chunkPtrs/4 {
		return make([]*structpb.Value, 0, n)
	}
	if len(a.ptrs) < n {
		a.ptrs = make([]*structpb.Value, chunkPtrs)
	}
	s := a.ptrs[:0:n]
	a.ptrs = a.ptrs[n:]
	return s
}

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
