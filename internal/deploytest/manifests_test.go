package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// The deployable variants, by kustomization directory (relative to the repository).
const (
	variantCOS     = "manifests"
	variantNonCOS  = "manifests/overlays/non-cos"
	variantDisable = "manifests/overlays/disable"
)

var variants = []string{variantCOS, variantNonCOS, variantDisable}

const (
	namespace     = "auditd-cloud-logging"
	shipperName   = "fluent-bit"
	setupName     = "audit-setup"
	configMount   = "/fluent-bit/etc"
	osDistroLabel = "cloud.google.com/gke-os-distribution"
)

// rendered is one variant after `kustomize build`, every object strictly decoded.
type rendered struct {
	Namespaces      []corev1.Namespace
	ServiceAccounts []corev1.ServiceAccount
	ConfigMaps      []corev1.ConfigMap
	DaemonSets      []appsv1.DaemonSet
}

// decodeStrict decodes JSON into v and fails on any field v's type does not have, so a misspelled
// or misplaced field in a manifest (which the API server would silently drop) fails the test.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the object")
	}
	return nil
}

func decodeObject(data []byte, r *rendered) error {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return err
	}
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/Namespace":
		var o corev1.Namespace
		if err := decodeStrict(data, &o); err != nil {
			return fmt.Errorf("Namespace: %w", err)
		}
		r.Namespaces = append(r.Namespaces, o)
	case "v1/ServiceAccount":
		var o corev1.ServiceAccount
		if err := decodeStrict(data, &o); err != nil {
			return fmt.Errorf("ServiceAccount: %w", err)
		}
		r.ServiceAccounts = append(r.ServiceAccounts, o)
	case "v1/ConfigMap":
		var o corev1.ConfigMap
		if err := decodeStrict(data, &o); err != nil {
			return fmt.Errorf("ConfigMap: %w", err)
		}
		r.ConfigMaps = append(r.ConfigMaps, o)
	case "apps/v1/DaemonSet":
		var o appsv1.DaemonSet
		if err := decodeStrict(data, &o); err != nil {
			return fmt.Errorf("DaemonSet: %w", err)
		}
		r.DaemonSets = append(r.DaemonSets, o)
	default:
		return fmt.Errorf("unexpected object %s %s: the manifests produce Namespace, ServiceAccount, ConfigMap and DaemonSet only", tm.APIVersion, tm.Kind)
	}
	return nil
}

var (
	renderMu    sync.Mutex
	renderCache = map[string]*rendered{}
)

// render runs kustomize (the library kubectl embeds) on a variant, once per test binary.
func render(t *testing.T, variant string) *rendered {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if r, ok := renderCache[variant]; ok {
		return r
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(t), variant))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", variant, err)
	}
	r := &rendered{}
	for _, res := range resMap.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %s: %v", variant, res.CurId(), err)
		}
		if err := decodeObject(data, r); err != nil {
			t.Fatalf("%s: %s: %v", variant, res.CurId(), err)
		}
	}
	renderCache[variant] = r
	return r
}

func (r *rendered) daemonSet(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	if len(r.DaemonSets) != 1 {
		t.Fatalf("%d DaemonSets, want 1", len(r.DaemonSets))
	}
	return &r.DaemonSets[0]
}

