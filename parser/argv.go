package parser

import (
	"slices"
	"strconv"
)

// EXECVE argv
//
// The kernel writes a command line as one or more EXECVE records of one event: the first
// carries argc=N, later ones (continuation records, when the line does not fit one record)
// only aN fields. An argument too long for one record is split: aN_len=SIZE gives its full
// logged length (the kernel hex-encodes every split argument, so this is twice its length in
// bytes), then aN[0]=, aN[1]=, ... its pieces, possibly spread over several records. buildArgv joins all of it into one argv:
//
//   - A whole argument is its decoded Field.Value. A split argument's pieces are decoded from
//     their raw text and joined as bytes before the UTF-8 escaping (see Escape), so a
//     character cut between two pieces is not mangled.
//   - Nothing is invented and nothing dropped silently. Arguments that never arrived (a lost
//     continuation record, an event flushed early, fewer aN than argc) are replaced, per run of
//     consecutive missing indices, by one element "[... N arguments missing ...]". A split
//     argument shorter than aN_len (or with a missing piece) keeps what arrived, followed by
//     "[... N bytes missing ...]" (N in decoded bytes) inside the argument. More arguments than argc are kept.
//     Summary.Argc is argc as the kernel reported it (0 when no argc field arrived).
//   - When the arguments together are longer than the cap (ArgvMaxBytes, counted in bytes
//     of the escaped strings, "missing" markers included), whole arguments are cut from the
//     middle: room for the cut marker (75 bytes) is set aside, the first arguments up to half
//     of the rest and the last ones up to what remains are kept, and one element
//     "[... N arguments, M bytes left out ...]" stands for the cut, so the result including
//     the marker stays within the cap. Summary.ArgvMarker then holds N and M.

// argKey kinds
const (
	argOther = iota
	argWhole // aN
	argLen   // aN_len
	argPiece // aN[i]
)

// parseArgKey parses aN, aN_len and aN[i].
func parseArgKey(k string) (n, kind, piece int) {
	if len(k) < 2 || k[0] != 'a' {
		return 0, argOther, 0
	}
	i := 1
	for i < len(k) && k[i] >= '0' && k[i] <= '9' {
		i++
	}
	if i == 1 || i > 10 {
		return 0, argOther, 0
	}
	n, _ = strconv.Atoi(k[1:i])
	rest := k[i:]
	switch {
	case rest == "":
		return n, argWhole, 0
	case rest == "_len":
		return n, argLen, 0
	case len(rest) >= 3 && rest[0] == '[' && rest[len(rest)-1] == ']':
		p, err := strconv.Atoi(rest[1 : len(rest)-1])
		if err != nil || p < 0 || len(rest) > 11 {
			return 0, argOther, 0
		}
		return n, argPiece, p
	}
	return 0, argOther, 0
}

// buildArgv assembles the argv of an event's EXECVE records and applies the cap.
// buf is scratch space the argv may use (the caller's, living as long as the result).
func buildArgv(recs []Record, maxBytes int, buf []string) (argv []string, argc int, marker *Truncation) {
	nfields := 0
	for i := range recs {
		if recs[i].Type == typeExecve {
			nfields += len(recs[i].Fields)
		}
	}
	// Fast path: whole arguments a0, a1, ... in order, the shape of almost every exec.
	if nfields <= cap(buf) {
		argv = buf[:0]
	} else {
		argv = make([]string, 0, nfields)
	}
	simple := true
	haveArgc := false
scan:
	for i := range recs {
		if recs[i].Type != typeExecve {
			continue
		}
		for j := range recs[i].Fields {
			f := &recs[i].Fields[j]
			if f.Key == "argc" {
				if !haveArgc {
					haveArgc = true
					argc = parseArgc(f.Raw())
				}
				continue
			}
			n, kind, _ := parseArgKey(f.Key)
			switch {
			case kind == argOther:
				continue
			case kind != argWhole || n != len(argv):
				simple = false
				break scan
			}
			argv = append(argv, f.Value)
		}
	}
	if !simple {
		argv = slowArgv(recs, argv[:0])
	}
	if argc > len(argv) && simple {
		argv = append(argv, missingArgs(argc-len(argv)))
	}
	if maxBytes > 0 {
		argv, marker = capArgv(argv, maxBytes)
	}
	return argv, argc, marker
}

