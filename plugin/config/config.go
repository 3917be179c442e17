package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	monitoredrespb "google.golang.org/genproto/googleapis/api/monitoredres"

	"github.com/gke-audit/auditd-cloud-logging/plugin/filter"
)

// Getter reads one configuration value. It returns "" when the key is unset. Keys are
// case-insensitive, as fluent-bit's output_get_property is.
type Getter interface{ Get(key string) string }

// MapGetter is a Getter over a map, for tests and demos. Lookups are case-insensitive like
// fluent-bit's: "project_id" finds a value stored under "Project_ID".
type MapGetter map[string]string

// Get returns the value stored under key, compared case-insensitively.
func (m MapGetter) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Resource types the plugin can write to.
const (
	ResourceK8sNode     = "k8s_node"
	ResourceGCEInstance = "gce_instance"
	ResourceGenericNode = "generic_node"
)

// Defaults and limits. The table in the package documentation (doc.go) and docs/config.md
// repeat them; TestDocTableMatchesDefaults keeps the three in step.
const (
	DefaultLogName           = "linux-auditd"
	DefaultResource          = ResourceK8sNode
	DefaultWriteTimeout      = 30 * time.Second
	DefaultMaxRequestBytes   = 8 << 20 // margin under the API's 10485760-byte request limit
	DefaultEventQuiet        = 500 * time.Millisecond
	DefaultEventTimeout      = 5 * time.Second
	DefaultMaxEventsInFlight = 4096
	DefaultArgvMaxBytes      = 65536
	DefaultReportInterval    = time.Minute
	DefaultLogSummary        = time.Minute

	// APIMaxRequestBytes is Cloud Logging's limit on one WriteLogEntries request
	// ("Request payload size exceeds the limit: 10485760 bytes").
	APIMaxRequestBytes = 10485760
	// MinRequestBytes keeps room for any entry the API accepts (at most 256 KiB each) plus
	// the request's log name, resource and labels, so that no valid entry is unsendable.
	MinRequestBytes = 512 << 10

	MinWriteTimeout      = 100 * time.Millisecond
	MaxWriteTimeout      = 10 * time.Minute
	MinEventQuiet        = 10 * time.Millisecond
	MaxEventQuiet        = time.Minute
	MinEventTimeout      = 100 * time.Millisecond
	MaxEventTimeout      = 10 * time.Minute
	MinMaxEventsInFlight = 16
	MaxMaxEventsInFlight = 1 << 20
	MinArgvMaxBytes      = 1024
	// MaxArgvMaxBytes: an entry is capped at ~256 KiB by the API, so a longer argv could
	// never be shipped whole anyway.
	MaxArgvMaxBytes = 256 << 10

	// Filter and observability bounds. A collapse window under a second would collapse
	// nothing a human cares about; over an hour, a repeat's entry arrives too late to be useful.
	MinCollapseWindow = time.Second
	MaxCollapseWindow = time.Hour
	MaxRateLimit      = 1e6 // events/s: far above what one node's kernel audit produces
	MaxRateBurst      = 10_000_000
	MinReportInterval = 10 * time.Second
	MaxReportInterval = time.Hour
	MinLogSummary     = time.Second
	MaxLogSummary     = 24 * time.Hour

	MaxLabels          = 64
	MaxLabelKeyBytes   = 512
	MaxLabelValueBytes = 64 << 10
	maxNameBytes       = 1024 // cluster, location and node names: resource label values
	maxLogNameBytes    = 511  // the API: "less than 512 characters"
	maxProjectIDBytes  = 100
)

// Config is one [OUTPUT] section, parsed and validated.
type Config struct {
	ProjectID, LogName, Resource           string
	ClusterName, ClusterLocation, NodeName string
	Zone, InstanceID                       string // from the metadata server only
	Labels                                 map[string]string
	Endpoint                               string
	Insecure                               bool
	CredentialsFile                        string
	WriteTimeout                           time.Duration
	MaxRequestBytes                        int
	EventQuiet, EventTimeout               time.Duration
	MaxEventsInFlight                      int
	ArgvMaxBytes                           int
	IncludeRaw                             bool
	PasswdFile, GroupFile                  string
	DryRun                                 bool

	// Volume and cost control (plugin/filter). Include/Exclude are nil when unset.
	Include, Exclude *filter.Rules
	OmitLoaderPaths  bool          // drop PATH items naming the dynamic loader; default on
	PayloadRecords   bool          // put the decoded records list in the payload; default on
	CollapseWindow   time.Duration // 0: off
	RateLimit        float64       // events/s; 0: off
	RateBurst        int           // 0 when RateLimit is off; defaults to RateLimit rounded up
	ReportInterval   time.Duration

	// Observability.
	MetricsListen      string        // host:port of the Prometheus listener; "" = off
	LogSummaryInterval time.Duration // 0: off
}

