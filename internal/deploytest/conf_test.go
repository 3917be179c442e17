package deploytest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gke-audit/auditd-cloud-logging/internal/flbchunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/chunk"
	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/flbconf"
)

// Keys of the core plugins this project configures, from their config maps / property reads in
// fluent-bit 4.1 (plus the generic input properties). A key outside these lists is either a typo
// fluent-bit would reject, or a feature the pinned version lacks.
var knownKeys = map[string][]string{
	"service": {"flush", "grace", "log_level", "log_file", "daemon", "plugins_file", "parsers_file",
		"http_server", "http_listen", "http_port", "health_check", "hc_errors_count",
		"hc_retry_failure_count", "hc_period", "storage.path", "storage.sync", "storage.checksum",
		"storage.metrics", "storage.max_chunks_up", "storage.backlog.mem_limit",
		"storage.delete_irrecoverable_chunks", "scheduler.base", "scheduler.cap", "coro_stack_size"},
	"input:systemd": {"name", "tag", "alias", "log_level", "path", "max_fields", "max_entries",
		"systemd_filter", "systemd_filter_type", "db", "db.sync", "read_from_tail", "lowercase",
		"strip_underscores", "storage.type", "storage.pause_on_chunks_overlimit", "mem_buf_limit", "threaded"},
	"input:tail": {"name", "tag", "alias", "log_level", "path", "exclude_path", "db", "db.sync",
		"db.locking", "db.journal_mode", "read_from_head", "refresh_interval", "rotate_wait",
		"buffer_chunk_size", "buffer_max_size", "skip_long_lines", "skip_empty_lines", "path_key",
		"offset_key", "key", "inotify_watcher", "ignore_older", "storage.type",
		"storage.pause_on_chunks_overlimit", "mem_buf_limit", "threaded"},
	"plugins":                {"path"},
	"filter:record_modifier": {"name", "match", "match_regex", "alias", "log_level", "allowlist_key", "whitelist_key", "remove_key", "record", "uuid_key"},
}

func inList(key string, list []string) bool {
	for _, k := range list {
		if strings.HasSuffix(k, ".") && strings.HasPrefix(key, k) || key == k {
			return true
		}
	}
	return false
}

// checkPluginConfig parses the OUTPUT section's plugin keys as Init would (every ${VAR}
// replaced by a stand-in value) and checks the metrics listener against the pod: reachable by a
// scraper, on its own port, declared as a container port and in the scrape annotations. It
// returns the metrics port ("" when Metrics_Listen is unset).
func (s *shippedConfig) checkPluginConfig(t *testing.T, out *flbconf.Section, httpPort string) string {
	t.Helper()
	vars := s.cfg.Vars()
	stand := map[string]string{"POD_IP": "10.128.0.7", "NODE_NAME": "gke-node-1"}
	subst := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	props := config.MapGetter{}
	for _, p := range out.Props {
		if !config.IsPluginKey(p.Key) {
			continue
		}
		props[p.Key] = subst.ReplaceAllStringFunc(p.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			if v, ok := vars[name]; ok {
				return v
			}
			if v, ok := stand[name]; ok {
				return v
			}
			return "x"
		})
	}
	cfg, err := config.Parse(props)
	if err != nil {
		t.Fatalf("the plugin would refuse its [OUTPUT] section: %v", err)
	}
	ann := s.ds.Spec.Template.Annotations
	if cfg.MetricsListen == "" {
		if ann["prometheus.io/scrape"] == "true" {
			t.Error("prometheus.io/scrape is on but Metrics_Listen is unset")
		}
		return ""
	}
	raw, _ := out.Get("metrics_listen")
	host, mport, _ := strings.Cut(raw, ":")
	if host == "127.0.0.1" || host == "localhost" || host == "[::1]" {
		t.Errorf("Metrics_Listen %q: with hostNetwork a scraper reaches the node's address, never its loopback", raw)
	}
	if host == "${POD_IP}" {
		e, ok := envValue(s.fb, "POD_IP")
		if !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
			t.Errorf("Metrics_Listen uses ${POD_IP}, which must come from the downward API status.podIP")
		}
	}
	if mport == httpPort {
		t.Errorf("Metrics_Listen port %s is fluent-bit's HTTP_Port", mport)
	}
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != mport || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want scrape=true, port=%s, path=/metrics", ann, mport)
	}
	found := false
	for _, cp := range s.fb.Ports {
		found = found || cp.Name == "metrics"
	}
	if !found {
		t.Errorf("no container port named metrics for Metrics_Listen %s", raw)
	}
	return mport
}

