package output

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
)

// marshalWriter stands in for the network: it marshals the request the cloud writer would send.
type marshalWriter struct {
	cfg   config.Config
	buf   []byte
	bytes int
}

func (m *marshalWriter) Write(_ context.Context, entries []*loggingpb.LogEntry) delivery.Result {
	req := &loggingpb.WriteLogEntriesRequest{LogName: m.cfg.LogPath(), Resource: m.cfg.MonitoredResource(),
		Entries: entries, PartialSuccess: true}
	var err error
	m.buf, err = proto.MarshalOptions{}.MarshalAppend(m.buf[:0], req)
	if err != nil {
		return delivery.Result{Outcome: delivery.Drop, Err: err}
	}
	m.bytes += len(m.buf)
	return delivery.Result{Outcome: delivery.OK, Written: len(entries), Bytes: len(m.buf)}
}

func (m *marshalWriter) Close() error { return nil }

// BenchmarkFlushPipeline: msgpack chunk → records → events → entries → marshalled
// WriteLogEntriesRequest, per record (the decoder alone is in plugin/chunk's BenchmarkDecode).
func BenchmarkFlushPipeline(b *testing.B) {
	for _, tc := range []struct{ name, file string }{{"auditlog", "audit.log"}, {"journal", "journal.jsonl"}, {"kernel", "kernel.log"}} {
		lines := corpus(b, tc.file)
		var data []byte
		if tc.file == "journal.jsonl" {
			data = journalChunk(b, flbchunk.Options{V2: true, Bin: true, Map32: true}, lines)
		} else {
			data = lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, lines)
		}
		b.Run(tc.name, func(b *testing.B) {
			cfg, err := config.Parse(config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l",
				"Node_Name": "n", "Event_Quiet": "1m", "Event_Timeout": "10m"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				// A fresh instance per round: the same chunk again would be all duplicates.
				i, err := New(cfg, &marshalWriter{cfg: cfg}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if out := i.Flush(data, "audit"); out != delivery.OK {
					b.Fatal(out)
				}
				i.Close(context.Background())
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(lines)), "ns/record")
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
