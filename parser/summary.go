package parser

import (
	"strconv"
	"strings"
)

// Summary: the fields people query by, lifted from an event's records when it is handed out.
//
// Process and user fields (pid, ppid, exe, comm, auid, uid, euid, gid, tty, ses, key,
// success/res, exit, arch, syscall, terminal, hostname/addr, acct, op) are taken from the
// SYSCALL record when the event has one, and otherwise (or when SYSCALL lacks them) from the
// first record that carries them. Records with a field name of their own meaning (PATH,
// EXECVE, CWD, PROCTITLE, SOCKADDR) feed only their own summary fields. Values are the decoded
// Field.Value. Names of ids come from auditd's ENRICHED suffix of the same record (AUID="root")
// and else from AssemblerConfig.Names; an unset id (4294967295 or -1) has no name.

const (
	typeCWD      = 1307
	typeSockaddr = 1306
)

func (p *pending) fillSummary(cfg *AssemblerConfig) {
	ev := &p.ev
	s := &ev.Summary
	var sys *Record
	hasExecve := false
	for i := range ev.Records {
		r := &ev.Records[i]
		switch r.Type {
		case typeSyscall:
			if sys == nil {
				sys = r
			}
		case typeExecve:
			hasExecve = true
		case typeCWD:
			if s.Cwd == "" {
				if f, ok := r.Get("cwd"); ok && !f.Absent {
					s.Cwd = f.Value
				}
			}
		case typePath:
			s.Paths = append(s.Paths, pathItem(r))
		case typeProctitle:
			if s.Title == "" {
				if f, ok := r.Get("proctitle"); ok && !f.Absent {
					s.Title = titleFromProctitle(f.Value)
				}
			}
		case typeSockaddr:
			if s.Peer == nil {
				if f, ok := r.Get("saddr"); ok && !f.Absent {
					sa := DecodeSockAddr(f.Raw())
					s.Peer = &sa
				}
			}
		}
	}
	if sys != nil && !p.sysDone {
		s.summarize(sys, p)
	}
	for i := range ev.Records {
		r := &ev.Records[i]
		switch r.Type {
		case typeExecve, typeCWD, typePath, typeProctitle, typeSockaddr:
			continue
		}
		if r != sys {
			s.summarize(r, p)
		}
	}
	if hasExecve {
		s.Argv, s.Argc, s.ArgvMarker = buildArgv(ev.Records, cfg.ArgvMaxBytes, p.argvBuf[:0])
	}
	if s.Syscall != "" && s.Arch != "" {
		s.Syscall = syscallName(s.Arch, s.Syscall)
	}
	if cfg.Names != nil {
		userName(cfg.Names, &s.AUID)
		userName(cfg.Names, &s.UID)
		userName(cfg.Names, &s.EUID)
		if s.GID.Set && !s.GID.Unset && s.GID.Name == "" {
			s.GID.Name, _ = cfg.Names.Group(s.GID.Num)
		}
	}
}

func userName(n *Names, id *ID) {
	if id.Set && !id.Unset && id.Name == "" {
		id.Name, _ = n.User(id.Num)
	}
}

