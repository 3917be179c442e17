package parser

// u64table is an open-addressing hash table keyed by uint64, with linear probing and
// backward-shift deletion. The assembler inserts and deletes one entry per event in tables
// that stay the same size for hours; Go maps degrade under that churn (the profile showed
// long probe sequences), while backward-shift deletion leaves no tombstones behind.
type u64table[V any] struct {
	slots []u64slot[V]
	n     int
	mask  uint64
}

type u64slot[V any] struct {
	key  uint64
	val  V
	used bool
}

func (t *u64table[V]) home(k uint64) uint64 { return mix64(k) & t.mask }

func (t *u64table[V]) get(k uint64) (V, bool) {
	if t.n == 0 {
		var zero V
		return zero, false
	}
	for i := t.home(k); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			var zero V
			return zero, false
		}
		if s.key == k {
			return s.val, true
		}
	}
}

func (t *u64table[V]) put(k uint64, v V) { t.swap(k, v) }

// swap sets k to v and returns the value it had (the zero value if none).
func (t *u64table[V]) swap(k uint64, v V) (old V) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	for i := t.home(k); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			*s = u64slot[V]{key: k, val: v, used: true}
			t.n++
			return old
		}
		if s.key == k {
			old, s.val = s.val, v
			return old
		}
	}
}

func (t *u64table[V]) del(k uint64) {
	if t.n == 0 {
		return
	}
	i := t.home(k)
	for {
		s := &t.slots[i]
		if !s.used {
			return
		}
		if s.key == k {
			break
		}
		i = (i + 1) & t.mask
	}
	// Shift later entries of the probe run back into the hole when their home allows it.
	for j := (i + 1) & t.mask; ; j = (j + 1) & t.mask {
		s := &t.slots[j]
		if !s.used {
			break
		}
		h := t.home(s.key)
		// s may move to i when i lies cyclically in [h, j)
		if (j-h)&t.mask >= (j-i)&t.mask {
			t.slots[i] = *s
			i = j
		}
	}
	t.slots[i] = u64slot[V]{}
	t.n--
}

func (t *u64table[V]) grow() {
	old := t.slots
	size := 16
	if len(old) > 0 {
		size = 2 * len(old)
	}
	t.slots = make([]u64slot[V], size)
	t.mask = uint64(size - 1)
	t.n = 0
	for i := range old {
		if old[i].used {
			t.put(old[i].key, old[i].val)
		}
	}
}

func (t *u64table[V]) len() int { return t.n }