// KeyError is a configuration error tied to one key. Every error Parse returns is a
// *KeyError; Resolve's errors name keys in their text.
type KeyError struct {
	Key     string // spelled as in Keys
	Value   string // the offending value, as given
	Allowed string // what would have been accepted
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s: invalid %s %s: %s", PluginName, e.Key, quoteShort(e.Value), e.Allowed)
}

// quoteShort quotes v for an error message, cutting it so that a 64 KiB label value does
// not become a 64 KiB log line.
func quoteShort(v string) string {
	const max = 120
	if len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		return strconv.Quote(v[:cut]) + fmt.Sprintf("... (%d bytes)", len(v))
	}
	return strconv.Quote(v)
}

// Parse reads and validates every key. It does no I/O: files and the metadata server are
// Resolve's job. Unset keys take their defaults; values are trimmed of surrounding spaces.
func Parse(g Getter) (Config, error) {
	c := Config{
		LogName:            DefaultLogName,
		Resource:           DefaultResource,
		WriteTimeout:       DefaultWriteTimeout,
		MaxRequestBytes:    DefaultMaxRequestBytes,
		EventQuiet:         DefaultEventQuiet,
		EventTimeout:       DefaultEventTimeout,
		MaxEventsInFlight:  DefaultMaxEventsInFlight,
		ArgvMaxBytes:       DefaultArgvMaxBytes,
		OmitLoaderPaths:    true,
		PayloadRecords:     true,
		ReportInterval:     DefaultReportInterval,
		LogSummaryInterval: DefaultLogSummary,
	}
	get := func(k string) string { return strings.TrimSpace(g.Get(k)) }
	var err error

	if v := get("Project_ID"); v != "" {
		if err := checkProjectID(v); err != nil {
			return c, err
		}
		c.ProjectID = v
	}
	if v := get("Log_Name"); v != "" {
		if err := checkLogName(v); err != nil {
			return c, err
		}
		c.LogName = v
	}
	if v := get("Resource"); v != "" {
		switch r := strings.ToLower(v); r {
		case ResourceK8sNode, ResourceGCEInstance, ResourceGenericNode:
			c.Resource = r
		default:
			return c, &KeyError{"Resource", v, "want k8s_node (default), gce_instance or generic_node"}
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"Cluster_Name", &c.ClusterName}, {"Cluster_Location", &c.ClusterLocation}, {"Node_Name", &c.NodeName}} {
		v := get(f.key)
		if err := checkName(f.key, v); err != nil {
			return c, err
		}
		*f.dst = v
	}
	if c.Labels, err = parseLabels(get("Labels")); err != nil {
		return c, err
	}
	if v := get("Endpoint"); v != "" {
		if err := checkEndpoint(v); err != nil {
			return c, err
		}
		c.Endpoint = v
	}
	if c.Insecure, err = parseBool(get, "Insecure", false); err != nil {
		return c, err
	}
	if c.Insecure && c.Endpoint == "" {
		return c, &KeyError{"Insecure", get("Insecure"), "Insecure needs Endpoint (plaintext gRPC is only for an emulator at host:port); set Endpoint or remove Insecure"}
	}
	if v := get("Credentials_File"); v != "" {
		if c.Insecure {
			return c, &KeyError{"Credentials_File", v, "cannot be used with Insecure on (Insecure sends no credentials); remove one of them"}
		}
		if err := checkPath("Credentials_File", v); err != nil {
			return c, err
		}
		c.CredentialsFile = v
	}
	if c.WriteTimeout, err = parseDuration(get, "Write_Timeout", DefaultWriteTimeout, MinWriteTimeout, MaxWriteTimeout); err != nil {
		return c, err
	}
	if c.MaxRequestBytes, err = parseSize(get, "Max_Request_Bytes", DefaultMaxRequestBytes, MinRequestBytes, APIMaxRequestBytes); err != nil {
		return c, err
	}
	if c.EventQuiet, err = parseDuration(get, "Event_Quiet", DefaultEventQuiet, MinEventQuiet, MaxEventQuiet); err != nil {
		return c, err
	}
	if c.EventTimeout, err = parseDuration(get, "Event_Timeout", DefaultEventTimeout, MinEventTimeout, MaxEventTimeout); err != nil {
		return c, err
	}
	if c.EventTimeout < c.EventQuiet {
		return c, &KeyError{"Event_Timeout", get("Event_Timeout"), fmt.Sprintf("must not be shorter than Event_Quiet (%v)", c.EventQuiet)}
	}
	if c.MaxEventsInFlight, err = parseInt(get, "Max_Events_In_Flight", DefaultMaxEventsInFlight, MinMaxEventsInFlight, MaxMaxEventsInFlight); err != nil {
		return c, err
	}
	if c.ArgvMaxBytes, err = parseSize(get, "Argv_Max_Bytes", DefaultArgvMaxBytes, MinArgvMaxBytes, MaxArgvMaxBytes); err != nil {
		return c, err
	}
	if c.IncludeRaw, err = parseBool(get, "Include_Raw", false); err != nil {
		return c, err
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"Passwd_File", &c.PasswdFile}, {"Group_File", &c.GroupFile}} {
		if v := get(f.key); v != "" {
			if err := checkPath(f.key, v); err != nil {
				return c, err
			}
			*f.dst = v
		}
	}
	if c.DryRun, err = parseBool(get, "Dry_Run", false); err != nil {
		return c, err
	}
	if err := parseFilters(get, &c); err != nil {
		return c, err
	}
	return c, nil
}