func (r *rendered) configMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	if len(r.ConfigMaps) != 1 {
		t.Fatalf("%d ConfigMaps, want 1", len(r.ConfigMaps))
	}
	return &r.ConfigMaps[0]
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func envValue(c *corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func TestDecodeStrictRejectsUnknownFields(t *testing.T) {
	bad := []string{
		`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"c","imagee":"x:1"}]}}}}`,
		`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"x"},"spec":{"updateStrategy":{"maxUnavailable":1}}}`,
		`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"x"},"automountToken":false}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}} {}`,
	}
	for _, b := range bad {
		if err := decodeObject([]byte(b), &rendered{}); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
	good := `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"x"},"automountServiceAccountToken":false}`
	if err := decodeObject([]byte(good), &rendered{}); err != nil {
		t.Errorf("rejected a valid object: %v", err)
	}
}

func TestManifestsRenderAndAreConsistent(t *testing.T) {
	for _, v := range variants {
		t.Run(filepath.Base(v), func(t *testing.T) {
			r := render(t, v)
			if len(r.Namespaces) != 1 || r.Namespaces[0].Name != namespace {
				t.Fatalf("namespaces %v, want exactly %s", r.Namespaces, namespace)
			}
			if r.Namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
				t.Error("namespace does not allow the privileged init container under Pod Security admission")
			}
			if len(r.ServiceAccounts) != 1 {
				t.Fatalf("%d ServiceAccounts, want 1", len(r.ServiceAccounts))
			}
			sa := r.ServiceAccounts[0]
			if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
				t.Error("ServiceAccount mounts its token; the pods call no API")
			}
			ds := r.daemonSet(t)
			cm := r.configMap(t)
			for _, o := range []metav1.ObjectMeta{sa.ObjectMeta, ds.ObjectMeta, cm.ObjectMeta} {
				if o.Namespace != namespace {
					t.Errorf("%s is in namespace %q, want %q", o.Name, o.Namespace, namespace)
				}
			}

			spec := ds.Spec.Template.Spec
			sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
			if err != nil || sel.Empty() {
				t.Fatalf("DaemonSet selector %v: %v", ds.Spec.Selector, err)
			}
			if !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
				t.Errorf("selector %s does not match the pod labels %v", sel, ds.Spec.Template.Labels)
			}
			if spec.ServiceAccountName != sa.Name {
				t.Errorf("pod uses service account %q, the manifests create %q", spec.ServiceAccountName, sa.Name)
			}
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Error("pod mounts a service account token")
			}
			if spec.PriorityClassName != "system-node-critical" {
				t.Errorf("priorityClassName %q, want system-node-critical", spec.PriorityClassName)
			}
			if !tolerateEverything(spec.Tolerations) {
				t.Errorf("tolerations %v do not tolerate every taint (want operator Exists without key and effect)", spec.Tolerations)
			}
			if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType ||
				ds.Spec.UpdateStrategy.RollingUpdate == nil || ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
				t.Errorf("update strategy %+v, want RollingUpdate with maxUnavailable", ds.Spec.UpdateStrategy)
			}
			if !spec.HostPID {
				t.Error("hostPID is off: systemctl in the init container refuses to act from a chroot otherwise")
			}
			if spec.SecurityContext == nil || spec.SecurityContext.SeccompProfile == nil ||
				spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Error("pod seccompProfile is not RuntimeDefault")
			}

			checkImages(t, spec)
			checkPrivileges(t, spec)
			checkResources(t, spec)
			checkVolumes(t, spec, cm)

			if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != setupName {
				t.Fatalf("init containers %v, want exactly %s", spec.InitContainers, setupName)
			}
			setup := &spec.InitContainers[0]
			if !hasMount(setup, "/host", false) {
				t.Error("init container lacks the host root at /host")
			}
			if e, ok := envValue(setup, "NODE_NAME"); !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
				t.Error("init container's NODE_NAME is not from the downward API (spec.nodeName)")
			}
			if e, ok := envValue(setup, "AUDIT_LOCK"); ok && e.Value != "false" {
				t.Errorf("AUDIT_LOCK=%q by default; locking must be opt-in", e.Value)
			}
		})
	}
}

func tolerateEverything(ts []corev1.Toleration) bool {
	for _, t := range ts {
		if t.Operator == corev1.TolerationOpExists && t.Key == "" && t.Effect == "" {
			return true
		}
	}
	return false
}

