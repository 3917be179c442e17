package entry

import (
	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// The user and syscall objects of a node's events repeat: a few accounts run most
// commands, and most syscalls succeed with the same exit. Each is encoded once per distinct
// content and its bytes are copied into the entries that have it.

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

func (k *userKey) slot() uint32 {
	return k.auid.Num*5 + k.uid.Num*3 + k.euid.Num*7 + k.gid.Num + uint32(len(k.acct))
}

type syscallKey struct {
	name, arch, success, exit, exitName string
}

func (k *syscallKey) slot() uint32 {
	h := uint32(len(k.name))*3 + uint32(len(k.exit))*5 + uint32(len(k.success))
	if len(k.name) > 0 {
		h += uint32(k.name[0]) + uint32(k.name[len(k.name)-1])*7
	}
	if len(k.exit) > 0 {
		h += uint32(k.exit[len(k.exit)-1]) * 11
	}
	return h
}

// sharedObj is a cached payload object: its encoded Value ("" when the object is empty and
// left out), the size it adds to the entry's estimate, and whether building it cut a value.
type sharedObj struct {
	v    string
	cost int
	cut  bool
}

// memo is an arena's copy of a few of a builder's cached objects, in front of the builder's
// map: a hit needs neither the lock nor hashing the key's strings (which showed as a tenth
// of a COS build). Slots are chosen by a cheap hash of the key; a hit compares the whole key.
type memo[K comparable] [8]struct {
	b *Builder
	k K
	s sharedObj
}

// shared puts the object build writes under key in root, from cache c when it holds k.
// build writes the object into the obj it is given, under key, and returns whether it cut.
// slot is k's place in the arena's memo.
func shared[K comparable](b *Builder, c map[K]sharedObj, k K, root obj, key string, m *memo[K], slot uint32, build func(obj) bool) bool {
	e := &m[slot%uint32(len(m))]
	if e.b == b && e.k == k {
		if e.s.v != "" {
			root.encoded(key, e.s.v, e.s.cost)
		}
		return e.s.cut
	}
	b.mu.Lock()
	s, ok := c[k]
	if !ok {
		cost := 0 // declared here so that only a miss moves it to the heap
		parent := b.sharedTree.reset(&cost)
		s.cut = build(parent)
		if first := b.sharedTree.nodes[0].first; first != 0 {
			s.v, s.cost = b.sharedTree.encodeValue(first), cost
		}
		b.sharedTree.reset(&cost) // drop the strings
		if len(c) < maxShared {
			c[k] = s
		}
	}
	b.mu.Unlock()
	e.b, e.k, e.s = b, k, s
	if s.v != "" {
		root.encoded(key, s.v, s.cost)
	}
	return s.cut
}