// parseFilters reads the volume-control and observability keys.
func parseFilters(get func(string) string, c *Config) error {
	var err error
	for _, f := range []struct {
		key string
		dst **filter.Rules
	}{{"Include", &c.Include}, {"Exclude", &c.Exclude}} {
		v := get(f.key)
		if v == "" {
			continue
		}
		r, err := filter.Compile(f.key, v)
		if err != nil {
			var fe *filter.Error
			problem := err.Error()
			if errors.As(err, &fe) {
				problem = fmt.Sprintf("in %s: %s", quoteShort(fe.Value), fe.Problem)
			}
			if len(problem) > 240 { // an unknown field name is quoted whole: keep the line short
				cut := 240
				for cut > 0 && !utf8.RuneStart(problem[cut]) {
					cut--
				}
				problem = problem[:cut] + "…"
			}
			return &KeyError{f.key, v, problem + ` (rules are separated by ";", a rule's conditions field=v1,v2 or ` +
				`field!=v by spaces; see docs/config.md)`}
		}
		*f.dst = r
	}
	if c.OmitLoaderPaths, err = parseBool(get, "Omit_Loader_Paths", true); err != nil {
		return err
	}
	if c.PayloadRecords, err = parseBool(get, "Payload_Records", true); err != nil {
		return err
	}
	if c.CollapseWindow, err = parseOptionalDuration(get, "Collapse_Window", 0, MinCollapseWindow, MaxCollapseWindow); err != nil {
		return err
	}
	if v := get("Rate_Limit"); v != "" {
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || math.IsNaN(f) || f < 0 || f > MaxRateLimit {
			return &KeyError{"Rate_Limit", v, fmt.Sprintf("want events per second: 0 (off) or a number up to %g, such as 200 or 0.5", float64(MaxRateLimit))}
		}
		c.RateLimit = f
	}
	if v := get("Rate_Burst"); v != "" {
		if c.RateLimit == 0 {
			return &KeyError{"Rate_Burst", v, "Rate_Burst needs Rate_Limit (events per second); set Rate_Limit or remove Rate_Burst"}
		}
		if c.RateBurst, err = parseInt(get, "Rate_Burst", 0, 1, MaxRateBurst); err != nil {
			return err
		}
	} else if c.RateLimit > 0 {
		c.RateBurst = int(math.Ceil(c.RateLimit))
	}
	if c.ReportInterval, err = parseDuration(get, "Report_Interval", DefaultReportInterval, MinReportInterval, MaxReportInterval); err != nil {
		return err
	}
	if v := get("Metrics_Listen"); v != "" {
		if err := checkListen(bracketIPv6(v)); err != nil {
			if ke, ok := err.(*KeyError); ok {
				ke.Value = v // as written
			}
			return err
		}
		c.MetricsListen = bracketIPv6(v)
	}
	if c.LogSummaryInterval, err = parseOptionalDuration(get, "Log_Summary_Interval", DefaultLogSummary, MinLogSummary, MaxLogSummary); err != nil {
		return err
	}
	return nil
}

