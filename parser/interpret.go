package parser

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Interpret returns the field as `ausearch -i` (audit-userspace 3.0.9, escape mode "tty")
// prints it: uid/gid → names ("root", "unset", "unknown(N)" without a name), arch → name,
// syscall → name for the record's arch, exit → "ENOENT(No such file or directory)", res/result
// and ses, saddr → "{ saddr_fam=inet laddr=127.0.0.1 lport=80 }", hex-encoded fields →
// text (control bytes as \ooo), proctitle NULs → spaces, TTY data → "ls",<ret>, mode, perm,
// capabilities, promiscuous flags. Fields ausearch leaves alone come back as written (quoted
// ones with their double quotes, as ausearch prints them).
//
// Known differences, by design:
//   - a0..a3 are decoded for the common syscalls only (dirfd AT_FDCWD, open flags, chmod/mkdir
//     modes, set*id and chown ids, socket family/type/protocol, socketcall, exit codes); for
//     the rest they are
//     "0x<raw>", ausearch's default. Signals, personality, seccomp codes, netfilter
//     protocols, mmap/ioctl/fcntl arguments and the like are returned raw.
//   - bytes that are not UTF-8 are escaped as in Field.Value; ausearch prints them raw.
//   - several rule keys (key=k1\x01k2) come back as "k1 key=k2": ausearch prints them as
//     repeated key= fields.
//   - the last field of a user-space msg='...' has no trailing quote here; ausearch prints it.
//
// Names come from the record's ENRICHED suffix when auditd wrote one (as ausearch does), else
// from names (nil: none); uid/gid 0 is "root" whatever the files say, as in ausearch.
//
// Interpret allocates its result; AppendInterpret does not for the common fields.
func Interpret(r *Record, f *Field, names *Names) string {
	var buf [128]byte
	return string(AppendInterpret(buf[:0], r, f, names))
}

// AppendInterpret appends Interpret(r, f, names) to dst. It allocates nothing for the fields
// most records carry: ids, syscall, arch, exit, success/res, ses, mode, a0..a3, and the fields
// ausearch prints as written; the rarer types (hex-encoded text, proctitle, saddr, TTY data,
// capabilities, ...) go through a temporary string.
func AppendInterpret(dst []byte, r *Record, f *Field, names *Names) []byte {
	var raw string
	t := f.ftype - 1 // the tokenizer's adjustType, when it left one (see Field)
	hex := f.enc == encHex && r.Type != typeTrustedApp
	if hex {
		// The type of a hex-decoded field does not depend on its raw text (adjustType looks
		// at it for acct, where hex means escaped, and for TRUSTED_APP), and Raw() would have
		// to build it.
		if f.ftype == 0 {
			t = adjustType(r.Type, f.Key, "00", false)
		}
	} else {
		raw = f.Raw()
		if f.ftype == 0 {
			if f.Key == "acct" && !f.Quoted && strings.HasSuffix(raw, ":") {
				raw = raw[:len(raw)-1]
			}
			t = adjustType(r.Type, f.Key, raw, f.Quoted)
		}
	}
	if len(r.Enriched) != 0 {
		if e := enrichedFor(r, f.Key); e != nil && !strings.HasPrefix(e.Raw(), "unknown-") {
			if t == ftUID || t == ftGID || !e.Quoted {
				return append(dst, e.Value...)
			}
			return appendWrapped(dst, `"`, e.Value, `"`)
		}
	}
	if hex {
		switch t {
		case ftEscaped, ftEscapedFile, ftEscapedKey, ftProctitle:
			return appendDecoded(dst, f, t)
		}
		raw = f.Raw()
	}
	start := len(dst)
	switch t {
	case ftUID:
		dst = appendID(dst, raw, names.User)
	case ftGID:
		dst = appendID(dst, raw, names.Group)
	case ftSyscall:
		dst = appendSyscall(dst, r, raw)
	case ftArch:
		dst = appendArch(dst, raw)
	case ftExit:
		dst = appendExit(dst, raw)
	case ftEscaped, ftEscapedFile:
		dst = append(dst, printEscaped(raw, f.Quoted)...)
	case ftEscapedKey:
		dst = expandKeySep(append(dst, printEscaped(raw, f.Quoted)...), start)
	case ftProctitle:
		dst = append(dst, interpretProctitle(raw, f.Quoted)...)
	case ftTTYData:
		return append(dst, interpretTTYData(raw, f.Quoted)...)
	case ftSockaddr:
		dst = append(dst, interpretSockaddr(raw)...)
	case ftSuccess:
		dst = appendSuccess(dst, raw)
	case ftSession:
		if raw == "4294967295" {
			dst = append(dst, "unset"...)
		} else {
			dst = append(dst, raw...)
		}
	case ftPerm:
		dst = append(dst, interpretPerm(raw)...)
	case ftMode:
		dst = appendMode(dst, raw)
	case ftModeShort:
		dst = appendModeShort(dst, raw)
	case ftPromisc:
		if n, ok := cStrtol(raw, 10); ok && n == 0 {
			dst = append(dst, "no"...)
		} else {
			dst = append(dst, "yes"...)
		}
	case ftCapability:
		dst = append(dst, interpretCap(raw)...)
	case ftCapBitmap:
		dst = append(dst, interpretCapBitmap(raw)...)
	case ftA0, ftA1, ftA2, ftA3:
		dst = appendArg(dst, r, int(t-ftA0), raw, names)
	case ftList:
		n, ok := cStrtol(raw, 10)
		if ok && n >= 0 && n < int64(len(filterLists)) && filterLists[n] != "" {
			dst = append(dst, filterLists[n]...)
		} else {
			dst = appendWrapped(dst, "unknown-list(", raw, ")")
		}
	default:
		if f.Quoted {
			dst = appendWrapped(dst, `"`, raw, `"`)
		} else {
			dst = append(dst, raw...)
		}
		return escapeTail(dst, start, false)
	}
	return escapeTail(dst, start, true)
}

