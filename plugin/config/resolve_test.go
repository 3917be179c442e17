package config

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMetadata is a GCE metadata server on 127.0.0.1 answering the paths in values.
type fakeMetadata struct {
	mu     sync.Mutex
	values map[string]string
	asked  map[string]int
}

func newFakeMetadata(t *testing.T, values map[string]string) *fakeMetadata {
	t.Helper()
	f := &fakeMetadata{values: values, asked: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")
		f.mu.Lock()
		f.asked[p]++
		v, ok := f.values[p]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(v))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("GCE_METADATA_HOST", srv.Listener.Addr().String())
	return f
}

func (f *fakeMetadata) count(p string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.asked[p] }
func (f *fakeMetadata) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.asked {
		n += c
	}
	return n
}

var gkeNode = map[string]string{
	"project/project-id":                   "meta-project",
	"instance/zone":                        "projects/123456/zones/europe-west1-b",
	"instance/id":                          "4242424242",
	"instance/name":                        "gke-prod-pool-1-abcd",
	"instance/attributes/cluster-name":     "prod",
	"instance/attributes/cluster-location": "europe-west1",
}

func noEnv(string) string { return "" }

func mustParse(t *testing.T, g MapGetter) Config {
	t.Helper()
	c, err := Parse(g)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolveFromMetadata(t *testing.T) {
	newFakeMetadata(t, gkeNode)
	for _, tc := range []struct {
		resource string
		want     Config
	}{
		{"k8s_node", Config{ProjectID: "meta-project", ClusterName: "prod", ClusterLocation: "europe-west1", NodeName: "gke-prod-pool-1-abcd"}},
		{"gce_instance", Config{ProjectID: "meta-project", Zone: "europe-west1-b", InstanceID: "4242424242"}},
		{"generic_node", Config{ProjectID: "meta-project", Zone: "europe-west1-b", NodeName: "gke-prod-pool-1-abcd"}},
	} {
		c := mustParse(t, MapGetter{"Resource": tc.resource})
		if err := c.Resolve(context.Background(), noEnv); err != nil {
			t.Fatalf("%s: %v", tc.resource, err)
		}
		got := Config{ProjectID: c.ProjectID, ClusterName: c.ClusterName, ClusterLocation: c.ClusterLocation,
			NodeName: c.NodeName, Zone: c.Zone, InstanceID: c.InstanceID}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.resource, got, tc.want)
		}
	}
}

func TestResolveExplicitBeatsMetadata(t *testing.T) {
	f := newFakeMetadata(t, gkeNode)
	c := mustParse(t, MapGetter{"Project_ID": "cfg-project", "Cluster_Name": "cfg-cluster"})
	if err := c.Resolve(context.Background(), noEnv); err != nil {
		t.Fatal(err)
	}
	if c.ProjectID != "cfg-project" || c.ClusterName != "cfg-cluster" || c.ClusterLocation != "europe-west1" {
		t.Fatalf("got %+v", c)
	}
	if f.count("project/project-id") != 0 || f.count("instance/attributes/cluster-name") != 0 {
		t.Fatalf("metadata asked for values the config set: %v", f.asked)
	}
}

