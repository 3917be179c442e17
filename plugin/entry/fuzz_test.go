package entry

import (
	"strings"
	"testing"

	"github.com/gke-audit/auditd-cloud-logging/parser"
	"google.golang.org/protobuf/proto"
)

// FuzzBuild builds events from arbitrary record types, keys, values (invalid UTF-8 included,
// even where the parser's contract promises valid text), summary fields and caps: Build
// must never panic, the entry must marshal, fit under the cap, and carry a payload that
// decodes (every string valid UTF-8) to the same size.
func FuzzBuild(f *testing.F) {
	f.Add(uint16(1300), "arch=c000003e syscall=59 success=no exit=-13 comm=x", "curl\x00https://x", "/root", "exec", uint8(3), uint16(0), uint8(0))
	f.Add(uint16(1400), "apparmor=DENIED operation=open name=/etc/x", "a\xffb", "\xc3", "k\x01k2", uint8(1), uint16(16), uint8(7))
	f.Add(uint16(1112), "op=login acct=alice res=failed", "", "", "", uint8(1), uint16(20), uint8(255))
	f.Add(uint16(1999), strings.Repeat("k=v ", 2000), strings.Repeat("arg\x00", 5000), strings.Repeat("é", 3000), "", uint8(40), uint16(17), uint8(1))
	f.Fuzz(func(t *testing.T, typ uint16, body, argv, text, keys string, nrec uint8, capKB uint16, flags uint8) {
		ev := &parser.Event{
			Key:        parser.EventKey{Node: text, BootID: keys, UnixMilli: int64(capKB) * 1000, Serial: uint64(nrec)},
			Incomplete: flags&1 != 0,
			Reason:     parser.CompletionReason(flags % 9),
		}
		for i := 0; i < int(nrec%64)+1; i++ {
			r := parser.Record{Key: ev.Key, Type: typ + uint16(i%3), Text: text + body}
			for _, kv := range strings.Fields(body) {
				k, v, _ := strings.Cut(kv, "=")
				r.Fields = append(r.Fields, parser.Field{Key: k, Value: v, Quoted: flags&2 != 0, Absent: v == "?"})
			}
			ev.Records = append(ev.Records, r)
		}
		sm := &ev.Summary
		if argv != "" {
			sm.Argv = strings.Split(argv, "\x00")
			sm.Argc = len(sm.Argv)
		}
		sm.Exe, sm.Cwd, sm.Title, sm.Comm = text, text, argv, body
		sm.PID, sm.Exit, sm.Ses = body, text, keys
		sm.Keys = strings.Split(keys, "\x01")
		sm.AUID = parser.ID{Num: uint32(capKB), Name: text, Set: flags&4 != 0, Unset: flags&8 != 0}
		sm.UID = parser.ID{Num: 0, Name: keys, Set: true}
		if flags&16 != 0 {
			sm.Syscall, sm.Success, sm.ExitName = body, "no", keys
		} else {
			sm.Success = "yes"
		}
		if flags&32 != 0 {
			sm.Peer = &parser.SockAddr{Family: keys, Addr: text, Port: int(capKB), Raw: body}
		}
		for _, p := range strings.Split(text, "/") {
			sm.Paths = append(sm.Paths, parser.PathItem{Name: p, Nametype: keys})
		}
		sm.Acct, sm.Hostname, sm.Terminal, sm.Op, sm.TTY = text, body, keys, argv, text
		if flags&64 != 0 {
			ev.Repeats = &parser.Repeats{Count: int(nrec)}
		}
		limit := int(capKB) << 10
		b := NewBuilder(Options{NodeName: keys, IncludeRaw: flags&128 != 0, MaxEntryBytes: limit})
		for _, it := range []parser.Item{
			{Kind: parser.ItemEvent, Event: ev},
			{Kind: parser.ItemUnparsed, Unparsed: &parser.Unparsed{Text: body + text, Reason: keys, Node: text}},
			{Kind: parser.ItemLost, Lost: &parser.Lost{Node: text, BootID: body, From: uint64(capKB), To: uint64(capKB) + uint64(nrec), Count: uint64(nrec) + 1}},
		} {
			e := b.Build(it)
			data, err := proto.Marshal(e)
			if err != nil {
				t.Fatalf("kind %d: marshal: %v", it.Kind, err)
			}
			if len(data) > b.MaxEntryBytes() {
				t.Fatalf("kind %d: %d bytes over the cap %d", it.Kind, len(data), b.MaxEntryBytes())
			}
			checkPayload(t, e) // decodes (UTF-8 checked) and re-encodes to the same size
		}
	})
}