// appendDecoded is printEscaped (or interpretProctitle) for a hex-decoded field, from the
// bytes Value stands for instead of the raw hex, then ttyEscape and escapeString.
func appendDecoded(dst []byte, f *Field, t fieldType) []byte {
	start := len(dst)
	dst = appendUnescape(dst, f.Value)
	seg := dst[start:]
	if t == ftProctitle {
		for i, c := range seg {
			if c == 0 {
				seg[i] = ' '
			}
		}
		return escapeTail(dst, start, true)
	}
	// printEscaped drops a leading "00" (abstract unix socket names), needs two hex digits
	// after it (else the raw value stays), and ends the text at the first NUL.
	if len(seg) > 0 && seg[0] == 0 {
		if len(seg) == 1 {
			return escapeTail(append(dst[:start], "00"...), start, true)
		}
		copy(seg, seg[1:])
		dst = dst[:len(dst)-1]
		seg = dst[start:]
	}
	if i := bytes.IndexByte(seg, 0); i >= 0 {
		dst, seg = dst[:start+i], seg[:i]
	}
	if t == ftEscapedKey {
		dst = expandKeySep(dst, start)
	}
	return escapeTail(dst, start, true)
}

// expandKeySep writes the rule-key separator 0x01 in dst[start:] as " key=" (several keys
// of one rule), in place.
func expandKeySep(dst []byte, start int) []byte {
	n := bytes.Count(dst[start:], []byte{0x01})
	if n == 0 {
		return dst
	}
	end := len(dst)
	for range n {
		dst = append(dst, "    "...)
	}
	w := len(dst)
	for i := end - 1; i >= start; i-- {
		if c := dst[i]; c == 0x01 {
			w -= len(" key=")
			copy(dst[w:], " key=")
		} else {
			w--
			dst[w] = c
		}
	}
	return dst
}

// plainByte marks the bytes that escapeTail leaves alone whatever surrounds them: printable
// ASCII (and DEL) other than the backslash.
var plainByte = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '\\'
	}
	return t
}()

// escapeTail applies escapeString (after ttyEscape when tty) to dst[start:], in place. Most
// interpretations are plain ASCII and need neither: they are only scanned.
func escapeTail(dst []byte, start int, tty bool) []byte {
	if allPlain(dst[start:]) {
		return dst
	}
	return escapeTailSlow(dst, start, tty)
}

// allPlain reports whether every byte of b is plainByte, eight bytes at a time.
func allPlain(b []byte) bool {
	const highs = 0x8080808080808080
	for len(b) >= 8 {
		if notPlain(binary.LittleEndian.Uint64(b)) != 0 {
			return false
		}
		b = b[8:]
	}
	if len(b) == 0 {
		return true
	}
	if cap(b) >= 8 {
		// Most interpretations are shorter than 8 bytes. Read the word anyway, from the
		// slice's spare capacity, and look only at the bytes in b: in little-endian order they
		// are the low ones, and a borrow in notPlain only carries upwards.
		return notPlain(binary.LittleEndian.Uint64(b[:8]))&(highs>>(64-8*len(b))) == 0
	}
	for _, c := range b {
		if !plainByte[c] {
			return false
		}
	}
	return true
}

