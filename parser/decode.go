package parser

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Escaping (Field.Value, Unparsed.Text)
//
// Every Value is valid UTF-8. When the bytes of a value are not, the value is written in
// "escaped form": each byte that is not part of a valid UTF-8 sequence becomes \xNN (two
// lower-case hex digits) and each backslash becomes \x5c; everything else is copied.
//
// A string is read as escaped form when it contains a backslash and every backslash in it
// starts a \xNN sequence (either hex case). Text that is valid UTF-8 but would be read as
// escaped form (a literal `\xff` typed by a user) is itself escaped, so its backslashes become
// \x5c. Everything else (the normal case: valid UTF-8 with no backslash, or with a backslash
// that is not followed by xNN) is left as it is. With these rules Unescape(Escape(b)) == b for
// every b, and Escape allocates only for the rare values that need it.

// Escape returns b as valid UTF-8 text in the reversible form described above.
func Escape(b []byte) string {
	if utf8.Valid(b) && !looksEscaped(unsafe.String(unsafe.SliceData(b), len(b))) {
		return string(b)
	}
	return escapeAlways(b)
}

// escapeString is Escape for a string, without a copy when nothing needs escaping.
func escapeString(s string) string {
	if utf8.ValidString(s) && !looksEscaped(s) {
		return s
	}
	return escapeAlways(unsafe.Slice(unsafe.StringData(s), len(s)))
}

const lowerHex = "0123456789abcdef"

func escapeAlways(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4 + 8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c == '\\' {
				sb.WriteString(`\x5c`)
			} else {
				sb.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteString(`\x`)
			sb.WriteByte(lowerHex[c>>4])
			sb.WriteByte(lowerHex[c&15])
			i++
			continue
		}
		sb.Write(b[i : i+n])
		i += n
	}
	return sb.String()
}

// looksEscaped reports whether s would be read as escaped form.
func looksEscaped(s string) bool {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return false
	}
	for i < len(s) {
		if i+3 >= len(s) || s[i+1] != 'x' || unhex(s[i+2]) < 0 || unhex(s[i+3]) < 0 {
			return false
		}
		j := strings.IndexByte(s[i+4:], '\\')
		if j < 0 {
			return true
		}
		i += 4 + j
	}
	return true
}

// Unescape returns the bytes a Value (or any string made by Escape) stands for.
func Unescape(s string) []byte {
	if !looksEscaped(s) {
		return []byte(s)
	}
	return appendUnescape(make([]byte, 0, len(s)), s)
}

// appendUnescape appends the bytes s stands for (see Unescape) to dst.
func appendUnescape(dst []byte, s string) []byte {
	if !looksEscaped(s) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		if s[i] == '\\' {
			dst = append(dst, byte(unhex(s[i+2])<<4|unhex(s[i+3])))
			i += 4
			continue
		}
		dst = append(dst, s[i])
		i++
	}
	return dst
}

// unescapedLen is len(Unescape(s)).
func unescapedLen(s string) int {
	if !looksEscaped(s) {
		return len(s)
	}
	return len(s) - 3*strings.Count(s, "\\")
}

const upperHex = "0123456789ABCDEF"

// appendUpperHex appends the bytes s stands for (see Unescape) as audit hex.
func appendUpperHex(dst []byte, s string) []byte {
	if !looksEscaped(s) {
		for i := 0; i < len(s); i++ {
			dst = append(dst, upperHex[s[i]>>4], upperHex[s[i]&15])
		}
		return dst
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			c = byte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 4
		} else {
			i++
		}
		dst = append(dst, upperHex[c>>4], upperHex[c&15])
	}
	return dst
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isAuditHex reports whether an unquoted value is hex as the kernel and libaudit write it:
// non-empty, even length, digits and upper-case A-F only. Lower-case or odd-length values are
// text (a user named "cafe" or "abc" is not decoded).
func isAuditHex(s string) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// decodeHexInto appends the bytes of an isAuditHex string to dst.
func decodeHexInto(dst []byte, s string) []byte {
	for i := 0; i+1 < len(s); i += 2 {
		dst = append(dst, byte(unhex(s[i])<<4|unhex(s[i+1])))
	}
	return dst
}

// DecodeHex decodes an unquoted audit hex value (see isAuditHex); ok is false when s is not
// audit hex.
func DecodeHex(s string) (b []byte, ok bool) {
	if !isAuditHex(s) {
		return nil, false
	}
	return decodeHexInto(make([]byte, 0, len(s)/2), s), true
}

// Record types whose fields auparse classifies differently (auparse_interp_adjust_type).
const (
	typeUserTTY       = 1124
	typeTTY           = 1319
	typeTrustedApp    = 1121
	typeAddGroup      = 1116
	typeDelGroup      = 1117
	typeGrpMgmt       = 1132
	typeSyscall       = 1300
	typePath          = 1302
	typeExecve        = 1309
	typeMQOpen        = 1312
	typeNetfilterPkt  = 1324
	typeKernModule    = 1330
	typeSeccomp       = 1326
	typeAVC           = 1400
	typeCryptoKeyUser = 2404
)

