package delivery

import (
	"context"
	"fmt"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
)

type encodeWriter struct {
	template *loggingpb.WriteLogEntriesRequest
	baseSize int
	maxBytes int
	send     func(req []byte) error
}

// NewEncodeWriter makes a Writer that does everything the cloud writer does before the
// network (split under Max_Request_Bytes, encode each WriteLogEntriesRequest as its gRPC
// codec does) and hands each request's bytes to send instead; the bytes are valid during
// the call only. It measures and tests the plugin's whole path without a server. Like a
// network error for the cloud writer, an error from send (or from encoding) is Retry for
// that request's entries and every later one. send is called concurrently when Write is.
func NewEncodeWriter(cfg config.Config, send func(req []byte) error) Writer {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = config.DefaultMaxRequestBytes
	}
	t := requestTemplate(cfg)
	return &encodeWriter{template: t, baseSize: proto.Size(t), maxBytes: cfg.MaxRequestBytes, send: send}
}

func (w *encodeWriter) Close() error { return nil }

func (w *encodeWriter) Write(_ context.Context, entries []*loggingpb.LogEntry) Result {
	batches, rejected := split(entries, w.baseSize, w.maxBytes)
	res := Result{Rejected: rejected}
	for i, b := range batches {
		req := request(w.template, b.entries)
		buf, err := encodePooled(req, b.size)
		n := 0
		if err == nil {
			res.Requests++
			n = buf.Len()
			err = w.send(buf.ReadOnlyData())
			buf.Free()
		}
		if err != nil {
			res.Outcome, res.Err = Retry, fmt.Errorf("%s: request of %d entries: %w", config.PluginName, len(b.entries), err)
			for _, rest := range batches[i:] {
				res.Unsent = append(res.Unsent, rest.entries...)
			}
			return res
		}
		res.Written += len(b.entries)
		res.Bytes += n
	}
	return res
}
