package output

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/chunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output/fakelogging"
)

// checkAccounting asserts that every record and every event is counted exactly once.
func checkAccounting(t *testing.T, when string, c Counters) {
	t.Helper()
	records := c.RecordsShipped + c.RecordsFiltered + c.RecordsCollapsed + c.RecordsRateLimited +
		c.Unparsed + c.Duplicates + c.RecordsInFlight
	if c.RecordsIn != records {
		t.Fatalf("%s: records in %d != shipped %d + filtered %d + collapsed %d + rate-limited %d + unparsed %d + "+
			"duplicates %d + in flight %d = %d", when, c.RecordsIn, c.RecordsShipped, c.RecordsFiltered, c.RecordsCollapsed,
			c.RecordsRateLimited, c.Unparsed, c.Duplicates, c.RecordsInFlight, records)
	}
	if events := c.Shipped + c.Filtered + c.Collapsed + c.RateLimited; c.EventsOut != events {
		t.Fatalf("%s: events %d != shipped %d + filtered %d + collapsed %d + rate-limited %d", when, c.EventsOut,
			c.Shipped, c.Filtered, c.Collapsed, c.RateLimited)
	}
	if entries := c.Written + c.Rejected + uint64(c.Pending) + c.Unsendable; c.Entries != entries {
		t.Fatalf("%s: entries %d != written %d + rejected %d + pending %d + unsent %d", when, c.Entries, c.Written,
			c.Rejected, c.Pending, c.Unsendable)
	}
}

// accountingChunks builds a random stream: corpus records (no end markers, so they wait in the
// assembler), generated events with end markers (some identical, to be collapsed; some from
// excluded programs), garbage lines, malformed msgpack, cut into chunks at random points, with
// random chunks replayed as fluent-bit does after a retry.
func accountingChunks(t *testing.T, rng *rand.Rand) (chunks [][]byte, records int) {
	corpusLines := corpus(t, "audit.log")
	exes := []proc{
		{"/usr/bin/curl", "curl", "exec", 1000, 0, 0},
		{"/usr/bin/containerd-shim", "containerd-shim", "exec", -1, 0, 0},
		{"/usr/sbin/cron", "cron", "cron", -1, 0, 0},
		{"/usr/bin/date", "date", "cron", -1, 0, 0},
		{"/usr/bin/ls", "ls", "exec", 1000, 1000, 1000},
	}
	var lines []string
	at := genBase
	serial := uint64(10_000)
	ci := 0
	for len(lines) < 3000 {
		switch r := rng.IntN(20); {
		case r < 4 && ci < len(corpusLines):
			n := min(1+rng.IntN(12), len(corpusLines)-ci)
			lines = append(lines, corpusLines[ci:ci+n]...)
			ci += n
		case r < 5:
			lines = append(lines, fmt.Sprintf("garbage line %d: not an audit record", rng.IntN(1_000_000)))
		case r < 7:
			lines = append(lines, connectLines(at, serial, exes[0], [4]byte{10, 0, 0, byte(rng.IntN(4))}, 443, rng.IntN(2) == 0)...)
		default:
			p := exes[rng.IntN(len(exes))]
			lines = append(lines, execLines(at, serial, p, p.comm, fmt.Sprint(rng.IntN(3)))...)
		}
		serial++
		at = at.Add(time.Duration(1+rng.IntN(400)) * time.Millisecond)
	}
	for start := 0; start < len(lines); {
		end := min(start+1+rng.IntN(120), len(lines))
		w := flbchunk.NewWriter(flbchunk.Options{V2: rng.IntN(2) == 0, Bin: true})
		for _, l := range lines[start:end] {
			w.Line(recordTime, l)
			records++
			if rng.IntN(200) == 0 {
				w.Raw(flbchunk.BadArity)
				records++
			}
		}
		chunks = append(chunks, append([]byte(nil), w.Bytes()...))
		start = end
	}
	return chunks, records
}