func parseArgc(raw string) int {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func missingArgs(n int) string {
	b := make([]byte, 0, 40)
	b = append(b, "[... "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, " arguments missing ...]"...)
	return string(b)
}

type argPart struct {
	n, kind, piece int
	f              *Field
}

// slowArgv handles split arguments, arguments out of order and gaps.
func slowArgv(recs []Record, argv []string) []string {
	var parts []argPart
	argc, haveArgc := 0, false
	for i := range recs {
		if recs[i].Type != typeExecve {
			continue
		}
		for j := range recs[i].Fields {
			f := &recs[i].Fields[j]
			if f.Key == "argc" {
				if !haveArgc {
					haveArgc = true
					argc = parseArgc(f.Raw())
				}
				continue
			}
			n, kind, piece := parseArgKey(f.Key)
			if kind != argOther {
				parts = append(parts, argPart{n, kind, piece, f})
			}
		}
	}
	// Stable: the first of two identical keys wins below.
	slices.SortStableFunc(parts, func(a, b argPart) int {
		if a.n != b.n {
			return a.n - b.n
		}
		if a.kind != b.kind {
			return a.kind - b.kind // whole < len < piece
		}
		return a.piece - b.piece
	})
	next := 0
	var buf []byte
	for i := 0; i < len(parts); {
		n := parts[i].n
		j := i
		for j < len(parts) && parts[j].n == n {
			j++
		}
		group := parts[i:j]
		i = j
		if n > next {
			argv = append(argv, missingArgs(n-next))
		}
		next = n + 1
		if group[0].kind == argWhole {
			argv = append(argv, group[0].f.Value)
			continue
		}
		want := -1
		buf = buf[:0]
		wantPiece := 0
		gapInPieces := false
		logged, allHex := 0, true // aN_len counts the logged text: hex digits when hex
		for _, p := range group {
			switch p.kind {
			case argLen:
				if want < 0 {
					if v, err := strconv.Atoi(p.f.Raw()); err == nil && v >= 0 {
						want = v
					}
				}
			case argPiece:
				if p.piece < wantPiece {
					continue // a repeated piece
				}
				if p.piece > wantPiece {
					gapInPieces = true
				}
				wantPiece = p.piece + 1
				logged += p.f.RawLen()
				if p.f.Quoted || !rawIsAuditHex(p.f) {
					allHex = false
				}
				buf = appendPiece(buf, p.f)
			}
		}
		v := Escape(buf)
		switch {
		case want > logged:
			missing := want - logged
			if allHex {
				missing /= 2
			}
			v += "[... " + strconv.Itoa(missing) + " bytes missing ...]"
		case gapInPieces:
			v += "[... pieces missing ...]"
		}
		argv = append(argv, v)
	}
	if argc > next {
		argv = append(argv, missingArgs(argc-next))
	}
	return argv
}

// appendPiece appends the bytes of one aN[i] piece: hex unless quoted.
func appendPiece(dst []byte, f *Field) []byte {
	switch {
	case f.enc == encHex:
		return appendUnescape(dst, f.Value)
	case !f.Quoted && rawIsAuditHex(f):
		return decodeHexInto(dst, f.Value)
	}
	return f.AppendRaw(dst)
}

// rawIsAuditHex is isAuditHex(f.Raw()) without building Raw.
func rawIsAuditHex(f *Field) bool {
	return f.enc == encHex || f.enc == encNone && isAuditHex(f.Value)
}

// markerRoom is the longest cut marker: room kept for it under the cap.
const markerRoom = len("[... ") + 19 + len(" arguments, ") + 19 + len(" bytes left out ...]")

// capArgv cuts whole arguments from the middle so that the kept ones and the marker element
// that takes their place total at most maxBytes (given that maxBytes leaves room for the marker).
func capArgv(argv []string, maxBytes int) ([]string, *Truncation) {
	total := 0
	for _, a := range argv {
		total += len(a)
	}
	if total <= maxBytes {
		return argv, nil
	}
	maxBytes = max(maxBytes-markerRoom, 0)
	head, headBytes := 0, 0
	for head < len(argv) && headBytes+len(argv[head]) <= maxBytes/2 {
		headBytes += len(argv[head])
		head++
	}
	tail, tailBytes := len(argv), 0 // argv[tail:] is kept
	for tail > head && headBytes+tailBytes+len(argv[tail-1]) <= maxBytes {
		tailBytes += len(argv[tail-1])
		tail--
	}
	cut := &Truncation{Args: tail - head, Bytes: total - headBytes - tailBytes}
	b := make([]byte, 0, 64)
	b = append(b, "[... "...)
	b = strconv.AppendInt(b, int64(cut.Args), 10)
	b = append(b, " arguments, "...)
	b = strconv.AppendInt(b, int64(cut.Bytes), 10)
	b = append(b, " bytes left out ...]"...)
	out := make([]string, 0, head+1+len(argv)-tail)
	out = append(out, argv[:head]...)
	out = append(out, string(b))
	out = append(out, argv[tail:]...)
	return out, cut
}
