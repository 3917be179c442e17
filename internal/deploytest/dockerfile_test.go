package deploytest

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const pluginSO = "out_auditd_cloud_logging.so"

func parseDockerfile(t *testing.T, text string) []instructions.Stage {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return stages
}

func repoDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return parseDockerfile(t, string(b))
}

func stageNamed(stages []instructions.Stage, name string) *instructions.Stage {
	for i := range stages {
		if stages[i].Name == name {
			return &stages[i]
		}
	}
	return nil
}

// pinnedImage reports why an image reference is not pinned to a release, or "".
var versionTag = regexp.MustCompile(`^v?\d+(\.\d+)+([-.][0-9A-Za-z.-]+)?$`)

func unpinnedReason(ref string) string {
	if strings.Contains(ref, "$") {
		return "uses a build argument; the base must be readable from the file"
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		return "has a malformed digest"
	}
	slash := strings.LastIndex(name, "/")
	colon := strings.LastIndex(name, ":")
	if colon < slash || colon < 0 {
		if hasDigest {
			return ""
		}
		return "has no tag (means latest)"
	}
	tag := name[colon+1:]
	if !versionTag.MatchString(tag) {
		return "tag " + tag + " is not a release version"
	}
	return ""
}

func TestUnpinnedReason(t *testing.T) {
	for ref, pinned := range map[string]bool{
		"golang:1.26.8-bookworm":                   true,
		"fluent/fluent-bit:4.1.2":                  true,
		"debian:12.12-slim":                        true,
		"registry:5000/x/y:1.2.3":                  true,
		"debian@sha256:" + strings.Repeat("a", 64): true,
		"debian":                         false,
		"debian:latest":                  false,
		"debian:bookworm-slim":           false,
		"fluent/fluent-bit:4.1":          true,
		"registry:5000/x/y":              false,
		"golang:${GO_VERSION}":           false,
		"debian@sha256:abc":              false,
		"fluent/fluent-bit:latest-debug": false,
	} {
		if got := unpinnedReason(ref) == ""; got != pinned {
			t.Errorf("%s: pinned=%v, want %v (%s)", ref, got, pinned, unpinnedReason(ref))
		}
	}
}

func TestDockerfile(t *testing.T) {
	stages := repoDockerfile(t)
	names := map[string]bool{}
	for _, s := range stages {
		names[s.Name] = true
		if names[s.BaseName] {
			continue // FROM an earlier stage
		}
		if why := unpinnedReason(s.BaseName); why != "" {
			t.Errorf("stage %q: base %q %s", s.Name, s.BaseName, why)
		}
	}

	build := stageNamed(stages, "build")
	plugin := stageNamed(stages, "plugin")
	setup := stageNamed(stages, "setup")
	if build == nil || plugin == nil || setup == nil {
		t.Fatalf("stages %v, want build, plugin and setup", names)
	}
	if !strings.HasPrefix(build.BaseName, "golang:") || !strings.Contains(build.BaseName, "bookworm") {
		t.Errorf("builder %q is not a golang bookworm image (glibc must not be newer than the runtime's)", build.BaseName)
	}
	if !strings.HasPrefix(plugin.BaseName, "fluent/fluent-bit:") {
		t.Errorf("plugin stage FROM %q, want an official fluent/fluent-bit release", plugin.BaseName)
	} else if !supportedFluentBit(plugin.BaseName) {
		t.Errorf("plugin stage FROM %q: fluent-bit-go a7a013e supports >= 2.1 (V2 records) and < 4.2.3 (proxy def layout); 5.x also needs glibc 2.41", plugin.BaseName)
	}

	// The build compiles the plugin as a c-shared object with -trimpath.
	var goBuild string
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			goBuild = strings.Join(r.CmdLine, " ")
		}
	}
	for _, want := range []string{"-buildmode=c-shared", "-trimpath", "./plugin"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build %q lacks %s", goBuild, want)
		}
	}

	if got := dockerfilePluginPath(t); got != "/fluent-bit/bin/"+pluginSO {
		t.Errorf("plugin installed at %q", got)
	}

	// Exec-form CMD running fluent-bit on the image's config; no ENTRYPOINT that would swallow it.
	cmd, ep := lastCmd(plugin)
	if cmd == nil || cmd.PrependShell {
		t.Fatalf("plugin stage CMD %v is not in exec form", cmd)
	}
	if ep != nil && len(ep.CmdLine) != 0 {
		t.Errorf("plugin stage ENTRYPOINT %q would receive CMD as arguments", ep.CmdLine)
	}
	if strings.Join(cmd.CmdLine, " ") != "/fluent-bit/bin/fluent-bit -c /fluent-bit/etc/fluent-bit.conf" {
		t.Errorf("plugin CMD %q", cmd.CmdLine)
	}
	// The DaemonSet runs the same binary.
	ds := render(t, variantCOS).daemonSet(t)
	if fb := findContainer(ds.Spec.Template.Spec.Containers, shipperName); fb == nil || len(fb.Command) == 0 || fb.Command[0] != cmd.CmdLine[0] {
		t.Errorf("DaemonSet command does not run %s", cmd.CmdLine[0])
	}

	// The setup image has the script where the DaemonSet runs it, with the rules beside it.
	var script, rules bool
	for _, c := range setup.Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok {
			for _, src := range cp.SourcePaths {
				if src == "scripts/audit-setup.sh" && path.Clean(cp.DestPath) == "/opt/auditd-cloud-logging/audit-setup.sh" {
					script = true
				}
				if strings.TrimSuffix(src, "/") == "scripts/rules" && path.Clean(cp.DestPath) == "/opt/auditd-cloud-logging/rules" {
					rules = true
				}
			}
		}
	}
	if !script || !rules {
		t.Errorf("setup stage copies script=%v rules=%v; want scripts/audit-setup.sh and scripts/rules/ in /opt/auditd-cloud-logging", script, rules)
	}
	for _, v := range variants {
		init := render(t, v).daemonSet(t).Spec.Template.Spec.InitContainers[0]
		if len(init.Command) != 1 || init.Command[0] != "/opt/auditd-cloud-logging/audit-setup.sh" {
			t.Errorf("%s: init command %q is not the script the setup image installs", v, init.Command)
		}
	}
}