// summarize fills the summary fields that are still empty from one record.
func (s *Summary) summarize(r *Record, p *pending) {
	for i := range r.Fields {
		f := &r.Fields[i]
		if f.Absent {
			continue
		}
		v := f.Value
		switch f.Key {
		case "pid":
			setStr(&s.PID, v)
		case "ppid":
			setStr(&s.PPID, v)
		case "exe":
			setStr(&s.Exe, v)
		case "comm":
			setStr(&s.Comm, v)
		case "auid":
			setID(&s.AUID, r, v, "AUID")
		case "uid":
			setID(&s.UID, r, v, "UID")
		case "euid":
			setID(&s.EUID, r, v, "EUID")
		case "gid":
			setID(&s.GID, r, v, "GID")
		case "tty":
			setStr(&s.TTY, v)
		case "ses":
			if s.Ses == "" && v != "4294967295" && v != "-1" {
				s.Ses = v
			}
		case "key":
			if s.Keys == nil {
				if strings.IndexByte(v, 0x01) < 0 && v != "" {
					p.keyBuf[0] = v
					s.Keys = p.keyBuf[:1:1]
				} else {
					s.Keys = SplitKeys(v)
				}
			}
		case "success", "res":
			if s.Success == "" {
				s.Success = result(v)
			}
		case "exit":
			if s.Exit == "" {
				s.Exit = v
				s.ExitName = exitName(v)
			}
		case "arch":
			if s.Arch == "" {
				s.Arch = archName(v)
			}
		case "syscall":
			setStr(&s.Syscall, v)
		case "terminal":
			setStr(&s.Terminal, v)
		case "hostname":
			if v != "?" {
				setStr(&s.Hostname, v)
			}
		case "addr":
			if v != "?" && s.Hostname == "" && !hasField(r, "hostname") {
				s.Hostname = v
			}
		case "acct":
			setStr(&s.Acct, v)
		case "op":
			setStr(&s.Op, v)
		}
	}
}

func hasField(r *Record, key string) bool {
	f, ok := r.Get(key)
	return ok && !f.Absent && f.Value != "?"
}

func setStr(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func setID(id *ID, r *Record, v, enrichedKey string) {
	if id.Set {
		return
	}
	id.Set = true
	if v == "4294967295" || v == "-1" {
		id.Unset = true
		return
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return
	}
	id.Num = uint32(n)
	for i := range r.Enriched {
		if r.Enriched[i].Key == enrichedKey && !r.Enriched[i].Absent {
			id.Name = r.Enriched[i].Value
			break
		}
	}
}

// result maps success= (yes/no) and res= (success/failed, 1/0) to "yes" or "no".
func result(v string) string {
	switch v {
	case "yes", "success", "1":
		return "yes"
	case "no", "failed", "0":
		return "no"
	}
	return v
}

func exitName(v string) string {
	if len(v) < 2 || v[0] != '-' {
		return ""
	}
	n, err := strconv.Atoi(v[1:])
	if err != nil || n <= 0 || n >= len(errnoNames) {
		return ""
	}
	return errnoNames[n]
}

// archName turns arch=c000003e into "x86_64"; an unknown value is kept as written.
func archName(v string) string {
	n, err := strconv.ParseUint(v, 16, 32)
	if err != nil {
		return v
	}
	if name := libauditArchName(uint32(n)); name != "" {
		return name
	}
	return v
}

// syscallName names a syscall number for an arch (as named by archName); unknown numbers and
// arches keep the number.
func syscallName(arch, num string) string {
	var t syscallTable
	if arch == sysTabNames[hostTab] && sysTabs[hostTab] != nil {
		t = *sysTabs[hostTab] // the map lookup was a seventieth of assembling a record
	} else {
		var ok bool
		if t, ok = syscallTables[arch]; !ok {
			return num
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return num
	}
	if n < len(t.dense) && t.dense[n] != "" {
		return t.dense[n]
	}
	if name, ok := t.sparse[n]; ok {
		return name
	}
	return num
}

func pathItem(r *Record) PathItem {
	var p PathItem
	for i := range r.Fields {
		f := &r.Fields[i]
		if f.Absent {
			continue
		}
		switch f.Key {
		case "name":
			p.Name = f.Value
		case "nametype":
			p.Nametype = f.Value
		case "inode":
			p.Inode = f.Value
		case "mode":
			p.Mode = f.Value
		}
	}
	return p
}

// titleFromProctitle turns the NUL-separated command line into one line, as ausearch -i does.
func titleFromProctitle(v string) string {
	v = strings.TrimRight(v, "\x00")
	if strings.IndexByte(v, 0) < 0 {
		return v
	}
	return strings.ReplaceAll(v, "\x00", " ")
}