func allContainers(spec corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// checkImages: every image went through kustomize's images (registry set), has a version tag,
// and the tag is not latest.
func checkImages(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range allContainers(spec) {
		img := c.Image
		if strings.Contains(img, "@sha256:") {
			continue
		}
		slash := strings.LastIndex(img, "/")
		colon := strings.LastIndex(img, ":")
		if colon < slash || colon < 0 {
			t.Errorf("container %s: image %q has no tag", c.Name, img)
			continue
		}
		if tag := img[colon+1:]; tag == "latest" || tag == "" {
			t.Errorf("container %s: image %q uses tag %q", c.Name, img, tag)
		}
		if slash < 0 {
			t.Errorf("container %s: image %q has no registry: kustomize images did not apply", c.Name, img)
		}
		if c.ImagePullPolicy == corev1.PullAlways {
			t.Errorf("container %s: imagePullPolicy Always with a pinned tag only adds a registry dependency", c.Name)
		}
	}
}

// checkPrivileges: only init containers may be privileged; every long-running container is
// locked down.
func checkPrivileges(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range spec.InitContainers {
		if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
			t.Errorf("init container %s is not privileged; it cannot load audit rules", c.Name)
		}
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", c.Name)
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s allows privilege escalation", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s has a writable root filesystem", c.Name)
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("container %s does not drop ALL capabilities", c.Name)
		} else if len(sc.Capabilities.Add) > 0 {
			// DAC_READ_SEARCH in particular: with it RuntimeDefault seccomp allows
			// open_by_handle_at, which reaches any inode of a mounted host filesystem.
			t.Errorf("container %s adds capabilities %v; uid 0 reads the journal and audit.log as their owner", c.Name, sc.Capabilities.Add)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s seccompProfile is not RuntimeDefault", c.Name)
		}
	}
}

func checkResources(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range allContainers(spec) {
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[res]
			lim, okLim := c.Resources.Limits[res]
			if !okReq || !okLim {
				t.Errorf("container %s: %s request or limit missing", c.Name, res)
				continue
			}
			if req.Cmp(lim) > 0 {
				t.Errorf("container %s: %s request %s above limit %s", c.Name, res, req.String(), lim.String())
			}
		}
	}
}

// checkVolumes: every mount names a volume, every volume is mounted, ConfigMap volumes name the
// generated ConfigMap (with its hash) or an optional user ConfigMap.
func checkVolumes(t *testing.T, spec corev1.PodSpec, cm *corev1.ConfigMap) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	used := map[string]bool{}
	for _, c := range allContainers(spec) {
		for _, m := range c.VolumeMounts {
			if _, ok := vols[m.Name]; !ok {
				t.Errorf("container %s mounts undefined volume %q", c.Name, m.Name)
			}
			used[m.Name] = true
		}
	}
	for name, v := range vols {
		if !used[name] {
			t.Errorf("volume %q is not mounted by any container", name)
		}
		if v.ConfigMap != nil {
			optional := v.ConfigMap.Optional != nil && *v.ConfigMap.Optional
			if v.ConfigMap.Name != cm.Name && !optional {
				t.Errorf("volume %q uses ConfigMap %q; the manifests generate %q", name, v.ConfigMap.Name, cm.Name)
			}
		}
	}
}

func hasMount(c *corev1.Container, path string, readOnly bool) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path && (!readOnly || m.ReadOnly) {
			return true
		}
	}
	return false
}

