package parser

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func hexUp(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }

// argvOf assembles the EXECVE lines of one event (serial 10) and returns its summary.
func argvOf(t *testing.T, maxBytes int, bodies ...string) Summary {
	t.Helper()
	var recs []Record
	for _, b := range bodies {
		recs = append(recs, mustParse(t, auditLine("EXECVE", baseMs, 10, b)))
	}
	var s Summary
	s.Argv, s.Argc, s.ArgvMarker = buildArgv(recs, maxBytes, nil)
	return s
}

func TestArgv(t *testing.T) {
	// "é" is C3 A9: the split below cuts it between two pieces
	split := "x" + strings.Repeat("é", 3) + "y"
	sb := hexUp(split)
	tests := []struct {
		name   string
		bodies []string
		want   []string
		argc   int
	}{
		{"simple", []string{`argc=3 a0="ls" a1="-l" a2=2F746D702F6120622063`}, []string{"ls", "-l", "/tmp/a b c"}, 3},
		{"empty and invalid utf-8", []string{`argc=3 a0="echo" a1="" a2=FF41`}, []string{"echo", "", `\xffA`}, 3},
		{"continuation records", []string{`argc=5 a0="a" a1="b"`, `a2="c" a3="d"`, `a4="e"`}, []string{"a", "b", "c", "d", "e"}, 5},
		{"continuation records out of order", []string{`argc=4 a0="a" a1="b"`, `a3="d"`, `a2="c"`}, []string{"a", "b", "c", "d"}, 4},
		{
			"split argument, hex pieces, character cut between pieces",
			[]string{fmt.Sprintf(`argc=3 a0="sh" a1_len=%d a1[0]=%s`, len(sb), sb[:6]), fmt.Sprintf(`a1[1]=%s a2="z"`, sb[6:])},
			[]string{"sh", split, "z"}, 3,
		},
		{"split argument, quoted pieces", []string{`argc=2 a0="sh" a1_len=6 a1[0]="abc" a1[1]="def"`}, []string{"sh", "abcdef"}, 2},
		{"fewer arguments than argc", []string{`argc=5 a0="a" a1="b"`}, []string{"a", "b", "[... 3 arguments missing ...]"}, 5},
		{"middle record lost", []string{`argc=6 a0="a" a1="b"`, `a4="e" a5="f"`}, []string{"a", "b", "[... 2 arguments missing ...]", "e", "f"}, 6},
		{"first record lost", []string{`a3="d" a4="e"`}, []string{"[... 3 arguments missing ...]", "d", "e"}, 0},
		{"more arguments than argc are kept", []string{`argc=1 a0="a" a1="b"`}, []string{"a", "b"}, 1},
		{"split argument short of its length", []string{`argc=2 a0="sh" a1_len=10 a1[0]="abc"`}, []string{"sh", "abc[... 7 bytes missing ...]"}, 2},
		{"split hex argument short of its length", []string{`argc=2 a0="sh" a1_len=20 a1[0]=414243`}, []string{"sh", "ABC[... 7 bytes missing ...]"}, 2},
		{"split argument with a piece missing", []string{`argc=2 a0="sh" a1_len=6 a1[0]="abc" a1[2]="ghi"`}, []string{"sh", "abcghi[... pieces missing ...]"}, 2},
		{"repeated field keeps the first", []string{`argc=2 a0="a" a1="b"`, `a1="B"`}, []string{"a", "b"}, 2},
		{"bad argc", []string{`argc=x a0="a"`}, []string{"a"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := argvOf(t, -1, tc.bodies...)
			if !slices.Equal(s.Argv, tc.want) || s.Argc != tc.argc || s.ArgvMarker != nil {
				t.Fatalf("argv %q argc %d marker %v\nwant %q argc %d", s.Argv, s.Argc, s.ArgvMarker, tc.want, tc.argc)
			}
		})
	}
}