// TestAccounting: a random mix of chunks through an instance with every filter on. At every
// point, and after Close, each input record is counted exactly once across shipped, filtered,
// collapsed, rate-limited, unparsed, duplicate and in flight; and what the server received
// matches the counters: plain events = shipped, collapsed repeats = collapsed, the reports'
// totals = filtered, collapsed and rate-limited.
func TestAccounting(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			chunks, _ := accountingChunks(t, rng)
			srv := startServer(t)
			i, _ := newInstance(t, srv, "Exclude", "exe=/usr/bin/containerd*", "Include", "type=SYSCALL,USER_LOGIN,CONFIG_CHANGE,USER_AUTH; type=LOGIN",
				"Collapse_Window", "10s", "Rate_Limit", "2", "Rate_Burst", "5", "Event_Quiet", "20s", "Event_Timeout", "60s")
			records := uint64(0)
			sawInFlight := false
			for k, data := range chunks {
				st := countRecords(data)
				if out := i.Flush(data, "audit"); out != delivery.OK {
					t.Fatalf("flush %d: %v", k, out)
				}
				records += st
				if rng.IntN(5) == 0 { // fluent-bit replays a chunk after a retry
					if out := i.Flush(data, "audit"); out != delivery.OK {
						t.Fatalf("replay %d: %v", k, out)
					}
					records += st
				}
				c := i.Counters()
				checkAccounting(t, fmt.Sprintf("after chunk %d", k), c)
				sawInFlight = sawInFlight || c.RecordsInFlight > 0
			}
			mid := i.Counters()
			if mid.RecordsIn != records || !sawInFlight || mid.Duplicates == 0 {
				t.Fatalf("mid-stream: %d records fed, counters %+v (the test wants some in flight and some duplicates)", records, mid)
			}
			closeNow(t, i)
			c := i.Counters()
			checkAccounting(t, "after Close", c)
			if c.RecordsInFlight != 0 || c.Pending != 0 || c.Unsendable != 0 {
				t.Fatalf("after Close: %+v", c)
			}
			for name, v := range map[string]uint64{"filtered": c.Filtered, "collapsed": c.Collapsed, "rate-limited": c.RateLimited,
				"unparsed": c.Unparsed, "malformed": c.Malformed, "shipped": c.Shipped} {
				if v == 0 {
					t.Fatalf("the stream exercised no %s events: %+v", name, c)
				}
			}

			plain, repeats, unparsed := 0, 0, 0
			var reported [3]int
			for _, e := range srv.Accepted() {
				p := jsonMap(t, e.GetJsonPayload())
				switch e.Labels["kind"] {
				case "filter_report":
					reported[0] += sumKinds(p["filtered"])
					reported[1] += sumKinds(p["collapsed"])
					reported[2] += sumKinds(p["rate_limited"])
				case "unparsed":
					unparsed++
				case "lost":
				case "":
					if r, ok := p["repeats"].(map[string]any); ok {
						repeats += int(r["count"].(float64))
					} else {
						plain++
					}
				default:
					t.Fatalf("entry of kind %q", e.Labels["kind"])
				}
			}
			if uint64(len(srv.Accepted())) != c.Written || c.Written != c.Entries {
				t.Fatalf("server has %d entries, counters %+v", len(srv.Accepted()), c)
			}
			if uint64(plain) != c.Shipped || uint64(repeats) != c.Collapsed || uint64(unparsed) != c.Unparsed {
				t.Fatalf("server: %d plain events, %d repeats, %d unparsed; counters shipped %d collapsed %d unparsed %d",
					plain, repeats, unparsed, c.Shipped, c.Collapsed, c.Unparsed)
			}
			if reported != [3]int{int(c.Filtered), int(c.Collapsed), int(c.RateLimited)} {
				t.Fatalf("reports account for %v, counters filtered %d collapsed %d rate-limited %d", reported,
					c.Filtered, c.Collapsed, c.RateLimited)
			}
			// Distinct inputs never share an insertId (Cloud Logging would drop all but one).
			seen := map[string]string{}
			for _, e := range srv.Accepted() {
				js, _ := protojson.Marshal(e.LogEntry)
				if prev, ok := seen[e.InsertId]; ok {
					t.Fatalf("insertId %s written twice:\n%s\n%s", e.InsertId, prev, js)
				}
				seen[e.InsertId] = string(js)
			}
		})
	}
}

// countRecords counts a chunk's records as the instance does (records and malformed items).
func countRecords(data []byte) uint64 {
	st := chunk.Decode(data, func(time.Time, chunk.Input) {})
	return uint64(st.Records + st.Malformed)
}

