package delivery

import (
	"context"
	"fmt"
	"io"
	"sync"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/entry"
)

type dryRunWriter struct {
	mu       sync.Mutex // one Write's lines stay together (fluent-bit Workers call concurrently)
	w        io.Writer
	template *loggingpb.WriteLogEntriesRequest
}

// NewDryRunWriter makes a Writer that prints each entry as one line of protojson, as
// Cloud Logging would store it: logName and resource filled in, and the request labels
// merged into the entry's labels without overriding the entry's own (the API's rule).
// The entries passed to Write are not modified. Nothing is sent anywhere.
func NewDryRunWriter(w io.Writer, cfg config.Config) Writer {
	return &dryRunWriter{w: w, template: requestTemplate(cfg)}
}

func (d *dryRunWriter) Close() error { return nil }

func (d *dryRunWriter) Write(_ context.Context, entries []*loggingpb.LogEntry) Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	var res Result
	opts := protojson.MarshalOptions{}
	for i, e := range entries {
		if e == nil {
			res.Rejected = append(res.Rejected, Rejected{Reason: "nil entry (a bug in the caller)"})
			continue
		}
		// protojson leaves unknown fields out, and plugin/entry keeps the payload it encodes
		// there: decode it into an ordinary jsonPayload (Decoded copies the entry).
		c, err := entry.Decoded(e)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{Entry: e, Reason: "payload does not decode: " + err.Error()})
			continue
		}
		if c == e {
			c = proto.CloneOf(e)
		}
		c.LogName = d.template.LogName
		c.Resource = d.template.Resource
		if len(d.template.Labels) > 0 {
			if c.Labels == nil {
				c.Labels = make(map[string]string, len(d.template.Labels))
			}
			for k, v := range d.template.Labels {
				if _, ok := c.Labels[k]; !ok {
					c.Labels[k] = v
				}
			}
		}
		b, err := opts.Marshal(c)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{Entry: e, Reason: "cannot be encoded: " + err.Error()})
			continue
		}
		b = append(b, '\n')
		if _, err := d.w.Write(b); err != nil {
			return d.failed(res, entries[i:], err)
		}
		res.Written++
		res.Bytes += len(b)
	}
	return res
}

func (d *dryRunWriter) failed(res Result, unsent []*loggingpb.LogEntry, err error) Result {
	res.Outcome = Retry
	res.Err = fmt.Errorf("%s: Dry_Run output: %w", config.PluginName, err)
	for _, e := range unsent {
		if e != nil {
			res.Unsent = append(res.Unsent, e)
		}
	}
	return res
}