func TestArgvCap(t *testing.T) {
	// 10 arguments of 100 bytes: "arg0....", ...
	var args []string
	var b strings.Builder
	b.WriteString("argc=10")
	for i := 0; i < 10; i++ {
		a := fmt.Sprintf("arg%d", i) + strings.Repeat(".", 96)
		args = append(args, a)
		fmt.Fprintf(&b, ` a%d="%s"`, i, a)
	}
	tests := []struct {
		max        int
		head, tail int // kept arguments
	}{
		{1000, 10, 0}, // fits exactly
		{999, 4, 5},   // 999-75 = 924: half 462 → 4 head (400), tail up to 524 → 5
		{500, 2, 2},   // 425: 212 → 2 (200), 225 → 2
		{300, 1, 1},   // 225: 112 → 1, 125 → 1
		{100, 0, 0},   // 25: nothing fits
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			s := argvOf(t, tc.max, b.String())
			if tc.head == 10 {
				if !slices.Equal(s.Argv, args) || s.ArgvMarker != nil {
					t.Fatalf("cut when it fits: %q", s.Argv)
				}
				return
			}
			cut := 10 - tc.head - tc.tail
			want := append([]string{}, args[:tc.head]...)
			want = append(want, fmt.Sprintf("[... %d arguments, %d bytes left out ...]", cut, cut*100))
			want = append(want, args[10-tc.tail:]...)
			if !slices.Equal(s.Argv, want) {
				t.Fatalf("argv %q\nwant %q", s.Argv, want)
			}
			if s.ArgvMarker == nil || s.ArgvMarker.Args != cut || s.ArgvMarker.Bytes != cut*100 || s.Argc != 10 {
				t.Fatalf("marker %+v argc %d", s.ArgvMarker, s.Argc)
			}
			kept := 0
			for _, a := range s.Argv {
				kept += len(a)
			}
			if tc.max >= markerRoom && kept > tc.max {
				t.Fatalf("kept %d bytes (marker included) > cap %d", kept, tc.max)
			}
		})
	}
}

// A 128 KiB command line through the assembler with the default cap of 64 KiB.
func TestArgvDefaultCapThroughAssembler(t *testing.T) {
	a := NewAssembler(AssemblerConfig{})
	const n = 2000
	arg := strings.Repeat("A", 63) // 64 bytes per argument with the index digit prefix
	var lines []string
	lines = append(lines, auditLine("SYSCALL", baseMs, 10, syscallBody(1)))
	var b strings.Builder
	total := 0
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			if b.Len() > 0 {
				lines = append(lines, auditLine("EXECVE", baseMs, 10, b.String()))
				b.Reset()
			}
			if i == 0 {
				b.WriteString("argc=2000")
			}
		}
		v := fmt.Sprintf("%d%s", i%10, arg)
		total += len(v)
		fmt.Fprintf(&b, ` a%d="%s"`, i, v)
	}
	lines = append(lines, auditLine("EXECVE", baseMs, 10, strings.TrimSpace(b.String())))
	lines = append(lines, auditLine("PROCTITLE", baseMs, 10, "proctitle=6C73"), auditLine("EOE", baseMs, 10, ""))
	addLines(t, a, wall0, lines...)
	evs := events(a.Drain(wall0, nil))
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	s := evs[0].Summary
	m := s.ArgvMarker
	if m == nil || s.Argc != n {
		t.Fatalf("marker %v argc %d", m, s.Argc)
	}
	kept := len(s.Argv) - 1
	if kept+m.Args != n || kept*64+len(s.Argv[len(s.Argv)/2]) > DefaultArgvMaxBytes || kept*64 < DefaultArgvMaxBytes-markerRoom-64 || m.Bytes != total-kept*64 {
		t.Fatalf("kept %d args, marker %+v, total %d", kept, m, total)
	}
	if s.Argv[0] != "0"+arg || s.Argv[len(s.Argv)-1] != "9"+arg {
		t.Fatalf("ends not kept: %q ... %q", s.Argv[0], s.Argv[len(s.Argv)-1])
	}
}

func TestParseArgKey(t *testing.T) {
	tests := []struct {
		k              string
		n, kind, piece int
	}{
		{"a0", 0, argWhole, 0}, {"a12", 12, argWhole, 0}, {"a3_len", 3, argLen, 0}, {"a3[17]", 3, argPiece, 17},
		{"argc", 0, argOther, 0}, {"a", 0, argOther, 0}, {"a1[", 0, argOther, 0}, {"a1[x]", 0, argOther, 0},
		{"a1[-1]", 0, argOther, 0}, {"a99999999999", 0, argOther, 0}, {"a1_lenx", 0, argOther, 0}, {"b1", 0, argOther, 0},
	}
	for _, tc := range tests {
		n, kind, piece := parseArgKey(tc.k)
		if n != tc.n || kind != tc.kind || piece != tc.piece {
			t.Errorf("parseArgKey(%q) = %d %d %d, want %d %d %d", tc.k, n, kind, piece, tc.n, tc.kind, tc.piece)
		}
	}
}
