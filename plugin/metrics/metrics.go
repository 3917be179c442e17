// Package metrics holds one plugin instance's counters, serves them as Prometheus text on an
// optional listener, and renders the once-a-minute summary line for fluent-bit's log.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

const namespace = "auditd_cloud_logging"

// instanceLabel names the plugin instance on every series. Not "instance": Prometheus sets that
// to the scrape target and would rename ours to exported_instance.
const instanceLabel = "plugin_instance"

// Metrics are one instance's counters: the only place its counts are kept (the output
// instance increments them under its own lock and reads them back for its Counters snapshot).
//
// Every input record is counted once in RecordsIn and ends up in exactly one of
// RecordsShipped, RecordsFiltered, RecordsCollapsed, RecordsRateLimited (records inside events,
// by the filter stage's decision), RecordsUnparsed, RecordsDuplicate, or RecordsInFlight (still
// being assembled). Every assembled event (EventsOut) gets exactly one of EventsShipped,
// EventsFiltered, EventsCollapsed, EventsRateLimited.
type Metrics struct {
	RecordsIn                 prometheus.Counter
	RecordsShipped            prometheus.Counter
	RecordsFiltered           prometheus.Counter
	RecordsCollapsed          prometheus.Counter
	RecordsRateLimited        prometheus.Counter
	RecordsDuplicate          prometheus.Counter
	RecordsUnparsed           prometheus.Counter
	RecordsMalformed          prometheus.Counter // msgpack records that could not be decoded at all
	RecordsLoaderPathsOmitted prometheus.Counter
	RecordsInFlight           prometheus.Gauge
	EventsOut                 prometheus.Counter
	EventsIncomplete          prometheus.Counter
	EventsLost                prometheus.Counter // serial gaps: events that never reached us
	EventsShipped             prometheus.Counter
	EventsFiltered            prometheus.Counter
	EventsCollapsed           prometheus.Counter
	EventsRateLimited         prometheus.Counter
	Entries                   prometheus.Counter
	EntriesWritten            prometheus.Counter
	BytesWritten              prometheus.Counter
	EntriesUnsent             prometheus.Counter
	Retries                   prometheus.Counter
	WriteFailures             prometheus.Counter
	Backpressure              prometheus.Counter
	EntriesRejected           *prometheus.CounterVec // label reason: the API's status code name
	EventsInFlight            prometheus.Gauge
	EntriesPending            prometheus.Gauge

	// Health, when set before Serve, answers /healthz for this instance: nil when it is
	// delivering, else why not.
	Health func() error

	reg *prometheus.Registry
}

// New creates the counters of one instance, labelled plugin_instance=name.
func New(name string) *Metrics {
	labels := prometheus.Labels{instanceLabel: name}
	c := func(n, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: n, Help: help, ConstLabels: labels})
	}
	g := func(n, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: n, Help: help, ConstLabels: labels})
	}
	m := &Metrics{
		RecordsIn:                 c("records_in_total", "Audit records received from fluent-bit."),
		RecordsShipped:            c("records_shipped_total", "Records inside events passed on to be written."),
		RecordsFiltered:           c("records_filtered_total", "Records inside events held back by Include/Exclude rules."),
		RecordsCollapsed:          c("records_collapsed_total", "Records inside events counted into a collapsed entry."),
		RecordsRateLimited:        c("records_rate_limited_total", "Records inside events dropped by the rate limit."),
		RecordsDuplicate:          c("records_duplicate_total", "Records identical to one already seen (re-reads, chunk replays) or end markers of events already shipped, counted once."),
		RecordsUnparsed:           c("records_unparsed_total", "Inputs that were not audit records or could not be parsed; each is shipped as its own entry."),
		RecordsMalformed:          c("records_malformed_total", "fluent-bit records whose msgpack could not be decoded (also counted as unparsed)."),
		RecordsLoaderPathsOmitted: c("records_loader_paths_omitted_total", "Dynamic-loader PATH records dropped from shipped events (Omit_Loader_Paths)."),
		RecordsInFlight:           g("records_in_flight", "Records in events being assembled."),
		EventsOut:                 c("events_total", "Events assembled."),
		EventsIncomplete:          c("events_incomplete_total", "Events flushed without evidence that all records arrived."),
		EventsLost:                c("events_lost_total", "Events missing from the stream (serial gaps within one boot)."),
		EventsShipped:             c("events_shipped_total", "Events passed on to be written."),
		EventsFiltered:            c("events_filtered_total", "Events held back by Include/Exclude rules."),
		EventsCollapsed:           c("events_collapsed_total", "Identical events counted into a collapsed entry."),
		EventsRateLimited:         c("events_rate_limited_total", "Events dropped by the rate limit (reported in periodic entries)."),
		Entries:                   c("entries_total", "Log entries built (events, collapsed repeats, filter reports, unparsed inputs, lost-event notices)."),
		EntriesWritten:            c("entries_written_total", "Log entries accepted by Cloud Logging."),
		BytesWritten:              c("bytes_written_total", "Bytes of write requests accepted by Cloud Logging."),
		EntriesUnsent:             c("entries_unsent_total", "Entries still unsent when the exit bound ran out."),
		Retries:                   c("retries_total", "Flushes answered with FLB_RETRY."),
		WriteFailures:             c("write_failures_total", "Writes that failed with a retryable error (their entries are kept and re-sent)."),
		Backpressure:              c("backpressure_total", "Flushes answered RETRY without reading the chunk because the pending queue was full."),
		EntriesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "entries_rejected_total",
			Help: "Entries rejected by the API under partial success, by status code.", ConstLabels: labels}, []string{"reason"}),
		EventsInFlight: g("events_in_flight", "Events being assembled."),
		EntriesPending: g("entries_pending", "Entries built but not yet accepted by Cloud Logging."),
		reg:            prometheus.NewRegistry(),
	}
	m.reg.MustRegister(m.RecordsIn, m.RecordsShipped, m.RecordsFiltered, m.RecordsCollapsed, m.RecordsRateLimited,
		m.RecordsDuplicate, m.RecordsUnparsed, m.RecordsMalformed, m.RecordsLoaderPathsOmitted, m.RecordsInFlight,
		m.EventsOut, m.EventsIncomplete, m.EventsLost, m.EventsShipped, m.EventsFiltered, m.EventsCollapsed,
		m.EventsRateLimited, m.Entries, m.EntriesWritten, m.BytesWritten, m.EntriesUnsent, m.Retries,
		m.WriteFailures, m.Backpressure, m.EntriesRejected, m.EventsInFlight, m.EntriesPending)
	return m
}

