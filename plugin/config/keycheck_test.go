package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gke-audit/auditd-cloud-logging/plugin/flbconf"
)

func TestClosestKey(t *testing.T) {
	for key, want := range map[string]string{
		"exlude":             "Exclude",    // one letter left out
		"excldue":            "Exclude",    // two letters swapped: two edits
		"projectid":          "Project_ID", // separators dropped
		"project-id":         "Project_ID", // other separators
		"colapse_windw":      "Collapse_Window",
		"include_raws":       "Include_Raw",
		"lables":             "Labels",
		"rate_limt":          "Rate_Limit",
		"metrics_listener":   "Metrics_Listen", // two letters more
		"node":               "",               // too short to guess from
		"buffer_size":        "",               // nothing near
		"storage.type":       "",               // an input's key, not a misspelt one of ours
		"format":             "",
		"json_date_key":      "",
		"log_summary_intrvl": "Log_Summary_Interval", // two letters left out
		"summary_every":      "",
		// fluent-bit's own keys are candidates too: a suggestion, never a plugin key
		"rety_limit": "retry_limit",
		"wokers":     "workers",
		"mach":       "match",
	} {
		got, plugin := closestKey(key)
		if got != want || plugin != (want != "" && IsPluginKey(want)) {
			t.Errorf("closestKey(%q) = %q, %v; want %q", key, got, plugin, want)
		}
	}
}