// notPlain has the high bit set of each byte of x that is not plainByte, and maybe of bytes
// above such a byte: a high bit set in x (a byte >= 0x80), in (x-0x20…)&^x (a byte < 0x20) or
// in (bs-0x01…)&^bs (a backslash, bs = x^0x5c…). Its lowest set bit is exact.
func notPlain(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	bs := x ^ ('\\' * ones)
	return (x | (x-' '*ones)&^x | (bs-ones)&^bs) & highs
}

// escapeTailSlow is escapeTail for a tail that holds a control byte, a backslash or a byte
// that is not ASCII: those may still need no change.
func escapeTailSlow(dst []byte, start int, tty bool) []byte {
	tail := dst[start:]
	ascii, ctl, backslash := true, false, false
	for _, c := range tail {
		switch {
		case c >= utf8.RuneSelf:
			ascii = false
		case c < ' ':
			ctl = true
		case c == '\\':
			backslash = true
		}
	}
	if (!tty || !ctl) && (ascii || utf8.Valid(tail)) && (!backslash || !looksEscaped(unsafe.String(unsafe.SliceData(tail), len(tail)))) {
		return dst
	}
	s := string(tail)
	if tty {
		s = ttyEscape(s)
	}
	return append(dst[:start], escapeString(s)...)
}

// field returns the first field with the given key, without copying it.
func (r *Record) field(key string) *Field {
	for i := range r.Fields {
		if r.Fields[i].Key == key {
			return &r.Fields[i]
		}
	}
	return nil
}

// enrichedFor finds auditd's interpretation of a field (ENRICHED keys are the field names
// in upper case; saddr's is SADDR).
func enrichedFor(r *Record, key string) *Field {
	if key == "" || key[0] >= utf8.RuneSelf {
		return enrichedForSlow(r, key)
	}
	c := lowerASCII(key[0])
	for i := range r.Enriched {
		k := r.Enriched[i].Key
		// EqualFold compares rune by rune, and two ASCII runes fold together only when they
		// are the same letter in either case. Most keys differ in the first byte.
		if k != "" && k[0] < utf8.RuneSelf && lowerASCII(k[0]) != c {
			continue
		}
		if strings.EqualFold(k, key) {
			return &r.Enriched[i]
		}
	}
	return nil
}

