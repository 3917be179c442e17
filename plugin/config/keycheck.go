package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/agext/levenshtein"

	"github.com/gke-audit/auditd-cloud-logging/plugin/flbconf"
)

// FluentBitOutputKeys are the keys fluent-bit reads itself from every output section
// (flb_output_set_property in fluent-bit 4.1, plus the YAML format's processors and newer
// releases' event_type); a Go plugin never sees them. Entries ending in "." are prefixes.
var FluentBitOutputKeys = []string{
	"name", "match", "match_regex", "alias", "log_level", "log_suppress_interval", "host", "port",
	"ipv6", "retry_limit", "workers", "storage.total_limit_size", "tls", "tls.", "net.",
	"_debug.http.", "processors", "event_type",
}

// KeyIssue is a key in one of the plugin's sections that neither the plugin nor fluent-bit
// reads: fluent-bit passes it on without a word and the setting it was meant for keeps its
// default.
type KeyIssue struct {
	Key     string // lower-cased, as fluent-bit stores it
	Where   string // "file:line", or "command line argument N"
	Suggest string // the key it most likely misspells; "" when none is close
	// Misspelt: Suggest is one of the plugin's own keys. The setting the operator meant would
	// be lost without a word, so Init fails. (A misspelt fluent-bit key, say "Rety_Limit", is a
	// warning with its suggestion: the list of fluent-bit's keys may lag a newer release.)
	Misspelt bool
}

func (k KeyIssue) String() string {
	s := fmt.Sprintf("%s: key %q is read neither by this plugin nor by fluent-bit", k.Where, k.Key)
	if k.Suggest != "" {
		s += fmt.Sprintf("; did you mean %q?", k.Suggest)
	}
	return s
}

// CheckKeys returns the keys of one of the plugin's sections that nobody reads.
func CheckKeys(s *flbconf.Section) []KeyIssue {
	var out []KeyIssue
	for _, p := range s.Props {
		if IsPluginKey(p.Key) || IsFluentBitOutputKey(p.Key) {
			continue
		}
		where := fmt.Sprintf("%s:%d", p.File, p.Line)
		if p.File == flbconf.CommandLine {
			where = fmt.Sprintf("command line argument %d", p.Line+1)
		}
		suggest, plugin := closestKey(p.Key)
		out = append(out, KeyIssue{Key: p.Key, Where: where, Suggest: suggest, Misspelt: plugin})
	}
	return out
}

// IsPluginKey reports whether k is one of Keys, in any case.
func IsPluginKey(k string) bool {
	for _, pk := range Keys {
		if strings.EqualFold(pk, k) {
			return true
		}
	}
	return false
}

// IsFluentBitOutputKey reports whether fluent-bit reads k itself (FluentBitOutputKeys).
func IsFluentBitOutputKey(k string) bool {
	k = strings.ToLower(k)
	for _, fk := range FluentBitOutputKeys {
		if k == fk || strings.HasSuffix(fk, ".") && strings.HasPrefix(k, fk) {
			return true
		}
	}
	return false
}

// closestKey returns the key that key most likely misspells, and whether it is the plugin's:
// the same letters once case and separators are ignored ("ProjectID"), or within one edit (two
// for keys of six letters or more, counted without separators: "Exlude", "Colapse_Windw").
// fluent-bit's own per-output keys are candidates too, so "Rety_Limit" is not taken for
// "Rate_Limit". Keys under three letters are only matched exactly.
func closestKey(key string) (suggest string, plugin bool) {
	k := squash(key)
	limit := 0
	switch {
	case len(k) >= 6:
		limit = 2
	case len(k) >= 3:
		limit = 1
	}
	bestDist := limit + 1
	try := func(cand string, isPlugin bool) {
		if d := levenshtein.Distance(k, squash(cand), nil); d < bestDist {
			suggest, plugin, bestDist = cand, isPlugin, d
		}
	}
	for _, pk := range Keys {
		try(pk, true)
	}
	for _, fk := range FluentBitOutputKeys {
		if !strings.HasSuffix(fk, ".") {
			try(fk, false)
		}
	}
	return suggest, plugin
}

// squash lower-cases s and drops the separators people vary: "Project-Id" and "project_id"
// both become "projectid".
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// StartupKeys is what CheckStartupKeys found.
type StartupKeys struct {
	Issues   []KeyIssue
	Files    []string // the configuration files read
	Sections int      // the plugin's output sections checked, in the files and on the command line
	Skipped  string   // why the configuration file was not checked; "" when it was, or there is none
}

