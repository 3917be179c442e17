package flbconf

import (
	"path/filepath"
	"strings"
)

// Invocation is what a fluent-bit command line says about the configuration: the file given
// with -c/--config, and the plugins defined on the command line itself (-i/-F/-o NAME, each
// followed by its -p KEY=VALUE properties).
type Invocation struct {
	ConfigFile string
	Sections   []*Section // Name "input", "filter", "output", ...; File CommandLine, Line the argument's index
	// Daemon: -d/--daemon, after which fluent-bit changes its working directory to "/" (once the
	// configuration is read, before the plugins start).
	Daemon bool
}

// YAML reports whether fluent-bit reads ConfigFile as YAML (it decides by the extension).
func (inv Invocation) YAML() bool {
	ext := strings.ToLower(filepath.Ext(inv.ConfigFile))
	return ext == ".yaml" || ext == ".yml"
}

// shortWithArg: the short options of fluent-bit 4.1's getopt string that take an argument
// ("b:c:dDf:C:i:m:M:o:R:r:F:p:e:t:T:l:vw:qVhJL:HP:s:SWYZ").
const shortWithArg = "bcfCimMoRrFpetTlwLPs"

// longOpts: fluent-bit 4.1's long options and whether each takes an argument. getopt_long also
// accepts an unambiguous prefix of a long option, so the names matter beyond the ones read here.
var longOpts = map[string]bool{
	"storage_path": true, "config": true, "daemon": false, "dry-run": false, "flush": true,
	"http": false, "supervisor": false, "log_file": true, "port": true, "custom": true,
	"input": true, "processor": true, "filter": true, "output": true, "match": true,
	"parser": true, "prop": true, "plugin": true, "tag": true, "sp-task": true, "version": false,
	"verbose": false, "workdir": true, "quiet": false, "help": false, "help-json": false,
	"coro_stack_size": true, "sosreport": false, "http_server": false, "http_listen": true,
	"http_port": true, "enable-hot-reload": false, "enable-chunk-trace": false, "trace": true,
	"trace-input": true, "trace-output": true, "trace-output-property": true,
	"disable-thread-safety-on-hot-reload": false, "windows_maxstdio": true,
}

// longToShort: the long options read here, by the short option they stand for.
var longToShort = map[string]byte{
	"config": 'c', "daemon": 'd', "input": 'i', "filter": 'F', "output": 'o', "processor": 'r',
	"custom": 'C', "prop": 'p', "match": 'm', "tag": 't',
}

// sectionOf: the options that start a plugin section, and the section each starts.
var sectionOf = map[byte]string{'i': "input", 'F': "filter", 'o': "output", 'r': "processor", 'C': "custom"}

// CommandLine is the File of the sections and properties given on the command line.
const CommandLine = "command line"

// ParseCommandLine reads fluent-bit's arguments (without the program name) as its getopt_long
// loop does: clustered short options ("-vc file"), an option's argument attached ("-cfile",
// "--config=file") or in the next argument, long options by unambiguous prefix, "--" ending
// the options. Arguments that are not options are skipped (GNU getopt permutes them to the end).
func ParseCommandLine(args []string) Invocation {
	var inv Invocation
	var cur *Section
	apply := func(opt byte, arg string, at int) {
		switch opt {
		case 'd':
			inv.Daemon = true
		case 'c':
			inv.ConfigFile = arg
		case 'i', 'F', 'o', 'r', 'C':
			cur = &Section{Name: sectionOf[opt], File: CommandLine, Line: at, Groups: map[string][]Property{}}
			cur.Props = append(cur.Props, Property{Key: "name", Value: cTrim(arg), File: CommandLine, Line: at})
			inv.Sections = append(inv.Sections, cur)
		case 'p', 'm', 't':
			if cur == nil {
				return // fluent-bit ignores a property before any plugin
			}
			k, v := map[byte]string{'m': "match", 't': "tag"}[opt], arg
			if opt == 'p' {
				var ok bool
				if k, v, ok = strings.Cut(arg, "="); !ok {
					return // set_property refuses it, silently
				}
			}
			// flb_cf_section_property_add lower-cases and trims both, as the file reader does.
			cur.Props = append(cur.Props, Property{Key: asciiLower(cTrim(k)), Value: cTrim(v), File: CommandLine, Line: at})
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return inv
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			full, ok := longOption(name)
			if !ok {
				continue // getopt prints an error and fluent-bit exits: nothing to check
			}
			at := i
			if longOpts[full] && !hasVal && i+1 < len(args) {
				i++
				val = args[i]
			}
			if opt, read := longToShort[full]; read {
				apply(opt, val, at)
			}
		case len(a) > 1 && a[0] == '-':
			at := i
			for j := 1; j < len(a); j++ {
				opt := a[j]
				if strings.IndexByte(shortWithArg, opt) < 0 {
					if opt == 'd' {
						apply('d', "", at)
					}
					continue
				}
				val := a[j+1:]
				if val == "" && i+1 < len(args) {
					i++
					val = args[i]
				}
				apply(opt, val, at)
				break
			}
		}
	}
	return inv
}

// longOption resolves a long option name as getopt_long does: an exact name, or a prefix of
// exactly one name.
func longOption(name string) (string, bool) {
	if _, ok := longOpts[name]; ok {
		return name, true
	}
	found := ""
	for full := range longOpts {
		if strings.HasPrefix(full, name) {
			if found != "" {
				return "", false
			}
			found = full
		}
	}
	return found, found != "" && name != ""
}