// parseOptionalDuration is parseDuration where 0 (or "off") turns the feature off.
func parseOptionalDuration(get func(string) string, key string, def, min, max time.Duration) (time.Duration, error) {
	if strings.EqualFold(get(key), "off") {
		return 0, nil
	}
	d, err := parseDuration(get, key, def, 0, max)
	if err == nil && d != 0 && d < min {
		err = &KeyError{key, get(key), ""}
	}
	if ke, ok := err.(*KeyError); ok {
		ke.Allowed = fmt.Sprintf("want 0 or off, or a duration from %v to %v, such as 1m", min, max)
	}
	return d, err
}

// bracketIPv6 writes "fd00::7:2025" as "[fd00::7]:2025": the shipped configuration says
// ${POD_IP}:2025, and on an IPv6 node the pod IP is an address with colons of its own. Only an
// unbracketed value whose part before the last colon is an IPv6 address changes.
func bracketIPv6(v string) string {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || strings.HasPrefix(v, "[") {
		return v
	}
	if ip := net.ParseIP(v[:i]); ip != nil && strings.Contains(v[:i], ":") {
		return "[" + v[:i] + "]" + v[i:]
	}
	return v
}

// checkListen validates Metrics_Listen: host:port, where an empty host means every address
// and port 0 lets the kernel choose (for tests).
func checkListen(v string) error {
	const allowed = "want host:port such as 127.0.0.1:2025 or 0.0.0.0:2025 (port 0-65535)"
	host, port, err := net.SplitHostPort(v)
	if err != nil || strings.ContainsAny(host, "/ \t") {
		return &KeyError{"Metrics_Listen", v, allowed}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return &KeyError{"Metrics_Listen", v, allowed}
	}
	return nil
}

// LogPath is the request-level log name: "projects/P/logs/" + the escaped Log_Name (a "/"
// in Log_Name becomes %2F, as the API requires). With Dry_Run and no project it is
// "projects//logs/...", visibly unset.
func (c Config) LogPath() string {
	return "projects/" + c.ProjectID + "/logs/" + url.PathEscape(c.LogName)
}

// MonitoredResource is the request-level resource for the chosen Resource type.
//
//	k8s_node:     project_id, location (Cluster_Location), cluster_name, node_name
//	gce_instance: project_id, zone, instance_id
//	generic_node: project_id, location (Cluster_Location, else the zone), namespace (Cluster_Name), node_id (Node_Name)
func (c Config) MonitoredResource() *monitoredrespb.MonitoredResource {
	switch c.Resource {
	case ResourceGCEInstance:
		return &monitoredrespb.MonitoredResource{Type: ResourceGCEInstance, Labels: map[string]string{
			"project_id": c.ProjectID, "zone": c.Zone, "instance_id": c.InstanceID,
		}}
	case ResourceGenericNode:
		loc := c.ClusterLocation
		if loc == "" {
			loc = c.Zone
		}
		return &monitoredrespb.MonitoredResource{Type: ResourceGenericNode, Labels: map[string]string{
			"project_id": c.ProjectID, "location": loc, "namespace": c.ClusterName, "node_id": c.NodeName,
		}}
	default:
		return &monitoredrespb.MonitoredResource{Type: ResourceK8sNode, Labels: map[string]string{
			"project_id": c.ProjectID, "location": c.ClusterLocation, "cluster_name": c.ClusterName, "node_name": c.NodeName,
		}}
	}
}

func parseBool(get func(string) string, key string, def bool) (bool, error) {
	v := get(key)
	switch strings.ToLower(v) {
	case "":
		return def, nil
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, &KeyError{key, v, "want on/off, true/false, yes/no or 1/0"}
}

// parseDuration accepts Go durations ("30s", "1m30s", "500ms") and, as fluent-bit's own
// time keys do, a plain whole number of seconds ("30").
func parseDuration(get func(string) string, key string, def, min, max time.Duration) (time.Duration, error) {
	v := get(key)
	if v == "" {
		return def, nil
	}
	allowed := fmt.Sprintf("want a duration such as 30s, 500ms or 1m30s, or whole seconds, from %v to %v", min, max)
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(max/time.Second) {
			return 0, &KeyError{key, v, allowed}
		}
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, &KeyError{key, v, allowed}
		}
	}
	if d < min || d > max {
		return 0, &KeyError{key, v, allowed}
	}
	return d, nil
}

