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

type syscallKey struct {
	name, arch, success, exit, exitName string
}

// sharedObj is a cached payload object: its encoded Value ("" when the object is empty and
// left out), the size it adds to the entry's estimate, and whether building it cut a value.
type sharedObj struct {
	v    string
	cost int
	cut  bool
}

// shared puts the object build writes under key in root, from cache c when it holds k.
// build writes the object into the obj it is given, under key, and returns whether it cut.
func shared[K comparable](b *Builder, c map[K]sharedObj, k K, root obj, key string, build func(obj) bool) bool {
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
	if s.v != "" {
		root.encoded(key, s.v, s.cost)
	}
	return s.cut
}