func TestCheckKeys(t *testing.T) {
	cfg, err := flbconf.Parse("/etc/fb/output.conf", []byte("[OUTPUT]\n"+
		"    Name                     auditd_cloud_logging\n"+
		"    Match                    audit.*\n"+
		"    Retry_Limit              no_limits\n"+
		"    storage.total_limit_size 256M\n"+
		"    tls.verify               on\n"+
		"    net.keepalive            off\n"+
		"    Workers                  1\n"+
		"    PROJECT_ID               p\n"+
		"    Exlude                   exe=/usr/bin/true\n"+
		"    Buffer_Size              1M\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := CheckKeys(cfg.Sections[0])
	want := []KeyIssue{
		{Key: "exlude", Where: "/etc/fb/output.conf:10", Suggest: "Exclude", Misspelt: true},
		{Key: "buffer_size", Where: "/etc/fb/output.conf:11"},
	}
	if len(got) != len(want) {
		t.Fatalf("CheckKeys = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("issue %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := got[0].String(); s != `/etc/fb/output.conf:10: key "exlude" is read neither by this plugin nor by fluent-bit; did you mean "Exclude"?` {
		t.Errorf("String() = %s", s)
	}
}

func writeConf(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckStartupKeys(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, map[string]string{
		"etc/fluent-bit.conf": "[SERVICE]\n    Flush 1\n@INCLUDE output.conf\n@INCLUDE more/*.conf\n",
		"etc/output.conf":     "[OUTPUT]\n    Name auditd_cloud_logging\n    Match a.*\n    Exlude exe=/x\n",
		// Another plugin's unknown keys are none of ours; a second instance of ours is checked too.
		"etc/more/a.conf": "[OUTPUT]\n    Name stdout\n    Match *\n    Exlude x\n",
		"etc/more/b.conf": "[OUTPUT]\n    Name  Auditd_Cloud_Logging\n    Match b.*\n    Log_Nmae other\n    Colour red\n",
		"etc/fb.yaml":     "pipeline:\n  outputs:\n    - name: auditd_cloud_logging\n",
		"etc/broken.conf": "[OUTPUT]\nName x\n",
	})
	// A FIFO would block a reader until someone writes: it is not read again.
	if err := syscall.Mkfifo(filepath.Join(dir, "etc", "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	r := CheckStartupKeys([]string{"-c", "etc/fluent-bit.conf", "-o", PluginName, "-p", "Dry_Rn=on"}, dir, noEnv)
	if r.Skipped != "" {
		t.Fatal(r.Skipped)
	}
	var got []string
	for _, is := range r.Issues {
		got = append(got, is.Key+"@"+strings.TrimPrefix(is.Where, etc+"/")+">"+is.Suggest)
	}
	want := "exlude@output.conf:4>Exclude log_nmae@more/b.conf:4>Log_Name colour@more/b.conf:5> dry_rn@command line argument 5>Dry_Run"
	if strings.Join(got, " ") != want || r.Sections != 3 || len(r.Files) != 4 {
		t.Errorf("issues %s\n  want %s\nsections %d (want 3), files %v (want 4)", strings.Join(got, " "), want, r.Sections, r.Files)
	}

	// A file that cannot be checked says why; the command line is still checked.
	for _, c := range []string{"etc/fb.yaml", "etc/missing.conf", "etc/broken.conf", "etc/fifo"} {
		r := CheckStartupKeys([]string{"-c", c, "-o", PluginName, "-p", " Exclude = x ", "-p", "Exlude=y"}, dir, noEnv)
		if r.Skipped == "" || r.Sections != 1 || len(r.Issues) != 1 || r.Issues[0].Key != "exlude" {
			t.Errorf("-c %s: %+v, want it skipped with a reason and the command line checked", c, r)
		}
	}
	r = CheckStartupKeys([]string{"-d", "-c", "etc/fluent-bit.conf"}, dir, noEnv)
	if !strings.Contains(r.Skipped, "daemon") || r.Sections != 0 {
		t.Errorf("relative -c with -d: %+v", r)
	}
	if r := CheckStartupKeys([]string{"-i", "cpu", "-o", "stdout"}, dir, noEnv); r.Skipped != "" || r.Sections != 0 || len(r.Issues) != 0 {
		t.Errorf("no plugin section: %+v", r)
	}
}

// Which sections load the plugin, as fluent-bit decides: any leading part of "outputs" as the
// section name, the first Name, ${VAR} from @SET and the environment, a "://host" part.
func TestCheckStartupKeysFindsThePluginsSections(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, map[string]string{"fb.conf": "@SET plugin=auditd_cloud_logging\n" +
		"[OUTPUTS]\n    Name auditd_cloud_logging\n    Exlude a\n" +
		"[out]\n    Name ${plugin}\n    Exlude b\n" +
		"[OUTPUT]\n    Name ${FROM_ENV}\n    Exlude c\n" +
		"[OUTPUT]\n    Name auditd_cloud_logging://ignored\n    Exlude d\n" +
		"[OUTPUT]\n    Name stdout\n    Name auditd_cloud_logging\n    Exlude e\n" + // fluent-bit loads stdout
		"[OUTPUT]\n    Name auditd_cloud_logging\n    Name stdout\n    Exlude f\n" +
		"[OUTPUTX]\n    Name auditd_cloud_logging\n    Exlude g\n" + // not an output section
		"[INPUT]\n    Name auditd_cloud_logging\n    Exlude h\n",
	})
	env := func(k string) string { return map[string]string{"FROM_ENV": "AUDITD_CLOUD_LOGGING"}[k] }
	r := CheckStartupKeys([]string{"-c", "fb.conf"}, dir, env)
	var vals []string
	for _, is := range r.Issues {
		vals = append(vals, strings.TrimPrefix(is.Where, filepath.Join(dir, "fb.conf")+":"))
	}
	if got := strings.Join(vals, ","); got != "4,7,10,13,21" || r.Sections != 5 || r.Skipped != "" {
		t.Errorf("issues at lines %s, want 4,7,10,13,21; %+v", got, r)
	}
}

// An include is looked for in fluent-bit's working directory first, then beside the main
// file with its links resolved (a ConfigMap mount: fluent-bit.conf -> ..data/fluent-bit.conf).
func TestCheckStartupKeysResolvesLikeFluentBit(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, map[string]string{
		"cm/..2026_11_26/fluent-bit.conf": "@INCLUDE output.conf\n",
		"cm/..2026_11_26/output.conf":     "[OUTPUT]\n    Name auditd_cloud_logging\n    Exlude x\n",
		"work/output.conf":                "[OUTPUT]\n    Name auditd_cloud_logging\n    Incude x\n",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("..2026_11_26", filepath.Join(dir, "cm", "..data")))
	must(os.Mkdir(filepath.Join(dir, "etc"), 0o755))
	must(os.Symlink("../cm/..data/fluent-bit.conf", filepath.Join(dir, "etc", "fluent-bit.conf")))
	main := filepath.Join(dir, "etc", "fluent-bit.conf")
	for cwd, want := range map[string]string{filepath.Join(dir, "work"): "incude", dir: "exlude"} {
		r := CheckStartupKeys([]string{"-c", main}, cwd, noEnv)
		if r.Skipped != "" || len(r.Issues) != 1 || r.Issues[0].Key != want {
			t.Errorf("working directory %s: %+v; want the key %q", cwd, r, want)
		}
	}
}

func TestCheckProcess(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, map[string]string{
		"fb.conf": "[OUTPUT]\n    Name auditd_cloud_logging\n    Exlude x\n    Chunk_Limit 1\n    Rate_Limt 5\n",
		"ok.conf": "[OUTPUT]\n    Name auditd_cloud_logging\n    Chunk_Limit 1\n",
	})
	cmdline := func(args ...string) []byte {
		return []byte(strings.Join(append([]string{"/fluent-bit/bin/fluent-bit"}, args...), "\x00") + "\x00")
	}

	sc := CheckProcess(cmdline("-c", "fb.conf"), dir, noEnv)
	if sc.Err == nil || !strings.Contains(sc.Err.Error(), `fb.conf:3: key "exlude"`) || !strings.Contains(sc.Err.Error(), `did you mean "Rate_Limit"?`) {
		t.Errorf("both misspelt keys in the error: %v", sc.Err)
	}
	if len(sc.Warnings) != 1 || !strings.Contains(sc.Warnings[0], `fb.conf:4: key "chunk_limit"`) {
		t.Errorf("warnings %q", sc.Warnings)
	}

	sc = CheckProcess(cmdline("-c", "ok.conf"), dir, noEnv)
	if sc.Err != nil || len(sc.Warnings) != 1 || !strings.Contains(sc.Info, "1 auditd_cloud_logging section(s), 1 unknown key(s)") {
		t.Errorf("unknown key only: %+v", sc)
	}
	sc = CheckProcess(cmdline("-c", "fb.yaml"), dir, noEnv)
	if sc.Err != nil || !strings.Contains(sc.Info, "not checked: fb.yaml is a YAML configuration") {
		t.Errorf("YAML: %+v", sc)
	}
	sc = CheckProcess(cmdline(), dir, noEnv)
	if sc.Err != nil || !strings.Contains(sc.Info, "not checked: no output section naming auditd_cloud_logging found on the command line") {
		t.Errorf("no configuration: %+v", sc)
	}
	if sc = CheckProcess(nil, dir, noEnv); sc.Err != nil || len(sc.Warnings) != 0 || !strings.Contains(sc.Info, "not checked") {
		t.Errorf("empty command line: %+v", sc)
	}
}
