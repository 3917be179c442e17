// Package filter decides, after assembly, which whole events are shipped: include/exclude
// rules, collapsing of identical repeats, and a per-node rate limit. It runs on parser.Event
// values, never on single records, so a filtered event's records are accounted for together.
//
// Rule syntax (the Include and Exclude keys of the [OUTPUT] section):
//
//	rules := rule { ";" rule }          any rule may match
//	rule  := cond { " " cond }          every condition of a rule must hold
//	cond  := field ("=" | "!=") value { "," value }
//
// An event is shipped when (Include is empty or some Include rule matches) and no Exclude
// rule matches. Fields:
//
//	type     record type name (EXECVE, USER_LOGIN, UNKNOWN[1999]); matches if any record has it
//	key      audit rule key, glob; matches if any of the event's keys matches
//	syscall  syscall name (execve) or number
//	result   success | failed
//	exe      executable path, glob ("*" also crosses "/")
//	comm     command name, glob
//	auid, uid, euid   numbers, names (from the ENRICHED suffix or Passwd_File), or "unset"
//	path     prefix of any PATH record's name (PATH records are absent on COS)
//	addr     network peer address: an IP or a CIDR
//	port     network peer port: a number or a range lo-hi
//
// Example: Exclude  exe=/usr/bin/containerd*,/usr/sbin/runc; key=funky_socket addr=127.0.0.0/8
package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Fields lists the field names a rule may use, for error messages and docs.
var Fields = []string{"type", "key", "syscall", "result", "exe", "comm", "auid", "uid", "euid", "path", "addr", "port"}

// Rules is a compiled rule list. The zero value matches nothing.
type Rules struct {
	rules [][]cond
	text  string
}

// Len is the number of rules. A nil *Rules has none.
func (r *Rules) Len() int {
	if r == nil {
		return 0
	}
	return len(r.rules)
}

// Empty reports whether there are no rules.
func (r *Rules) Empty() bool { return r.Len() == 0 }

// String returns the rules as configured.
func (r *Rules) String() string {
	if r == nil {
		return ""
	}
	return r.text
}

// Match reports whether any rule matches the event. A nil *Rules matches nothing.
func (r *Rules) Match(ev *parser.Event) bool {
	if r == nil {
		return false
	}
	for _, rule := range r.rules {
		if matchAll(rule, ev) {
			return true
		}
	}
	return false
}

func matchAll(rule []cond, ev *parser.Event) bool {
	for i := range rule {
		if rule[i].match(ev) == rule[i].negate {
			return false
		}
	}
	return true
}

type fieldKind uint8

const (
	fType fieldKind = iota + 1
	fKey
	fSyscall
	fResult
	fExe
	fComm
	fAUID
	fUID
	fEUID
	fPath
	fAddr
	fPort
)

var fieldByName = map[string]fieldKind{
	"type": fType, "key": fKey, "syscall": fSyscall, "result": fResult, "exe": fExe, "comm": fComm,
	"auid": fAUID, "uid": fUID, "euid": fEUID, "path": fPath, "addr": fAddr, "port": fPort,
}

type portRange struct{ lo, hi int }

type idValue struct {
	num   uint32
	name  string
	unset bool
	isNum bool
}

// cond is one compiled condition. Only the slice that belongs to its field is set.
type cond struct {
	field    fieldKind
	negate   bool
	types    []uint16
	globs    []glob
	strs     []string
	success  string // "yes" or "no"
	ids      []idValue
	prefixes []string
	nets     []netip.Prefix
	ports    []portRange
}

// Error is a rule syntax error; it names the configuration key, the offending text and what is allowed.
type Error struct {
	Key, Value, Problem string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %q: %s", e.Key, e.Value, e.Problem)
}

// Compile parses a rule list. key names the configuration key for error messages.
func Compile(key, text string) (*Rules, error) {
	r := &Rules{text: strings.TrimSpace(text)}
	if r.text == "" {
		return r, nil
	}
	for _, ruleText := range strings.Split(r.text, ";") {
		ruleText = strings.TrimSpace(ruleText)
		if ruleText == "" {
			return nil, &Error{key, text, "empty rule between ';' separators"}
		}
		var rule []cond
		for _, c := range strings.Fields(ruleText) {
			cd, err := compileCond(c)
			if err != nil {
				return nil, &Error{key, c, err.Error()}
			}
			rule = append(rule, cd)
		}
		r.rules = append(r.rules, rule)
	}
	return r, nil
}