var fbVersion = regexp.MustCompile(`^fluent/fluent-bit:(\d+)\.(\d+)\.(\d+)$`)

func supportedFluentBit(ref string) bool {
	m := fbVersion.FindStringSubmatch(ref)
	if m == nil {
		return false
	}
	v := [3]int{}
	for i := range v {
		for _, ch := range m[i+1] {
			v[i] = v[i]*10 + int(ch-'0')
		}
	}
	atLeast := func(a, b, c int) bool {
		return v[0] > a || v[0] == a && (v[1] > b || v[1] == b && v[2] >= c)
	}
	return atLeast(2, 1, 0) && !atLeast(4, 2, 3)
}

func TestSupportedFluentBit(t *testing.T) {
	for ref, ok := range map[string]bool{
		"fluent/fluent-bit:4.1.2": true, "fluent/fluent-bit:4.2.2": true, "fluent/fluent-bit:2.1.0": true,
		"fluent/fluent-bit:4.2.3": false, "fluent/fluent-bit:5.1.1": false, "fluent/fluent-bit:2.0.14": false,
		"fluent/fluent-bit:4.1": false, "fluent/fluent-bit:latest": false,
	} {
		if supportedFluentBit(ref) != ok {
			t.Errorf("%s: supported=%v, want %v", ref, !ok, ok)
		}
	}
}

func lastCmd(s *instructions.Stage) (*instructions.CmdCommand, *instructions.EntrypointCommand) {
	var cmd *instructions.CmdCommand
	var ep *instructions.EntrypointCommand
	for _, c := range s.Commands {
		switch x := c.(type) {
		case *instructions.CmdCommand:
			cmd = x
		case *instructions.EntrypointCommand:
			ep = x
		}
	}
	return cmd, ep
}

// dockerfilePluginPath is where the plugin stage puts the .so built by the build stage.
func dockerfilePluginPath(t *testing.T) string {
	t.Helper()
	plugin := stageNamed(repoDockerfile(t), "plugin")
	if plugin == nil {
		t.Fatal("no plugin stage")
	}
	for _, c := range plugin.Commands {
		cp, ok := c.(*instructions.CopyCommand)
		if !ok || cp.From != "build" {
			continue
		}
		for _, src := range cp.SourcePaths {
			if path.Base(src) == pluginSO {
				dst := cp.DestPath
				if strings.HasSuffix(dst, "/") {
					dst += pluginSO
				}
				return dst
			}
		}
	}
	t.Fatalf("the plugin stage copies no %s from the build stage", pluginSO)
	return ""
}

// dockerfileConfCopies lists the conf/ files the plugin stage copies into /fluent-bit/etc.
func dockerfileConfCopies(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	plugin := stageNamed(repoDockerfile(t), "plugin")
	for _, c := range plugin.Commands {
		cp, ok := c.(*instructions.CopyCommand)
		if !ok || cp.From != "" || path.Clean(cp.DestPath) != configMount {
			continue
		}
		for _, src := range cp.SourcePaths {
			if strings.HasPrefix(src, "conf/") {
				out[path.Base(src)] = true
			}
		}
	}
	return out
}

// The checks catch what they are for.
func TestDockerfileChecksCatchMistakes(t *testing.T) {
	stages := parseDockerfile(t, "FROM golang AS build\nFROM fluent/fluent-bit:latest AS plugin\nCMD /fluent-bit/bin/fluent-bit -c x\n")
	if why := unpinnedReason(stages[0].BaseName); why == "" {
		t.Error("untagged base accepted")
	}
	if why := unpinnedReason(stages[1].BaseName); why == "" {
		t.Error("latest accepted")
	}
	if cmd, _ := lastCmd(&stages[1]); cmd == nil || !cmd.PrependShell {
		t.Error("shell-form CMD not recognised")
	}
}
