package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/protobuf/types/known/structpb"
)

// The emulator understands a small, strict subset of the Logging query language:
//
//	comparison { [AND] comparison }
//	comparison = FIELD OP VALUE
//
// FIELD is logName, insertId, textPayload, resource.type, resource.labels.KEY, labels.KEY,
// jsonPayload.PATH (equality and != only), timestamp or severity (all of = != < <= > >=).
// VALUE is a "quoted string" or a bare word. Anything else (OR, NOT, parentheses, the :
// and regex operators, free-text search) is rejected with a message naming it, so a test
// never silently gets a broader result than the real service would return.

type filterOp int

const (
	opEq filterOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var opNames = map[string]filterOp{"=": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

type condKind int

const (
	condString condKind = iota // string-valued field: equality only
	condTime
	condSeverity
	condJSON
)

type cond struct {
	kind   condKind
	field  string   // as written, for messages
	path   []string // field path segments
	op     filterOp
	str    string
	t      time.Time
	sev    ltype.LogSeverity
	getStr func(*loggingpb.LogEntry) (string, bool)
}

type filterError struct {
	pos int
	msg string
}

func (e *filterError) Error() string { return fmt.Sprintf("filter: %s (at offset %d)", e.msg, e.pos) }

// parseFilter parses f; an empty filter matches everything.
func parseFilter(f string) ([]cond, error) {
	p := &filterParser{s: f}
	var conds []cond
	for {
		p.skipSpace()
		if p.eof() {
			break
		}
		if len(conds) > 0 && p.keyword("AND") {
			p.skipSpace()
			if p.eof() {
				return nil, p.errf("AND at the end of the filter has no right-hand comparison")
			}
		}
		c, err := p.comparison()
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	return conds, nil
}

type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) eof() bool { return p.pos >= len(p.s) }

func (p *filterParser) errf(format string, args ...any) error {
	return &filterError{pos: p.pos, msg: fmt.Sprintf(format, args...)}
}

func (p *filterParser) skipSpace() {
	for !p.eof() && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

// keyword consumes word kw if it stands alone at the cursor.
func (p *filterParser) keyword(kw string) bool {
	if !strings.HasPrefix(p.s[p.pos:], kw) {
		return false
	}
	end := p.pos + len(kw)
	if end < len(p.s) && !isDelim(p.s[end]) {
		return false
	}
	p.pos = end
	return true
}

func isDelim(c byte) bool { return strings.IndexByte(" \t\r\n=<>!:()\"", c) >= 0 }

func (p *filterParser) comparison() (cond, error) {
	start := p.pos
	for _, kw := range []string{"OR", "NOT", "AND"} {
		if p.keyword(kw) {
			p.pos = start
			return cond{}, p.errf("unsupported filter syntax %q: only comparisons joined by AND are supported", kw)
		}
	}
	switch p.s[p.pos] {
	case '(', ')':
		return cond{}, p.errf("unsupported filter syntax %q: parentheses are not supported", p.s[p.pos:p.pos+1])
	case '-':
		return cond{}, p.errf("unsupported filter syntax \"-\": negation is not supported")
	}
	path, err := p.path()
	if err != nil {
		return cond{}, err
	}
	field := p.s[start:p.pos]
	p.skipSpace()
	opStart := p.pos
	for !p.eof() && strings.IndexByte("=<>!:~", p.s[p.pos]) >= 0 {
		p.pos++
	}
	opText := p.s[opStart:p.pos]
	if opText == "" {
		p.pos = start
		return cond{}, p.errf("unsupported filter syntax %q: free-text search is not supported; write FIELD OP VALUE", field)
	}
	op, ok := opNames[opText]
	if !ok {
		p.pos = opStart
		return cond{}, p.errf("unsupported filter operator %q after %s: supported are = != < <= > >=", opText, field)
	}
	p.skipSpace()
	valPos := p.pos
	val, err := p.value()
	if err != nil {
		return cond{}, err
	}
	c, msg := newCond(field, path, op, val)
	if msg != "" {
		return cond{}, &filterError{pos: valPos, msg: msg}
	}
	return c, nil
}

// path reads FIELD: dot-separated identifiers or quoted segments (labels."k8s-pod/app").
func (p *filterParser) path() ([]string, error) {
	var segs []string
	for {
		if p.eof() {
			return nil, p.errf("filter ends where a field name was expected")
		}
		if p.s[p.pos] == '"' {
			seg, err := p.quoted()
			if err != nil {
				return nil, err
			}
			segs = append(segs, seg)
		} else {
			st := p.pos
			for !p.eof() && (isIdent(p.s[p.pos])) {
				p.pos++
			}
			if st == p.pos {
				return nil, p.errf("unsupported filter syntax %q where a field name was expected", p.s[p.pos:min(p.pos+10, len(p.s))])
			}
			segs = append(segs, p.s[st:p.pos])
		}
		if p.eof() || p.s[p.pos] != '.' {
			return segs, nil
		}
		p.pos++
	}
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *filterParser) value() (string, error) {
	if p.eof() {
		return "", p.errf("filter ends where a value was expected")
	}
	if p.s[p.pos] == '"' {
		return p.quoted()
	}
	st := p.pos
	for !p.eof() && !isDelim(p.s[p.pos]) {
		p.pos++
	}
	if st == p.pos {
		return "", p.errf("unsupported filter syntax %q where a value was expected", p.s[p.pos:p.pos+1])
	}
	return p.s[st:p.pos], nil
}

func (p *filterParser) quoted() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 >= len(p.s) {
				break
			}
			p.pos++
			switch e := p.s[p.pos]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
			p.pos++
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	p.pos = start
	return "", p.errf("unterminated quoted string")
}

func newCond(field string, path []string, op filterOp, val string) (cond, string) {
	c := cond{field: field, path: path, op: op, str: val}
	equalityOnly := func() string {
		if op != opEq && op != opNe {
			return fmt.Sprintf("unsupported comparison on %s: only = and != are supported for this field", field)
		}
		return ""
	}
	switch {
	case len(path) == 1 && path[0] == "timestamp":
		t, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return c, fmt.Sprintf("timestamp value %q is not RFC 3339 (e.g. \"2025-01-02T15:04:05Z\")", val)
		}
		c.kind, c.t = condTime, t
		return c, ""
	case len(path) == 1 && path[0] == "severity":
		sev, ok := ltype.LogSeverity_value[strings.ToUpper(val)]
		if !ok {
			n, err := strconv.Atoi(val)
			if err != nil {
				return c, fmt.Sprintf("severity value %q is not a severity name (DEFAULT, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, EMERGENCY) or number", val)
			}
			sev = int32(n)
		}
		c.kind, c.sev = condSeverity, ltype.LogSeverity(sev)
		return c, ""
	case len(path) >= 2 && path[0] == "jsonPayload":
		c.kind = condJSON
		return c, equalityOnly()
	}
	c.kind = condString
	switch {
	case len(path) == 1 && path[0] == "logName":
		c.getStr = func(e *loggingpb.LogEntry) (string, bool) { return e.GetLogName(), true }
	case len(path) == 1 && path[0] == "insertId":
		c.getStr = func(e *loggingpb.LogEntry) (string, bool) { return e.GetInsertId(), true }
	case len(path) == 1 && path[0] == "textPayload":
		c.getStr = func(e *loggingpb.LogEntry) (string, bool) {
			_, ok := e.GetPayload().(*loggingpb.LogEntry_TextPayload)
			return e.GetTextPayload(), ok
		}
	case len(path) == 2 && path[0] == "resource" && path[1] == "type":
		c.getStr = func(e *loggingpb.LogEntry) (string, bool) { return e.GetResource().GetType(), e.GetResource() != nil }
	case len(path) == 3 && path[0] == "resource" && path[1] == "labels":
		k := path[2]
		c.getStr = func(e *loggingpb.LogEntry) (string, bool) { v, ok := e.GetResource().GetLabels()[k]; return v, ok }
	case len(path) == 2 && path[0] == "labels":
		k := path[1]
		c.getStr = func(e *loggingpb.LogEntry) (string, bool) { v, ok := e.GetLabels()[k]; return v, ok }
	default:
		return c, fmt.Sprintf("unsupported filter field %q: supported are logName, insertId, textPayload, timestamp, severity, resource.type, resource.labels.KEY, labels.KEY, jsonPayload.PATH", field)
	}
	return c, equalityOnly()
}

// match reports whether e satisfies c. As in the real query language, FIELD != VALUE is
// NOT (FIELD = VALUE), so it also matches entries without the field.
func (c *cond) match(e *loggingpb.LogEntry) bool {
	switch c.kind {
	case condTime:
		return compare(e.GetTimestamp().AsTime().Compare(c.t), c.op)
	case condSeverity:
		d := int(e.GetSeverity()) - int(c.sev)
		return compare(d, c.op)
	case condJSON:
		eq := jsonEquals(e.GetJsonPayload(), c.path[1:], c.str)
		return eq == (c.op == opEq)
	default:
		v, ok := c.getStr(e)
		eq := ok && v == c.str
		return eq == (c.op == opEq)
	}
}

func compare(d int, op filterOp) bool {
	switch op {
	case opEq:
		return d == 0
	case opNe:
		return d != 0
	case opLt:
		return d < 0
	case opLe:
		return d <= 0
	case opGt:
		return d > 0
	default:
		return d >= 0
	}
}

// jsonEquals compares the payload value at path with want, written as the filter would
// write it: strings literally, numbers by value, booleans as true/false.
func jsonEquals(s *structpb.Struct, path []string, want string) bool {
	var v *structpb.Value
	for i, k := range path {
		if s == nil {
			return false
		}
		var ok bool
		if v, ok = s.GetFields()[k]; !ok {
			return false
		}
		if i < len(path)-1 {
			s = v.GetStructValue()
		}
	}
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue == want
	case *structpb.Value_NumberValue:
		f, err := strconv.ParseFloat(want, 64)
		return err == nil && f == k.NumberValue
	case *structpb.Value_BoolValue:
		b, err := strconv.ParseBool(want)
		return err == nil && b == k.BoolValue
	}
	return false
}

func matchAll(conds []cond, e *loggingpb.LogEntry) bool {
	for i := range conds {
		if !conds[i].match(e) {
			return false
		}
	}
	return true
}
