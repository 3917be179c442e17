package parser

// The string-building Interpret as it was before AppendInterpret (git history: parser/
// interpret.go before the append rewrite), kept as a test oracle: AppendInterpret and Interpret
// must give exactly what it gives, on the corpus and under the fuzzer. The helpers it shares
// with the current code (printEscaped, interpretTTYData, ...) did not change; the ones that
// were since rewritten for speed (cStrtol, enrichedFor, adjustType) are kept here as they were.

import (
	"strconv"
	"strings"
)

func interpretRef(r *Record, f *Field, names *Names) string {
	raw := f.Raw()
	if f.Key == "acct" && !f.Quoted && strings.HasSuffix(raw, ":") {
		raw = raw[:len(raw)-1]
	}
	t := adjustTypeRef(r.Type, f.Key, raw, f.Quoted)
	if e := enrichedForRef(r, f.Key); e != nil && !strings.HasPrefix(e.Raw(), "unknown-") {
		if t == ftUID || t == ftGID || !e.Quoted {
			return e.Value
		}
		return `"` + e.Value + `"`
	}
	var out string
	switch t {
	case ftUID:
		out = interpretIDRef(raw, names.User)
	case ftGID:
		out = interpretIDRef(raw, names.Group)
	case ftSyscall:
		out = interpretSyscallRef(r, raw)
	case ftArch:
		out = interpretArchRef(raw)
	case ftExit:
		out = interpretExitRef(raw)
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
		out = interpretSuccessRef(raw)
	case ftSession:
		if raw == "4294967295" {
			out = "unset"
		} else {
			out = raw
		}
	case ftPerm:
		out = interpretPerm(raw)
	case ftMode:
		out = interpretModeRef(raw)
	case ftModeShort:
		out = interpretModeShortRef(raw)
	case ftPromisc:
		if n, ok := cStrtolRef(raw, 10); ok && n == 0 {
			out = "no"
		} else {
			out = "yes"
		}
	case ftCapability:
		out = interpretCap(raw)
	case ftCapBitmap:
		out = interpretCapBitmap(raw)
	case ftA0, ftA1, ftA2, ftA3:
		out = interpretArgRef(r, int(t-ftA0), raw, names)
	case ftList:
		n, ok := cStrtolRef(raw, 10)
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

func interpretIDRef(raw string, lookup func(uint32) (string, bool)) string {
	n, ok := cStrtolRef(raw, 10)
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

func interpretArchRef(raw string) string {
	n, err := strconv.ParseUint(raw, 16, 32)
	if err != nil {
		return "unknown-elf-type(" + raw + ")"
	}
	if name, _, ok := machineOf(uint32(n)); ok {
		return name
	}
	return "unknown-elf-type(" + raw + ")"
}

func interpretSyscallRef(r *Record, raw string) string {
	num, ok := cStrtolRef(raw, 10)
	if !ok {
		return "syscall conversion error(" + raw + ")"
	}
	table := hostSyscallTable()
	if r.Type == typeSyscall || r.Type == typeSeccomp {
		if a, ok := r.Get("arch"); ok {
			n, err := strconv.ParseUint(a.Raw(), 16, 32)
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
			if v, err := strconv.ParseUint(a0.Raw(), 16, 64); err == nil {
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

func interpretExitRef(raw string) string {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n >= 0 {
		return raw
	}
	e := -n
	name := "(null)" // what glibc's printf makes of the NULL audit_errno_to_name returns
	if s, ok := ErrnoName(int(min(e, 1<<20))); ok {
		name = s
	}
	// The one change: e < 0 (exit=-9223372036854775808) made the old code index with it.
	text := "Unknown error " + strconv.FormatUint(uint64(e), 10)
	if e >= 0 && e < int64(len(errnoText)) && errnoText[e] != "" {
		text = errnoText[e]
	}
	return name + "(" + text + ")"
}

func interpretSuccessRef(raw string) string {
	if raw == "" || raw[0] < '0' || raw[0] > '9' {
		return raw
	}
	n, ok := cStrtolRef(raw, 10)
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

func octal3Ref(n uint64) string {
	s := strconv.FormatUint(n, 8)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

func interpretModeRef(raw string) string {
	v, ok := cStrtolRef(raw, 8)
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
		s = octal3Ref((n & 0o170000) / 0o10000)
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
	return s + "," + octal3Ref(n&0o777)
}

func interpretModeShortRef(raw string) string {
	v, ok := cStrtolRef(raw, 8)
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
	parts = append(parts, "0"+octal3Ref(n&0o777))
	return strings.Join(parts, ",")
}

func interpretArgRef(r *Record, n int, raw string, names *Names) string {
	sys := ""
	if r.Type == typeSyscall || r.Type == typeSeccomp {
		if f, ok := r.Get("syscall"); ok {
			if num, err := strconv.Atoi(f.Raw()); err == nil {
				table := hostSyscallTable()
				if a, ok := r.Get("arch"); ok {
					if v, err := strconv.ParseUint(a.Raw(), 16, 32); err == nil {
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
		v, _ := strconv.ParseUint(f.Raw(), 16, 64)
		return v
	}
	uid := func() string { return interpretIDRef(hex32Ref(raw), names.User) }
	gid := func() string { return interpretIDRef(hex32Ref(raw), names.Group) }
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
			return interpretModeShortRef(hexToOctalRef(raw))
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
			return interpretOpenFlagsRef(raw)
		}
	case 2:
		switch {
		case sys == "openat", sys == "open_by_handle_at":
			return interpretOpenFlagsRef(raw)
		case sys == "open" && hexArg("a1")&0o100 != 0:
			return interpretModeShortRef(hexToOctalRef(raw))
		case sys == "fchmodat":
			return interpretModeShortRef(hexToOctalRef(raw))
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

func hex32Ref(raw string) string {
	v, err := strconv.ParseUint(raw, 16, 64)
	if err != nil {
		return raw
	}
	return strconv.FormatInt(int64(int32(uint32(v))), 10)
}

func hexToOctalRef(raw string) string {
	v, err := strconv.ParseUint(raw, 16, 64)
	if err != nil {
		return raw
	}
	return strconv.FormatUint(v, 8)
}

func interpretOpenFlagsRef(raw string) string {
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

// cStrtolRef is cStrtol before its fast path for short numbers.
func cStrtolRef(s string, base int) (int64, bool) {
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

// enrichedForRef is enrichedFor before its first-byte check.
func enrichedForRef(r *Record, key string) *Field {
	for i := range r.Enriched {
		if strings.EqualFold(r.Enriched[i].Key, key) {
			return &r.Enriched[i]
		}
	}
	return nil
}

// adjustTypeRef is adjustType as it was: one case per correction, in auparse's order.
func adjustTypeRef(rtype uint16, name, raw string, quoted bool) fieldType {
	switch {
	case rtype == typeExecve && len(name) > 0 && name[0] == 'a' && name != "argc" && !strings.Contains(name, "_len"):
		return ftEscaped
	case rtype == typeAVC && name == "saddr":
		return ftUnclassified
	case rtype == typeUserTTY && name == "msg":
		return ftEscaped
	case rtype == typeNetfilterPkt && name == "saddr":
		return ftAddr
	case name == "acct":
		if quoted || isXDigits(raw) {
			return ftEscaped
		}
		return ftUnclassified
	case rtype == typePath && name == "flags":
		return ftFlags
	case rtype == typeMQOpen && name == "mode":
		return ftModeShort
	case rtype == typeCryptoKeyUser && name == "fp":
		return ftUnclassified
	case name == "id" && (rtype == typeAddGroup || rtype == typeGrpMgmt || rtype == typeDelGroup):
		return ftGID
	case rtype == typeTrustedApp:
		switch {
		case quoted:
			return ftEscaped
		case isDigits(raw):
			return ftUnclassified
		case isXDigits(raw):
			return ftEscaped
		}
		return ftUnclassified
	case rtype == typeKernModule && name == "name":
		return ftEscaped
	}
	return fieldTypeByName(name)
}