// adjustType is auparse_interp_adjust_type (interpret.c): the field's type from its name,
// corrected for the record types that reuse a name for something else. The tokenizer calls it
// for every field: the record type is switched on once instead of compared case by case, in
// two steps because acct comes before the later corrections.
func adjustType(rtype uint16, name, raw string, quoted bool) fieldType {
	switch rtype {
	case typeExecve:
		if len(name) > 0 && name[0] == 'a' && name != "argc" && !strings.Contains(name, "_len") {
			return ftEscaped
		}
	case typeAVC:
		if name == "saddr" {
			return ftUnclassified
		}
	case typeUserTTY:
		if name == "msg" {
			return ftEscaped
		}
	case typeNetfilterPkt:
		if name == "saddr" {
			return ftAddr
		}
	}
	if name == "acct" {
		if quoted || isXDigits(raw) {
			return ftEscaped
		}
		return ftUnclassified
	}
	switch rtype {
	case typePath:
		if name == "flags" {
			return ftFlags
		}
	case typeMQOpen:
		if name == "mode" {
			return ftModeShort
		}
	case typeCryptoKeyUser:
		if name == "fp" {
			return ftUnclassified
		}
	case typeAddGroup, typeGrpMgmt, typeDelGroup:
		if name == "id" {
			return ftGID
		}
	case typeTrustedApp:
		switch {
		case quoted:
			return ftEscaped
		case isDigits(raw):
			return ftUnclassified
		case isXDigits(raw):
			return ftEscaped
		}
		return ftUnclassified
	case typeKernModule:
		if name == "name" {
			return ftEscaped
		}
	}
	return fieldTypeByName(name)
}

// adjustsTypes reports whether adjustType corrects any key's type in records of type rtype:
// for the other types (SYSCALL, CWD, PROCTITLE, USER_*, ...) the tokenizer skips adjustType's
// switches on every field.
func adjustsTypes(rtype uint16) bool {
	switch rtype {
	case typeExecve, typeAVC, typeUserTTY, typeNetfilterPkt, typePath, typeMQOpen, typeCryptoKeyUser,
		typeAddGroup, typeGrpMgmt, typeDelGroup, typeTrustedApp, typeKernModule:
		return true
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isXDigits is C's is_hex_string: any case, any length (including empty).
func isXDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) < 0 {
			return false
		}
	}
	return true
}

// isEncodedType says whether fields of this type carry untrusted strings that the kernel or
// libaudit hex-encode when they contain spaces, quotes, control or non-ASCII bytes.
func isEncodedType(t fieldType) bool {
	switch t {
	case ftEscaped, ftEscapedFile, ftEscapedKey, ftProctitle, ftTTYData:
		return true
	}
	return false
}

// IsEncodedField reports whether a field of the given record type may be hex-encoded, i.e.
// whether ParseLine/ParseJournal decode it (AUPARSE_TYPE_ESCAPED and friends in auparse's
// typetab.h, with the same per-record-type corrections). For acct and TRUSTED_APP fields the
// answer depends on the value; this reports the answer for a hex value.
func IsEncodedField(recordType uint16, key string) bool {
	return isEncodedType(adjustType(recordType, key, "00", false))
}

