package output

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
)

// marshalWriter stands in for the network: the production encoder (delivery.NewEncodeWriter,
// the hand-written wire encoder the cloud writer sends through) builds the request bytes, and
// only the send is left out.
type marshalWriter struct {
	cfg   config.Config
	w     delivery.Writer
	bytes int
}

func (m *marshalWriter) Write(ctx context.Context, entries []*loggingpb.LogEntry) delivery.Result {
	if m.w == nil {
		m.w = delivery.NewEncodeWriter(m.cfg, func(b []byte) error { m.bytes += len(b); return nil })
	}
	return m.w.Write(ctx, entries)
}

func (m *marshalWriter) Close() error { return nil }

// BenchmarkFlushPipeline: msgpack chunk → records → events → entries → marshalled
// WriteLogEntriesRequest, per record (the decoder alone is in plugin/chunk's BenchmarkDecode).
func BenchmarkFlushPipeline(b *testing.B) {
	for _, w := range e2eWorkloads(b) {
		b.Run(w.name, func(b *testing.B) {
			cfg := benchConfig(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(w.data)))
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				// A fresh instance per round: the same chunk again would be all duplicates.
				o := newOurs(b, cfg)
				b.StartTimer()
				o.flushClose(b, w.data)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w.records), "ns/record")
		})
	}
}

// The 20-rule filter set of plugin/filter's BenchmarkStage (10 include, 10 exclude rules).
const (
	twentyInclude = "type=EXECVE key=exec; type=USER_LOGIN; type=USER_AUTH result=failed; type=AVC; key=funky_socket; " +
		"syscall=connect port=22; syscall=ptrace; path=/etc/shadow; uid=0 exe=/usr/bin/*; auid!=unset"
	twentyExclude = "exe=/usr/bin/containerd*; exe=/usr/sbin/runc; exe=/pause; comm=kubelet; exe=*/node_exporter; " +
		"addr=127.0.0.0/8; addr=169.254.169.254; key=noise*; auid=unset exe=/usr/sbin/cron; path=/proc/"
	// twentyExcludeNoMatch: 20 exclude rules of every field kind that match nothing in the
	// corpus, so every rule is evaluated for every event and every event is still shipped: the
	// worst case for the rules' cost, with the downstream work unchanged.
	twentyExcludeNoMatch = "exe=/usr/bin/containerd*; exe=/usr/sbin/runc; exe=/pause; comm=kubelet; exe=*/node_exporter; " +
		"addr=169.254.169.254; key=noise*; auid=unset exe=/usr/sbin/cron; path=/var/lib/kubelet/; type=AVC; " +
		"comm=dockerd; key=k8s-*; addr=10.255.0.0/16; port=6443; uid=54321; syscall=ptrace; type=USER_LOGIN; " +
		"euid=12345; result=failed exe=/usr/bin/nothing; auid=4242"
)

// BenchmarkFilterOverhead: what the filter stage adds to the plugin's per-record cost (msgpack
// chunk → marshalled request). Each round flushes the same chunk through a fresh instance
// without rules and through one with 20 rules, alternating, and reports both per-record costs
// and the overhead in percent (target ≤ 10%). Loader-path trimming is off in both, so only
// the rules differ.
func BenchmarkFilterOverhead(b *testing.B) {
	lines := corpus(b, "audit.log")
	data := lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, lines)
	base := config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n",
		"Event_Quiet": "1m", "Event_Timeout": "10m", "Omit_Loader_Paths": "off"}
	mk := func(kv ...string) config.Config {
		m := config.MapGetter{}
		for k, v := range base {
			m[k] = v
		}
		for k := 0; k+1 < len(kv); k += 2 {
			m[kv[k]] = kv[k+1]
		}
		cfg, err := config.Parse(m)
		if err != nil {
			b.Fatal(err)
		}
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  config.Config
	}{
		{"20-rules-include-exclude", mk("Include", twentyInclude, "Exclude", twentyExclude)},
		{"20-exclude-rules-none-match", mk("Exclude", twentyExcludeNoMatch)},
	} {
		if n := tc.cfg.Include.Len() + tc.cfg.Exclude.Len(); n != 20 {
			b.Fatalf("%s: %d rules", tc.name, n)
		}
		b.Run(tc.name, func(b *testing.B) {
			plain := mk()
			var tBase, tRules time.Duration
			var shipped, events uint64
			run := func(cfg config.Config) time.Duration {
				i, err := New(cfg, &marshalWriter{cfg: cfg}, nil)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if out := i.Flush(data, "audit"); out != delivery.OK {
					b.Fatal(out)
				}
				i.Close(context.Background())
				d := time.Since(start)
				if cfg.Include != nil || cfg.Exclude != nil {
					c := i.Counters()
					shipped, events = c.Shipped, c.EventsOut
				}
				return d
			}
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				if n%2 == 0 {
					tBase += run(plain)
					tRules += run(tc.cfg)
				} else {
					tRules += run(tc.cfg)
					tBase += run(plain)
				}
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(len(lines)) }
			b.ReportMetric(per(tBase), "ns/record-no-rules")
			b.ReportMetric(per(tRules), "ns/record-20-rules")
			b.ReportMetric(100*(per(tRules)/per(tBase)-1), "%overhead")
			b.ReportMetric(100*float64(shipped)/float64(max(events, 1)), "%events-shipped")
		})
	}
}
