package parser

import (
	"bufio"
	"container/list"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names resolves user and group ids to names from passwd and group files (the node's
// /etc/passwd and /etc/group mounted into the pod). Lookups are cached in a bounded LRU
// cache (hits and misses alike); on a miss the file is scanned, never held in memory as a
// whole. When a file's modification time or size changes (checked at most every
// namesRecheck), its cached entries are dropped. A nil *Names resolves nothing.
// Safe for concurrent use.
type Names struct {
	users, groups *idFile
}

// namesRecheck bounds how often the files are stat'ed.
const namesRecheck = 5 * time.Second

// NewNames returns a resolver for the given files; an empty path disables that kind of
// lookup. maxEntries bounds each cache (users and groups separately) and must be positive.
func NewNames(passwdPath, groupPath string, maxEntries int) (*Names, error) {
	if maxEntries <= 0 {
		return nil, fmt.Errorf("names cache size %d: must be at least 1", maxEntries)
	}
	n := &Names{}
	for _, p := range []struct {
		path string
		dst  **idFile
	}{{passwdPath, &n.users}, {groupPath, &n.groups}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			return nil, fmt.Errorf("names: %w", err)
		}
		*p.dst = &idFile{path: p.path, max: maxEntries, index: map[uint32]*list.Element{}, now: time.Now}
	}
	if n.users == nil && n.groups == nil {
		return nil, errors.New("names: neither a passwd nor a group file given")
	}
	return n, nil
}

// User returns the name of a uid.
func (n *Names) User(uid uint32) (string, bool) {
	if n == nil || n.users == nil {
		return "", false
	}
	return n.users.lookup(uid)
}

// Group returns the name of a gid.
func (n *Names) Group(gid uint32) (string, bool) {
	if n == nil || n.groups == nil {
		return "", false
	}
	return n.groups.lookup(gid)
}

// idFile is one colon-separated file (name:x:id:...) with its cache.
type idFile struct {
	path string
	max  int
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time // last stat
	mtime   time.Time
	size    int64
	lru     list.List // of *idEntry, front = most recently used
	index   map[uint32]*list.Element
}

type idEntry struct {
	id    uint32
	name  string
	found bool
}

func (f *idFile) lookup(id uint32) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recheck()
	if el, ok := f.index[id]; ok {
		f.lru.MoveToFront(el)
		e := el.Value.(*idEntry)
		return e.name, e.found
	}
	name, found := f.scan(id)
	f.lru.PushFront(&idEntry{id: id, name: name, found: found})
	f.index[id] = f.lru.Front()
	for f.lru.Len() > f.max {
		old := f.lru.Back()
		f.lru.Remove(old)
		delete(f.index, old.Value.(*idEntry).id)
	}
	return name, found
}

// recheck drops the cache when the file changed since it was last looked at.
func (f *idFile) recheck() {
	now := f.now()
	if !f.checked.IsZero() && now.Sub(f.checked) < namesRecheck {
		return
	}
	f.checked = now
	st, err := os.Stat(f.path)
	var mtime time.Time
	var size int64
	if err == nil {
		mtime, size = st.ModTime(), st.Size()
	}
	if !mtime.Equal(f.mtime) || size != f.size {
		f.mtime, f.size = mtime, size
		f.lru.Init()
		clear(f.index)
	}
}

// scan finds the first line whose third field is id. An unreadable file resolves nothing
// (the raw number stays in the output).
func (f *idFile) scan(id uint32) (string, bool) {
	fh, err := os.Open(f.path)
	if err != nil {
		return "", false
	}
	defer fh.Close()
	want := strconv.FormatUint(uint64(id), 10)
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.HasPrefix(name, "#") || strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-") {
			continue
		}
		_, rest, ok = strings.Cut(rest, ":") // password
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ":")
		if num == want {
			return name, true
		}
	}
	return "", false
}