func compileCond(text string) (cond, error) {
	name, vals, ok := strings.Cut(text, "=")
	var c cond
	if !ok {
		return c, fmt.Errorf("want field=value or field!=value with field one of %s", strings.Join(Fields, ", "))
	}
	if strings.HasSuffix(name, "!") {
		c.negate = true
		name = name[:len(name)-1]
	}
	c.field, ok = fieldByName[strings.ToLower(name)]
	if !ok {
		return c, fmt.Errorf("unknown field %q; allowed: %s", name, strings.Join(Fields, ", "))
	}
	if vals == "" {
		return c, fmt.Errorf("field %q has no value", name)
	}
	for _, v := range strings.Split(vals, ",") {
		if v == "" {
			return c, fmt.Errorf("empty value in %q", vals)
		}
		if err := c.add(v); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *cond) add(v string) error {
	switch c.field {
	case fType:
		t, ok := parser.TypeByName(strings.ToUpper(v))
		if !ok {
			return fmt.Errorf("unknown record type %q; use a name such as EXECVE, USER_LOGIN or UNKNOWN[1999]", v)
		}
		c.types = append(c.types, t)
	case fKey, fExe, fComm:
		c.globs = append(c.globs, glob(v))
	case fSyscall:
		c.strs = append(c.strs, strings.ToLower(v))
	case fResult:
		switch strings.ToLower(v) {
		case "success", "yes":
			c.success = "yes"
		case "failed", "fail", "no":
			c.success = "no"
		default:
			return fmt.Errorf("result must be success or failed, not %q", v)
		}
	case fAUID, fUID, fEUID:
		if strings.EqualFold(v, "unset") {
			c.ids = append(c.ids, idValue{unset: true})
		} else if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			c.ids = append(c.ids, idValue{num: uint32(n), isNum: true})
		} else {
			c.ids = append(c.ids, idValue{name: v})
		}
	case fPath:
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("path prefix must be absolute, not %q", v)
		}
		c.prefixes = append(c.prefixes, v)
	case fAddr:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return fmt.Errorf("addr must be an IP address or CIDR such as 10.0.0.0/8, not %q", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.nets = append(c.nets, p.Masked())
	case fPort:
		lo, hi, isRange := strings.Cut(v, "-")
		l, err1 := strconv.Atoi(lo)
		h := l
		var err2 error
		if isRange {
			h, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || l < 0 || h > 65535 || l > h {
			return fmt.Errorf("port must be a number 0-65535 or a range lo-hi, not %q", v)
		}
		c.ports = append(c.ports, portRange{l, h})
	}
	return nil
}

func (c *cond) match(ev *parser.Event) bool {
	s := &ev.Summary
	switch c.field {
	case fType:
		for i := range ev.Records {
			for _, t := range c.types {
				if ev.Records[i].Type == t {
					return true
				}
			}
		}
	case fKey:
		for _, k := range s.Keys {
			if anyGlob(c.globs, k) {
				return true
			}
		}
	case fExe:
		return s.Exe != "" && anyGlob(c.globs, s.Exe)
	case fComm:
		return s.Comm != "" && anyGlob(c.globs, s.Comm)
	case fSyscall:
		for _, v := range c.strs {
			if s.Syscall == v {
				return true
			}
		}
	case fResult:
		return s.Success == c.success
	case fAUID:
		return matchID(c.ids, s.AUID)
	case fUID:
		return matchID(c.ids, s.UID)
	case fEUID:
		return matchID(c.ids, s.EUID)
	case fPath:
		for i := range s.Paths {
			for _, p := range c.prefixes {
				if strings.HasPrefix(s.Paths[i].Name, p) {
					return true
				}
			}
		}
	case fAddr:
		if s.Peer == nil {
			return false
		}
		a, err := netip.ParseAddr(s.Peer.Addr)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, n := range c.nets {
			if n.Contains(a) {
				return true
			}
		}
	case fPort:
		if s.Peer == nil || (s.Peer.Family != "inet" && s.Peer.Family != "inet6") {
			return false
		}
		for _, r := range c.ports {
			if s.Peer.Port >= r.lo && s.Peer.Port <= r.hi {
				return true
			}
		}
	}
	return false
}

func matchID(want []idValue, id parser.ID) bool {
	if !id.Set {
		return false
	}
	for _, w := range want {
		switch {
		case w.unset:
			if id.Unset {
				return true
			}
		case w.isNum:
			if !id.Unset && id.Num == w.num {
				return true
			}
		default:
			if id.Name != "" && id.Name == w.name {
				return true
			}
		}
	}
	return false
}

func anyGlob(gs []glob, s string) bool {
	for _, g := range gs {
		if g.match(s) {
			return true
		}
	}
	return false
}

// glob matches "*" (any run, including "/") and "?" (one byte); everything else literally.
// path.Match is not used because its "*" stops at "/", which makes exe=*/curl useless.
type glob string

func (g glob) match(s string) bool {
	p := string(g)
	// Iterative matcher with one backtrack point: linear in practice, no allocation.
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(p) && p[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(p) && (p[px] == '?' || p[px] == s[sx]):
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}
