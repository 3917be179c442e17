package ascii

import (
	"strings"
	"testing"
)

// TestIs puts one byte ≥ 0x80 at every position of every length up to 72, across the 32-byte,
// 8-byte and single-byte parts of the loop.
func TestIs(t *testing.T) {
	for n := 0; n <= 72; n++ {
		b := []byte(strings.Repeat("a=b ", 20)[:n])
		if !Is(b) {
			t.Errorf("Is(%q) = false", b)
		}
		for i := range n {
			for _, c := range []byte{0x80, 0xff, 0xc3} {
				b[i] = c
				if Is(b) {
					t.Errorf("Is(%q) = true", b)
				}
				b[i] = 0x7f
				if !Is(b) {
					t.Errorf("Is(%q) = false", b)
				}
			}
		}
	}
}