// checkSectionKeys reports keys a section has that fluent-bit (or the plugin) would not accept,
// repeated single-valued keys, and values that look like a trailing comment (classic format has
// none: "Flush 5 # seconds" sets Flush to "5 # seconds").
func checkSectionKeys(t *testing.T, s *flbconf.Section, allowed func(string) bool, repeatable ...string) {
	t.Helper()
	for _, p := range s.Props {
		if !allowed(p.Key) {
			t.Errorf("%s:%d: [%s] key %q is not accepted", p.File, p.Line, s.Name, p.Key)
		}
		if strings.Contains(p.Value, "#") {
			t.Errorf("%s:%d: value %q contains '#': classic format has no trailing comments", p.File, p.Line, p.Value)
		}
	}
	if d := s.Duplicates(repeatable...); len(d) > 0 {
		t.Errorf("[%s] at %s:%d repeats %v", s.Name, s.File, s.Line, d)
	}
}

// shippedConfig is a fluent-bit configuration as one DaemonSet variant runs it: parsed from the
// rendered ConfigMap's files (laid out as the pod's /fluent-bit/etc), with the main file taken from
// the container's -c argument.
type shippedConfig struct {
	variant string
	ds      *appsv1.DaemonSet
	fb      *corev1.Container
	cfg     *flbconf.Config
	dir     string // temp dir standing for /fluent-bit/etc
}

func loadShipped(t *testing.T, variant string) *shippedConfig {
	t.Helper()
	r := render(t, variant)
	ds := r.daemonSet(t)
	fb := findContainer(ds.Spec.Template.Spec.Containers, shipperName)
	if fb == nil {
		t.Fatalf("%s: no %s container", variant, shipperName)
	}
	args := append(append([]string{}, fb.Command...), fb.Args...)
	main := ""
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-c" {
			main = args[i+1]
		}
	}
	if !strings.HasPrefix(main, configMount+"/") {
		t.Fatalf("%s: fluent-bit's -c %q is not under the config mount %s", variant, main, configMount)
	}
	dir := t.TempDir()
	for name, body := range r.configMap(t).Data {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	cfg, err := flbconf.ParseFile(filepath.Join(dir, strings.TrimPrefix(main, configMount+"/")))
	if err != nil {
		t.Fatalf("%s: %v", variant, err)
	}
	for _, w := range cfg.Warnings {
		t.Errorf("%s: %s", variant, w)
	}
	// The plugin's own startup check reads the container's command line the same way and finds
	// nothing to complain about.
	local := append([]string{}, args[1:]...)
	for i := range local {
		if local[i] == main {
			local[i] = filepath.Join(dir, strings.TrimPrefix(main, configMount+"/"))
		}
	}
	keys := config.CheckStartupKeys(local, dir, func(string) string { return "" })
	if keys.Skipped != "" || len(keys.Issues) > 0 || len(keys.Files) != len(cfg.Files) || keys.Sections != 1 {
		t.Errorf("%s: the plugin's key check of %v: %+v (want no issues, one section, files %v)", variant, local, keys, cfg.Files)
	}
	return &shippedConfig{variant: variant, ds: ds, fb: fb, cfg: cfg, dir: dir}
}

func (s *shippedConfig) one(t *testing.T, name string) *flbconf.Section {
	t.Helper()
	secs := s.cfg.SectionsNamed(name)
	if len(secs) != 1 {
		t.Fatalf("%s: %d [%s] sections, want 1", s.variant, len(secs), name)
	}
	return secs[0]
}

func (s *shippedConfig) get(t *testing.T, sec *flbconf.Section, key string) string {
	t.Helper()
	v, ok := sec.Get(key)
	if !ok {
		t.Fatalf("%s: [%s] has no %s", s.variant, sec.Name, key)
	}
	return v
}

// mountFor returns the fluent-bit container's mount that holds p, or nil.
func (s *shippedConfig) mountFor(p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range s.fb.VolumeMounts {
		m := &s.fb.VolumeMounts[i]
		mp := strings.TrimSuffix(m.MountPath, "/")
		if p == mp || strings.HasPrefix(p, mp+"/") {
			if best == nil || len(mp) > len(best.MountPath) {
				best = m
			}
		}
	}
	return best
}