// SplitKeys splits a decoded key= value: several rule keys of one event are joined by 0x01
// (AUDIT_KEY_SEPARATOR). Empty parts are dropped; an absent key gives nil.
func SplitKeys(v string) []string {
	if v == "" || v == "(null)" || v == "?" {
		return nil
	}
	if strings.IndexByte(v, 0x01) < 0 {
		return []string{v}
	}
	parts := strings.Split(v, "\x01")
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// tokenizer splits a record body into fields. It is hand-written: go-libaudit's regexp
// key=value split is the slow part of its parser.
//
// Rules: pairs are separated by whitespace; a value is "double" or 'single' quoted (up to the
// next same quote, or the end) or runs to the next whitespace. A word without '=' is skipped
// (AVC's "avc:  denied", garbage), except that a brace list "{ read write }" becomes a field
// named after the word before it ("denied" or "granted"; "perms" when there is none) with the
// permissions as value ("read write"). msg='k=v ...' (user-space records) is flattened: its
// pairs become fields and msg itself is dropped; a msg without '=' inside is kept as it is.
// An unquoted value that starts with '{' runs to the next '}' (auditd's SADDR={ ... }).
type tokenizer struct {
	rtype         uint16
	decode        bool
	escapedSource bool
	backslash     bool // the source holds a backslash somewhere: values must be checked for one
	plainType     bool // !adjustsTypes(rtype): a key's type is fieldTypeByName's, except acct's
	nhex          int
	hexBytes      int
	hexIdx        [32]int32
	hexMore       []int32
}

func isSpace(c byte) bool { return c <= ' ' }

func (tk *tokenizer) run(s string, out []Field, flatten bool) []Field {
	lastWord := ""
	i := 0
	for i < len(s) {
		c := s[i]
		if isSpace(c) {
			i++
			continue
		}
		if c == '{' {
			end := strings.IndexByte(s[i:], '}')
			var perms string
			if end < 0 {
				perms, i = s[i+1:], len(s)
			} else {
				perms, i = s[i+1:i+end], i+end+1
			}
			key := lastWord
			if key == "" {
				key = "perms"
			}
			perms = strings.TrimSpace(perms)
			out = tk.add(out, key, perms, false)
			lastWord = ""
			continue
		}
		j := i
		for j < len(s) && !isSpace(s[j]) && s[j] != '=' {
			j++
		}
		if j == len(s) || s[j] != '=' {
			lastWord = s[i:j]
			i = j
			continue
		}
		key := s[i:j]
		i = j + 1
		lastWord = ""
		var raw string
		quoted := false
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			k := strings.IndexByte(s[i+1:], q)
			if k < 0 {
				raw, i = s[i+1:], len(s)
			} else {
				raw, i = s[i+1:i+1+k], i+2+k
			}
			quoted = true
			if flatten && q == '\'' && key == "msg" && strings.IndexByte(raw, '=') >= 0 {
				out = tk.run(raw, out, false)
				continue
			}
		} else if i < len(s) && s[i] == '{' {
			// auditd's SADDR={ saddr_fam=inet laddr=... } interpretation holds spaces.
			k := strings.IndexByte(s[i:], '}')
			if k < 0 {
				raw, i = s[i:], len(s)
			} else {
				raw, i = s[i:i+k+1], i+k+1
			}
		} else {
			k := i
			for k < len(s) && !isSpace(s[k]) {
				k++
			}
			raw, i = s[i:k], k
		}
		if key == "" {
			continue // "=value": garbage, still in Text
		}
		out = tk.add(out, key, raw, quoted)
	}
	return out
}

func (tk *tokenizer) add(out []Field, key, raw string, quoted bool) []Field {
	// Filled in place: copying a whole Field into the (heap) slice goes through the runtime's
	// bulk write barrier, which dominated this function while the GC was marking.
	n := len(out)
	if n == cap(out) {
		out = append(out, Field{})
	} else {
		out = out[:n+1]
	}
	f := &out[n]
	// The type first: most keys are not of an encoded type, and then the value need not be
	// scanned for hex. acct's and TRUSTED_APP's types depend on the value as Interpret sees
	// it (without acct's trailing colon), so Interpret finds those itself.
	var t, ft fieldType
	if tk.plainType && key != "acct" {
		t = fieldTypeByName(key)
		ft = t + 1
	} else {
		t = adjustType(tk.rtype, key, raw, quoted)
		ft = t + 1
		if key == "acct" || tk.rtype == typeTrustedApp {
			ft = 0
		}
	}
	f.Key, f.Value, f.Quoted, f.Absent, f.enc, f.ftype = key, raw, quoted, false, encNone, ft
	switch {
	case !quoted && (raw == "" || raw == "(null)" || raw == "?"):
		f.Absent = true
	case tk.decode && !quoted && isEncodedType(t) && isAuditHex(raw):
		// Decoded in finishHex, all into one buffer.
		if tk.nhex < len(tk.hexIdx) {
			tk.hexIdx[tk.nhex] = int32(n)
		} else {
			tk.hexMore = append(tk.hexMore, int32(n))
		}
		tk.nhex++
		tk.hexBytes += len(raw) / 2
	case tk.escapedSource:
		// Raw is already in escaped form.
	case tk.backslash && strings.IndexByte(raw, '\\') >= 0 && looksEscaped(raw):
		f.Value, f.enc = escapeAlways(unsafe.Slice(unsafe.StringData(raw), len(raw))), encEscaped
	}
	return out
}

// finishHex decodes the hex fields into spare when they fit, else into a new buffer.
func (tk *tokenizer) finishHex(fields []Field, spare []byte) {
	if tk.nhex == 0 {
		return
	}
	buf := spare[:0]
	if cap(buf) < tk.hexBytes {
		buf = make([]byte, 0, tk.hexBytes)
	}
	for n := 0; n < tk.nhex; n++ {
		var i int32
		if n < len(tk.hexIdx) {
			i = tk.hexIdx[n]
		} else {
			i = tk.hexMore[n-len(tk.hexIdx)]
		}
		f := &fields[i]
		start := len(buf)
		buf = decodeHexInto(buf, f.Value) // still the raw hex
		f.enc = encHex
		// buf never grows past its capacity and is never written again, so the string may
		// share its memory.
		v := unsafe.String(&buf[start], len(buf)-start)
		if !utf8.ValidString(v) || looksEscaped(v) {
			v = escapeAlways(buf[start:])
		}
		f.Value = v
	}
}
