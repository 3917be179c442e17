package entry

import (
	"encoding/binary"
	"strconv"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	ltype "google.golang.org/genproto/googleapis/logging/type"

	"github.com/gke-audit/auditd-cloud-logging/plugin/filter"
)

const (
	domainReport = 'r'
	// maxReportKinds bounds each {kind: count} object of a report entry. Kinds are record
	// type + first rule key, so a hostile or sloppy rule set could make many; the rest is
	// summed under "other" so the counts still add up.
	maxReportKinds = 100
	// summaryKinds is how many kinds per category the summary line names.
	summaryKinds = 3
	kindOther    = "other"
)

// BuildReport returns the entry for a filter report: what the filter stage held back during
// [r.Start, r.End), by kind. Its severity is WARNING when the rate limit dropped events (data
// the operator did not choose to drop), NOTICE otherwise. Its insertId is stable for the
// interval and node, so a re-sent report is de-duplicated. It returns nil for a nil or empty
// report.
func (b *Builder) BuildReport(r *filter.Report) *loggingpb.LogEntry {
	if r == nil || r.Total() == 0 {
		return nil
	}
	a := arenas.Get().(*arena)
	defer arenas.Put(a)
	sev := ltype.LogSeverity_NOTICE
	if sum(r.RateLimited) > 0 {
		sev = ltype.LogSeverity_WARNING
	}
	_, e := b.start(a, r.End, reportID(b.o.NodeName, r), sev)
	e.Labels = map[string]string{labelKind: "filter_report"}
	if b.o.NodeName != "" {
		e.Labels[labelNode] = b.o.NodeName
	}
	est := 0
	o := a.tree.reset(&est)
	o.str(kSummary, ReportSummary(r))
	o.num("held_back", float64(r.Total()))
	o.str("interval_start", r.Start.UTC().Format(time.RFC3339Nano))
	o.str("interval_end", r.End.UTC().Format(time.RFC3339Nano))
	o.str(kNode, b.o.NodeName)
	for _, c := range []struct {
		key string
		m   map[string]int
	}{{"filtered", r.Filtered}, {"collapsed", r.Collapsed}, {"rate_limited", r.RateLimited}} {
		if len(c.m) == 0 {
			continue
		}
		kinds := filter.Kinds(c.m)
		n := min(len(kinds), maxReportKinds)
		co := o.child(c.key, n+1)
		for _, k := range kinds[:n] {
			co.num(clean(cutUTF8(k, 256)), float64(c.m[k]))
		}
		if rest := kinds[n:]; len(rest) > 0 {
			other := 0
			for _, k := range rest {
				other += c.m[k]
			}
			co.num(kindOther, float64(other))
		}
	}
	a.finish(e)
	return e
}

// ReportSummary is a report's one-line description:
//
//	held back 1290 events in the last 1m0s: filtered 1200 (SYSCALL key=exec: 1100, AVC: 100),
//	collapsed 59 (SYSCALL key=cron: 59), rate-limited 31 (SYSCALL key=exec: 31)
func ReportSummary(r *filter.Report) string {
	b := make([]byte, 0, 256)
	b = append(b, "held back "...)
	b = strconv.AppendInt(b, int64(r.Total()), 10)
	b = append(b, " events in the last "...)
	b = append(b, r.End.Sub(r.Start).Round(time.Second).String()...)
	b = append(b, ':')
	first := true
	for _, c := range []struct {
		name string
		m    map[string]int
	}{{"filtered", r.Filtered}, {"collapsed", r.Collapsed}, {"rate-limited", r.RateLimited}} {
		n := sum(c.m)
		if n == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, ' ')
		b = append(b, c.name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, " ("...)
		kinds := filter.Kinds(c.m)
		for i, k := range kinds {
			if i == summaryKinds {
				b = append(b, ", …"...)
				break
			}
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, cutUTF8(k, 64)...)
			b = append(b, ": "...)
			b = strconv.AppendInt(b, int64(c.m[k]), 10)
		}
		b = append(b, ')')
	}
	s := clean(string(b))
	if len(s) > maxSummary {
		s = cutUTF8(s, maxSummary-3) + "…"
	}
	return s
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// reportID identifies a report by its node and interval.
func reportID(node string, r *filter.Report) string {
	var buf [96]byte
	b := append(buf[:0], domainReport)
	b = appendLenString(b, node)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Start.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.End.UnixNano()))
	return hashID(b)
}
