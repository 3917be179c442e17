package output

import (
	"context"
	"testing"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
)

// FuzzFlush runs arbitrary chunks through the whole pipeline (decode, parse, assemble, build,
// marshal): no panic, every flush answers OK, and every input is accounted for.
func FuzzFlush(f *testing.F) {
	lines := corpus(f, "audit.log")[:40]
	f.Add(lineChunk(flbchunk.Options{V2: true, Bin: true}, recordTime, lines))
	f.Add(journalChunk(f, flbchunk.Options{V2: true, Map32: true}, corpus(f, "journal.jsonl")[:20]))
	f.Add(lineChunk(flbchunk.Options{Time: flbchunk.Float}, recordTime, corpus(f, "kernel.log")[:20]))
	cfg, err := config.Parse(config.MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l",
		"Node_Name": "n", "Event_Quiet": "1m", "Event_Timeout": "10m"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &marshalWriter{cfg: cfg}
		i, err := New(cfg, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out := i.Flush(data, "fuzz"); out != delivery.OK {
			t.Fatalf("flush %v", out)
		}
		i.Close(context.Background())
		c := i.Counters()
		if c.Written != c.Entries || c.Pending != 0 || c.Unsendable != 0 {
			t.Fatalf("counters %+v", c)
		}
		checkAccounting(t, "after Close", c)
	})
}