func (s *shippedConfig) volume(name string) *corev1.Volume {
	for i := range s.ds.Spec.Template.Spec.Volumes {
		if s.ds.Spec.Template.Spec.Volumes[i].Name == name {
			return &s.ds.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

// wantOnHost checks that a path fluent-bit uses is on a hostPath mount, writable or read-only.
func (s *shippedConfig) wantOnHost(t *testing.T, what, p string, writable bool) {
	t.Helper()
	m := s.mountFor(p)
	if m == nil {
		t.Errorf("%s: %s %s is on no volume mount: it would land in the (read-only) image", s.variant, what, p)
		return
	}
	v := s.volume(m.Name)
	if v == nil || v.HostPath == nil {
		t.Errorf("%s: %s %s is on volume %q, which is not a hostPath: it would not survive a restart", s.variant, what, p, m.Name)
	}
	if writable && m.ReadOnly {
		t.Errorf("%s: %s %s is on read-only mount %s", s.variant, what, p, m.MountPath)
	}
	if !writable && !m.ReadOnly {
		t.Errorf("%s: %s %s is on writable mount %s; inputs need read-only access", s.variant, what, p, m.MountPath)
	}
}

var sizeRe = regexp.MustCompile(`^(?i)(\d+)([KMG]?)B?$`)

func parseSize(t *testing.T, v string) int64 {
	t.Helper()
	m := sizeRe.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("size %q is not a fluent-bit size (number with K, M or G)", v)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	switch strings.ToUpper(m[2]) {
	case "K":
		n <<= 10
	case "M":
		n <<= 20
	case "G":
		n <<= 30
	}
	return n
}

func isOn(v string) bool {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

func TestShippedConfigs(t *testing.T) {
	for _, c := range []struct {
		variant, input string
	}{{variantCOS, "systemd"}, {variantNonCOS, "tail"}} {
		t.Run(filepath.Base(c.variant), func(t *testing.T) {
			s := loadShipped(t, c.variant)
			for _, sec := range s.cfg.Sections {
				switch strings.ToUpper(sec.Name) {
				case "SERVICE", "INPUT", "FILTER", "OUTPUT", "PARSER", "MULTILINE_PARSER", "PLUGINS":
				default:
					t.Errorf("%s:%d: unknown section [%s]", sec.File, sec.Line, sec.Name)
				}
			}

			svc := s.one(t, "SERVICE")
			checkSectionKeys(t, svc, func(k string) bool { return inList(k, knownKeys["service"]) })
			if isOn(s.get(t, svc, "daemon")) {
				t.Error("Daemon On forks after the Go runtime started: deadlock")
			}

			in := s.one(t, "INPUT")
			if got := s.get(t, in, "name"); got != c.input {
				t.Fatalf("input %q, want %s", got, c.input)
			}
			checkSectionKeys(t, in, func(k string) bool { return inList(k, knownKeys["input:"+c.input]) }, "systemd_filter", "path")
			if got := s.get(t, in, "storage.type"); got != "filesystem" {
				t.Errorf("input storage.type %q: records in memory are lost on restart", got)
			}
			s.wantOnHost(t, "input DB", s.get(t, in, "db"), true)
			inPath := s.get(t, in, "path")
			s.wantOnHost(t, "input path", inPath, false)
			switch c.input {
			case "systemd":
				if inPath != "/var/log/journal" {
					t.Errorf("journal path %q", inPath)
				}
				if f := in.All("systemd_filter"); len(f) != 1 || f[0] != "_TRANSPORT=audit" {
					t.Errorf("Systemd_Filter %q, want only _TRANSPORT=audit", f)
				}
				s.checkJournalAllowlist(t, in)
			case "tail":
				if inPath != "/var/log/audit/audit.log" {
					t.Errorf("tail path %q", inPath)
				}
				if !isOn(s.get(t, in, "skip_long_lines")) {
					t.Error("Skip_Long_Lines Off: one overlong line would stop the tail of audit.log")
				}
			}

			out := s.one(t, "OUTPUT")
			if got := s.get(t, out, "name"); got != config.PluginName {
				t.Errorf("OUTPUT Name %q, the plugin registers %q", got, config.PluginName)
			}
			checkSectionKeys(t, out, func(k string) bool { return config.IsFluentBitOutputKey(k) || config.IsPluginKey(k) })
			matchRe := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(s.get(t, out, "match")), `\*`, ".*") + "$")
			if tag := s.get(t, in, "tag"); !matchRe.MatchString(tag) {
				t.Errorf("OUTPUT Match %q does not match the input tag %q", s.get(t, out, "match"), tag)
			}
			if rl := strings.ToLower(s.get(t, out, "retry_limit")); rl != "no_limits" && rl != "false" {
				t.Errorf("Retry_Limit %q: chunks would be dropped after a fixed time although storage.total_limit_size has room", rl)
			}
			if lim := parseSize(t, s.get(t, out, "storage.total_limit_size")); lim <= 0 || lim > 1<<30 {
				t.Errorf("storage.total_limit_size %d bytes: want a bound between 1 byte and 1 GiB", lim)
			}
			if w := s.get(t, out, "workers"); w != "1" {
				t.Errorf("Workers %s, want 1", w)
			}
			s.wantOnHost(t, "storage.path", s.get(t, svc, "storage.path"), true)

			// Every ${VAR} is set by @SET or by the container's environment.
			vars := s.cfg.Vars()
			for _, ref := range s.cfg.VarRefs() {
				if _, ok := vars[ref]; ok {
					continue
				}
				if _, ok := envValue(s.fb, ref); !ok {
					t.Errorf("${%s} is used but neither @SET nor in the %s container's env", ref, shipperName)
				}
			}

			// Health endpoint and probes agree.
			port := s.get(t, svc, "http_port")
			listen := s.get(t, svc, "http_listen")
			if !isOn(s.get(t, svc, "http_server")) || !isOn(s.get(t, svc, "health_check")) {
				t.Error("HTTP_Server and Health_Check must be On for the probes")
			}
			if p := s.fb.LivenessProbe; p == nil || p.HTTPGet == nil {
				t.Error("liveness probe is not an HTTP probe")
			} else {
				if p.HTTPGet.Port.String() != port {
					t.Errorf("liveness probe port %s, fluent-bit listens on %s", p.HTTPGet.Port.String(), port)
				}
				if listen == "127.0.0.1" && (p.HTTPGet.Host != "127.0.0.1" || !s.ds.Spec.Template.Spec.HostNetwork) {
					t.Error("liveness probe: fluent-bit listens on 127.0.0.1, reachable by the kubelet only with hostNetwork and host 127.0.0.1")
				}
			}
			metricsPort := s.checkPluginConfig(t, out, port)
			// Readiness is the plugin's /healthz on its metrics listener, which binds ${POD_IP}:
			// the kubelet probes the pod's IP when the probe names no host.
			if p := s.fb.ReadinessProbe; p == nil || p.HTTPGet == nil {
				t.Error("readiness probe is not an HTTP probe")
			} else if p.HTTPGet.Path != "/healthz" || p.HTTPGet.Host != "" || metricsPort == "" ||
				(p.HTTPGet.Port.String() != "metrics" && p.HTTPGet.Port.String() != metricsPort) {
				t.Errorf("readiness probe %s %s:%s, want the plugin's /healthz on the metrics port %s (Metrics_Listen), no host",
					p.HTTPGet.Path, p.HTTPGet.Host, p.HTTPGet.Port.String(), metricsPort)
			}
			for _, cp := range s.fb.Ports {
				want, what := port, "fluent-bit listens on"
				if cp.Name == "metrics" {
					want, what = metricsPort, "the plugin's Metrics_Listen is on"
				}
				if strconv.Itoa(int(cp.ContainerPort)) != want {
					t.Errorf("container port %s %d, %s %s", cp.Name, cp.ContainerPort, what, want)
				}
			}

			grace, err := strconv.Atoi(s.get(t, svc, "grace"))
			if err != nil {
				t.Fatalf("Grace %q: %v", s.get(t, svc, "grace"), err)
			}
			tgp := s.ds.Spec.Template.Spec.TerminationGracePeriodSeconds
			if grace < 15 {
				t.Errorf("Grace %d s leaves too little time for the plugin's exit flush (up to 10 s)", grace)
			}
			if tgp == nil {
				t.Errorf("terminationGracePeriodSeconds unset (default 30) must exceed Grace %d", grace)
			} else if *tgp <= int64(grace) {
				t.Errorf("terminationGracePeriodSeconds %d must exceed Grace %d", *tgp, grace)
			}

			// Plugins file: under the config mount, in the ConfigMap, naming the .so the image has.
			pf := s.get(t, svc, "plugins_file")
			if path.Dir(pf) != configMount {
				t.Fatalf("Plugins_File %q is not in %s", pf, configMount)
			}
			pcfg, err := flbconf.ParseFile(filepath.Join(s.dir, path.Base(pf)))
			if err != nil {
				t.Fatalf("plugins file: %v", err)
			}
			plugins := pcfg.SectionsNamed("PLUGINS")
			if len(plugins) != 1 {
				t.Fatalf("%d [PLUGINS] sections, want 1", len(plugins))
			}
			checkSectionKeys(t, plugins[0], func(k string) bool { return inList(k, knownKeys["plugins"]) })
			so := s.get(t, plugins[0], "path")
			if want := dockerfilePluginPath(t); so != want {
				t.Errorf("plugins.conf loads %q, the Dockerfile installs %q", so, want)
			}
			if strings.HasPrefix(path.Base(so), "flb-") {
				t.Errorf("%q: fluent-bit treats flb-*.so as its own plugins", so)
			}
		})
	}
}

// The files on disk parse too (the Dockerfile copies them into the image as they are).
func TestConfFilesParse(t *testing.T) {
	conf := filepath.Join(repoRoot(t), "conf")
	for _, main := range []string{"fluent-bit.conf", "fluent-bit-auditlog.conf", "plugins.conf"} {
		cfg, err := flbconf.ParseFile(filepath.Join(conf, main))
		if err != nil {
			t.Errorf("%s: %v", main, err)
			continue
		}
		if len(cfg.Sections) == 0 {
			t.Errorf("%s: no sections", main)
		}
	}
	// Every file the configs include, and plugins.conf, is in the ConfigMap and in the image.
	cm := render(t, variantCOS).configMap(t)
	copied := dockerfileConfCopies(t)
	for _, main := range []string{"fluent-bit.conf", "fluent-bit-auditlog.conf", "plugins.conf"} {
		cfg, err := flbconf.ParseFile(filepath.Join(conf, main))
		if err != nil {
			continue
		}
		for _, f := range cfg.Files {
			name := filepath.Base(f)
			if _, ok := cm.Data[name]; !ok {
				t.Errorf("%s is not in the generated ConfigMap (conf/kustomization.yaml)", name)
			}
			if !copied[name] {
				t.Errorf("%s is not copied into the image by the Dockerfile", name)
			}
		}
	}
}

// checkJournalAllowlist: the journal input's record_modifier keeps only some fields before the
// buffer. Every corpus record, with the fields journald adds that the corpus capture left out,
// must decode to the same plugin input with the filter as without it, and the filter must
// actually drop those extra fields.
func (s *shippedConfig) checkJournalAllowlist(t *testing.T, in *flbconf.Section) {
	t.Helper()
	tag := s.get(t, in, "tag")
	var keep []string
	for _, f := range s.cfg.SectionsNamed("FILTER") {
		name, _ := f.Get("name")
		if !strings.EqualFold(name, "record_modifier") {
			continue
		}
		checkSectionKeys(t, f, func(k string) bool { return inList(k, knownKeys["filter:record_modifier"]) }, "allowlist_key")
		if m, _ := f.Get("match"); m != tag {
			t.Errorf("%s:%d: record_modifier Match %q, want the journal input's tag %q", f.File, f.Line, m, tag)
		}
		keep = append(keep, f.All("allowlist_key")...)
	}
	if len(keep) == 0 {
		t.Fatal("no record_modifier Allowlist_key for the journal input")
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "parser", "testdata", "corpus", "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	full := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true, Map32: true})
	filtered := flbchunk.NewWriter(flbchunk.Options{V2: true, Bin: true, Map32: true})
	dropped := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		ts, fields, err := flbchunk.JournalJSON([]byte(line), time.Unix(1795635275, 0))
		if err != nil {
			t.Fatal(err)
		}
		// What journald adds beside the corpus's fields (journald-audit.c maps every field of the
		// message, and in_systemd passes trusted fields on).
		fields = append(fields, flbchunk.F("_AUDIT_FIELD_ARCH", "c000003e"), flbchunk.F("_PID", "4242"),
			flbchunk.F("_COMM", "curl"), flbchunk.F("_MACHINE_ID", "0123456789abcdef0123456789abcdef"))
		full.Record(ts, fields)
		var only []flbchunk.Field
		for _, f := range fields {
			if kept[f.Key] {
				only = append(only, f)
			} else {
				dropped++
			}
		}
		filtered.Record(ts, only)
	}
	decode := func(b []byte) []string {
		var out []string
		chunk.Decode(b, func(ts time.Time, in chunk.Input) {
			out = append(out, fmt.Sprintf("%v %d %q %+v", ts.UnixNano(), in.Kind, in.Node, in.Journal))
		})
		return out
	}
	a, b := decode(full.Bytes()), decode(filtered.Bytes())
	if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("the journal allowlist changes what the plugin decodes (%d records without it, %d with it)", len(a), len(b))
	}
	if dropped < 4*len(a) {
		t.Errorf("the allowlist dropped %d fields of %d records, want at least the 4 added to each", dropped, len(a))
	}
}
