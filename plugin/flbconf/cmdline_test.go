package flbconf

import (
	"fmt"
	"strings"
	"testing"
)

// render writes an Invocation compactly: "c=FILE; output name=x match=* k=v; input ...".
func render(inv Invocation) string {
	parts := []string{"c=" + inv.ConfigFile}
	if inv.Daemon {
		parts[0] += " d"
	}
	for _, s := range inv.Sections {
		p := s.Name
		for _, kv := range s.Props {
			p += fmt.Sprintf(" %s=%s@%d", kv.Key, kv.Value, kv.Line)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func TestParseCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args string // split on blanks
		want string
	}{
		{"-c /etc/fb.conf", "c=/etc/fb.conf"},
		{"-c/etc/fb.conf", "c=/etc/fb.conf"},
		{"--config=/etc/fb.conf", "c=/etc/fb.conf"},
		{"--config /etc/fb.conf", "c=/etc/fb.conf"},
		{"--conf /etc/fb.conf", "c=/etc/fb.conf"}, // an unambiguous prefix, as getopt_long takes it
		{"-vqc /etc/fb.conf", "c=/etc/fb.conf"},   // clustered flags before the option with an argument
		{"-c a.conf -c b.conf", "c=b.conf"},       // the last one wins, as in fluent-bit's loop
		{"-R parsers.conf -e x.so -c a.conf", "c=a.conf"},
		{"-- -c a.conf", "c="}, // after "--" nothing is an option
		{"extra -c a.conf", "c=a.conf"},
		{"--http_ -c a.conf", "c=a.conf"},    // ambiguous prefix: getopt refuses it, the rest still reads
		{"--nosuch x -c a.conf", "c=a.conf"}, // unknown long option: skipped alone
		{"-p Orphan=1 -o auditd_cloud_logging -p Project_ID=p -p Exlude=x",
			"c=; output name=auditd_cloud_logging@2 project_id=p@4 exlude=x@6"},
		{"-i cpu -p interval_sec=1 -t cpu.0 -o stdout -m cpu.* -pformat=json_lines",
			"c=; input name=cpu@0 interval_sec=1@2 tag=cpu.0@4; output name=stdout@6 match=cpu.*@8 format=json_lines@10"},
		{"--output=x --prop=a=b=c --prop noequals", "c=; output name=x@0 a=b=c@1"},
		{"-F grep -p regex=log x -o x", "c=; filter name=grep@0 regex=log x@2; output name=x@4"},
		{"-o", "c=; output name=@0"}, // no argument left: getopt fails, fluent-bit exits
		// flb_cf_section_property_add lower-cases and trims keys and values
		{"-o| x |-p| Exclude = exe=/bin/true ", "c=; output name=x@0 exclude=exe=/bin/true@2"},
		{"-dc|a.conf", "c=a.conf d"},
		{"--daemon|-c|a.conf", "c=a.conf d"},
		{"--da|-c|a.conf", "c=a.conf d"},
	} {
		args := strings.Fields(tc.args)
		if strings.Contains(tc.args, "|") {
			args = strings.Split(tc.args, "|")
		}
		if tc.args == "-F grep -p regex=log x -o x" {
			args = []string{"-F", "grep", "-p", "regex=log x", "-o", "x"}
		}
		if got := render(ParseCommandLine(args)); got != tc.want {
			t.Errorf("ParseCommandLine(%q)\n got %s\nwant %s", args, got, tc.want)
		}
	}
}

func TestInvocationYAML(t *testing.T) {
	for path, want := range map[string]bool{"/e/fb.yaml": true, "fb.YML": true, "fb.conf": false, "": false, "yaml": false} {
		if got := (Invocation{ConfigFile: path}).YAML(); got != want {
			t.Errorf("YAML(%q) = %v", path, got)
		}
	}
}

// FuzzParseCommandLine: any argument list reads without a panic, and every property it finds
// comes from the option at its argument index (its value is in that argument or the next).
func FuzzParseCommandLine(f *testing.F) {
	for _, s := range []string{"-c\x00a.conf", "-o\x00x\x00-p\x00k=v", "--conf=a\x00-vqo\x00y", "-\x00--\x00-p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		inv := ParseCommandLine(args)
		for _, s := range inv.Sections {
			if len(s.Props) == 0 || s.Props[0].Key != "name" {
				t.Fatalf("section %+v does not start with its name", s)
			}
			for _, p := range s.Props {
				if p.Line < s.Line || p.Line >= len(args) || !strings.HasPrefix(args[p.Line], "-") {
					t.Fatalf("property %+v not at an option (section at %d, args %q)", p, s.Line, args)
				}
				if !strings.Contains(args[p.Line], p.Value) && (p.Line+1 >= len(args) || !strings.Contains(args[p.Line+1], p.Value)) {
					t.Fatalf("property %+v: value in neither argument %d nor the next (%q)", p, p.Line, args)
				}
			}
		}
	})
}
