package chunk

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
)

// benchChunks builds 1000-record chunks as fluent-bit 4.x/5.x sends them ([[EventTime, {}],
// body], values as bin): audit.log lines from in_tail, and in_systemd journal records (map32,
// ~20 fields each, as journald stores an audit record).
func benchChunks() map[string][]byte {
	ts := time.Unix(1700000000, 123456789)
	lines := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true})
	journal := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true, Map32: true})
	for i := 0; i < 1000; i++ {
		lines.Line(ts, fmt.Sprintf(`type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=55d5 a1=55d6 a2=55d7 a3=0 items=2 ppid=1000 pid=%d auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" subj=unconfined key="exec"`, i%1000, i, 2000+i))
		journal.Record(ts, []flbchunk.Field{
			flbchunk.F("_TRANSPORT", "audit"), flbchunk.F("_HOSTNAME", "gke-node-1"),
			flbchunk.F("_BOOT_ID", "1f0e5d8c2a0b4e7f9d3c6b5a49382716"), flbchunk.F("_MACHINE_ID", "0123456789abcdef0123456789abcdef"),
			flbchunk.F("_AUDIT_TYPE", "1300"), flbchunk.F("_AUDIT_TYPE_NAME", "SYSCALL"), flbchunk.F("_AUDIT_ID", fmt.Sprint(i)),
			flbchunk.F("_SOURCE_REALTIME_TIMESTAMP", "1700000000123000"), flbchunk.F("SYSLOG_FACILITY", "4"),
			flbchunk.F("SYSLOG_IDENTIFIER", "audit"), flbchunk.F("_PID", fmt.Sprint(2000+i)), flbchunk.F("_UID", "0"),
			flbchunk.F("_GID", "0"), flbchunk.F("_COMM", "curl"), flbchunk.F("_EXE", "/usr/bin/curl"),
			flbchunk.F("_CMDLINE", "curl https://example.com"), flbchunk.F("_AUDIT_SESSION", "3"),
			flbchunk.F("_AUDIT_LOGINUID", "1000"), flbchunk.F("_SELINUX_CONTEXT", "unconfined"),
			flbchunk.F("MESSAGE", `SYSCALL arch=c000003e syscall=59 success=yes exit=0 a0=55d5 a1=55d6 a2=55d7 a3=0 items=2 ppid=1000 pid=2000 auid=1000 uid=0 gid=0 euid=0 comm="curl" exe="/usr/bin/curl" key="exec"`),
		})
	}
	return map[string][]byte{"auditlog": lines.Bytes(), "journal": journal.Bytes()}
}

// BenchmarkDecode reports ns and allocs per record (1000 records per op is divided out via
// b.ReportMetric) for: this package's hand-written reader (the default), the same decoding over
// vmihailenco/msgpack (libCursor), and fluent-bit-go's decoder (output.NewDecoder + GetRecord,
// ugorji reflection into map[interface{}]interface{}) as the baseline.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"auditlog", "journal"} {
		data := benchChunks()[name]
		const records = 1000
		var sink int
		fn := func(ts time.Time, in Input) { sink += len(in.Line) + len(in.Journal.Message) }
		run := func(b *testing.B, f func()) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/records, "ns/record")
		}
		b.Run(name+"/raw", func(b *testing.B) {
			run(b, func() {
				if st := Decode(data, fn); st.Records != records {
					b.Fatalf("stats %+v", st)
				}
			})
		})
		b.Run(name+"/msgpack-lib", func(b *testing.B) {
			c := newLibCursor()
			run(b, func() {
				if st := decode(c, data, fn); st.Records != records {
					b.Fatalf("stats %+v", st)
				}
			})
		})
		b.Run(name+"/fluent-bit-go", func(b *testing.B) {
			run(b, func() {
				dec := output.NewDecoder(unsafe.Pointer(&data[0]), len(data))
				n := 0
				for {
					ret, ts, rec := output.GetRecord(dec)
					if ret != 0 {
						break
					}
					_ = ts
					// What a plugin does next: look the text fields up in the map.
					if v, ok := rec["log"].([]byte); ok {
						sink += len(v)
					}
					if v, ok := rec["MESSAGE"].([]byte); ok {
						sink += len(v)
					}
					n++
				}
				if n != records {
					b.Fatalf("fluent-bit-go decoded %d records", n)
				}
			})
		})
		_ = sink
	}
}
