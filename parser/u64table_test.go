package parser

import (
	"math/rand/v2"
	"testing"
)

// The table must agree with a Go map under long insert/delete churn, including keys that
// collide on their home slot.
func TestU64TableAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var tab u64table[int]
	ref := map[uint64]int{}
	for i := 0; i < 200000; i++ {
		k := uint64(rng.IntN(3000))
		switch rng.IntN(3) {
		case 0, 1:
			old, had := ref[k]
			got := tab.swap(k, i)
			if had && got != old || !had && got != 0 {
				t.Fatalf("swap(%d) returned %d, want %d (present %v)", k, got, old, had)
			}
			ref[k] = i
		case 2:
			tab.del(k)
			delete(ref, k)
		}
		if tab.len() != len(ref) {
			t.Fatalf("len %d, want %d", tab.len(), len(ref))
		}
	}
	for k := uint64(0); k < 3000; k++ {
		v, ok := tab.get(k)
		w, wok := ref[k]
		if ok != wok || v != w {
			t.Fatalf("get(%d) = %d %v, want %d %v", k, v, ok, w, wok)
		}
	}
}
