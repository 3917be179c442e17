// Package config parses and validates the plugin's [OUTPUT] section (Parse, pure) and fills
// in what the GCE metadata server knows (Resolve, bounded I/O). CheckStartupKeys looks for the
// keys fluent-bit would hand on without a word, in the configuration it was started with.
//
// Keys are case-insensitive. An unset or empty key takes its default. Every bad value fails
// fluent-bit's Init with a message naming the key, the value and what is allowed.
// Booleans are on/off, true/false, yes/no or 1/0 (any case). Durations are Go durations
// (30s, 500ms, 1m30s) or a whole number of seconds (30). Byte counts may end in K/KB/KiB or
// M/MB/MiB, all powers of 1024 (so 10M is exactly the API's 10485760-byte limit).
//
//	Key                   Default                                   Allowed
//	Project_ID            metadata project/project-id               lower-case letters, digits, '-', '.', ':'; at most 100 bytes
//	Log_Name              linux-auditd                              letters, digits, '-', '_', '.', '/'; under 512 bytes
//	Resource              k8s_node                                  k8s_node, gce_instance, generic_node
//	Cluster_Name          metadata instance/attributes/cluster-name UTF-8 without control characters, at most 1024 bytes
//	Cluster_Location      metadata .../cluster-location             as Cluster_Name (generic_node: defaults to the zone)
//	Node_Name             NODE_NAME env, else metadata instance/name as Cluster_Name
//	Labels                none                                      k=v,k2=v2: at most 64, key 1-512 bytes, value at most 64 KiB, no duplicate keys, no ',' in values
//	Endpoint              logging.googleapis.com:443                host:port (port 1-65535)
//	Insecure              off                                       boolean; needs Endpoint; not with Credentials_File
//	Credentials_File      Application Default Credentials           readable JSON credentials file (checked by Resolve)
//	Write_Timeout         30s                                       100ms to 10m
//	Max_Request_Bytes     8M (8388608)                              512K (524288) to 10M (10485760)
//	Event_Quiet           500ms                                     10ms to 1m
//	Event_Timeout         5s                                        100ms to 10m, not shorter than Event_Quiet
//	Max_Events_In_Flight  4096                                      16 to 1048576
//	Argv_Max_Bytes        65536                                     1K (1024) to 256K (262144)
//	Include_Raw           off                                       boolean
//	Passwd_File           unset (uids are not named)                readable file (checked by Resolve)
//	Group_File            unset (gids are not named)                readable file (checked by Resolve)
//	Dry_Run               off                                       boolean
//	Include               unset (every event)                       filter rules (plugin/filter): ship only events some rule matches
//	Exclude               unset (none)                              filter rules: never ship events a rule matches
//	Omit_Loader_Paths     on                                        boolean: drop PATH items naming the dynamic loader (ld-linux*, ld-musl-*)
//	Payload_Records       on                                        boolean: off leaves the decoded records list out of the payload
//	Collapse_Window       0 (off)                                   0/off or 1s to 1h: identical events within it become one entry with a count
//	Rate_Limit            0 (off)                                   events per second, 0 to 1e6 (fractions allowed)
//	Rate_Burst            Rate_Limit rounded up                     1 to 10000000; needs Rate_Limit
//	Report_Interval       1m                                        10s to 1h: how often held-back events are reported in an entry
//	Metrics_Listen        unset (off)                               host:port of the /metrics and /healthz listener (port 0-65535; IPv6 host may be unbracketed)
//	Log_Summary_Interval  1m                                        0/off or 1s to 24h: counters summarised in fluent-bit's log
//
// Why these limits: Max_Request_Bytes is capped by the API's request limit and floored so
// that any entry the API accepts (at most 256 KiB) fits in one request with the request's
// log name, resource and labels. Argv_Max_Bytes stops at 256 KiB because no entry can be
// larger. Write_Timeout bounds each WriteLogEntries call; fluent-bit's Retry_Limit and
// scheduler decide what happens next, so keep it below fluent-bit's Grace for a clean exit.
//
// Metadata lookups (Resolve) happen only for values that are unset and that the resource
// type uses (k8s_node: project, cluster name and location, node name; gce_instance: project,
// zone, instance id; generic_node: project, location, node name), all together bounded by
// MetadataTimeout (3s). GCE_METADATA_HOST overrides the metadata server address. With
// Dry_Run, values that cannot be determined are left empty (the log name is then
// "projects//logs/linux-auditd").
package config