// CheckStartupKeys reads the configuration fluent-bit was started with (args: its command line
// without the program name; cwd: its working directory, "" for this process's; getenv: its
// environment, for ${VAR} in a section's Name) and checks every output section that loads this
// plugin, in the file and on the command line. A file that cannot be checked (YAML, unreadable,
// not what the classic reader accepts) is Skipped, and the command line is still checked.
func CheckStartupKeys(args []string, cwd string, getenv func(string) string) StartupKeys {
	var r StartupKeys
	inv := flbconf.ParseCommandLine(args)
	sections := inv.Sections
	vars := map[string]string{}
	switch {
	case inv.ConfigFile == "":
	case inv.YAML():
		r.Skipped = inv.ConfigFile + " is a YAML configuration; only the classic format is checked"
	case inv.Daemon && !filepath.IsAbs(inv.ConfigFile):
		r.Skipped = "fluent-bit runs as a daemon (-d), which leaves its working directory: the relative path " + inv.ConfigFile + " no longer names its file"
	default:
		cfg, err := flbconf.ParseStarted(inv.ConfigFile, cwd)
		if err != nil {
			r.Skipped = err.Error()
			break
		}
		sections = append(cfg.Sections, sections...)
		r.Files = cfg.Files
		vars = cfg.Vars()
	}
	for _, s := range sections {
		if isOutputSection(s.Name) && loadsPlugin(s, vars, getenv) {
			r.Issues = append(r.Issues, CheckKeys(s)...)
			r.Sections++
		}
	}
	return r
}

// isOutputSection: fluent-bit takes any leading part of "outputs" as an output section
// ([OUTPUT], [OUTPUTS], [OUT]; get_section_type), in any case.
func isOutputSection(name string) bool {
	return name != "" && strings.HasPrefix("outputs", strings.ToLower(name))
}

var varRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// loadsPlugin reports whether an output section loads this plugin: its first Name (the one
// fluent-bit uses) with ${VAR} expanded from @SET variables and the environment, and without a
// "://host:port" part (check_protocol), is the plugin's name in any case.
func loadsPlugin(s *flbconf.Section, vars map[string]string, getenv func(string) string) bool {
	name, _ := s.First("name")
	name = varRef.ReplaceAllStringFunc(name, func(ref string) string {
		v := ref[2 : len(ref)-1]
		if val, ok := vars[v]; ok {
			return val
		}
		return getenv(v)
	})
	if i := strings.Index(name, "://"); i > 0 {
		name = name[:i]
	}
	return strings.EqualFold(strings.TrimSpace(name), PluginName)
}

// StartupCheck is what Init makes of CheckStartupKeys.
type StartupCheck struct {
	// Err is set when a key misspells one of the plugin's keys: Init fails, as fluent-bit fails
	// for a native plugin's unknown key.
	Err error
	// Warnings are the other unknown keys, one line each: likely meant for another plugin or a
	// fluent-bit release that reads them, so they do not stop fluent-bit.
	Warnings []string
	// Info says what was checked, or why nothing could be.
	Info string
}

// CheckProcess runs CheckStartupKeys for a running fluent-bit: cmdline is its
// /proc/self/cmdline (NUL-separated, program name first), cwd its working directory ("" for
// this process's).
func CheckProcess(cmdline []byte, cwd string, getenv func(string) string) StartupCheck {
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if len(args) > 0 {
		args = args[1:]
	}
	r := CheckStartupKeys(args, cwd, getenv)
	var sc StartupCheck
	var typos []string
	for _, is := range r.Issues {
		if is.Misspelt {
			typos = append(typos, is.String())
		} else {
			sc.Warnings = append(sc.Warnings, is.String()+"; it has no effect")
		}
	}
	if len(typos) > 0 {
		sc.Err = fmt.Errorf("%s (fluent-bit hands a Go plugin only the keys it asks for, so a misspelt key would silently leave its setting at the default)",
			strings.Join(typos, "; "))
	}
	where := "on the command line"
	if len(r.Files) > 0 {
		where = "in " + strings.Join(r.Files, ", ") + " and on the command line"
	}
	switch {
	case r.Sections > 0:
		sc.Info = fmt.Sprintf("configuration keys checked %s: %d %s section(s), %d unknown key(s)", where, r.Sections, PluginName, len(r.Issues))
	case r.Skipped == "":
		sc.Info = "configuration keys not checked: no output section naming " + PluginName + " found " + where
	}
	if r.Skipped != "" {
		if sc.Info != "" {
			sc.Info += "; "
		}
		sc.Info += "configuration file keys not checked: " + r.Skipped
	}
	return sc
}
