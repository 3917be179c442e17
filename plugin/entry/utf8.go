package entry

import (
	"unicode/utf8"
)

// clean returns s when it is valid UTF-8 (the common case, no allocation), otherwise a copy
// with every invalid byte written as \xNN — the parser's reversible escape, so a value looks
// the same whichever layer escaped it. A literal backslash becomes \x5c only in strings that
// needed escaping, which keeps the escape reversible without touching ordinary text.
//
// Protobuf refuses to marshal a string field holding invalid UTF-8, and one bad entry fails
// the whole WriteLogEntries request, so every string that did not come out of the parser's
// decoder passes through here.
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			b = append(b, `\x5c`...)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			i++
			continue
		}
		b = append(b, s[i:i+n]...)
		i += n
	}
	return string(b)
}

// cutUTF8 returns the longest prefix of s that is at most n bytes and ends on a rune
// boundary, so truncating never creates invalid UTF-8.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
