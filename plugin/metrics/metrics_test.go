package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, url string) map[string][]string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scraped text does not parse: %v", err)
	}
	out := map[string][]string{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[name] = append(out[name], fmt.Sprintf("%s %g", strings.Join(labels, ","), v))
		}
	}
	return out
}

func TestServeScrapeTwoInstances(t *testing.T) {
	a, b := New("cos"), New("tail")
	a.RecordsIn.Add(7)
	a.EntriesRejected.WithLabelValues("InvalidArgument").Add(2)
	b.RecordsIn.Add(3)
	b.EventsInFlight.Set(4)

	addr, releaseA, err := Serve("127.0.0.1:0", a)
	if err != nil {
		t.Fatal(err)
	}
	// The second instance asks for the same configured address and shares the listener.
	listeners["shared-test"] = listeners["127.0.0.1:0"]
	addrB, releaseB, err := Serve("127.0.0.1:0", b)
	if err != nil {
		t.Fatal(err)
	}
	delete(listeners, "shared-test")
	if addr.String() != addrB.String() {
		t.Fatalf("two instances on one address got two listeners: %v %v", addr, addrB)
	}
	got := scrape(t, "http://"+addr.String()+"/metrics")
	in := got["auditd_cloud_logging_records_in_total"]
	if len(in) != 2 || !contains(in, "plugin_instance=cos 7") || !contains(in, "plugin_instance=tail 3") {
		t.Fatalf("records_in: %v", in)
	}
	if rej := got["auditd_cloud_logging_entries_rejected_total"]; !contains(rej, "plugin_instance=cos,reason=InvalidArgument 2") {
		t.Fatalf("rejected: %v", rej)
	}
	if g := got["auditd_cloud_logging_events_in_flight"]; !contains(g, "plugin_instance=tail 4") {
		t.Fatalf("in flight: %v", g)
	}
	releaseA()
	got = scrape(t, "http://"+addr.String()+"/metrics")
	if in := got["auditd_cloud_logging_records_in_total"]; len(in) != 1 || !contains(in, "plugin_instance=tail 3") {
		t.Fatalf("after release of cos: %v", in)
	}
	releaseB()
	if _, err := http.Get("http://" + addr.String() + "/metrics"); err == nil {
		t.Fatalf("listener still serving after the last instance released it")
	}
}

func TestServeBadAddress(t *testing.T) {
	_, _, err := Serve("256.0.0.1:99999", New("x"))
	if err == nil || !strings.Contains(err.Error(), "Metrics_Listen") {
		t.Fatalf("err = %v", err)
	}
}

func TestSummaryAndValues(t *testing.T) {
	m := New("x")
	if s := m.Summary(); s != "no activity" {
		t.Fatalf("idle summary %q", s)
	}
	m.RecordsIn.Add(10)
	m.EventsOut.Add(4)
	m.EntriesRejected.WithLabelValues("InvalidArgument").Inc()
	v := m.Values()
	if v["records_in"] != 10 || v["events"] != 4 || v["entries_rejected{reason=InvalidArgument}"] != 1 {
		t.Fatalf("values %v", v)
	}
	want := "entries_rejected{reason=InvalidArgument}=1 events=4 records_in=10"
	if s := m.Summary(); s != want {
		t.Fatalf("summary %q, want %q", s, want)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// /healthz is 503 when any instance on the listener reports a problem, naming each, and 200
// "ok" when none does (an instance without Health counts as healthy).
func TestHealthzAcrossInstances(t *testing.T) {
	a, b, c := New("a"), New("b"), New("c")
	var bErr error
	var mu sync.Mutex
	a.Health = func() error { return nil }
	b.Health = func() error { mu.Lock(); defer mu.Unlock(); return bErr }
	addr, release, err := Serve("127.0.0.1:0", a)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, m := range []*Metrics{b, c} {
		// The same configured address: they join a's listener.
		_, rel, err := Serve("127.0.0.1:0", m)
		if err != nil {
			t.Fatal(err)
		}
		defer rel()
	}
	get := func() (int, string) {
		resp, err := http.Get("http://" + addr.String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Fatalf("all healthy: %d %q", code, body)
	}
	mu.Lock()
	bErr = errors.New("b: the last 5 writes failed")
	mu.Unlock()
	if code, body := get(); code != 503 || body != "b: the last 5 writes failed\n" {
		t.Fatalf("b unhealthy: %d %q", code, body)
	}
}
