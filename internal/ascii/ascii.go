// Package ascii answers one question fast: does a byte slice hold only ASCII? Both the parser
// (before its UTF-8 check of a record) and the entry builder (before cleaning each interpreted
// value) ask it on every record, and an all-ASCII answer lets them skip per-string work.
package ascii

import "encoding/binary"

// Is reports whether b has no byte ≥ 0x80. utf8.Valid's ASCII loop tests and branches every
// 8 bytes; this ORs 32 bytes at a time and tests once at the end.
func Is(b []byte) bool {
	var acc uint64
	for len(b) >= 32 {
		acc |= binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
			binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
		b = b[32:]
	}
	for len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		acc |= uint64(c)
	}
	return acc&0x8080808080808080 == 0
}
