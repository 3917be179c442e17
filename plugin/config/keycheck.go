package config

import (
	"fmt"
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
	Suggest string // the plugin key it most likely misspells; "" when none is close
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
		if isPluginKey(p.Key) || isFluentBitOutputKey(p.Key) {
			continue
		}
		where := fmt.Sprintf("%s:%d", p.File, p.Line)
		if p.File == "command line" {
			where = fmt.Sprintf("command line argument %d", p.Line+1)
		}
		out = append(out, KeyIssue{Key: p.Key, Where: where, Suggest: closestKey(p.Key)})
	}
	return out
}

func isPluginKey(k string) bool {
	for _, pk := range Keys {
		if strings.EqualFold(pk, k) {
			return true
		}
	}
	return false
}

func isFluentBitOutputKey(k string) bool {
	k = strings.ToLower(k)
	for _, fk := range FluentBitOutputKeys {
		if k == fk || strings.HasSuffix(fk, ".") && strings.HasPrefix(k, fk) {
			return true
		}
	}
	return false
}

// closestKey returns the plugin key that key most likely misspells: the same letters once case
// and separators are ignored ("ProjectID"), or within one edit (two for keys of six letters
// or more: "Exlude", "Colapse_Windw"). Distances count letters, so a short key is not matched
// to anything it merely resembles.
func closestKey(key string) string {
	k := squash(key)
	limit := 0
	switch {
	case len(k) >= 6:
		limit = 2
	case len(k) >= 3:
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, pk := range Keys {
		if d := levenshtein.Distance(k, squash(pk), nil); d < bestDist {
			best, bestDist = pk, d
		}
	}
	return best
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
}

// CheckStartupKeys reads the configuration fluent-bit was started with (args: its command line
// without the program name; cwd: its working directory) and checks every output section that
// loads this plugin, in the files and on the command line. The error says why nothing could be
// checked (a YAML configuration, an unreadable file); no configuration at all is not an error.
func CheckStartupKeys(args []string, cwd string) (StartupKeys, error) {
	var r StartupKeys
	inv := flbconf.ParseCommandLine(args)
	sections := inv.Sections
	if inv.ConfigFile != "" {
		if inv.YAML() {
			return r, fmt.Errorf("%s is a YAML configuration; only the classic format is checked", inv.ConfigFile)
		}
		cfg, err := flbconf.ParseStarted(inv.ConfigFile, cwd)
		if err != nil {
			return r, err
		}
		sections = append(cfg.Sections, sections...)
		r.Files = cfg.Files
	}
	for _, s := range sections {
		if !strings.EqualFold(s.Name, "output") {
			continue
		}
		if name, _ := s.Get("name"); strings.EqualFold(strings.TrimSpace(name), PluginName) {
			r.Issues = append(r.Issues, CheckKeys(s)...)
			r.Sections++
		}
	}
	return r, nil
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
// /proc/self/cmdline (NUL-separated, program name first), cwd its working directory.
func CheckProcess(cmdline []byte, cwd string) StartupCheck {
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if len(args) > 0 {
		args = args[1:]
	}
	r, err := CheckStartupKeys(args, cwd)
	if err != nil {
		return StartupCheck{Info: "configuration keys not checked: " + err.Error()}
	}
	var sc StartupCheck
	var typos []string
	for _, is := range r.Issues {
		if is.Suggest != "" {
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
	if r.Sections == 0 {
		sc.Info = "configuration keys not checked: no [OUTPUT] section with Name " + PluginName + " " + where
	} else {
		sc.Info = fmt.Sprintf("configuration keys checked %s: %d %s section(s), %d unknown key(s)", where, r.Sections, PluginName, len(r.Issues))
	}
	return sc
}