func parseInt(get func(string) string, key string, def, min, max int) (int, error) {
	v := get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, &KeyError{key, v, fmt.Sprintf("want a whole number from %d to %d", min, max)}
	}
	return n, nil
}

// parseSize accepts a byte count with an optional K/KB/KiB or M/MB/MiB suffix, all powers
// of 1024 (so "10M" is exactly the API's 10485760-byte limit).
func parseSize(get func(string) string, key string, def, min, max int) (int, error) {
	v := get(key)
	if v == "" {
		return def, nil
	}
	allowed := fmt.Sprintf("want a byte count (suffix K or M for KiB/MiB allowed) from %d to %d", min, max)
	num, mult := v, int64(1)
	lower := strings.ToLower(v)
	for _, s := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"kb", 1 << 10}, {"k", 1 << 10}, {"mib", 1 << 20}, {"mb", 1 << 20}, {"m", 1 << 20}} {
		if strings.HasSuffix(lower, s.suffix) {
			num, mult = strings.TrimSpace(v[:len(v)-len(s.suffix)]), s.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > int64(max) || n*mult < int64(min) || n*mult > int64(max) {
		return 0, &KeyError{key, v, allowed}
	}
	return int(n * mult), nil
}

func checkProjectID(v string) error {
	// Project ids are lower-case letters, digits and hyphens; legacy domain-scoped ones
	// look like "example.com:my-project".
	ok := len(v) <= maxProjectIDBytes
	for i := 0; ok && i < len(v); i++ {
		b := v[i]
		ok = b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == ':'
	}
	if !ok {
		return &KeyError{"Project_ID", v, fmt.Sprintf("want a project id: lower-case letters, digits, '-', '.' and ':', at most %d bytes", maxProjectIDBytes)}
	}
	return nil
}

func checkLogName(v string) error {
	ok := len(v) <= maxLogNameBytes
	for i := 0; ok && i < len(v); i++ {
		b := v[i]
		ok = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' || b == '/'
	}
	if !ok {
		return &KeyError{"Log_Name", v, "want letters, digits, '-', '_', '.' and '/', less than 512 bytes (the API's rule)"}
	}
	return nil
}

// checkName validates a value that becomes a resource label: the API needs valid UTF-8, and
// a control character is always a typo or a broken templating step.
func checkName(key, v string) error {
	if len(v) > maxNameBytes || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return &KeyError{key, v, fmt.Sprintf("want valid UTF-8 without control characters, at most %d bytes", maxNameBytes)}
	}
	return nil
}

func checkPath(key, v string) error {
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return &KeyError{key, v, "want a file path (valid UTF-8, no NUL)"}
	}
	return nil
}

func checkEndpoint(v string) error {
	const allowed = "want host:port, e.g. 127.0.0.1:8085 or logging.googleapis.com:443 (port 1-65535)"
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" || strings.ContainsAny(host, "/ \t") {
		return &KeyError{"Endpoint", v, allowed}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return &KeyError{"Endpoint", v, allowed}
	}
	return nil
}

// parseLabels reads "k=v,k2=v2". Spaces around keys and values are trimmed; a value may
// be empty; commas cannot be escaped, so a value cannot hold one.
func parseLabels(v string) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	labels := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(pair, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		var why string
		switch {
		case !ok:
			why = fmt.Sprintf("%s has no '='", quoteShort(pair))
		case k == "":
			why = fmt.Sprintf("%s has an empty key", quoteShort(pair))
		case len(k) > MaxLabelKeyBytes:
			why = fmt.Sprintf("key %s is %d bytes, over %d", quoteShort(k), len(k), MaxLabelKeyBytes)
		case len(val) > MaxLabelValueBytes:
			why = fmt.Sprintf("value of %s is %d bytes, over %d", quoteShort(k), len(val), MaxLabelValueBytes)
		case !utf8.ValidString(k) || !utf8.ValidString(val):
			why = fmt.Sprintf("%s is not valid UTF-8", quoteShort(pair))
		default:
			if _, dup := labels[k]; dup {
				why = fmt.Sprintf("key %s appears twice", quoteShort(k))
			}
		}
		if why != "" {
			return nil, &KeyError{"Labels", v, "want k=v,k2=v2 with non-empty keys of at most 512 bytes and values of at most 64 KiB: " + why}
		}
		labels[k] = val
		if len(labels) > MaxLabels {
			return nil, &KeyError{"Labels", v, fmt.Sprintf("at most %d labels", MaxLabels)}
		}
	}
	return labels, nil
}
