package output

import (
	"context"
	"testing"

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
