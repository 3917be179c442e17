package parser

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// FuzzAssembler drives the assembler with record sequences decoded from the input: records
// of several types, streams, serial steps (back, forward, rollover, huge), repeats, unparsed
// inputs and drains at advancing wall times. It checks that nothing panics, that every record
// is accounted for exactly once, and that the memory bounds hold.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{3, 8, 0, 0, 1, 1, 1, 1, 2, 5, 3, 5, 200, 0})
	f.Add([]byte{1, 3, 0, 3, 0, 4, 1, 7, 7, 255, 255, 0, 2, 0, 5, 255, 0, 4, 0, 0})
	f.Add([]byte{7, 15, 7, 0, 0, 7, 1, 2, 7, 2, 4, 0, 9, 1, 5, 10, 0, 6, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		cfg := AssemblerConfig{
			Quiet:        time.Duration(1+data[0]%4) * 100 * time.Millisecond,
			Timeout:      2 * time.Second,
			MaxInFlight:  1 + int(data[0]%8),
			SeenWindow:   int(data[1]%16) - 2,
			ArgvMaxBytes: int(data[1]%64) - 8,
		}
		a := NewAssembler(cfg)
		data = data[2:]
		types := [...]uint16{1300, 1309, 1302, 1307, 1327, 1320, 1306, 1400, 1101, 1200, 1201, 1305, 1319, 2000, 1999, 1324}
		nodes := [...]string{"", "n1", "n2"}
		var history [][]byte // lines added, for replays
		serial := uint64(100)
		ms := baseMs
		now := wall0
		emitted := uint64(0)
		add := func(line []byte) {
			// The assembler's own parse, as the plugin does: records' field arrays come
			// from recycled events, and a replay is a fresh parse of the same line.
			r, err := a.ParseLine(line)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			a.Add(r, now)
		}
		consume := func(items []Item) {
			for _, it := range items {
				switch it.Kind {
				case ItemEvent:
					e := it.Event
					if len(e.Records) == 0 {
						t.Fatal("empty event")
					}
					for _, r := range e.Records {
						if r.Key != e.Key {
							t.Fatalf("record %+v in event %+v", r.Key, e.Key)
						}
						// Fields in a reused array read as a fresh parse of the text.
						if w, err := ParseLine([]byte(r.Text)); err != nil || !reflect.DeepEqual(w.Fields, r.Fields) {
							t.Fatalf("record %q: fields %+v, want %+v (%v)", r.Text, r.Fields, w.Fields, err)
						}
					}
					emitted += uint64(len(e.Records))
					if e.Key.Serial%2 == 0 {
						// half of the events go back for reuse: later events must not
						// be disturbed by it (the checks above, accounting below)
						a.Recycle([]Item{it})
					}
				case ItemLost:
					if it.Lost.Count == 0 {
						t.Fatal("lost item with count 0")
					}
				case ItemUnparsed:
				default:
					t.Fatalf("item kind %d", it.Kind)
				}
			}
		}
		for len(data) >= 3 {
			op, x, y := data[0], data[1], data[2]
			data = data[3:]
			switch op % 8 {
			case 0, 1, 2, 3:
				serial += uint64(int64(int8(y)) / 16)
				ms += int64(y & 7)
				typ := types[x%uint8(len(types))]
				var kv []string
				switch typ {
				case 1309:
					kv = []string{"argc=3", "a0=ls", "a" + strconv.Itoa(int(y%5)) + "_len=4", "a1[0]=4142", "a1[" + strconv.Itoa(int(op>>4)) + "]=x"}
				case 1300:
					kv = []string{"arch=c000003e", "syscall=" + strconv.Itoa(int(y)), "exit=-" + strconv.Itoa(int(op)), "key=a\x01b", "auid=4294967295"}
				case 1306:
					kv = []string{"saddr=0100" + strconv.Itoa(int(y))}
				default:
					kv = []string{"v=" + strconv.Itoa(int(op>>3))}
				}
				line := synth(typ, nodes[(x>>4)%3], "", ms, serial, kv...).Text
				if n := nodes[(x>>4)%3]; n != "" {
					line = "node=" + n + " " + line
				}
				history = append(history, []byte(line))
				add([]byte(line))
			case 4:
				if len(history) > 0 {
					add(history[(int(x)<<8|int(y))%len(history)])
				}
			case 5:
				now = now.Add(time.Duration(x) * 8 * time.Millisecond)
				consume(a.Drain(now, nil))
			case 6:
				a.AddUnparsed(Unparsed{Text: string(data[:min(len(data), int(x%8))]), Reason: "fuzz"})
			case 7:
				switch x % 4 {
				case 0:
					serial = 1<<32 - 1 - uint64(y%4) // rollover ahead
				case 1:
					serial -= uint64(y) * 1024 // far back
				case 2:
					serial = 1<<40 + uint64(y) // not a kernel serial
				case 3:
					ms += int64(y) * 100
				}
			}
			checkAccounting(t, a)
			if a.InFlight() > cfg.MaxInFlight {
				t.Fatalf("InFlight %d > MaxInFlight %d", a.InFlight(), cfg.MaxInFlight)
			}
			if w := cfg.SeenWindow; w > 0 && (len(a.seen.recs) > w || len(a.seen.evs) > w || a.seen.used() > w || len(a.seen.idx) > max(seenMinSlots, 8*w)) {
				t.Fatalf("seen memory %d records, %d events, %d of %d slots used > window %d", len(a.seen.recs), len(a.seen.evs), a.seen.used(), len(a.seen.idx), w)
			}
		}
		consume(a.DrainAll(nil))
		s := a.Stats()
		checkAccounting(t, a)
		if s.Pending != 0 || s.InFlight != 0 || emitted != s.EventRecords {
			t.Fatalf("after DrainAll: %+v, records handed out %d", s, emitted)
		}
	})
}
