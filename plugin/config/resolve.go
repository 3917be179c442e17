package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"
)

// MetadataTimeout bounds all of Resolve's metadata lookups together. Off GCP the metadata
// address may be black-holed; this keeps fluent-bit's Init from hanging (the library's
// own probing can take 15 s or more, google-cloud-go #5855/#10420).
var MetadataTimeout = 3 * time.Second

// metadataHostEnv is read by cloud.google.com/go/compute/metadata itself; Resolve reads it
// only to name the server in error messages.
const metadataHostEnv = "GCE_METADATA_HOST"

// Resolve fills what Parse left empty and the resource type needs, does the checks that
// need I/O, and fails naming every key it could not determine.
//
//   - Node_Name: the key, else env("NODE_NAME") (set from spec.nodeName in the DaemonSet),
//     else the metadata server's instance/name.
//   - Project_ID, Cluster_Name, Cluster_Location, zone, instance id: the key, else the GCE
//     metadata server (project/project-id, instance/attributes/cluster-name,
//     instance/attributes/cluster-location, instance/zone, instance/id). Only values the
//     resource type uses are looked up; when nothing is missing the server is not contacted.
//   - Credentials_File, Passwd_File, Group_File must be readable files.
//
// The metadata server is the one at GCE_METADATA_HOST (process environment, honoured by the
// metadata library), else 169.254.169.254. All lookups run in parallel under one
// MetadataTimeout deadline. With Dry_Run, values that cannot be determined stay empty and
// Resolve does not fail for them. env is nil for os.Getenv.
func (c *Config) Resolve(ctx context.Context, env func(string) string) error {
	if env == nil {
		env = os.Getenv
	}
	if c.NodeName == "" {
		if v := strings.TrimSpace(env("NODE_NAME")); v != "" {
			if err := checkName("Node_Name", v); err != nil {
				return fmt.Errorf("%s: invalid NODE_NAME environment variable %s (used for Node_Name): %s", PluginName, quoteShort(v), err.(*KeyError).Allowed)
			}
			c.NodeName = v
		}
	}
	for _, f := range []struct{ key, path string }{
		{"Credentials_File", c.CredentialsFile}, {"Passwd_File", c.PasswdFile}, {"Group_File", c.GroupFile},
	} {
		if f.path == "" {
			continue
		}
		if err := checkReadable(f.path); err != nil {
			return fmt.Errorf("%s: %s %s is not a readable file: %v", PluginName, f.key, quoteShort(f.path), err)
		}
	}

	wants := c.missing()
	if len(wants) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, MetadataTimeout)
	defer cancel()
	mc := metadata.NewWithOptions(&metadata.Options{Client: &http.Client{Timeout: MetadataTimeout}})
	host := os.Getenv(metadataHostEnv)
	if host == "" {
		host = "169.254.169.254"
	}

	var wg sync.WaitGroup
	reasons := make([]string, len(wants))
	values := make([]string, len(wants))
	for i, w := range wants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			values[i], reasons[i] = fetch(ctx, mc, host, w)
		}()
	}
	wg.Wait()

	// Group the missing keys by reason, so that the usual case (no metadata server) is one
	// short sentence rather than one per key.
	var order []string
	byReason := map[string][]string{}
	for i, w := range wants {
		if reasons[i] == "" {
			*w.dst = values[i]
			continue
		}
		if _, ok := byReason[reasons[i]]; !ok {
			order = append(order, reasons[i])
		}
		byReason[reasons[i]] = append(byReason[reasons[i]], w.name)
	}
	if len(order) == 0 || c.DryRun {
		return nil
	}
	var parts []string
	nodeMissing := false
	for _, r := range order {
		keys := byReason[r]
		for _, k := range keys {
			nodeMissing = nodeMissing || k == "Node_Name"
		}
		parts = append(parts, fmt.Sprintf("%s (not set in the [OUTPUT] section and %s)", strings.Join(keys, ", "), r))
	}
	hint := "set them in the [OUTPUT] section or run on GCE"
	if nodeMissing {
		hint = "set them in the [OUTPUT] section (Node_Name also from the NODE_NAME environment variable) or run on GCE"
	}
	return fmt.Errorf("%s: cannot determine %s; %s", PluginName, strings.Join(parts, "; "), hint)
}

// want is one value Resolve looks up: name is how error messages call it.
type want struct {
	name, path  string
	dst         *string
	lastSegment bool // instance/zone is "projects/NUM/zones/ZONE"
}

func (c *Config) missing() []want {
	var ws []want
	add := func(cur string, w want) {
		if cur == "" {
			ws = append(ws, w)
		}
	}
	add(c.ProjectID, want{name: "Project_ID", path: "project/project-id", dst: &c.ProjectID})
	switch c.Resource {
	case ResourceGCEInstance:
		add(c.Zone, want{name: "zone", path: "instance/zone", dst: &c.Zone, lastSegment: true})
		add(c.InstanceID, want{name: "instance id", path: "instance/id", dst: &c.InstanceID})
	case ResourceGenericNode:
		if c.ClusterLocation == "" {
			add(c.Zone, want{name: "Cluster_Location", path: "instance/zone", dst: &c.Zone, lastSegment: true})
		}
		add(c.NodeName, want{name: "Node_Name", path: "instance/name", dst: &c.NodeName})
	default:
		add(c.ClusterName, want{name: "Cluster_Name", path: "instance/attributes/cluster-name", dst: &c.ClusterName})
		add(c.ClusterLocation, want{name: "Cluster_Location", path: "instance/attributes/cluster-location", dst: &c.ClusterLocation})
		add(c.NodeName, want{name: "Node_Name", path: "instance/name", dst: &c.NodeName})
	}
	return ws
}

// fetch returns the value, or "" and why it could not be had.
func fetch(ctx context.Context, mc *metadata.Client, host string, w want) (string, string) {
	v, err := mc.GetWithContext(ctx, w.path)
	if err != nil {
		var nd metadata.NotDefinedError
		var me *metadata.Error
		var ne net.Error
		switch {
		case errors.As(err, &nd):
			return "", fmt.Sprintf("the GCE metadata server at %s does not define %s", host, w.path)
		case errors.As(err, &me):
			return "", fmt.Sprintf("the GCE metadata server at %s answered HTTP %d for %s", host, me.Code, w.path)
		case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
			return "", fmt.Sprintf("the GCE metadata server at %s did not answer within %v", host, MetadataTimeout)
		default:
			return "", fmt.Sprintf("the GCE metadata server at %s could not be reached (%v)", host, err)
		}
	}
	v = strings.TrimSpace(v)
	if w.lastSegment {
		v = v[strings.LastIndexByte(v, '/')+1:]
	}
	if v == "" {
		return "", fmt.Sprintf("the GCE metadata server at %s returned an empty %s", host, w.path)
	}
	var bad error
	if w.name == "Project_ID" {
		bad = checkProjectID(v)
	} else {
		bad = checkName(w.name, v)
	}
	if bad != nil {
		return "", fmt.Sprintf("the GCE metadata server at %s returned an unusable %s %s", host, w.path, quoteShort(v))
	}
	return v, ""
}

func checkReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("it is a directory")
	}
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil && err != io.EOF {
		return err
	}
	return nil
}
