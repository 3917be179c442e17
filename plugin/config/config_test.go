package config

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Parse(MapGetter{})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		LogName:            "linux-auditd",
		Resource:           "k8s_node",
		WriteTimeout:       30 * time.Second,
		MaxRequestBytes:    8388608,
		EventQuiet:         500 * time.Millisecond,
		EventTimeout:       5 * time.Second,
		MaxEventsInFlight:  4096,
		ArgvMaxBytes:       65536,
		OmitLoaderPaths:    true,
		PayloadRecords:     true,
		ReportInterval:     time.Minute,
		LogSummaryInterval: time.Minute,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestMapGetterCaseInsensitive(t *testing.T) {
	m := MapGetter{"Project_ID": "p1", "log_name": "x"}
	for key, want := range map[string]string{"Project_ID": "p1", "project_id": "p1", "PROJECT_ID": "p1", "Log_Name": "x", "Labels": ""} {
		if got := m.Get(key); got != want {
			t.Errorf("Get(%q) = %q, want %q", key, got, want)
		}
	}
	c, err := Parse(MapGetter{"pRoJeCt_Id": "my-proj", "DRY_RUN": "On"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ProjectID != "my-proj" || !c.DryRun {
		t.Fatalf("case-insensitive keys not read: %+v", c)
	}
}

// recordingGetter records which keys Parse asks for.
type recordingGetter struct{ asked map[string]bool }

func (r *recordingGetter) Get(k string) string { r.asked[strings.ToLower(k)] = true; return "" }

// TestKeysInSync makes keys.go's list and what Parse reads the same set.
func TestKeysInSync(t *testing.T) {
	r := &recordingGetter{asked: map[string]bool{}}
	if _, err := Parse(r); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, k := range Keys {
		listed[strings.ToLower(k)] = true
		if !r.asked[strings.ToLower(k)] {
			t.Errorf("Keys lists %s but Parse never reads it", k)
		}
	}
	for k := range r.asked {
		if !listed[k] {
			t.Errorf("Parse reads %q which is not in Keys", k)
		}
	}
}

// TestDocsListEveryKey keeps the package doc table and docs/config.md complete.
func TestDocsListEveryKey(t *testing.T) {
	for _, f := range []string{"doc.go", "../../docs/config.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range Keys {
			if !strings.Contains(string(b), k) {
				t.Errorf("%s does not document %s", f, k)
			}
		}
	}
}

func TestParseGood(t *testing.T) {
	long := strings.Repeat("k", 512)
	cases := []struct {
		key, val string
		check    func(Config) bool
	}{
		{"Project_ID", "my-project-123", func(c Config) bool { return c.ProjectID == "my-project-123" }},
		{"Project_ID", "example.com:legacy-1", func(c Config) bool { return c.ProjectID == "example.com:legacy-1" }},
		{"Project_ID", "  padded  ", func(c Config) bool { return c.ProjectID == "padded" }},
		{"Log_Name", "audit/node.log_1-x", func(c Config) bool { return c.LogName == "audit/node.log_1-x" }},
		{"Resource", "gce_instance", func(c Config) bool { return c.Resource == "gce_instance" }},
		{"Resource", "Generic_Node", func(c Config) bool { return c.Resource == "generic_node" }},
		{"Resource", "k8s_node", func(c Config) bool { return c.Resource == "k8s_node" }},
		{"Cluster_Name", "prod-1", func(c Config) bool { return c.ClusterName == "prod-1" }},
		{"Cluster_Location", "europe-west1", func(c Config) bool { return c.ClusterLocation == "europe-west1" }},
		{"Node_Name", "gke-prod-pool-1-abcd", func(c Config) bool { return c.NodeName == "gke-prod-pool-1-abcd" }},
		{"Node_Name", "nœud-ü", func(c Config) bool { return c.NodeName == "nœud-ü" }},
		{"Labels", "a=1, b = two ,c=", func(c Config) bool {
			return reflect.DeepEqual(c.Labels, map[string]string{"a": "1", "b": "two", "c": ""})
		}},
		{"Labels", long + "=" + strings.Repeat("v", 65536), func(c Config) bool { return len(c.Labels[long]) == 65536 }},
		{"Labels", labelList(64), func(c Config) bool { return len(c.Labels) == 64 }},
		{"Labels", "k=v=w", func(c Config) bool { return c.Labels["k"] == "v=w" }},
		{"Endpoint", "127.0.0.1:8085", func(c Config) bool { return c.Endpoint == "127.0.0.1:8085" }},
		{"Endpoint", "[::1]:443", func(c Config) bool { return c.Endpoint == "[::1]:443" }},
		{"Endpoint", "logging.googleapis.com:443", func(c Config) bool { return c.Endpoint == "logging.googleapis.com:443" }},
		{"Credentials_File", "/var/secrets/key.json", func(c Config) bool { return c.CredentialsFile == "/var/secrets/key.json" }},
		{"Write_Timeout", "45s", func(c Config) bool { return c.WriteTimeout == 45*time.Second }},
		{"Write_Timeout", "10", func(c Config) bool { return c.WriteTimeout == 10*time.Second }},
		{"Write_Timeout", "100ms", func(c Config) bool { return c.WriteTimeout == 100*time.Millisecond }},
		{"Write_Timeout", "10m", func(c Config) bool { return c.WriteTimeout == 10*time.Minute }},
		{"Max_Request_Bytes", "10485760", func(c Config) bool { return c.MaxRequestBytes == 10485760 }},
		{"Max_Request_Bytes", "10M", func(c Config) bool { return c.MaxRequestBytes == 10485760 }},
		{"Max_Request_Bytes", "10MiB", func(c Config) bool { return c.MaxRequestBytes == 10485760 }},
		{"Max_Request_Bytes", "512k", func(c Config) bool { return c.MaxRequestBytes == 524288 }},
		{"Max_Request_Bytes", "4 MB", func(c Config) bool { return c.MaxRequestBytes == 4<<20 }},
		{"Event_Quiet", "250ms", func(c Config) bool { return c.EventQuiet == 250*time.Millisecond }},
		{"Event_Timeout", "1m", func(c Config) bool { return c.EventTimeout == time.Minute }},
		{"Event_Timeout", "3", func(c Config) bool { return c.EventTimeout == 3*time.Second }},
		{"Max_Events_In_Flight", "16", func(c Config) bool { return c.MaxEventsInFlight == 16 }},
		{"Max_Events_In_Flight", "1048576", func(c Config) bool { return c.MaxEventsInFlight == 1048576 }},
		{"Argv_Max_Bytes", "1024", func(c Config) bool { return c.ArgvMaxBytes == 1024 }},
		{"Argv_Max_Bytes", "256K", func(c Config) bool { return c.ArgvMaxBytes == 262144 }},
		{"Include_Raw", "yes", func(c Config) bool { return c.IncludeRaw }},
		{"Include_Raw", "OFF", func(c Config) bool { return !c.IncludeRaw }},
		{"Passwd_File", "/host/etc/passwd", func(c Config) bool { return c.PasswdFile == "/host/etc/passwd" }},
		{"Group_File", "/host/etc/group", func(c Config) bool { return c.GroupFile == "/host/etc/group" }},
		{"Dry_Run", "TRUE", func(c Config) bool { return c.DryRun }},
		{"Dry_Run", "1", func(c Config) bool { return c.DryRun }},
		{"Dry_Run", "0", func(c Config) bool { return !c.DryRun }},
		{"Dry_Run", "No", func(c Config) bool { return !c.DryRun }},
		{"Include", "type=EXECVE key=exec; type=USER_LOGIN", func(c Config) bool {
			return c.Include.Len() == 2 && c.Exclude == nil && c.Include.String() == "type=EXECVE key=exec; type=USER_LOGIN"
		}},
		{"Exclude", "exe=/usr/bin/containerd*,/usr/sbin/runc", func(c Config) bool { return c.Exclude.Len() == 1 && c.Include == nil }},
		{"Exclude", "addr=127.0.0.0/8 port=1-1024; auid=unset comm=cron", func(c Config) bool { return c.Exclude.Len() == 2 }},
		{"Omit_Loader_Paths", "off", func(c Config) bool { return !c.OmitLoaderPaths }},
		{"Omit_Loader_Paths", "on", func(c Config) bool { return c.OmitLoaderPaths }},
		{"Payload_Records", "off", func(c Config) bool { return !c.PayloadRecords }},
		{"Collapse_Window", "1m", func(c Config) bool { return c.CollapseWindow == time.Minute }},
		{"Collapse_Window", "1s", func(c Config) bool { return c.CollapseWindow == time.Second }},
		{"Collapse_Window", "0", func(c Config) bool { return c.CollapseWindow == 0 }},
		{"Collapse_Window", "OFF", func(c Config) bool { return c.CollapseWindow == 0 }},
		{"Collapse_Window", "3600", func(c Config) bool { return c.CollapseWindow == time.Hour }},
		{"Rate_Limit", "200", func(c Config) bool { return c.RateLimit == 200 && c.RateBurst == 200 }},
		{"Rate_Limit", "0.5", func(c Config) bool { return c.RateLimit == 0.5 && c.RateBurst == 1 }},
		{"Rate_Limit", "0", func(c Config) bool { return c.RateLimit == 0 && c.RateBurst == 0 }},
		{"Report_Interval", "10s", func(c Config) bool { return c.ReportInterval == 10*time.Second }},
		{"Report_Interval", "1h", func(c Config) bool { return c.ReportInterval == time.Hour }},
		{"Metrics_Listen", "127.0.0.1:2025", func(c Config) bool { return c.MetricsListen == "127.0.0.1:2025" }},
		{"Metrics_Listen", "0.0.0.0:2025", func(c Config) bool { return c.MetricsListen == "0.0.0.0:2025" }},
		{"Metrics_Listen", ":2025", func(c Config) bool { return c.MetricsListen == ":2025" }},
		{"Metrics_Listen", "[::1]:0", func(c Config) bool { return c.MetricsListen == "[::1]:0" }},
		// ${POD_IP}:2025 on an IPv6 node: the address is bracketed
		{"Metrics_Listen", "fd00:10:20::7:2025", func(c Config) bool { return c.MetricsListen == "[fd00:10:20::7]:2025" }},
		{"Metrics_Listen", "::1:0", func(c Config) bool { return c.MetricsListen == "[::1]:0" }},
		{"Metrics_Listen", "::ffff:10.0.0.7:2025", func(c Config) bool {
			return c.MetricsListen == "::ffff:10.0.0.7:2025" || c.MetricsListen == "[::ffff:10.0.0.7]:2025"
		}},
		{"Log_Summary_Interval", "0", func(c Config) bool { return c.LogSummaryInterval == 0 }},
		{"Log_Summary_Interval", "off", func(c Config) bool { return c.LogSummaryInterval == 0 }},
		{"Log_Summary_Interval", "5m", func(c Config) bool { return c.LogSummaryInterval == 5*time.Minute }},
	}
	for _, tc := range cases {
		c, err := Parse(MapGetter{tc.key: tc.val})
		if err != nil {
			t.Errorf("%s=%.40q: %v", tc.key, tc.val, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s=%.40q: wrong result %+v", tc.key, tc.val, c)
		}
	}
	c, err := Parse(MapGetter{"Endpoint": "127.0.0.1:1", "Insecure": "on"})
	if err != nil || !c.Insecure {
		t.Errorf("Insecure with Endpoint: %v %+v", err, c)
	}
	c, err = Parse(MapGetter{"Rate_Limit": "50", "Rate_Burst": "500"})
	if err != nil || c.RateLimit != 50 || c.RateBurst != 500 {
		t.Errorf("Rate_Burst with Rate_Limit: %v %+v", err, c)
	}
}

func labelList(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("k" + strconv.Itoa(i) + "=v")
	}
	return b.String()
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		key, val string
		extra    MapGetter // other keys set for cross-key checks
	}{
		{"Project_ID", "My_Project", nil},
		{"Project_ID", "has space", nil},
		{"Project_ID", strings.Repeat("a", 101), nil},
		{"Log_Name", "linux auditd", nil},
		{"Log_Name", "naïve", nil},
		{"Log_Name", strings.Repeat("a", 512), nil},
		{"Resource", "k8s_container", nil},
		{"Resource", "global", nil},
		{"Cluster_Name", "bad\nname", nil},
		{"Cluster_Location", "\xff\xfe", nil},
		{"Node_Name", strings.Repeat("n", 1025), nil},
		{"Labels", "novalue", nil},
		{"Labels", "=v", nil},
		{"Labels", "a=1,,b=2", nil},
		{"Labels", "a=1,a=2", nil},
		{"Labels", strings.Repeat("k", 513) + "=v", nil},
		{"Labels", "k=" + strings.Repeat("v", 65537), nil},
		{"Labels", labelList(65), nil},
		{"Labels", "k=\xff", nil},
		{"Endpoint", "localhost", nil},
		{"Endpoint", ":8085", nil},
		{"Endpoint", "host:0", nil},
		{"Endpoint", "host:65536", nil},
		{"Endpoint", "host:http", nil},
		{"Endpoint", "http://host:80", nil},
		{"Insecure", "maybe", MapGetter{"Endpoint": "127.0.0.1:1"}},
		{"Insecure", "on", nil}, // without Endpoint
		{"Credentials_File", "/k.json", MapGetter{"Endpoint": "127.0.0.1:1", "Insecure": "on"}},
		{"Credentials_File", "/a\x00b", nil},
		{"Write_Timeout", "abc", nil},
		{"Write_Timeout", "-5s", nil},
		{"Write_Timeout", "0", nil},
		{"Write_Timeout", "50ms", nil},
		{"Write_Timeout", "11m", nil},
		{"Write_Timeout", "601", nil},
		{"Write_Timeout", "99999999999999999999", nil},
		{"Write_Timeout", "1.5", nil},
		{"Max_Request_Bytes", "10485761", nil},
		{"Max_Request_Bytes", "11M", nil},
		{"Max_Request_Bytes", "524287", nil},
		{"Max_Request_Bytes", "64K", nil},
		{"Max_Request_Bytes", "-1", nil},
		{"Max_Request_Bytes", "8G", nil},
		{"Max_Request_Bytes", "lots", nil},
		{"Max_Request_Bytes", "9223372036854775807M", nil},
		{"Event_Quiet", "1ms", nil},
		{"Event_Quiet", "2m", nil},
		{"Event_Timeout", "50ms", nil},
		{"Event_Timeout", "1s", MapGetter{"Event_Quiet": "2s"}},
		{"Max_Events_In_Flight", "15", nil},
		{"Max_Events_In_Flight", "1048577", nil},
		{"Max_Events_In_Flight", "4k", nil},
		{"Argv_Max_Bytes", "-1", nil},
		{"Argv_Max_Bytes", "1023", nil},
		{"Argv_Max_Bytes", "1M", nil},
		{"Include_Raw", "enabled", nil},
		{"Passwd_File", "/etc/\x00passwd", nil},
		{"Group_File", "\xff", nil},
		{"Dry_Run", "2", nil},
		{"Dry_Run", "onn", nil},
		{"Include", "colour=red", nil},
		{"Include", "type=EXECVE; exe", nil},
		{"Include", "type=NOT_A_TYPE", nil},
		{"Include", strings.Repeat("x", 2000) + "=1", nil},
		{"Exclude", "exe=", nil},
		{"Exclude", "addr=10.0.0.0/33", nil},
		{"Exclude", "port=70000", nil},
		{"Exclude", "result=maybe", nil},
		{"Exclude", "path=etc/", nil},
		{"Exclude", "type=AVC;;type=EXECVE", nil},
		{"Omit_Loader_Paths", "sometimes", nil},
		{"Payload_Records", "none", nil},
		{"Collapse_Window", "500ms", nil},
		{"Collapse_Window", "2h", nil},
		{"Collapse_Window", "-1m", nil},
		{"Collapse_Window", "soon", nil},
		{"Rate_Limit", "-1", nil},
		{"Rate_Limit", "NaN", nil},
		{"Rate_Limit", "Inf", nil},
		{"Rate_Limit", "2e6", nil},
		{"Rate_Limit", "fast", nil},
		{"Rate_Burst", "10", nil}, // without Rate_Limit
		{"Rate_Burst", "0", MapGetter{"Rate_Limit": "10"}},
		{"Rate_Burst", "10000001", MapGetter{"Rate_Limit": "10"}},
		{"Rate_Burst", "1.5", MapGetter{"Rate_Limit": "10"}},
		{"Report_Interval", "1s", nil},
		{"Report_Interval", "0", nil},
		{"Report_Interval", "2h", nil},
		{"Metrics_Listen", "2025", nil},
		{"Metrics_Listen", "localhost:http", nil},
		{"Metrics_Listen", "127.0.0.1:65536", nil},
		{"Metrics_Listen", "http://127.0.0.1:2025", nil},
		{"Metrics_Listen", "fd00::7", nil},       // no port: "fd00:" is not an address
		{"Metrics_Listen", "fd00::7:99999", nil}, // bracketed, then the port is out of range
		{"Metrics_Listen", "[fd00::7]2025", nil},
		{"Log_Summary_Interval", "500ms", nil},
		{"Log_Summary_Interval", "25h", nil},
		{"Log_Summary_Interval", "often", nil},
	}
	for _, tc := range cases {
		g := MapGetter{tc.key: tc.val}
		for k, v := range tc.extra {
			g[k] = v
		}
		_, err := Parse(g)
		if err == nil {
			t.Errorf("%s=%.40q: accepted", tc.key, tc.val)
			continue
		}
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != tc.key || ke.Value != strings.TrimSpace(tc.val) {
			t.Errorf("%s=%.40q: error not about this key/value: %#v", tc.key, tc.val, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.key) || !strings.Contains(msg, PluginName) {
			t.Errorf("%s=%.40q: message does not name the key: %s", tc.key, tc.val, msg)
		}
		// The value is quoted (cut to 120 bytes); its first bytes must be in the message.
		prefix := strconv.Quote(tc.val)
		if len(prefix) > 20 {
			prefix = prefix[:20]
		}
		if !strings.Contains(msg, prefix) {
			t.Errorf("%s=%.40q: message does not show the value: %s", tc.key, tc.val, msg)
		}
		if len(msg) > 600 {
			t.Errorf("%s: message is %d bytes long", tc.key, len(msg))
		}
	}
}

func TestLogPathAndResource(t *testing.T) {
	c, err := Parse(MapGetter{"Project_ID": "p", "Log_Name": "a/b", "Cluster_Name": "c", "Cluster_Location": "l", "Node_Name": "n"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LogPath(); got != "projects/p/logs/a%2Fb" {
		t.Errorf("LogPath = %q", got)
	}
	c.LogName = DefaultLogName
	if got := c.LogPath(); got != "projects/p/logs/linux-auditd" {
		t.Errorf("LogPath = %q", got)
	}
	c.Zone, c.InstanceID = "us-central1-a", "123"
	for _, tc := range []struct {
		resource string
		labels   map[string]string
	}{
		{"k8s_node", map[string]string{"project_id": "p", "location": "l", "cluster_name": "c", "node_name": "n"}},
		{"gce_instance", map[string]string{"project_id": "p", "zone": "us-central1-a", "instance_id": "123"}},
		{"generic_node", map[string]string{"project_id": "p", "location": "l", "namespace": "c", "node_id": "n"}},
	} {
		c.Resource = tc.resource
		r := c.MonitoredResource()
		if r.Type != tc.resource || !reflect.DeepEqual(r.Labels, tc.labels) {
			t.Errorf("%s: got %v %v", tc.resource, r.Type, r.Labels)
		}
	}
	c.Resource, c.ClusterLocation = "generic_node", ""
	if loc := c.MonitoredResource().Labels["location"]; loc != "us-central1-a" {
		t.Errorf("generic_node without Cluster_Location: location %q, want the zone", loc)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Labels", "a=1,b=2", "Write_Timeout", "30s")
	f.Add("Max_Request_Bytes", "10M", "Insecure", "on")
	f.Add("Endpoint", "[::1]:99", "Event_Timeout", "1")
	f.Add("resource", "GCE_INSTANCE", "argv_max_bytes", "2k")
	f.Add("Include", "type=EXECVE key=exec; auid!=unset", "Rate_Limit", "0.5")
	f.Add("Exclude", "addr=10.0.0.0/8 port=1-1024", "Collapse_Window", "1m")
	f.Add("Metrics_Listen", "127.0.0.1:2025", "Rate_Burst", "10")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		// Most random keys are not ours; map some bytes onto real keys so values get tested.
		pick := func(k string) string {
			if len(k) > 0 && k[0] < 128 {
				return Keys[int(k[0])%len(Keys)]
			}
			return k
		}
		c, err := Parse(MapGetter{pick(k1): v1, pick(k2): v2})
		if err != nil {
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error is not a *KeyError: %v", err)
			}
			found := false
			for _, k := range Keys {
				found = found || k == ke.Key
			}
			if !found || !strings.Contains(err.Error(), ke.Key) {
				t.Fatalf("error does not name a known key: %v", err)
			}
			return
		}
		if c.MaxRequestBytes < MinRequestBytes || c.MaxRequestBytes > APIMaxRequestBytes ||
			c.WriteTimeout < MinWriteTimeout || c.EventTimeout < c.EventQuiet || len(c.Labels) > MaxLabels ||
			(c.Insecure && c.Endpoint == "") || c.RateLimit < 0 || c.RateLimit > MaxRateLimit ||
			(c.RateLimit > 0) != (c.RateBurst > 0) ||
			(c.CollapseWindow != 0 && c.CollapseWindow < MinCollapseWindow) || c.ReportInterval < MinReportInterval {
			t.Fatalf("accepted an out-of-range config: %+v", c)
		}
		_ = c.LogPath()
		_ = c.MonitoredResource()
	})
}
