package flbconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassicParse(t *testing.T) {
	text := "# comment\n" +
		"@SET region=eu\n" +
		"[SERVICE]\n" +
		"    Flush     5\r\n" +
		"    # indented comment\n" +
		"    \n" +
		"\n" +
		"[OUTPUT]\n" +
		"    Name   x\n" +
		"    Value  a b  c \t\n" +
		"    Label  ${region}\n" +
		"[MULTILINE_PARSER]\n" +
		"    name m\n" +
		// fluent-bit looks for the key/value space before it looks for a group, so a group line
		// needs a blank after "]".
		"    [rule] \n" +
		"        state start\n" +
		"    type regex\n"
	cfg, err := Parse("/x/main.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sections) != 3 {
		t.Fatalf("sections %d", len(cfg.Sections))
	}
	svc := cfg.SectionsNamed("service")
	if len(svc) != 1 {
		t.Fatal("SERVICE not found case-insensitively")
	}
	if v, _ := svc[0].Get("FLUSH"); v != "5" {
		t.Errorf("Flush = %q (CR must be stripped, key lower-cased)", v)
	}
	out := cfg.SectionsNamed("OUTPUT")[0]
	if v, _ := out.Get("value"); v != "a b  c" {
		t.Errorf("value = %q, want inner blanks kept and ends trimmed", v)
	}
	if got := cfg.VarRefs(); len(got) != 1 || got[0] != "region" {
		t.Errorf("var refs %v", got)
	}
	if cfg.Vars()["region"] != "eu" {
		t.Errorf("@SET vars %v", cfg.Vars())
	}
	ml := cfg.SectionsNamed("MULTILINE_PARSER")[0]
	if g := ml.Groups["rule"]; len(g) != 1 || g[0].Key != "state" {
		t.Errorf("group content %v", ml.Groups)
	}
	if v, ok := ml.Get("type"); !ok || v != "regex" {
		t.Errorf("key after a group belongs to the section again: %q %v", v, ok)
	}
	if out.Props[0].Line != 9 {
		t.Errorf("line numbers: Name at %d, want 9", out.Props[0].Line)
	}
}

func TestClassicParseRejects(t *testing.T) {
	cases := map[string]string{
		"unindented key":       "[INPUT]\nName dummy\n",
		"tab separator":        "[INPUT]\n    Name\tdummy\n",
		"key without value":    "[INPUT]\n    Name\n",
		"empty value":          "[INPUT]\n    Name \n",
		"mixed tab and space":  "[INPUT]\n    Name dummy\n\tTag x\n",
		"indent too low":       "[INPUT]\n    Name dummy\n  Tag x\n",
		"extra indentation":    "[INPUT]\n    Name dummy\n      Tag x\n",
		"bad header":           "[INPUT\n    Name dummy\n",
		"key before a section": "    Name dummy\n",
		"group without ]":      "[INPUT]\n    Name dummy\n    [rule x\n",
		"group without blank":  "[INPUT]\n    Name dummy\n    [rule]\n",
		"NUL":                  "[INPUT]\n    Name du\x00mmy\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("/x/bad.conf", []byte(text))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("accepted (err=%v)", err)
			}
			if pe.File != "/x/bad.conf" {
				t.Errorf("error names %q", pe.File)
			}
		})
	}
}

// What fluent-bit lets pass with at most a warning is a warning here too, not an error: the
// plugin's key check reads real configurations with this reader, and the deployment tests fail
// on any warning in conf/.
func TestClassicParseWarns(t *testing.T) {
	for name, text := range map[string]string{
		"empty header":      "[]\n    Name dummy\n",
		"unknown directive": "@FOO bar\n[INPUT]\n    Name dummy\n",
		"bad @SET":          "@SET novalue\n[INPUT]\n    Name dummy\n",
		"keyless section":   "[INPUT]\n[OUTPUT]\n    Name dummy\n",
	} {
		cfg, err := Parse("/x/w.conf", []byte(text))
		if err != nil || len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], "/x/w.conf:") {
			t.Errorf("%s: err %v, warnings %q; want one warning naming the file", name, err, cfg.Warnings)
		}
	}
}

func TestClassicIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("main.conf", "@INCLUDE a.conf\n@include sub/*.conf\n[OUTPUT]\n    Name x\n")
	write("a.conf", "[SERVICE]\n\tFlush 1\n")
	write("sub/in1.conf", "[INPUT]\n  Name one\n")
	write("sub/in2.conf", "[INPUT]\n  Name two\n")
	cfg, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Files) != 4 {
		t.Errorf("files read %v", cfg.Files)
	}
	var names []string
	for _, s := range cfg.Sections {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "SERVICE,INPUT,INPUT,OUTPUT" {
		t.Errorf("section order %v (included sections come where the @INCLUDE is)", names)
	}

	write("twice.conf", "@INCLUDE a.conf\n@INCLUDE a.conf\n")
	if _, err := ParseFile(filepath.Join(dir, "twice.conf")); err == nil {
		t.Error("a file included twice was accepted")
	}
	write("loop.conf", "@INCLUDE loop.conf\n")
	if _, err := ParseFile(filepath.Join(dir, "loop.conf")); err == nil {
		t.Error("a self-include was accepted")
	}
	write("missing.conf", "@INCLUDE nope.conf\n")
	if _, err := ParseFile(filepath.Join(dir, "missing.conf")); err == nil {
		t.Error("a missing include was accepted")
	}
	// A wildcard skips names starting with a dot (glob(3) without GLOB_PERIOD), and a directory
	// it matches reads as an empty file, as fopen+fgets make of it in fluent-bit.
	write("dots/a.conf", "[INPUT]\n  Name a\n")
	write("dots/.old.conf", "[INPUT]\n  Name old\n")
	write("dots/..data/x.conf", "[INPUT]\n  Name data\n")
	must(t, os.Mkdir(filepath.Join(dir, "dots", "d.conf"), 0o755))
	write("dots.conf", "@INCLUDE dots/*\n")
	cfg, err = ParseFile(filepath.Join(dir, "dots.conf"))
	if err != nil || len(cfg.Sections) != 1 || cfg.Sections[0].Props[0].Value != "a" || len(cfg.Files) != 3 {
		t.Errorf("dots/*: err %v, files %v", err, cfg.Files)
	}
	write("dotpat.conf", "@INCLUDE dots/.*.conf\n")
	if cfg, err := ParseFile(filepath.Join(dir, "dotpat.conf")); err != nil || len(cfg.Sections) != 1 || cfg.Sections[0].Props[0].Value != "old" {
		t.Errorf("a pattern starting with a dot matches dot names: %v", err)
	}

	write("noglob.conf", "@INCLUDE none/*.conf\n")
	if _, err := ParseFile(filepath.Join(dir, "noglob.conf")); err == nil {
		t.Error("an include glob matching nothing was accepted")
	}
}

// FuzzClassicParse: any input either parses into sections whose keys are lower-case and trimmed,
// or fails with a ParseError; it never panics.
func FuzzClassicParse(f *testing.F) {
	for _, s := range []string{
		"[SERVICE]\n    Flush 5\n",
		"[INPUT]\n\tName tail\n\tPath /x\n",
		"@SET a=b\n[OUTPUT]\n  Name x\n  Match *\n",
		"[MULTILINE_PARSER]\n    name m\n    [rule] \n        state start\n",
		"[A]\n  \n  # c\n  k v\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := Parse("/f/fuzz.conf", []byte(text))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, s := range cfg.Sections {
			for _, p := range s.Props {
				if p.Key != asciiLower(p.Key) || p.Key != cTrim(p.Key) || p.Key == "" {
					t.Fatalf("key %q not normalised", p.Key)
				}
				if p.Value != cTrim(p.Value) {
					t.Fatalf("value %q not trimmed", p.Value)
				}
			}
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
