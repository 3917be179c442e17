package parser

import (
	"runtime"
	"strconv"
	"strings"
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
func Interpret(r *Record, f *Field, names *Names) string {
	raw := f.Raw
	if f.Key == "acct" && !f.Quoted && strings.HasSuffix(raw, ":") {
		raw = raw[:len(raw)-1]
	}
	t := adjustType(r.Type, f.Key, raw, f.Quoted)
	if e := enrichedFor(r, f.Key); e != nil && !strings.HasPrefix(e.Raw, "unknown-") {
		if t == ftUID || t == ftGID || !e.Quoted {
			return e.Value
		}
		return `"` + e.Value + `"`
	}
	var out string
	switch t {
	case ftUID:
		out = interpretID(raw, names.User)
	case ftGID:
		out = interpretID(raw, names.Group)
	case ftSyscall:
		out = interpretSyscall(r, raw)
	case ftArch:
		out = interpretArch(raw)
	case ftExit:
		out = interpretExit(raw)
	case ftEscaped, ftEscapedFile:
		out = printEscaped(raw, f.Quoted)
	case ftEscapedKey:
		out = printEscaped(raw, f.Quoted)
		if strings.IndexByte(out, 0x01) >= 0 {
			out = strings.ReplaceAll(out, "\x01", " key=")
		}
	case ftProctitle:
		out = interpretProctitle(raw, f.Quoted)
	case ftTTYData:
		return interpretTTYData(raw, f.Quoted)
	case ftSockaddr:
		out = interpretSockaddr(raw)
	case ftSuccess:
		out = interpretSuccess(raw)
	case ftSession:
		if raw == "4294967295" {
			out = "unset"
		} else {
			out = raw
		}
	case ftPerm:
		out = interpretPerm(raw)
	case ftMode:
		out = interpretMode(raw)
	case ftModeShort:
		out = interpretModeShort(raw)
	case ftPromisc:
		if n, ok := cStrtol(raw, 10); ok && n == 0 {
			out = "no"
		} else {
			out = "yes"
		}
	case ftCapability:
		out = interpretCap(raw)
	case ftCapBitmap:
		out = interpretCapBitmap(raw)
	case ftA0, ftA1, ftA2, ftA3:
		out = interpretArg(r, int(t-ftA0), raw, names)
	case ftList:
		n, ok := cStrtol(raw, 10)
		if ok && n >= 0 && n < int64(len(filterLists)) && filterLists[n] != "" {
			out = filterLists[n]
		} else {
			out = "unknown-list(" + raw + ")"
		}
	default:
		if f.Quoted {
			return escapeString(`"` + raw + `"`)
		}
		return escapeString(raw)
	}
	return escapeString(ttyEscape(out))
}

// enrichedFor finds auditd's interpretation of a field (ENRICHED keys are the field names
// in upper case; saddr's is SADDR).
func enrichedFor(r *Record, key string) *Field {
	for i := range r.Enriched {
		if strings.EqualFold(r.Enriched[i].Key, key) {
			return &r.Enriched[i]
		}
	}
	return nil
}

// cStrtol is strtol/strtoul as auparse uses it: leading digits count, the rest is ignored,
// no digits gives 0 (not an error).
func cStrtol(s string, base int) (int64, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	end := 0
	for end < len(s) {
		d := unhex(s[end])
		if d < 0 || d >= base {
			break
		}
		end++
	}
	if end == 0 {
		return 0, true
	}
	n, err := strconv.ParseUint(s[:end], base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func interpretID(raw string, lookup func(uint32) (string, bool)) string {
	n, ok := cStrtol(raw, 10)
	if !ok {
		return "conversion error(" + raw + ")"
	}
	id := int32(n) // auparse keeps ids in an int
	switch id {
	case -1:
		return "unset"
	case 0:
		return "root"
	}
	if name, ok := lookup(uint32(id)); ok {
		return name
	}
	return "unknown(" + strconv.Itoa(int(id)) + ")"
}

// machines that audit_elf_to_machine knows, with audit's names; others are unknown to
// ausearch. The syscall table name is go-libaudit's.
func machineOf(arch uint32) (name, table string, ok bool) {
	switch arch {
	case 0x40000003:
		return "i386", "i386", true
	case 0xc000003e:
		return "x86_64", "x86_64", true
	case 0x14:
		return "ppc", "ppc", true
	case 0x80000015:
		return "ppc64", "ppc", true
	case 0xc0000015:
		return "ppc64le", "ppc", true
	case 0x16:
		return "s390", "s390", true
	case 0x80000016:
		return "s390x", "s390x", true
	case 0x40000028:
		return "armeb", "arm", true
	case 0xc00000b7:
		return "aarch64", "aarch64", true
	}
	return "", "", false
}

func interpretArch(raw string) string {
	n, err := strconv.ParseUint(raw, 16, 32)
	if err != nil {
		return "unknown-elf-type(" + raw + ")"
	}
	if name, _, ok := machineOf(uint32(n)); ok {
		return name
	}
	return "unknown-elf-type(" + raw + ")"
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
func interpretSyscall(r *Record, raw string) string {
	num, ok := cStrtol(raw, 10)
	if !ok {
		return "syscall conversion error(" + raw + ")"
	}
	table := hostSyscallTable()
	if r.Type == typeSyscall || r.Type == typeSeccomp {
		if a, ok := r.Get("arch"); ok {
			n, err := strconv.ParseUint(a.Raw, 16, 32)
			if err != nil {
				return raw
			}
			_, t, ok := machineOf(uint32(n))
			if !ok {
				return raw
			}
			table = t
		}
	}
	name, ok := syscallByTable(table, int(num))
	if !ok {
		return "unknown-syscall(" + strconv.Itoa(int(int32(num))) + ")"
	}
	if name == "socketcall" || name == "ipc" {
		if a0, ok := r.Get("a0"); ok {
			if v, err := strconv.ParseUint(a0.Raw, 16, 64); err == nil {
				tab := socketcalls[:]
				if name == "ipc" {
					tab = ipccalls[:]
				}
				if v < uint64(len(tab)) && tab[v] != "" {
					return name + "(" + tab[v] + ")"
				}
			}
		}
	}
	return name
}

// ErrnoName returns the name of a positive errno value ("ENOENT" for 2).
func ErrnoName(n int) (string, bool) {
	if n > 0 && n < len(errnoNames) && errnoNames[n] != "" {
		return errnoNames[n], true
	}
	return "", false
}

func interpretExit(raw string) string {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n >= 0 {
		return raw
	}
	e := -n
	name := "(null)" // what glibc's printf makes of the NULL audit_errno_to_name returns
	if s, ok := ErrnoName(int(min(e, 1<<20))); ok {
		name = s
	}
	text := "Unknown error " + strconv.FormatInt(e, 10)
	if e < int64(len(errnoText)) && errnoText[e] != "" {
		text = errnoText[e]
	}
	return name + "(" + text + ")"
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

func interpretSuccess(raw string) string {
	if raw == "" || raw[0] < '0' || raw[0] > '9' {
		return raw
	}
	n, ok := cStrtol(raw, 10)
	if !ok {
		return "conversion error(" + raw + ")"
	}
	switch n {
	case 0:
		return "no"
	case 1:
		return "yes"
	}
	return "unset"
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

func octal3(n uint64) string {
	s := strconv.FormatUint(n, 8)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

func interpretMode(raw string) string {
	v, ok := cStrtol(raw, 8)
	if !ok {
		return "conversion error(" + raw + ")"
	}
	n := uint64(uint32(v))
	var s string
	switch n & 0o170000 {
	case 0o140000:
		s = "socket"
	case 0o120000:
		s = "link"
	case 0o100000:
		s = "file"
	case 0o060000:
		s = "block"
	case 0o040000:
		s = "dir"
	case 0o020000:
		s = "character"
	case 0o010000:
		s = "fifo"
	default:
		s = octal3((n & 0o170000) / 0o10000)
	}
	if n&0o4000 != 0 {
		s += ",suid"
	}
	if n&0o2000 != 0 {
		s += ",sgid"
	}
	if n&0o1000 != 0 {
		s += ",sticky"
	}
	return s + "," + octal3(n&0o777)
}

func interpretModeShort(raw string) string {
	v, ok := cStrtol(raw, 8)
	if !ok {
		return "conversion error(" + raw + ")"
	}
	n := uint64(uint32(v))
	var parts []string
	if n&0o4000 != 0 {
		parts = append(parts, "suid")
	}
	if n&0o2000 != 0 {
		parts = append(parts, "sgid")
	}
	if n&0o1000 != 0 {
		parts = append(parts, "sticky")
	}
	parts = append(parts, "0"+octal3(n&0o777))
	return strings.Join(parts, ",")
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

// interpretArg is the easy part of auparse's print_a0..print_a3: the syscall-specific
// decodings of common calls; everything else is "0x<raw>".
func interpretArg(r *Record, n int, raw string, names *Names) string {
	sys := ""
	if r.Type == typeSyscall || r.Type == typeSeccomp {
		if f, ok := r.Get("syscall"); ok {
			if num, err := strconv.Atoi(f.Raw); err == nil {
				table := hostSyscallTable()
				if a, ok := r.Get("arch"); ok {
					if v, err := strconv.ParseUint(a.Raw, 16, 32); err == nil {
						if _, t, ok := machineOf(uint32(v)); ok {
							table = t
						}
					}
				}
				sys, _ = syscallByTable(table, num)
			}
		}
	}
	hexArg := func(key string) uint64 {
		f, _ := r.Get(key)
		v, _ := strconv.ParseUint(f.Raw, 16, 64)
		return v
	}
	uid := func() string { return interpretID(hex32(raw), names.User) }
	gid := func() string { return interpretID(hex32(raw), names.Group) }
	switch n {
	case 0:
		switch {
		case strings.HasPrefix(sys, "renameat"), sys == "readlinkat", sys == "mkdirat", sys == "mknodat",
			sys == "fchownat", sys == "futimesat", sys == "fchmodat", strings.HasPrefix(sys, "faccessat"),
			sys == "unlinkat", sys == "utimensat", sys == "linkat", sys == "newfstatat",
			strings.HasPrefix(sys, "openat"), sys == "name_to_handle_at":
			if v, err := strconv.ParseUint(raw, 16, 32); err == nil && v == 0xffffff9c {
				return "AT_FDCWD"
			}
		case sys == "setuid", sys == "setreuid", sys == "setresuid", sys == "setfsuid":
			return uid()
		case sys == "setgid", sys == "setregid", sys == "setresgid", sys == "setfsgid":
			return gid()
		case sys == "socket":
			v, _ := strconv.ParseUint(raw, 16, 32)
			if v < uint64(len(familyNames)) && familyNames[v] != "" {
				return familyNames[v]
			}
			return "unknown-family(0x" + raw + ")"
		case strings.HasPrefix(sys, "exit"):
			switch raw {
			case "0":
				return "EXIT_SUCCESS"
			case "1":
				return "EXIT_FAILURE"
			}
			return "UNKNOWN"
		case sys == "socketcall":
			v, _ := strconv.ParseUint(raw, 16, 32)
			if v < uint64(len(socketcalls)) && socketcalls[v] != "" {
				return socketcalls[v]
			}
			return "unknown-socketcall(" + raw + ")"
		}
	case 1:
		switch {
		case sys == "fchmod", sys == "chmod", sys == "creat", sys == "mkdir":
			return interpretModeShort(hexToOctal(raw))
		case strings.HasPrefix(sys, "c") && strings.Contains(sys, "chown"):
			return uid()
		case sys == "setreuid", sys == "setresuid":
			return uid()
		case sys == "setregid", sys == "setresgid":
			return gid()
		case sys == "socket":
			v, _ := strconv.ParseUint(raw, 16, 64)
			if t := v & 0xff; t < uint64(len(sockTypes)) && sockTypes[t] != "" {
				return sockTypes[t]
			}
			return "unknown-type(" + raw + ")"
		case sys == "open":
			return interpretOpenFlags(raw)
		}
	case 2:
		switch {
		case sys == "openat", sys == "open_by_handle_at":
			return interpretOpenFlags(raw)
		case sys == "open" && hexArg("a1")&0o100 != 0:
			return interpretModeShort(hexToOctal(raw))
		case sys == "fchmodat":
			return interpretModeShort(hexToOctal(raw))
		case sys == "setresuid":
			return uid()
		case sys == "setresgid":
			return gid()
		case sys == "socket":
			v, _ := strconv.ParseUint(raw, 16, 32)
			if name, ok := ipProtocols[v]; ok {
				return name
			}
			return "unknown-proto(" + raw + ")"
		}
	}
	return "0x" + raw
}

// hex32 turns a hex argument into the decimal text interpretID reads.
func hex32(raw string) string {
	v, err := strconv.ParseUint(raw, 16, 64)
	if err != nil {
		return raw
	}
	return strconv.FormatInt(int64(int32(uint32(v))), 10)
}

// hexToOctal turns a hex argument into the octal text interpretModeShort reads.
func hexToOctal(raw string) string {
	v, err := strconv.ParseUint(raw, 16, 64)
	if err != nil {
		return raw
	}
	return strconv.FormatUint(v, 8)
}

func interpretOpenFlags(raw string) string {
	v, err := strconv.ParseUint(raw, 16, 64)
	if err != nil {
		return "conversion error(" + raw + ")"
	}
	var parts []string
	if v&0o3 == 0 {
		parts = append(parts, "O_RDONLY")
	}
	for _, f := range openFlags {
		if v&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	if len(parts) == 0 {
		return "0x" + raw
	}
	return strings.Join(parts, "|")
}
