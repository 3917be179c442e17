package parser

import (
	"strings"
	"testing"
)

// BenchmarkAppendInterpretShape measures AppendInterpret per field on the fields the plugin
// interprets for each shape: "cos" is journal-cos.jsonl without EXECVE's argument fields (the
// entry builder drops them: process.argv carries them), so mostly SYSCALL fields; "enriched"
// is audit-enriched.log, whose records carry auditd's own interpretations; "audit.log" is every
// field of the raw audit.log, hex-encoded arguments included.
func BenchmarkAppendInterpretShape(b *testing.B) {
	for _, shape := range []struct{ name, file string }{
		{"cos", "journal-cos.jsonl"},
		{"enriched", "audit-enriched.log"},
		{"audit.log", "audit.log"},
	} {
		var recs []Record
		fields := 0
		for _, in := range loadShape(b, shape.file) {
			if in.err != nil {
				continue
			}
			r := in.rec
			if shape.name == "cos" && r.Type == typeExecve {
				var keep []Field
				for _, f := range r.Fields {
					if !benchIsArgField(f.Key) {
						keep = append(keep, f)
					}
				}
				r.Fields = keep
			}
			recs = append(recs, r)
			fields += len(r.Fields)
		}
		b.Run(shape.name, func(b *testing.B) { benchAppendInterpret(b, recs, fields) })
	}
}

// benchAppendInterpret interprets every field of recs per op and reports ns per field.
func benchAppendInterpret(b *testing.B, recs []Record, fields int) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		for i := range recs {
			r := &recs[i]
			for j := range r.Fields {
				buf = AppendInterpret(buf[:0], r, &r.Fields[j], nil)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(fields), "ns/field")
}

// benchIsArgField matches EXECVE argument keys (a0, a3_len, a3[0]) as plugin/entry does.
func benchIsArgField(k string) bool {
	if len(k) < 2 || k[0] != 'a' || k[1] < '0' || k[1] > '9' {
		return false
	}
	rest := strings.TrimLeft(k[1:], "0123456789")
	return rest == "" || rest == "_len" || (len(rest) > 2 && rest[0] == '[' && rest[len(rest)-1] == ']')
}