// TestMetricsEndpoint scrapes the instance's listener over HTTP, parses the text with the
// Prometheus parser and compares every value with the instance's Counters.
func TestMetricsEndpoint(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv, "Metrics_Listen", "127.0.0.1:0", "Exclude", "key=exec", "Collapse_Window", "1m")
	addr := i.MetricsAddr()
	if addr == nil || len(l.find("metrics at http://"+addr.String())) != 1 {
		t.Fatalf("listener %v, logs %v", addr, l.lines)
	}
	lines := flatten(filterEvents())
	lines = append(lines, "not an audit record")
	for k := 0; k < 5; k++ { // repeats of event 4, a connect: collapsed
		lines = append(lines, connectLines(genBase.Add(time.Duration(10+k)*time.Second), uint64(900+k),
			proc{"/usr/bin/curl", "curl", "net", 1000, 1000, 1000}, [4]byte{10, 1, 2, 3}, 443, false)...)
	}
	srv.FailNext(fakelogging.Unavailable())
	data := lineChunk(flbchunk.Options{V2: true}, recordTime, lines)
	if out := i.Flush(data, "audit"); out != delivery.Retry {
		t.Fatalf("first flush %v, want Retry", out)
	}
	if out := i.Flush(data, "audit"); out != delivery.OK {
		t.Fatalf("replay %v", out)
	}
	c := i.Counters()
	fams := scrapeMetrics(t, "http://"+addr.String()+"/metrics")
	want := map[string]float64{
		"records_in_total": float64(c.RecordsIn), "records_shipped_total": float64(c.RecordsShipped),
		"records_filtered_total": float64(c.RecordsFiltered), "records_collapsed_total": float64(c.RecordsCollapsed),
		"records_duplicate_total": float64(c.Duplicates), "records_unparsed_total": float64(c.Unparsed),
		"records_in_flight": float64(c.RecordsInFlight), "records_loader_paths_omitted_total": float64(c.LoaderPathsOmitted),
		"events_total": float64(c.EventsOut), "events_shipped_total": float64(c.Shipped),
		"events_filtered_total": float64(c.Filtered), "events_collapsed_total": float64(c.Collapsed),
		"events_rate_limited_total": 0, "entries_total": float64(c.Entries), "entries_written_total": float64(c.Written),
		"bytes_written_total": float64(c.BytesWritten), "retries_total": float64(c.Retries),
		"write_failures_total": float64(c.WriteFailures), "entries_pending": float64(c.Pending),
	}
	for name, v := range want {
		got, ok := fams["auditd_cloud_logging_"+name]
		if !ok {
			t.Errorf("%s missing from the scrape", name)
			continue
		}
		if got[`plugin_instance="auditd_cloud_logging"`] != v {
			t.Errorf("%s = %v on the endpoint, %v in Counters", name, got, v)
		}
	}
	// The numbers are real, not zeros compared with zeros.
	if c.RecordsIn == 0 || c.Filtered != 3 || c.Collapsed != 5 || c.Retries != 1 || c.Duplicates != c.RecordsIn/2 || c.BytesWritten == 0 {
		t.Fatalf("counters %+v", c)
	}
	closeNow(t, i)
	if _, err := http.Get("http://" + addr.String() + "/metrics"); err == nil {
		t.Fatalf("the listener still serves after Close")
	}
}

// scrapeMetrics returns value by family name and label set.
func scrapeMetrics(t *testing.T, url string) map[string]map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse as Prometheus text: %v", err)
	}
	out := map[string]map[string]float64{}
	for name, f := range fams {
		out[name] = map[string]float64{}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[name][strings.Join(ls, ",")] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// The summary line appears in the log every Log_Summary_Interval.
func TestLogSummary(t *testing.T) {
	srv := startServer(t)
	i, l := newInstance(t, srv, "Log_Summary_Interval", "1s")
	if out := i.Flush(lineChunk(flbchunk.Options{V2: true}, recordTime, flatten(filterEvents())), "audit"); out != delivery.OK {
		t.Fatalf("flush %v", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(l.find("summary: ")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no summary line within 5s: %v", l.lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := l.find("summary: ")[0]
	if !strings.HasPrefix(s, LevelInfo+": summary: ") || !strings.Contains(s, "events=8") || !strings.Contains(s, "records_in=") {
		t.Fatalf("summary line %q", s)
	}
}

func TestRejectReason(t *testing.T) {
	for text, want := range map[string]string{
		"InvalidArgument: Log entry with size 300K exceeds maximum size":           "InvalidArgument",
		"PermissionDenied: the caller does not have permission":                    "PermissionDenied",
		"request refused: rpc error: code = NotFound desc = fake: log bucket gone": "NotFound",
		"request refused: rpc error: code = InvalidArgument":                       "InvalidArgument",
		"entry of 300000 bytes does not fit in a request of at most 524288 bytes":  "TooLarge",
		"nil entry (a bug in the caller)":                                          "Other",
		"Invalid: not a code":                                                      "Other",
	} {
		if got := RejectReason(text); got != want {
			t.Errorf("RejectReason(%q) = %q, want %q", text, got, want)
		}
	}
}
