package parser

// ztables.go is generated from go-libaudit's auparse tables and from the headers of
// audit-userspace v3.0.9 (the ausearch version our interpretation is checked against):
//
//	git clone -b v3.0.9 https://github.com/linux-audit/audit-userspace /tmp/audit-userspace
//	AUDIT_USERSPACE=/tmp/audit-userspace go generate ./parser
//
// The small tables at the end of this file are typed by hand, each naming its source.
//
//go:generate go run ./internal/gentables -audit ${AUDIT_USERSPACE} -version v3.0.9 -o ztables.go

// fieldType is auparse's classification of a field (AUPARSE_TYPE_*), which decides how it is
// decoded and interpreted.
type fieldType uint8

// syscallTable maps syscall numbers of one arch to names.
type syscallTable struct {
	dense  []string
	sparse map[int]string
}

// openFlags is audit-userspace 3.0.9 auparse/open-flagtab.h (O_RDONLY is handled in code).
var openFlags = [...]struct {
	bit  uint64
	name string
}{
	{0o1, "O_WRONLY"}, {0o2, "O_RDWR"}, {0o100, "O_CREAT"}, {0o200, "O_EXCL"}, {0o400, "O_NOCTTY"},
	{0o1000, "O_TRUNC"}, {0o2000, "O_APPEND"}, {0o4000, "O_NONBLOCK"}, {0o10000, "O_DSYNC"},
	{0o20000, "O_ASYNC"}, {0o40000, "O_DIRECT"}, {0o200000, "O_DIRECTORY"}, {0o400000, "O_NOFOLLOW"},
	{0o1000000, "O_NOATIME"}, {0o2000000, "O_CLOEXEC"}, {0o4000000, "__O_SYNC"}, {0o10000000, "O_PATH"},
	{0o20000000, "__O_TMPFILE"},
}

// sockTypes is audit-userspace 3.0.9 auparse/socktypetab.h.
var sockTypes = [...]string{1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}

// filterLists is audit-userspace 3.0.9 lib/flagtab.h (list= of CONFIG_CHANGE).
var filterLists = [...]string{0: "user", 1: "task", 4: "exit", 5: "exclude", 6: "filesystem"}

// ipProtocols are the common names of /etc/protocols (netbase), which ausearch reads with
// getprotobynumber for socket()'s protocol argument.
var ipProtocols = map[uint64]string{0: "ip", 1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 17: "udp", 41: "ipv6",
	47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp", 132: "sctp", 136: "udplite", 255: "raw", 262: "mptcp"}
