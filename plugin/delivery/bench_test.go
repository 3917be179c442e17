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