// Registry is the instance's own registry (instances never share one).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Values returns every counter and gauge by short name ("records_in", "entries_rejected{reason=X}").
func (m *Metrics) Values() map[string]float64 {
	out := map[string]float64{}
	mfs, err := m.reg.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		name := strings.TrimSuffix(strings.TrimPrefix(mf.GetName(), namespace+"_"), "_total")
		for _, mt := range mf.GetMetric() {
			key := name
			for _, lp := range mt.GetLabel() {
				if lp.GetName() != instanceLabel {
					key += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
				}
			}
			out[key] += value(mt)
		}
	}
	return out
}

func value(mt *dto.Metric) float64 {
	if c := mt.GetCounter(); c != nil {
		return c.GetValue()
	}
	if g := mt.GetGauge(); g != nil {
		return g.GetValue()
	}
	return 0
}

// Summary is the once-a-minute log line: every non-zero value, sorted by name.
func (m *Metrics) Summary() string {
	v := m.Values()
	keys := make([]string, 0, len(v))
	for k, x := range v {
		if x != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%.0f", k, v[k])
	}
	if b.Len() == 0 {
		return "no activity"
	}
	return b.String()
}

// listeners are shared per address so that several [OUTPUT] instances with the same
// Metrics_Listen serve one page, each with its own plugin_instance label.
var (
	mu        sync.Mutex
	listeners = map[string]*listener{}
)

type listener struct {
	srv      *http.Server
	addr     net.Addr
	gatherer map[*Metrics]struct{}
	mu       sync.Mutex
}

func (l *listener) Gather() ([]*dto.MetricFamily, error) {
	l.mu.Lock()
	gs := prometheus.Gatherers{}
	for m := range l.gatherer {
		gs = append(gs, m.reg)
	}
	l.mu.Unlock()
	return gs.Gather()
}

// healthz answers 200 "ok" when every instance on this listener is delivering, else 503 with
// one line per instance that is not (a readiness probe: a pod that cannot write to Cloud
// Logging turns unready, which shows in kubectl and stops a rollout).
func (l *listener) healthz(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	var checks []func() error
	for m := range l.gatherer {
		if m.Health != nil {
			checks = append(checks, m.Health)
		}
	}
	l.mu.Unlock()
	var bad []string
	for _, c := range checks {
		if err := c(); err != nil {
			bad = append(bad, err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(bad) > 0 {
		sort.Strings(bad)
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(bad, "\n"))
		return
	}
	fmt.Fprintln(w, "ok")
}

// Serve exposes m at http://addr/metrics and its Health at http://addr/healthz. Instances that
// name the same address share one listener. The returned release stops serving m (and closes
// the listener with its last user).
func Serve(addr string, m *Metrics) (bound net.Addr, release func(), err error) {
	mu.Lock()
	defer mu.Unlock()
	l, ok := listeners[addr]
	if !ok {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("Metrics_Listen %q: %w", addr, err)
		}
		l = &listener{addr: ln.Addr(), gatherer: map[*Metrics]struct{}{}}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(l, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
		mux.HandleFunc("/healthz", l.healthz)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintln(w, "auditd_cloud_logging metrics: /metrics, health: /healthz")
		})
		l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				_ = err // the listener was closed under us; nothing else to do from a goroutine
			}
		}()
		listeners[addr] = l
	}
	l.mu.Lock()
	l.gatherer[m] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return l.addr, func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			l.mu.Lock()
			delete(l.gatherer, m)
			empty := len(l.gatherer) == 0
			l.mu.Unlock()
			if empty {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = l.srv.Shutdown(ctx)
				delete(listeners, addr)
			}
		})
	}, nil
}
