package flbconf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Property is one "Key Value" line. Key is lower-cased and trimmed as fluent-bit stores it; Value
// is trimmed but otherwise verbatim (${VAR} references are not expanded).
type Property struct {
	Key   string
	Value string
	File  string
	Line  int
}

// Section is a [NAME] block. Groups ("[name]" lines indented inside a section, used by
// multiline parsers) are kept apart from the section's own properties.
type Section struct {
	Name   string // as written between the brackets
	File   string
	Line   int
	Props  []Property
	Groups map[string][]Property
}

// Get returns the value of the last property named key (case-insensitive) and whether it is set.
// fluent-bit keeps every occurrence; for single-valued keys the plugin reads one of them, so a
// repeated single-valued key is reported by Duplicates instead.
func (s *Section) Get(key string) (string, bool) {
	key = asciiLower(key)
	for i := len(s.Props) - 1; i >= 0; i-- {
		if s.Props[i].Key == key {
			return s.Props[i].Value, true
		}
	}
	return "", false
}

// First returns the value of the first property named key (case-insensitive): where fluent-bit
// takes one value of a repeated key when it sets a plugin up (the plugin name), it takes the first.
func (s *Section) First(key string) (string, bool) {
	key = asciiLower(key)
	for _, p := range s.Props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// All returns every value of key, in file order (for keys that may repeat, such as Systemd_Filter).
func (s *Section) All(key string) []string {
	key = asciiLower(key)
	var out []string
	for _, p := range s.Props {
		if p.Key == key {
			out = append(out, p.Value)
		}
	}
	return out
}

// Duplicates lists keys that appear more than once in the section, except the allowed ones.
func (s *Section) Duplicates(allowed ...string) []string {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[asciiLower(a)] = true
	}
	seen := map[string]int{}
	for _, p := range s.Props {
		seen[p.Key]++
	}
	var out []string
	for k, n := range seen {
		if n > 1 && !ok[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Meta is an "@DIRECTIVE value" line other than @INCLUDE (in practice @SET key=value).
type Meta struct {
	Directive string // upper-cased, with the @
	Value     string
	File      string
	Line      int
}

// Config is a parsed configuration: its sections in file order (included files inline), its
// metas, and every file read.
type Config struct {
	Sections []*Section
	Metas    []Meta
	Files    []string
	Warnings []string
}

// SectionsNamed returns the sections whose name matches (case-insensitive).
func (c *Config) SectionsNamed(name string) []*Section {
	var out []*Section
	for _, s := range c.Sections {
		if strings.EqualFold(s.Name, name) {
			out = append(out, s)
		}
	}
	return out
}

// Vars returns the variables defined with @SET.
func (c *Config) Vars() map[string]string {
	out := map[string]string{}
	for _, m := range c.Metas {
		if m.Directive == "@SET" {
			k, v, _ := strings.Cut(m.Value, "=")
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// VarRefs returns the names used as ${NAME} in any property value.
func (c *Config) VarRefs() []string {
	set := map[string]bool{}
	for _, s := range c.Sections {
		for _, p := range s.Props {
			for _, m := range varRef.FindAllStringSubmatch(p.Value, -1) {
				set[m[1]] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// glob is filepath.Glob as glob(3) without GLOB_PERIOD, which fluent-bit uses: a wildcard does
// not match a leading dot ("conf.d/*" leaves out conf.d/.old.conf and a ConfigMap's ..data).
func glob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	pat := strings.Split(filepath.Clean(pattern), string(filepath.Separator))
	out := matches[:0]
next:
	for _, m := range matches {
		for i, el := range strings.Split(filepath.Clean(m), string(filepath.Separator)) {
			if i < len(pat) && strings.HasPrefix(el, ".") && !strings.HasPrefix(pat[i], ".") && strings.ContainsAny(pat[i], `*?[\`) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// ParseError names the file and line fluent-bit would reject, and why.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// maxIncludes mirrors FLB_CF_FILE_NUM_LIMIT.
const maxIncludes = 1000

// ParseFile reads a classic configuration file and the files it @INCLUDEs. A relative include
// path is resolved against the directory of the top-level file, as fluent-bit does when the path
// does not exist relative to its working directory (the only case that does not depend on where
// fluent-bit was started).
func ParseFile(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	p := &confParser{cfg: &Config{}, root: filepath.Dir(abs), seen: map[string]bool{}}
	return p.run(abs)
}

// ParseStarted reads the configuration of a running fluent-bit, resolving paths as it did. path
// and relative include paths name files in its working directory first: cwd, or "" for this
// process's own, which a plugin shares with fluent-bit (the paths are then used as given, and
// the kernel resolves them as it did for fluent-bit). An include not found there is looked for
// beside the top-level file with its links resolved (realpath(): in a Kubernetes ConfigMap
// mount, the current ..data generation).
func ParseStarted(path, cwd string) (*Config, error) {
	at := func(rel string) string {
		if cwd == "" || filepath.IsAbs(rel) {
			return rel
		}
		return filepath.Join(cwd, rel)
	}
	real, err := filepath.EvalSymlinks(at(path))
	if err != nil {
		return nil, &ParseError{File: path, Msg: err.Error()}
	}
	root, err := filepath.Abs(filepath.Dir(real))
	if err != nil {
		return nil, err
	}
	p := &confParser{cfg: &Config{}, root: root, at: at, seen: map[string]bool{}}
	return p.run(at(path))
}

func (p *confParser) run(path string) (*Config, error) {
	if err := p.file(path); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// Parse parses one buffer as if it were the file name (includes resolve against its directory).
func Parse(name string, data []byte) (*Config, error) {
	p := &confParser{cfg: &Config{}, root: filepath.Dir(name), seen: map[string]bool{name: true}}
	p.cfg.Files = append(p.cfg.Files, name)
	if err := p.parse(name, data); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

type confParser struct {
	cfg  *Config
	root string
	// at, when set, places a relative include in the working directory, where it is looked for
	// before root (ParseStarted).
	at   func(string) string
	seen map[string]bool
}

func (p *confParser) file(path string) error {
	if p.seen[path] {
		return &ParseError{File: path, Msg: "file already included (fluent-bit refuses to read a file twice)"}
	}
	if len(p.seen) >= maxIncludes {
		return &ParseError{File: path, Msg: fmt.Sprintf("more than %d configuration files", maxIncludes)}
	}
	// Only regular files are read: fluent-bit reads a directory as an empty file (fgets fails),
	// and a FIFO or a device would block here, in Init, where fluent-bit read it once already.
	st, err := os.Stat(path)
	if err != nil {
		return &ParseError{File: path, Msg: err.Error()}
	}
	var data []byte
	switch {
	case st.Mode().IsRegular():
		if data, err = os.ReadFile(path); err != nil {
			return &ParseError{File: path, Msg: err.Error()}
		}
	case st.IsDir():
	default:
		return &ParseError{File: path, Msg: "not a regular file (" + st.Mode().Type().String() + "): not read again"}
	}
	p.seen[path] = true
	p.cfg.Files = append(p.cfg.Files, path)
	return p.parse(path, data)
}

func (p *confParser) warn(file string, line int, format string, args ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s:%d: ", file, line)+fmt.Sprintf(format, args...))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// cTrim trims what C's isspace() matches, as flb_sds_trim does (not Unicode spaces).
func cTrim(s string) string { return strings.Trim(s, " \t\n\v\f\r") }

// asciiLower lower-cases like C's tolower() in the C locale: ASCII letters only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// parse follows read_config() line by line. State that fluent-bit keeps per file (the indent
// string, the current section and group) is local to this call, exactly like there.
func (p *confParser) parse(file string, data []byte) error {
	var (
		indent     string
		haveIndent bool
		section    *Section
		group      string
		nKeys      int
	)
	errAt := func(line int, format string, args ...any) error {
		return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return errAt(0, "NUL byte in configuration")
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, buf := range lines {
		line := i + 1
		buf = strings.TrimSuffix(buf, "\r")
		if buf == "" || buf[0] == '#' {
			continue
		}
		if len(buf) > 9 && strings.EqualFold(buf[:9], "@INCLUDE ") {
			target := buf[9:]
			if strings.Contains(target, "*") {
				pattern := target
				if !filepath.IsAbs(pattern) {
					pattern = filepath.Join(p.root, pattern)
				}
				matches, err := glob(pattern)
				if err != nil || len(matches) == 0 {
					return errAt(line, "@INCLUDE %q matches no file", target)
				}
				for _, m := range matches {
					if err := p.file(m); err != nil {
						return err
					}
				}
				continue
			}
			if !filepath.IsAbs(target) {
				if p.at != nil && exists(p.at(target)) {
					target = p.at(target)
				} else {
					target = filepath.Join(p.root, target)
				}
			}
			if err := p.file(target); err != nil {
				return err
			}
			continue
		}
		if buf[0] == '@' && len(buf) > 3 {
			// fluent-bit ignores what it cannot run (flb_meta_run's result is not checked).
			directive, value, _ := strings.Cut(buf, " ")
			directive = strings.ToUpper(directive)
			if directive != "@SET" {
				p.warn(file, line, "unknown directive %s is ignored (classic format knows @INCLUDE and @SET)", directive)
				continue
			}
			if k, _, ok := strings.Cut(value, "="); !ok || strings.TrimSpace(k) == "" {
				p.warn(file, line, "@SET needs KEY=VALUE, got %q: ignored", value)
				continue
			}
			p.cfg.Metas = append(p.cfg.Metas, Meta{Directive: directive, Value: value, File: file, Line: line})
			continue
		}
		if buf[0] == '[' {
			end := strings.IndexByte(buf, ']')
			if end <= 0 {
				return errAt(line, "bad header definition %q: missing ']'", buf)
			}
			if section != nil && nKeys == 0 {
				p.warn(file, line, "previous section did not have keys")
			}
			name := buf[1:end]
			if strings.TrimSpace(name) == "" {
				p.warn(file, line, "empty section name: fluent-bit applies the section to nothing")
			}
			section = &Section{Name: name, File: file, Line: line, Groups: map[string][]Property{}}
			p.cfg.Sections = append(p.cfg.Sections, section)
			group = ""
			nKeys = 0
			continue
		}
		if !haveIndent {
			// fluent-bit takes at least one character as the indent, blank or not: an unindented
			// key line would lose its first letter, so it is rejected here.
			n := 1
			for n < len(buf) && isBlank(buf[n]) {
				n++
			}
			if !isBlank(buf[0]) {
				return errAt(line, "key line %q is not indented: properties must be indented under their [SECTION]", buf)
			}
			indent = buf[:n]
			haveIndent = true
			if n == len(buf) {
				continue
			}
		}
		if !strings.HasPrefix(buf, indent) {
			j := 0
			for j < len(indent) && j < len(buf) && buf[j] == indent[j] {
				j++
			}
			if j < len(buf) && isBlank(buf[j]) {
				return errAt(line, "inconsistent use of tab and space in indentation")
			}
			return errAt(line, "indentation level is too low (this file indents with %q)", indent)
		}
		level := len(indent)
		inGroup := false
		if rest := buf[level:]; rest != "" && isBlank(rest[0]) {
			extra := 0
			for extra < len(rest) && isBlank(rest[extra]) {
				extra++
			}
			if extra != level {
				return errAt(line, "extra indentation level found")
			}
			inGroup = true
			level += extra
		} else if group != "" {
			group = ""
		}
		if level == len(buf) || buf[level] == '#' {
			continue
		}
		body := buf[level:]
		sp := strings.IndexByte(body, ' ')
		if sp < 0 {
			return errAt(line, "undefined value for %q: key and value must be separated by a space (a tab does not count)", body)
		}
		key := body[:sp]
		if key[0] == '[' {
			end := strings.IndexByte(body, ']')
			if end < 0 {
				return errAt(line, "expected a valid group name: [..]")
			}
			if section == nil {
				return errAt(line, "group %q has no parent section", body)
			}
			if group != "" && nKeys == 0 {
				return errAt(line, "previous group did not have keys")
			}
			group = body[1:end]
			section.Groups[group] = nil
			nKeys = 0
			continue
		}
		val := body[sp+1:]
		if val == "" {
			return errAt(line, "key %q has an empty value", key)
		}
		if section == nil {
			return errAt(line, "key %q outside of any [SECTION]", key)
		}
		if cTrim(key) == "" {
			return errAt(line, "empty key")
		}
		prop := Property{
			Key:   asciiLower(cTrim(key)),
			Value: cTrim(val),
			File:  file,
			Line:  line,
		}
		if inGroup && group != "" {
			section.Groups[group] = append(section.Groups[group], prop)
		} else {
			section.Props = append(section.Props, prop)
		}
		nKeys++
	}
	return nil
}
