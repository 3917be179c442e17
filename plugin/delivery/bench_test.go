package delivery

import (
	"context"
	"testing"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/plugin/entry"
)

// BenchmarkWrite1000 sends 1000 typical entries (~0.5 KiB each) to the in-process fake
// over real gRPC. "raw-client" is the baseline in the same run: the same request through
// the bare apiv2 client, so the difference is what Writer adds (sizing, splitting,
// per-request context, result bookkeeping).
func BenchmarkWrite1000(b *testing.B) {
	_, addr := startFakeWith(b, 0, false)
	cfg := testConfig(b, addr, nil)
	entries := makeEntries(1000, 0)

	b.Run("writer", func(b *testing.B) {
		w := newTestWriter(b, cfg)
		b.ReportAllocs()
		for b.Loop() {
			if r := w.Write(context.Background(), entries); r.Outcome != OK || r.Written != 1000 {
				b.Fatalf("%+v", r)
			}
		}
	})
	b.Run("raw-client", func(b *testing.B) {
		c, err := logging.NewClient(context.Background(), option.WithEndpoint(addr), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := requestTemplate(cfg)
		req.Entries = entries
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.WriteLogEntries(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSplit measures sizing and splitting 1000 entries beside proto.Marshal of the
// same request (which gRPC does anyway): splitting should be a fraction of marshalling.
func BenchmarkSplit(b *testing.B) {
	cfg := testConfig(b, "127.0.0.1:1", nil)
	tmpl := requestTemplate(cfg)
	base := proto.Size(tmpl)
	entries := makeEntries(1000, 0)
	b.Run("split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			batches, _ := split(entries, base, cfg.MaxRequestBytes)
			if len(batches) != 1 {
				b.Fatal(len(batches))
			}
		}
	})
	b.Run("marshal-baseline", func(b *testing.B) {
		req := proto.Clone(tmpl).(*loggingpb.WriteLogEntriesRequest)
		req.Entries = entries
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	big := makeEntries(1000, 20000) // ~20 MB: three requests at 8 MiB
	b.Run("split-20MB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			batches, _ := split(big, base, cfg.MaxRequestBytes)
			if len(batches) < 3 {
				b.Fatal(len(batches))
			}
		}
	})
}

// benchOptions are the plugin's defaults (no raw record text).
var benchOptions = entry.Options{NodeName: "node-1"}

// libNsPerEntry carries the protobuf-go sub-benchmark's time to the wire one, so the
// ratio is measured in the same run.
var libNsPerEntry = map[string]float64{}

// benchEntries runs fn over all corpus entries per op and reports per-entry figures; with
// lib set it records the baseline, else it reports the ratio to it.
func benchEntries(b *testing.B, name string, entries []*loggingpb.LogEntry, lib bool, fn func(*loggingpb.LogEntry)) {
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range entries {
			fn(e)
		}
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(len(entries))
	b.ReportMetric(per, "ns/entry")
	if lib {
		libNsPerEntry[name] = per
	} else if base := libNsPerEntry[name]; base > 0 {
		b.ReportMetric(base/per, "x-faster")
	}
}

// BenchmarkEntryEncode: the wire encoder beside protobuf-go on the same corpus entries,
// both appending to a reused buffer.
func BenchmarkEntryEncode(b *testing.B) {
	entries := corpusEntries(b, benchOptions, "audit.log", "audit-enriched.log", "kernel.log")
	var buf []byte
	b.Run("proto.Marshal", func(b *testing.B) {
		benchEntries(b, "encode", entries, true, func(e *loggingpb.LogEntry) {
			var err error
			if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], e); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("wire", func(b *testing.B) {
		benchEntries(b, "encode", entries, false, func(e *loggingpb.LogEntry) {
			var ok bool
			if buf, ok = appendEntry(buf[:0], e); !ok {
				b.Fatal("refused")
			}
		})
	})
}

// BenchmarkEntrySize: entrySize beside proto.Size on the same corpus entries.
func BenchmarkEntrySize(b *testing.B) {
	entries := corpusEntries(b, benchOptions, "audit.log", "audit-enriched.log", "kernel.log")
	sum := 0
	b.Run("proto.Size", func(b *testing.B) {
		benchEntries(b, "size", entries, true, func(e *loggingpb.LogEntry) { sum += proto.Size(e) })
	})
	b.Run("wire", func(b *testing.B) {
		benchEntries(b, "size", entries, false, func(e *loggingpb.LogEntry) {
			n, ok := entrySize(e)
			if !ok {
				b.Fatal("refused")
			}
			sum += n
		})
	})
}

// BenchmarkRequestPath: what the writer does per request, split (sizes) + the codec
// (encoding), beside protobuf-go's proto.Size + proto.Marshal of the same request (what
// the writer did before the wire encoder, and what gRPC's default codec does).
func BenchmarkRequestPath(b *testing.B) {
	cfg := testConfig(b, "127.0.0.1:1", nil)
	tmpl := requestTemplate(cfg)
	base := proto.Size(tmpl)
	entries := corpusEntries(b, benchOptions, "audit.log", "audit-enriched.log", "kernel.log")
	req := requestTemplate(cfg)
	req.Entries = entries
	b.Run("proto", func(b *testing.B) {
		benchEntries(b, "request", []*loggingpb.LogEntry{nil}, true, func(*loggingpb.LogEntry) {
			for _, e := range entries {
				proto.Size(e)
			}
			if _, err := proto.Marshal(req); err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(entries)), "ns/entry")
	})
	b.Run("split+codec", func(b *testing.B) {
		benchEntries(b, "request", []*loggingpb.LogEntry{nil}, false, func(*loggingpb.LogEntry) {
			batches, _ := split(entries, base, cfg.MaxRequestBytes)
			if len(batches) != 1 {
				b.Fatal(len(batches))
			}
			buf, err := encodePooled(req, batches[0].size)
			if err != nil {
				b.Fatal(err)
			}
			buf.Free() // as gRPC does once the request is written
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(entries)), "ns/entry")
	})
}
