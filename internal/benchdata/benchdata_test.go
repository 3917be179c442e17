package benchdata_test

import (
	"strconv"
	"testing"

	"github.com/gke-audit/auditd-cloud-logging/internal/benchdata"
	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// The type numbers written in benchdata must be the parser's, and every workload record must
// parse in all three input forms to the same type, key and fields.
func TestWorkloadsParse(t *testing.T) {
	for name, n := range benchdata.TypeNums() {
		if got, ok := parser.TypeByName(name); !ok || got != n {
			t.Errorf("%s: benchdata says %d, parser says %d (%v)", name, n, got, ok)
		}
	}
	for _, w := range benchdata.All(64) {
		if len(w.Records) == 0 || w.Events != 64 {
			t.Fatalf("%s: %d records, %d events", w.Name, len(w.Records), w.Events)
		}
		serials := map[uint64]bool{}
		for _, r := range w.Records {
			serials[r.Serial] = true
			line, err := parser.ParseLine([]byte(r.Line()))
			if err != nil {
				t.Fatalf("%s: %q: %v", w.Name, r.Line(), err)
			}
			kern, err := parser.ParseLine([]byte(r.KernelLine()))
			if err != nil {
				t.Fatalf("%s: %q: %v", w.Name, r.KernelLine(), err)
			}
			jr, err := parser.ParseJournal(parser.JournalRecord{Message: []byte(r.Message()),
				AuditID: []byte(strconv.FormatUint(r.Serial, 10)), SourceRealtime: []byte(strconv.FormatInt(r.UnixMilli*1000, 10))})
			if err != nil {
				t.Fatalf("%s: %q: %v", w.Name, r.Message(), err)
			}
			for _, got := range []parser.Record{line, kern, jr} {
				if got.Type != r.TypeNum || got.Key.Serial != r.Serial || got.Key.UnixMilli != r.UnixMilli || len(got.Fields) != len(line.Fields) {
					t.Errorf("%s: %s record parsed as type %d key %+v, %d fields; want %d, %d fields",
						w.Name, got.Source, got.Type, got.Key, len(got.Fields), r.TypeNum, len(line.Fields))
				}
			}
		}
		if len(serials) != w.Events || w.LastSerial != benchdata.FirstSerial+uint64(w.Events)-1 {
			t.Errorf("%s: %d serials up to %d for %d events", w.Name, len(serials), w.LastSerial, w.Events)
		}
	}
}

// TestShift: laps continue the stream: no serial repeats, times move on with the serials.
func TestShift(t *testing.T) {
	for _, w := range benchdata.All(8) {
		seen := map[uint64]int64{}
		for lap := 0; lap < 3; lap++ {
			s := w.Shift(lap)
			for _, r := range s.Records {
				if ms, ok := seen[r.Serial]; ok && ms != r.UnixMilli {
					t.Fatalf("%s lap %d: serial %d at %d and %d", w.Name, lap, r.Serial, ms, r.UnixMilli)
				}
				seen[r.Serial] = r.UnixMilli
				if r.UnixMilli-benchdata.BaseMs != int64(r.Serial-benchdata.FirstSerial) {
					t.Fatalf("%s lap %d: serial %d at +%d ms", w.Name, lap, r.Serial, r.UnixMilli-benchdata.BaseMs)
				}
			}
			if s.LastSerial != benchdata.FirstSerial+uint64((lap+1)*w.Events)-1 {
				t.Fatalf("%s lap %d: last serial %d", w.Name, lap, s.LastSerial)
			}
		}
		if len(seen) != 3*w.Events {
			t.Errorf("%s: %d serials in 3 laps of %d events", w.Name, len(seen), w.Events)
		}
	}
}
