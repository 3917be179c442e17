package config

// PluginName is the name the plugin registers with fluent-bit: `[OUTPUT] Name auditd_cloud_logging`.
const PluginName = "auditd_cloud_logging"

// Keys lists every configuration key the plugin reads, in the spelling the README documents.
// fluent-bit matches keys case-insensitively. Tests check conf/ against this list.
var Keys = []string{
	"Project_ID",
	"Log_Name",
	"Resource",
	"Cluster_Name",
	"Cluster_Location",
	"Node_Name",
	"Labels",
	"Endpoint",
	"Insecure",
	"Credentials_File",
	"Write_Timeout",
	"Max_Request_Bytes",
	"Event_Quiet",
	"Event_Timeout",
	"Max_Events_In_Flight",
	"Argv_Max_Bytes",
	"Include_Raw",
	"Passwd_File",
	"Group_File",
	"Dry_Run",
	"Include",
	"Exclude",
	"Omit_Loader_Paths",
	"Payload_Records",
	"Collapse_Window",
	"Rate_Limit",
	"Rate_Burst",
	"Report_Interval",
	"Metrics_Listen",
	"Log_Summary_Interval",
}