func TestResolveNodeNamePrecedence(t *testing.T) {
	newFakeMetadata(t, gkeNode)
	env := func(k string) string {
		if k == "NODE_NAME" {
			return "env-node"
		}
		return ""
	}
	c := mustParse(t, MapGetter{})
	if err := c.Resolve(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "env-node" {
		t.Errorf("NODE_NAME should beat metadata: got %q", c.NodeName)
	}
	c = mustParse(t, MapGetter{"Node_Name": "cfg-node"})
	if err := c.Resolve(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "cfg-node" {
		t.Errorf("Node_Name should beat NODE_NAME: got %q", c.NodeName)
	}
	c = mustParse(t, MapGetter{})
	err := c.Resolve(context.Background(), func(k string) string {
		if k == "NODE_NAME" {
			return "bad\x01node"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "NODE_NAME") {
		t.Errorf("bad NODE_NAME: %v", err)
	}
}

// TestResolveNothingMissing: a fully configured instance must not touch the metadata
// server at all, so it starts instantly off GCP.
func TestResolveNothingMissing(t *testing.T) {
	f := newFakeMetadata(t, gkeNode)
	c := mustParse(t, MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n"})
	if err := c.Resolve(context.Background(), noEnv); err != nil {
		t.Fatal(err)
	}
	if n := f.total(); n != 0 {
		t.Fatalf("metadata server asked %d times", n)
	}
}

// hangingListener accepts connections and never answers.
func hangingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestResolveHangingMetadataServer(t *testing.T) {
	addr := hangingListener(t)
	t.Setenv("GCE_METADATA_HOST", addr)
	c := mustParse(t, MapGetter{"Cluster_Location": "europe-west1"})
	start := time.Now()
	err := c.Resolve(context.Background(), noEnv)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Resolve succeeded against a server that never answers")
	}
	if took > MetadataTimeout+time.Second {
		t.Errorf("Resolve took %v, bound is %v", took, MetadataTimeout)
	}
	msg := err.Error()
	for _, s := range []string{"Project_ID, Cluster_Name, Node_Name", "did not answer within 3s", addr, "NODE_NAME", PluginName} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q: %s", s, msg)
		}
	}
	if strings.Contains(msg, "Cluster_Location") {
		t.Errorf("message names Cluster_Location, which was set: %s", msg)
	}
	t.Log(msg)

	// Dry_Run does not need the values: same server, no error, values stay empty.
	c = mustParse(t, MapGetter{"Dry_Run": "on"})
	MetadataTimeout = 300 * time.Millisecond
	t.Cleanup(func() { MetadataTimeout = 3 * time.Second })
	if err := c.Resolve(context.Background(), noEnv); err != nil || c.ProjectID != "" {
		t.Fatalf("Dry_Run: %v %+v", err, c)
	}
	if got := c.LogPath(); got != "projects//logs/linux-auditd" {
		t.Errorf("Dry_Run LogPath %q", got)
	}
}

func TestResolveConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("GCE_METADATA_HOST", addr)
	c := mustParse(t, MapGetter{"Resource": "gce_instance"})
	start := time.Now()
	err = c.Resolve(context.Background(), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	if took := time.Since(start); took > MetadataTimeout+time.Second {
		t.Errorf("took %v", took)
	}
	if msg := err.Error(); !strings.Contains(msg, "Project_ID") || !strings.Contains(msg, "zone") || !strings.Contains(msg, "instance id") {
		t.Errorf("message: %s", msg)
	}
}

func TestResolveNotDefined(t *testing.T) {
	plain := map[string]string{}
	for k, v := range gkeNode {
		if !strings.Contains(k, "cluster-") {
			plain[k] = v
		}
	}
	newFakeMetadata(t, plain) // a plain GCE VM: no cluster attributes
	c := mustParse(t, MapGetter{})
	err := c.Resolve(context.Background(), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, s := range []string{"Cluster_Name (", "does not define instance/attributes/cluster-name", "Cluster_Location (", "does not define instance/attributes/cluster-location"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q: %s", s, msg)
		}
	}
	if strings.Contains(msg, "Project_ID") || strings.Contains(msg, "Node_Name") {
		t.Errorf("names values the server had: %s", msg)
	}
	// An unusable value from the server is not used.
	bad := map[string]string{}
	for k, v := range gkeNode {
		bad[k] = v
	}
	bad["project/project-id"] = "Not A Project"
	newFakeMetadata(t, bad)
	c = mustParse(t, MapGetter{})
	if err := c.Resolve(context.Background(), noEnv); err == nil || !strings.Contains(err.Error(), "unusable project/project-id") {
		t.Errorf("bad project from metadata: %v", err)
	}
}

func TestResolveFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "passwd")
	if err := os.WriteFile(good, []byte("root:x:0:0::/root:/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := MapGetter{"Project_ID": "p", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n"}
	for _, tc := range []struct {
		key, path string
		ok        bool
	}{
		{"Passwd_File", good, true},
		{"Group_File", good, true},
		{"Credentials_File", good, true},
		{"Passwd_File", filepath.Join(dir, "missing"), false},
		{"Group_File", dir, false},
		{"Credentials_File", filepath.Join(dir, "nope.json"), false},
	} {
		g := MapGetter{tc.key: tc.path}
		for k, v := range full {
			g[k] = v
		}
		c := mustParse(t, g)
		err := c.Resolve(context.Background(), noEnv)
		if tc.ok != (err == nil) {
			t.Errorf("%s=%s: err=%v", tc.key, tc.path, err)
		}
		if err != nil && (!strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.path)) {
			t.Errorf("%s: error does not name key and path: %v", tc.key, err)
		}
	}
}
