package entry

import (
	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/types/known/structpb"
)

// The user and syscall objects of a node's events repeat: a few accounts run most
// commands, and most syscalls succeed with the same exit. Each is two allocations (a Struct's
// map and its first group) when built per entry, so they are built once per distinct content
// and shared, read-only, between entries. Protobuf messages may be marshalled concurrently
// (the size cache is written atomically), and nothing downstream writes to an entry.

// maxShared bounds each cache; past it, objects are built per entry as before.
const maxShared = 1024

// sharedLimit is the longest value a cached object may hold, so hostile input cannot make
// the caches large.
const sharedLimit = 64

func short(s string) bool { return len(s) <= sharedLimit }

type userKey struct {
	auid, uid, euid, gid parser.ID
	acct                 string
}

type syscallKey struct {
	name, arch, success, exit, exitName string
}

// sharedObj is a cached payload object: its value (nil when the object is empty and left
// out), the size it adds to the entry's estimate, and whether building it cut a value.
type sharedObj struct {
	v    *structpb.Value
	cost int
	cut  bool
}

// shared puts the object build writes under key in root, from cache c when it holds k.
// build writes the object into the obj it is given, under key, and returns whether it cut.
func shared[K comparable](b *Builder, c map[K]sharedObj, k K, root obj, key string, build func(obj) bool) bool {
	b.mu.Lock()
	s, ok := c[k]
	if !ok {
		if b.sharedArena == nil {
			b.sharedArena = new(arena)
		}
		cost := 0 // declared here so that only a miss moves it to the heap
		parent := obj{a: b.sharedArena, m: map[string]*structpb.Value{}, est: &cost}
		s.cut = build(parent)
		s.v, s.cost = parent.m[key], cost
		if len(c) < maxShared {
			c[k] = s
		}
	}
	b.mu.Unlock()
	if s.v != nil {
		root.m[key] = s.v
		*root.est += s.cost
	}
	return s.cut
}