func TestManifestsVariants(t *testing.T) {
	cos := render(t, variantCOS).daemonSet(t)
	non := render(t, variantNonCOS).daemonSet(t)
	dis := render(t, variantDisable).daemonSet(t)

	if got := cos.Spec.Template.Spec.NodeSelector[osDistroLabel]; got != "cos" {
		t.Errorf("default variant selects %s=%q, want cos", osDistroLabel, got)
	}
	if got := non.Spec.Template.Spec.NodeSelector[osDistroLabel]; got != "ubuntu" {
		t.Errorf("non-COS variant selects %s=%q, want ubuntu", osDistroLabel, got)
	}
	if _, ok := dis.Spec.Template.Spec.NodeSelector[osDistroLabel]; ok {
		t.Error("disable variant is restricted to one OS; it must reach every node that ran either variant")
	}

	// COS and non-COS can run side by side: different names, selectors that never overlap.
	if cos.Name == non.Name {
		t.Error("COS and non-COS DaemonSets share a name; applying both would replace one with the other")
	}
	cosSel, _ := metav1.LabelSelectorAsSelector(cos.Spec.Selector)
	nonSel, _ := metav1.LabelSelectorAsSelector(non.Spec.Selector)
	if cosSel.Matches(labels.Set(non.Spec.Template.Labels)) || nonSel.Matches(labels.Set(cos.Spec.Template.Labels)) {
		t.Error("COS and non-COS DaemonSet selectors overlap")
	}
	// The disable variant replaces the default DaemonSet in place (same name, same selector).
	if dis.Name != cos.Name {
		t.Errorf("disable DaemonSet %q does not replace %q in place", dis.Name, cos.Name)
	}

	for _, c := range []struct {
		ds   *appsv1.DaemonSet
		mode string
	}{{cos, "setup"}, {non, "setup"}, {dis, "disable"}} {
		e, _ := envValue(&c.ds.Spec.Template.Spec.InitContainers[0], "MODE")
		if e.Value != c.mode {
			t.Errorf("%s: init container MODE=%q, want %q", c.ds.Name, e.Value, c.mode)
		}
	}

	if findContainer(dis.Spec.Template.Spec.Containers, shipperName) != nil {
		t.Error("disable variant still runs fluent-bit")
	}
	for k := range dis.Spec.Template.Annotations {
		if strings.HasPrefix(k, "prometheus.io/") {
			t.Errorf("disable variant keeps annotation %s: a scraper would poll a pod without the plugin", k)
		}
	}
	if mu := dis.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable; mu == nil || mu.String() != "100%" {
		t.Errorf("disable variant maxUnavailable %v: locked nodes never get ready and would stop the rollout", mu)
	}

	for _, ds := range []*appsv1.DaemonSet{cos, non} {
		fb := findContainer(ds.Spec.Template.Spec.Containers, shipperName)
		if fb == nil {
			t.Fatalf("%s has no %s container", ds.Name, shipperName)
		}
		if e, ok := envValue(fb, "NODE_NAME"); !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
			t.Errorf("%s: NODE_NAME is not from the downward API", ds.Name)
		}
		if !hasMount(fb, "/etc/machine-id", true) {
			t.Errorf("%s: /etc/machine-id not mounted read-only", ds.Name)
		}
		if fb.LivenessProbe == nil || fb.ReadinessProbe == nil {
			t.Errorf("%s: probes missing", ds.Name)
		}
	}
	if fb := findContainer(cos.Spec.Template.Spec.Containers, shipperName); !hasMount(fb, "/var/log/journal", true) {
		t.Error("COS variant: /var/log/journal not mounted read-only")
	}
	if fb := findContainer(non.Spec.Template.Spec.Containers, shipperName); !hasMount(fb, "/var/log/audit", true) || hasMount(fb, "/var/log/journal", false) {
		t.Error("non-COS variant: want /var/log/audit read-only and no journal mount")
	}
}

// The disable variant's idle container runs the setup image (copied from the init container, so
// kustomize images still applies to it).
func TestDisableIdleContainerImage(t *testing.T) {
	ds := render(t, variantDisable).daemonSet(t)
	idle := findContainer(ds.Spec.Template.Spec.Containers, "idle")
	if idle == nil || len(ds.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("disable variant containers %v, want only idle", ds.Spec.Template.Spec.Containers)
	}
	if idle.Image == "" || idle.Image != ds.Spec.Template.Spec.InitContainers[0].Image {
		t.Errorf("idle image %q, want the init container's %q", idle.Image, ds.Spec.Template.Spec.InitContainers[0].Image)
	}
	if sc := idle.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("idle container runs as root")
	}
}