func enrichedForSlow(r *Record, key string) *Field {
	for i := range r.Enriched {
		if strings.EqualFold(r.Enriched[i].Key, key) {
			return &r.Enriched[i]
		}
	}
	return nil
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// cStrtol is strtol/strtoul as auparse uses it: leading digits count, the rest is ignored,
// no digits gives 0 (not an error).
func cStrtol(s string, base int) (int64, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	// Up to 15 digits cannot overflow in base 16 or less: no strconv for the common values.
	var n uint64
	end := 0
	for end < len(s) {
		d := unhex(s[end])
		if d < 0 || d >= base {
			break
		}
		n = n*uint64(base) + uint64(d)
		end++
	}
	if end > 15 {
		var err error
		if n, err = strconv.ParseUint(s[:end], base, 64); err != nil {
			return 0, false
		}
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func appendID(dst []byte, raw string, lookup func(uint32) (string, bool)) []byte {
	n, ok := cStrtol(raw, 10)
	if !ok {
		return appendWrapped(dst, "conversion error(", raw, ")")
	}
	return appendIDNum(dst, int32(n), lookup) // auparse keeps ids in an int
}

func appendIDNum(dst []byte, id int32, lookup func(uint32) (string, bool)) []byte {
	switch id {
	case -1:
		return append(dst, "unset"...)
	case 0:
		return append(dst, "root"...)
	}
	if name, ok := lookup(uint32(id)); ok {
		return append(dst, name...)
	}
	dst = append(dst, "unknown("...)
	dst = strconv.AppendInt(dst, int64(id), 10)
	return append(dst, ')')
}

// appendWrapped appends a, b and c: "unknown-x(" + raw + ")" without a temporary string.
func appendWrapped(dst []byte, a, b, c string) []byte {
	dst = append(dst, a...)
	dst = append(dst, b...)
	return append(dst, c...)
}

// machines that audit_elf_to_machine knows, with audit's names; others are unknown to
// ausearch. The syscall table name is go-libaudit's.
func machineOf(arch uint32) (name, table string, ok bool) {
	name, tab := machineTab(arch)
	return name, sysTabNames[tab], tab != tabNone
}

// sysTab numbers the syscall tables, so that interpreting a SYSCALL record (its syscall field
// and each of a0..a3) does not look syscallTables up by name: that map lookup was a tenth of
// the work.
type sysTab uint8

const (
	tabNone sysTab = iota
	tabI386
	tabX86_64
	tabPPC
	tabS390
	tabS390x
	tabARM
	tabAArch64
	numSysTabs
)

var sysTabNames = [numSysTabs]string{tabI386: "i386", tabX86_64: "x86_64", tabPPC: "ppc", tabS390: "s390",
	tabS390x: "s390x", tabARM: "arm", tabAArch64: "aarch64"}

// sysTabs holds syscallTables by number (nil for tabNone).
var sysTabs = func() (t [numSysTabs]*syscallTable) {
	for i, name := range sysTabNames {
		if tab, ok := syscallTables[name]; ok {
			t[i] = &tab
		}
	}
	return t
}()

// hostTab is hostSyscallTable's table.
var hostTab = func() sysTab {
	for i, name := range sysTabNames {
		if name == hostSyscallTable() {
			return sysTab(i)
		}
	}
	return tabNone
}()

// machineTab is machineOf with the table's number.
func machineTab(arch uint32) (name string, tab sysTab) {
	switch arch {
	case 0x40000003:
		return "i386", tabI386
	case 0xc000003e:
		return "x86_64", tabX86_64
	case 0x14:
		return "ppc", tabPPC
	case 0x80000015:
		return "ppc64", tabPPC
	case 0xc0000015:
		return "ppc64le", tabPPC
	case 0x16:
		return "s390", tabS390
	case 0x80000016:
		return "s390x", tabS390x
	case 0x40000028:
		return "armeb", tabARM
	case 0xc00000b7:
		return "aarch64", tabAArch64
	}
	return "", tabNone
}

// syscallAt is syscallByTable by the table's number.
func syscallAt(tab sysTab, num int) (string, bool) {
	t := sysTabs[tab]
	if t == nil {
		return "", false
	}
	if num >= 0 && num < len(t.dense) {
		if s := t.dense[num]; s != "" {
			return s, true
		}
		return "", false
	}
	s, ok := t.sparse[num]
	return s, ok
}

// recordSysTab is the syscall table of a record's arch= field: tabNone when the value is
// not an arch ausearch knows, found false when the record has no arch field.
func recordSysTab(r *Record) (tab sysTab, found bool) {
	a := r.field("arch")
	if a == nil {
		return tabNone, false
	}
	// The arches of GKE nodes, written as the kernel writes them, without the parse.
	switch a.Value {
	case "c000003e":
		return tabX86_64, true
	case "c00000b7":
		return tabAArch64, true
	}
	if n, ok := parseHex(a.Raw(), 32); ok {
		_, tab = machineTab(uint32(n))
	}
	return tab, true
}

func appendArch(dst []byte, raw string) []byte {
	if n, ok := parseHex(raw, 32); ok {
		if name, _, ok := machineOf(uint32(n)); ok {
			return append(dst, name...)
		}
	}
	return appendWrapped(dst, "unknown-elf-type(", raw, ")")
}

// parseHex is strconv.ParseUint(s, 16, bits) without the error value, which allocates. The
// value is ParseUint's also when ok is false (0 after a syntax error, the maximum after a range
// error, whichever the scan meets first): some callers use it.
func parseHex(s string, bits int) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	maxVal := uint64(1)<<uint(bits) - 1
	var n uint64
	for i := 0; i < len(s); i++ {
		d := unhex(s[i])
		if d < 0 {
			return 0, false
		}
		if n > maxVal>>4 {
			return maxVal, false
		}
		n = n<<4 | uint64(d)
		if n > maxVal {
			return maxVal, false
		}
	}
	return n, true
}

// parseDec is strconv.ParseInt(s, 10, 64) without the error value, which allocates.
func parseDec(s string) (int64, bool) {
	if len(s) > 18 {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// ArchName returns the name of an arch= value ("c000003e" → "x86_64").
func ArchName(raw string) (string, bool) {
	n, err := strconv.ParseUint(raw, 16, 32)
	if err != nil {
		return "", false
	}
	if name, _, ok := machineOf(uint32(n)); ok {
		return name, true
	}
	if s := libauditArchName(uint32(n)); s != "" {
		return s, true
	}
	return "", false
}

// SyscallName returns the name of a syscall number for an arch= value ("c000003e", 59 →
// "execve").
func SyscallName(arch string, num int) (string, bool) {
	n, err := strconv.ParseUint(arch, 16, 32)
	if err != nil {
		return "", false
	}
	_, table, ok := machineOf(uint32(n))
	if !ok {
		return "", false
	}
	return syscallByTable(table, num)
}

func syscallByTable(table string, num int) (string, bool) {
	tab, ok := syscallTables[table]
	if !ok {
		return "", false
	}
	if num >= 0 && num < len(tab.dense) {
		if s := tab.dense[num]; s != "" {
			return s, true
		}
		return "", false
	}
	s, ok := tab.sparse[num]
	return s, ok
}

func hostSyscallTable() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64"
	case "386":
		return "i386"
	case "s390x":
		return "s390x"
	case "ppc64", "ppc64le":
		return "ppc"
	case "arm":
		return "arm"
	}
	return "x86_64"
}

var socketcalls = [...]string{1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept", 6: "getsockname",
	7: "getpeername", 8: "socketpair", 9: "send", 10: "recv", 11: "sendto", 12: "recvfrom", 13: "shutdown",
	14: "setsockopt", 15: "getsockopt", 16: "sendmsg", 17: "recvmsg", 18: "accept4", 19: "recvmmsg", 20: "sendmmsg"}

var ipccalls = [...]string{1: "semop", 2: "semget", 3: "semctl", 4: "semtimedop", 11: "msgsnd", 12: "msgrcv",
	13: "msgget", 14: "msgctl", 21: "shmat", 22: "shmdt", 23: "shmget", 24: "shmctl"}

// interpretSyscall follows ausearch: the record's own arch for SYSCALL and SECCOMP records,
// the host's arch otherwise.
func appendSyscall(dst []byte, r *Record, raw string) []byte {
	num, ok := cStrtol(raw, 10)
	if !ok {
		return appendWrapped(dst, "syscall conversion error(", raw, ")")
	}
	tab := hostTab
	if r.Type == typeSyscall || r.Type == typeSeccomp {
		if t, found := recordSysTab(r); found {
			if t == tabNone {
				return append(dst, raw...)
			}
			tab = t
		}
	}
	name, ok := syscallAt(tab, int(num))
	if !ok {
		dst = append(dst, "unknown-syscall("...)
		dst = strconv.AppendInt(dst, int64(int32(num)), 10)
		return append(dst, ')')
	}
	if name == "socketcall" || name == "ipc" {
		if a0 := r.field("a0"); a0 != nil {
			if v, ok := parseHex(a0.Raw(), 64); ok {
				tab := socketcalls[:]
				if name == "ipc" {
					tab = ipccalls[:]
				}
				if v < uint64(len(tab)) && tab[v] != "" {
					return appendWrapped(dst, name, "(", tab[v]+")")
				}
			}
		}
	}
	return append(dst, name...)
}

// ErrnoName returns the name of a positive errno value ("ENOENT" for 2).
func ErrnoName(n int) (string, bool) {
	if n > 0 && n < len(errnoNames) && errnoNames[n] != "" {
		return errnoNames[n], true
	}
	return "", false
}

func appendExit(dst []byte, raw string) []byte {
	n, ok := parseDec(raw)
	if !ok || n >= 0 {
		return append(dst, raw...)
	}
	e := -n
	name := "(null)" // what glibc's printf makes of the NULL audit_errno_to_name returns
	if s, ok := ErrnoName(int(min(e, 1<<20))); ok {
		name = s
	}
	dst = append(dst, name...)
	dst = append(dst, '(')
	// e < 0: -9223372036854775808 has no positive int64 (it used to index errnoText with it).
	if e >= 0 && e < int64(len(errnoText)) && errnoText[e] != "" {
		dst = append(dst, errnoText[e]...)
	} else {
		dst = append(dst, "Unknown error "...)
		dst = strconv.AppendUint(dst, uint64(e), 10)
	}
	return append(dst, ')')
}

// printEscaped is auparse's print_escaped: quoted values are their text; otherwise leading
// hex digits are decoded as a C string (it ends at the first NUL); "(null)" stays; a value
// that is not hex stays as written. A leading "00" is dropped (abstract unix socket names).
func printEscaped(raw string, quoted bool) string {
	if quoted {
		return raw
	}
	v := raw
	if strings.HasPrefix(v, "00") {
		v = v[2:]
	}
	if strings.HasPrefix(v, "(") {
		if i := strings.IndexByte(v, ')'); i >= 0 {
			return v[:i+1]
		}
		return raw
	}
	b, ok := cUnescape(v)
	if !ok {
		return raw
	}
	if i := indexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// cUnescape decodes the leading hex digits of v (either case, as auparse's au_unescape);
// fewer than two is a failure.
func cUnescape(v string) ([]byte, bool) {
	n := 0
	for n < len(v) && unhex(v[n]) >= 0 {
		n++
	}
	if n < 2 {
		return nil, false
	}
	b := make([]byte, 0, (n+1)/2)
	for i := 0; i < n; i += 2 {
		hi := unhex(v[i]) << 4
		if i+1 < n {
			hi |= unhex(v[i+1])
		}
		b = append(b, byte(hi))
	}
	return b, true
}

func interpretProctitle(raw string, quoted bool) string {
	if quoted {
		return raw
	}
	b, ok := cUnescape(raw)
	if !ok {
		return raw
	}
	for i := range b {
		if b[i] == 0 {
			b[i] = ' '
		}
	}
	return string(b)
}

// ttyEscape writes control bytes as \ooo (auparse's AUPARSE_ESC_TTY, ausearch's default).
func ttyEscape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < 32 {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 3*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 32 {
			sb.WriteByte('\\')
			sb.WriteByte('0' + c>>6&7)
			sb.WriteByte('0' + c>>3&7)
			sb.WriteByte('0' + c&7)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// interpretTTYData is auparse's print_tty_data: printable runs in double quotes, known key
// sequences as <name>, joined by commas.
func interpretTTYData(raw string, quoted bool) string {
	if quoted || !isXDigits(raw) {
		if quoted {
			return escapeString(`"` + raw + `"`)
		}
		return escapeString(raw)
	}
	data := decodeHexInto(make([]byte, 0, len(raw)/2), raw[:len(raw)&^1])
	var sb strings.Builder
	inPrintable := false
	for i := 0; i < len(data); {
		if name, n := ttyNamedKey(data[i:]); n > 0 {
			if inPrintable {
				sb.WriteByte('"')
				inPrintable = false
			}
			if sb.Len() != 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('<')
			sb.WriteString(name)
			sb.WriteByte('>')
			i += n
			continue
		}
		if !inPrintable {
			if sb.Len() != 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('"')
			inPrintable = true
		}
		c := data[i]
		if c < 0x20 || c > 0x7e {
			sb.WriteByte('\\')
			sb.WriteByte('0' + c>>6&7)
			sb.WriteByte('0' + c>>3&7)
			sb.WriteByte('0' + c&7)
		} else {
			if c == '\\' || c == '"' {
				sb.WriteByte('\\')
			}
			sb.WriteByte(c)
		}
		i++
	}
	if inPrintable {
		sb.WriteByte('"')
	}
	return sb.String()
}

func ttyNamedKey(b []byte) (string, int) {
	c := b[0]
	if c >= ' ' && (c < 0x7f || c >= 0xa0) {
		return "", 0
	}
	for _, k := range ttyNamedKeys {
		if len(k.seq) <= len(b) && string(b[:len(k.seq)]) == k.seq {
			return k.name, len(k.seq)
		}
	}
	return "", 0
}

func appendSuccess(dst []byte, raw string) []byte {
	if raw == "" || raw[0] < '0' || raw[0] > '9' {
		return append(dst, raw...)
	}
	n, ok := cStrtol(raw, 10)
	if !ok {
		return appendWrapped(dst, "conversion error(", raw, ")")
	}
	switch n {
	case 0:
		return append(dst, "no"...)
	case 1:
		return append(dst, "yes"...)
	}
	return append(dst, "unset"...)
}

func interpretPerm(raw string) string {
	n, ok := cStrtol(raw, 10)
	if !ok {
		return "conversion error(" + raw + ")"
	}
	if n == 0 {
		n = 0xf
	}
	var parts []string
	for _, p := range []struct {
		bit  int64
		name string
	}{{4, "read"}, {2, "write"}, {1, "exec"}, {8, "attr"}} {
		if n&p.bit != 0 {
			parts = append(parts, p.name)
		}
	}
	return strings.Join(parts, ",")
}

// appendOctal3 appends n in octal, at least three digits.
func appendOctal3(dst []byte, n uint64) []byte {
	for d := uint64(0o100); d > 1 && n < d; d /= 8 {
		dst = append(dst, '0')
	}
	return strconv.AppendUint(dst, n, 8)
}

func appendMode(dst []byte, raw string) []byte {
	v, ok := cStrtol(raw, 8)
	if !ok {
		return appendWrapped(dst, "conversion error(", raw, ")")
	}
	n := uint64(uint32(v))
	switch n & 0o170000 {
	case 0o140000:
		dst = append(dst, "socket"...)
	case 0o120000:
		dst = append(dst, "link"...)
	case 0o100000:
		dst = append(dst, "file"...)
	case 0o060000:
		dst = append(dst, "block"...)
	case 0o040000:
		dst = append(dst, "dir"...)
	case 0o020000:
		dst = append(dst, "character"...)
	case 0o010000:
		dst = append(dst, "fifo"...)
	default:
		dst = appendOctal3(dst, (n&0o170000)/0o10000)
	}
	if n&0o4000 != 0 {
		dst = append(dst, ",suid"...)
	}
	if n&0o2000 != 0 {
		dst = append(dst, ",sgid"...)
	}
	if n&0o1000 != 0 {
		dst = append(dst, ",sticky"...)
	}
	dst = append(dst, ',')
	return appendOctal3(dst, n&0o777)
}

func appendModeShort(dst []byte, raw string) []byte {
	v, ok := cStrtol(raw, 8)
	if !ok {
		return appendWrapped(dst, "conversion error(", raw, ")")
	}
	return appendModeShortNum(dst, uint64(uint32(v)))
}

func appendModeShortNum(dst []byte, n uint64) []byte {
	if n&0o4000 != 0 {
		dst = append(dst, "suid,"...)
	}
	if n&0o2000 != 0 {
		dst = append(dst, "sgid,"...)
	}
	if n&0o1000 != 0 {
		dst = append(dst, "sticky,"...)
	}
	dst = append(dst, '0')
	return appendOctal3(dst, n&0o777)
}

func interpretCap(raw string) string {
	n, ok := cStrtol(raw, 10)
	if ok && n >= 0 && n < int64(len(capNames)) && capNames[n] != "" {
		return capNames[n]
	}
	return "unknown-capability(" + raw + ")"
}

func interpretCapBitmap(raw string) string {
	v, ok := cStrtol(raw, 16)
	if !ok {
		return "conversion error(" + raw + ")"
	}
	var sb strings.Builder
	found := false
	for i := 0; i < len(capNames) && i < 64; i++ {
		if uint64(v)&(1<<uint(i)) != 0 {
			if found {
				sb.WriteByte(',')
			}
			sb.WriteString(capNames[i])
			found = true
		}
	}
	if !found {
		return "none"
	}
	return sb.String()
}

// argKind is how appendArg decodes one of a0..a2 for a syscall (a3 and the syscalls not
// listed in argKindOf are "0x<raw>").
type argKind uint8

const (
	argHex        argKind = iota // "0x<raw>"
	argDirfd                     // AT_FDCWD, else "0x<raw>"
	argUID                       // a user id
	argGID                       // a group id
	argFamily                    // socket's address family
	argExitCode                  // exit's status
	argSocketcall                // socketcall's call number
	argModeShort                 // chmod-style mode
	argSockType                  // socket's type
	argOpenFlags                 // O_* flags
	argOpenMode                  // open's mode: only with O_CREAT in a1, else "0x<raw>"
	argProto                     // socket's protocol
)

// argKindOf is the easy part of auparse's print_a0..print_a3: the syscall-specific decodings
// of common calls.
func argKindOf(sys string, n int) argKind {
	switch n {
	case 0:
		switch {
		case strings.HasPrefix(sys, "renameat"), sys == "readlinkat", sys == "mkdirat", sys == "mknodat",
			sys == "fchownat", sys == "futimesat", sys == "fchmodat", strings.HasPrefix(sys, "faccessat"),
			sys == "unlinkat", sys == "utimensat", sys == "linkat", sys == "newfstatat",
			strings.HasPrefix(sys, "openat"), sys == "name_to_handle_at":
			return argDirfd
		case sys == "setuid", sys == "setreuid", sys == "setresuid", sys == "setfsuid":
			return argUID
		case sys == "setgid", sys == "setregid", sys == "setresgid", sys == "setfsgid":
			return argGID
		case sys == "socket":
			return argFamily
		case strings.HasPrefix(sys, "exit"):
			return argExitCode
		case sys == "socketcall":
			return argSocketcall
		}
	case 1:
		switch {
		case sys == "fchmod", sys == "chmod", sys == "creat", sys == "mkdir":
			return argModeShort
		case strings.HasPrefix(sys, "c") && strings.Contains(sys, "chown"):
			return argUID
		case sys == "setreuid", sys == "setresuid":
			return argUID
		case sys == "setregid", sys == "setresgid":
			return argGID
		case sys == "socket":
			return argSockType
		case sys == "open":
			return argOpenFlags
		}
	case 2:
		switch {
		case sys == "openat", sys == "open_by_handle_at":
			return argOpenFlags
		case sys == "open":
			return argOpenMode
		case sys == "fchmodat":
			return argModeShort
		case sys == "setresuid":
			return argUID
		case sys == "setresgid":
			return argGID
		case sys == "socket":
			return argProto
		}
	}
	return argHex
}

// argKindTab holds argKindOf(name, 0..2) for every name of each syscall table, indexed like
// its dense slice: most syscalls decode no argument, and one table load says so where matching
// the name against the lists took most of appendArg's time. Built on first use (argKinds).
var (
	argKindTab  [numSysTabs][][3]argKind
	argKindOnce sync.Once
)

func argKinds() *[numSysTabs][][3]argKind {
	argKindOnce.Do(func() {
		for i, t := range sysTabs {
			if t == nil {
				continue
			}
			k := make([][3]argKind, len(t.dense))
			for num, name := range t.dense {
				if name != "" {
					k[num] = [3]argKind{argKindOf(name, 0), argKindOf(name, 1), argKindOf(name, 2)}
				}
			}
			argKindTab[i] = k
		}
	})
	return &argKindTab
}

// recordArgKind is argKindOf for argument n of a SYSCALL or SECCOMP record's syscall.
func recordArgKind(r *Record, n int) argKind {
	f := r.field("syscall")
	if f == nil {
		return argHex
	}
	num, ok := parseDec(f.Raw())
	if !ok || num != int64(int(num)) {
		return argHex
	}
	tab := hostTab
	if t, _ := recordSysTab(r); t != tabNone {
		tab = t
	}
	if kinds := argKinds()[tab]; num >= 0 && num < int64(len(kinds)) {
		return kinds[num][n]
	}
	if sys, ok := syscallAt(tab, int(num)); ok {
		return argKindOf(sys, n)
	}
	return argHex
}

// appendArg appends a0..a3 as argKindOf says, "0x<raw>" for the rest.
func appendArg(dst []byte, r *Record, n int, raw string, names *Names) []byte {
	kind := argHex
	if n < 3 && (r.Type == typeSyscall || r.Type == typeSeccomp) {
		kind = recordArgKind(r, n)
	}
	id := func(lookup func(uint32) (string, bool)) []byte {
		// the argument as a 32-bit int, as auparse reads it
		if v, ok := parseHex(raw, 64); ok {
			return appendIDNum(dst, int32(uint32(v)), lookup)
		}
		return appendID(dst, raw, lookup)
	}
	modeShort := func() []byte {
		if v, ok := parseHex(raw, 64); ok {
			return appendModeShortNum(dst, uint64(uint32(v)))
		}
		return appendModeShort(dst, raw)
	}
	switch kind {
	case argDirfd:
		if v, ok := parseHex(raw, 32); ok && v == 0xffffff9c {
			return append(dst, "AT_FDCWD"...)
		}
	case argUID:
		return id(names.User)
	case argGID:
		return id(names.Group)
	case argFamily:
		v, _ := parseHex(raw, 32)
		if v < uint64(len(familyNames)) && familyNames[v] != "" {
			return append(dst, familyNames[v]...)
		}
		return appendWrapped(dst, "unknown-family(0x", raw, ")")
	case argExitCode:
		switch raw {
		case "0":
			return append(dst, "EXIT_SUCCESS"...)
		case "1":
			return append(dst, "EXIT_FAILURE"...)
		}
		return append(dst, "UNKNOWN"...)
	case argSocketcall:
		v, _ := parseHex(raw, 32)
		if v < uint64(len(socketcalls)) && socketcalls[v] != "" {
			return append(dst, socketcalls[v]...)
		}
		return appendWrapped(dst, "unknown-socketcall(", raw, ")")
	case argModeShort:
		return modeShort()
	case argSockType:
		v, _ := parseHex(raw, 64)
		if t := v & 0xff; t < uint64(len(sockTypes)) && sockTypes[t] != "" {
			return append(dst, sockTypes[t]...)
		}
		return appendWrapped(dst, "unknown-type(", raw, ")")
	case argOpenFlags:
		return appendOpenFlags(dst, raw)
	case argOpenMode:
		if f := r.field("a1"); f != nil {
			if v, _ := parseHex(f.Raw(), 64); v&0o100 != 0 {
				return modeShort()
			}
		}
	case argProto:
		v, _ := parseHex(raw, 32)
		if name, ok := ipProtocols[v]; ok {
			return append(dst, name...)
		}
		return appendWrapped(dst, "unknown-proto(", raw, ")")
	}
	return appendWrapped(dst, "0x", raw, "")
}

func appendOpenFlags(dst []byte, raw string) []byte {
	v, ok := parseHex(raw, 64)
	if !ok {
		return appendWrapped(dst, "conversion error(", raw, ")")
	}
	start := len(dst)
	if v&0o3 == 0 {
		dst = append(dst, "O_RDONLY"...)
	}
	for _, f := range openFlags {
		if v&f.bit != 0 {
			if len(dst) > start {
				dst = append(dst, '|')
			}
			dst = append(dst, f.name...)
		}
	}
	if len(dst) == start {
		return appendWrapped(dst, "0x", raw, "")
	}
	return dst
}
