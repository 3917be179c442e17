package entry

import (
	"strconv"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// plan decides what to cut so that argv, the records and their raw text fit in budget
// bytes (the cap minus everything else already built). The largest parts shrink first: the
// three parts (raw text, argv, records) are levelled down to a common size, so a 3 MB argv
// that is also spelled out in 3 MB of EXECVE records loses the same share of each rather
// than all of one. Within a part, raw texts are cut longest first; argv loses whole
// arguments from the middle, then over-long arguments are cut; records lose the longest
// field values first, then the trailing fields of the largest records, then whole records
// from the middle. What one part cannot give up is taken from the records, which can
// always shrink. Each cut leaves a marker in place of what it removed. Costs are upper
// exact or upper bounds (see sizeVarint), so an entry built to the plan fits.
func (b *Builder) plan(ev *parser.Event, vals []string, argv []string, budget int) plan {
	pl := noPlan()
	overhead := costField + len(kRecords) + costField + len(kTruncated) + // records list, truncated flag
		costField + len("argv") + costField + 16 + 2*fieldSize(5, 9) + 8 // argv list, argv_truncated
	if overhead+quickBound(ev, vals, argv, b.o.IncludeRaw) <= budget {
		return pl // nearly every event: nothing to cut, and no need to cost each field exactly
	}
	argvTotal, recTotal, rawTotal := costs(ev, vals, argv, b.o.IncludeRaw)
	if overhead+argvTotal+recTotal+rawTotal <= budget {
		return pl
	}
	pl.truncated = true
	need := overhead + argvTotal + recTotal + rawTotal - budget
	level, _ := waterfill([]int{rawTotal, argvTotal, recTotal}, need, 0, 0)
	share := func(total int) int {
		if level < 0 {
			return 0
		}
		return max(0, total-level)
	}
	carry := 0 // what a part could not give up, taken from the records

	if n := share(rawTotal); n > 0 {
		lens := make([]int, len(ev.Records))
		for i := range ev.Records {
			lens[i] = len(ev.Records[i].Text)
		}
		var red int
		pl.rawLimit, red = waterfill(lens, n, 0, markerBytes)
		carry += max(0, n-red)
	}
	if n := share(argvTotal); n > 0 {
		red := 0
		if len(argv) > 2 {
			red = cutMiddle(len(argv), n, func(i int) int { return elemSize(strValueSize(len(argv[i]))) },
				costElem+markerBytes+16, &pl.argvCut)
		}
		if red < n {
			var lens []int
			for i, s := range argv {
				if i < pl.argvCut[0] || i >= pl.argvCut[1] {
					lens = append(lens, len(s))
				}
			}
			L, r := waterfill(lens, n-red, 64, markerBytes)
			pl.argLimit = L
			red += r
		}
		carry += max(0, n-red)
	}
	need = share(recTotal) + carry
	if need > 0 && len(vals) > 0 {
		lens := make([]int, len(vals))
		for i, v := range vals {
			lens[i] = len(v)
		}
		var red int
		pl.valLimit, red = waterfill(lens, need, 64, markerBytes)
		need -= red
	}
	if need > 0 {
		lens := make([]int, len(ev.Records))
		off := 0
		for i := range ev.Records {
			r := &ev.Records[i]
			lens[i] = fieldsCost(r, vals[off:off+len(r.Fields)], &pl)
			off += len(r.Fields)
		}
		var red int
		pl.fieldLimit, red = waterfill(lens, need, 512, costField+len("_truncated")+markerBytes+16)
		need -= red
	}
	if need > 0 && len(ev.Records) > 2 {
		costs := make([]int, len(ev.Records))
		off := 0
		for i := range ev.Records {
			r := &ev.Records[i]
			costs[i] = recordCost(r, vals[off:off+len(r.Fields)], &pl, b.o.IncludeRaw)
			off += len(r.Fields)
		}
		cutMiddle(len(costs), need, func(i int) int { return costs[i] },
			costElem+costField+len("truncated")+markerBytes+32, &pl.recCut)
	}
	// Anything still over means the rest of the entry alone is too big; buildEvent notices
	// from the size and falls back to the emergency form.
	return pl
}

// costs are the encoded sizes of argv, the records (without raw text) and their raw text,
// uncut.
func costs(ev *parser.Event, vals []string, argv []string, raw bool) (argvTotal, recTotal, rawTotal int) {
	for _, s := range argv {
		argvTotal += elemSize(strValueSize(len(s)))
	}
	pl := noPlan()
	off := 0
	for i := range ev.Records {
		r := &ev.Records[i]
		recTotal += recordCost(r, vals[off:off+len(r.Fields)], &pl, false)
		if raw {
			rawTotal += fieldSize(len(kRaw), strValueSize(len(r.Text)))
		}
		off += len(r.Fields)
	}
	return argvTotal, recTotal, rawTotal
}

// quickBound is an upper bound of what argv and the records (with their raw text) add to an
// entry: every field framed at its largest (tags and four-byte lengths, enough below 256 MiB),
// every record and argument with room to spare.
func quickBound(ev *parser.Event, vals []string, argv []string, raw bool) int {
	// A field: five tags and four lengths of at most four bytes each. A record: its element,
	// type and fields framing (about 70 bytes) and a type name of up to 32. An argument: a
	// tag and two lengths.
	const perField, perRecord, perArg = 24, 128, 16
	n := 0
	for _, v := range vals {
		n += len(v) + perField
	}
	for i := range ev.Records {
		r := &ev.Records[i]
		n += perRecord
		for j := range r.Fields {
			n += len(r.Fields[j].Key)
		}
		if raw {
			n += len(r.Text) + perField
		}
	}
	for _, a := range argv {
		n += len(a) + perArg
	}
	return n
}

// recordCost is the encoded size of one element of records under plan pl (exact for the
// record as built, plus a few bytes of slack for the length prefixes a cut can change).
func recordCost(r *parser.Record, vals []string, pl *plan, raw bool) int {
	c := fieldSize(len(kType), strValueSize(len(parser.TypeName(r.Type))))
	if len(r.Fields) > 0 {
		fc := fieldsCost(r, vals, pl)
		if pl.fieldLimit >= 0 && fc > pl.fieldLimit {
			fc = pl.fieldLimit + fieldSize(len("_truncated"), strValueSize(markerBytes+32))
		}
		c += fieldSize(len(kFields), 1+sizeVarint(fc)+fc)
	}
	if raw {
		n := len(r.Text)
		if pl.rawLimit >= 0 && n > pl.rawLimit+markerBytes {
			n = pl.rawLimit + markerBytes
		}
		c += fieldSize(len(kRaw), strValueSize(n))
	}
	return elemSize(1+sizeVarint(c)+c) + 4
}

// fieldsCost is the encoded size of a record's fields Struct (its content, without the
// framing of the Struct itself).
func fieldsCost(r *parser.Record, vals []string, pl *plan) int {
	c := 0
	for j := range r.Fields {
		c += fieldSize(len(r.Fields[j].Key), strValueSize(valLen(vals[j], pl)))
	}
	return c
}

// waterfill finds the largest limit L ≥ minL such that cutting every item longer than
// L+m down to L+m (L bytes kept plus an m-byte marker) saves at least need bytes. It
// returns L and the bytes saved; L is -1 when nothing is worth cutting, and when even minL
// does not save enough it returns minL and what that saves.
func waterfill(lens []int, need, minL, m int) (int, int) {
	saved := func(L int) int {
		s := 0
		for _, l := range lens {
			if l > L+m {
				s += l - L - m
			}
		}
		return s
	}
	maxLen := 0
	for _, l := range lens {
		maxLen = max(maxLen, l)
	}
	if maxLen <= minL+m {
		return -1, 0
	}
	if s := saved(minL); s < need {
		return minL, s
	}
	lo, hi := minL, maxLen // saved(lo) >= need, saved(hi) == 0 < need
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if saved(mid) >= need {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, saved(lo)
}

// cutMiddle chooses the smallest range [lo, hi) around the middle of n items, never the
// first or the last, whose removal saves need bytes after paying markerCost for the
// marker left in its place; it stores the range in cut and returns the bytes saved.
func cutMiddle(n, need int, cost func(int) int, markerCost int, cut *[2]int) int {
	if n < 3 {
		return 0
	}
	lo, hi := n/2, n/2
	saved := -markerCost
	for saved < need && (lo > 1 || hi < n-1) {
		if hi < n-1 && (hi-n/2 <= n/2-lo || lo <= 1) {
			saved += cost(hi)
			hi++
		} else {
			lo--
			saved += cost(lo)
		}
	}
	if hi == lo || saved <= 0 {
		return 0
	}
	cut[0], cut[1] = lo, hi
	return saved
}

// emergency replaces the payload of an event whose entry is still over the cap after the
// plan (the parts the plan does not cut — paths, keys, the summary fields — are too big)
// with a small form that still identifies and describes the event.
func (b *Builder) emergency(a *arena, e *loggingpb.LogEntry, ev *parser.Event, node string) {
	sm := &ev.Summary
	est := 0
	root := a.tree.reset(&est)
	root.str(kSummary, clean(SummaryLine(ev)))
	eventHead(root, ev, node)
	root.boolean(kTruncated, true)
	root.str("truncation", "entry over "+strconv.Itoa(b.max)+
		" bytes after cutting raw text, argv and record fields: argv, paths and records left out")
	root.num("records_left_out", float64(len(ev.Records)))
	root.num("paths_left_out", float64(len(sm.Paths)))
	p := root.child(kProcess, 5)
	p.numOrStr("pid", cutUTF8(sm.PID, 32))
	p.numOrStr("ppid", cutUTF8(sm.PPID, 32))
	p.str("exe", clean(cutUTF8(sm.Exe, 1024)))
	p.str("comm", clean(cutUTF8(sm.Comm, 256)))
	if sm.Argc > 0 {
		p.num("argc", float64(sm.Argc))
	}
	userObj(root, sm)
	if sm.Syscall != "" {
		sc := root.child(kSyscall, 3)
		sc.str("name", clean(cutUTF8(sm.Syscall, 64)))
		sc.numOrStr("exit", cutUTF8(sm.Exit, 32))
		sc.str("exit_name", clean(cutUTF8(sm.ExitName, 64)))
	}
	keys := sm.Keys
	if len(keys) > 16 {
		keys = keys[:16]
	}
	if len(keys) > 0 {
		l := root.list(kKeys, len(keys))
		for _, k := range keys {
			l.elemStr(clean(cutUTF8(k, 256)))
		}
	}
	a.finish(e)
}
