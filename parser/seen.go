package parser

import "math"

// seenSet remembers the identities (64-bit hashes) of recently emitted records, grouped by
// event, in two rings: recs holds the record hashes (window entries), evs one entry per
// emitted event pointing into recs. An event entry is valid while its records are still in
// recs.
//
// idx finds the entries of an event key. It is an array of buckets of seenWays 8-byte slots
// (one cache line each). The bucket is chosen by a hint, the stream's hash plus the serial,
// so that the events of a stream, emitted about in serial order, fill consecutive buckets:
// one random access per event into a 2 MB table cost about 300 ns (a cache and TLB miss on
// a virtual machine), a sequential one is prefetched. A slot holds a tag taken from the key hash and the low 32 bits of the
// entry's sequence number; the full number is recovered from evN, since valid entries are at
// most window (≤ 2^30) behind it. Slots are never deleted: an entry that left the window is
// recognised as stale and its slot reused. All entries of one key (an event and its late
// fragments) live in the key's bucket. idx has at least 4 slots per remembered event, so a
// bucket holds 2 valid entries on average; a full bucket (about 1 in 4000) gives up its oldest
// entry, the one closest to leaving the window anyway.
//
// Why not a general hash table: the open-addressing table used before needed three random
// accesses per emitted event (a lookup and a delete for the entry falling out of the window,
// an insert for the new one), each a cache miss in a 3 MB table, and showed as 10% of the
// assembly benchmark. This table needs one access per emitted event, and 2 MB at the default
// window.
type seenSet struct {
	window int
	recs   []uint64
	recN   uint64 // record hashes pushed so far
	evs    []seenEv
	evN    uint64   // event entries pushed so far
	idx    []uint64 // buckets of seenWays slots; len is a power of two ≥ seenWays
}

type seenEv struct {
	key      uint64
	hint     uint64 // the bucket hint it was filed under
	recStart uint64 // recN when its first record was pushed
	n        uint32
}

const (
	seenWays      = 8
	seenMinSlots  = 8 * seenWays
	seenMaxWindow = 1 << 30 // sequence numbers are kept modulo 2^32 in idx
)

func (s *seenSet) init(window int) {
	s.window = min(window, seenMaxWindow)
}

func (s *seenSet) enabled() bool { return s.window > 0 }

func (s *seenSet) valid(seq uint64) bool {
	if seq >= s.evN || s.evN-seq > uint64(s.window) {
		return false
	}
	e := &s.evs[seq%uint64(s.window)]
	return s.recN-e.recStart <= uint64(s.window)
}

// seenTag is the slot's upper half; bit 0 is set so that a used slot is never 0.
func seenTag(key uint64) uint64 { return (key>>32 | 1) << 32 }

// seqOf returns the sequence number a slot points to, if it is a valid entry.
func (s *seenSet) seqOf(slot uint64) (uint64, bool) {
	if slot == 0 {
		return 0, false
	}
	d := uint64(uint32(s.evN) - uint32(slot))
	if d == 0 || d > uint64(s.window) || d > s.evN {
		return 0, false
	}
	seq := s.evN - d
	return seq, s.valid(seq)
}

func (s *seenSet) bucket(hint uint64) []uint64 {
	b := int(hint&uint64(len(s.idx)/seenWays-1)) * seenWays
	return s.idx[b : b+seenWays : b+seenWays]
}

// lookup reports whether an event with this key hash (filed under hint) was emitted within
// the window (found), and whether one of them holds a record with hash h (dup).
func (s *seenSet) lookup(hint, key, h uint64) (found, dup bool) {
	if s.evN == 0 {
		return false, false
	}
	w := uint64(s.window)
	tag := seenTag(key)
	for _, slot := range s.bucket(hint) {
		if slot&^math.MaxUint32 != tag {
			continue
		}
		seq, ok := s.seqOf(slot)
		if !ok {
			continue
		}
		e := &s.evs[seq%w]
		if e.key != key {
			continue
		}
		found = true
		for i := uint64(0); i < uint64(e.n); i++ {
			if s.recs[(e.recStart+i)%w] == h {
				return true, true
			}
		}
	}
	return found, false
}

func (s *seenSet) addEvent(hint, key uint64, hashes []uint64) {
	w := uint64(s.window)
	start := s.recN
	for _, h := range hashes {
		if len(s.recs) < s.window {
			s.recs = append(s.recs, h)
		} else {
			s.recs[s.recN%w] = h
		}
		s.recN++
	}
	seq := s.evN
	e := seenEv{key: key, hint: hint, recStart: start, n: uint32(min(len(hashes), math.MaxUint32))}
	if len(s.evs) < s.window {
		s.evs = append(s.evs, e)
	} else {
		s.evs[seq%w] = e
	}
	s.evN++
	if live := min(s.evN, w); len(s.idx) < seenMinSlots || live*4 > uint64(len(s.idx)) {
		s.grow() // re-inserts every valid entry, seq included
		return
	}
	s.insert(hint, key, seq)
}

// insert puts entry seq into key's bucket: into a free slot or one more than window entries
// old, else over the oldest. It judges age by sequence numbers alone: checking an entry's
// records (valid) would read evs, a cache miss per slot.
func (s *seenSet) insert(hint, key, seq uint64) {
	b := s.bucket(hint)
	victim, oldest := 0, uint64(0)
	for i, slot := range b {
		d := uint64(uint32(s.evN) - uint32(slot))
		if slot == 0 || d == 0 || d > uint64(s.window) || d > s.evN {
			victim = i
			break
		}
		if d > oldest {
			victim, oldest = i, d
		}
	}
	b[victim] = seenTag(key) | uint64(uint32(seq))
}

// grow doubles idx (the first call allocates it) and re-inserts the valid entries.
func (s *seenSet) grow() {
	n := max(seenMinSlots, 2*len(s.idx))
	s.idx = make([]uint64, n)
	w := uint64(s.window)
	first := uint64(0)
	if s.evN > w {
		first = s.evN - w
	}
	for seq := first; seq < s.evN; seq++ {
		if s.valid(seq) {
			e := &s.evs[seq%w]
			s.insert(e.hint, e.key, seq)
		}
	}
}

// used counts the slots that point to valid entries (tests check the memory bound with it).
func (s *seenSet) used() int {
	n := 0
	for _, slot := range s.idx {
		if _, ok := s.seqOf(slot); ok {
			n++
		}
	}
	return n
}
