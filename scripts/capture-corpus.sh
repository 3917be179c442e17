#!/usr/bin/env bash
# capture-corpus.sh - capture a real audit corpus for parser/testdata/corpus from the real
# kernel audit subsystem and Debian's auditd, then put the machine's audit state back.
#
# Usage (as root):  scripts/capture-corpus.sh [OUTPUT_DIR]
#   OUTPUT_DIR defaults to parser/testdata/corpus next to this script.
#   Afterwards regenerate the derived shapes:  go run ./parser/testdata/corpus/derive
#
# It runs the workload twice, once under an auditd writing RAW (-> audit.log) and once under
# an auditd writing ENRICHED with name_format=HOSTNAME (-> audit-enriched.log, node= prefixed),
# each auditd started with a throw-away config directory (auditd -c DIR) so /etc/audit and
# /var/log/audit are never touched.
#
# Safety: it refuses to run when the audit configuration is locked (enabled 2) or another audit
# daemon holds the audit socket; it never sets enabled 2 or failure 2; it adds only its own
# rules and deletes exactly those; it restores the enabled flag and backlog limit it found and
# checks that `auditctl -l` afterwards equals what it saw before. A lock file serialises it
# with other tools that follow the same convention (AUDIT_CAPTURE_LOCK).
set -euo pipefail

die() { echo "capture-corpus: $*" >&2; exit 1; }
log() { echo "capture-corpus: $*" >&2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it loads audit rules and starts auditd)"
for tool in auditctl auditd ausearch flock runuser su script python3; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (Debian: apt-get install auditd util-linux python3)"
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../parser/testdata/corpus}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The real interpreter, not a pyenv shim: shims are scripts whose execs would add noise.
python=$(command -v /usr/bin/python3 || command -v python3)

exec 9>"${AUDIT_CAPTURE_LOCK:-/run/lock/audit-capture.lock}"
flock -n 9 || die "another audit capture holds ${AUDIT_CAPTURE_LOCK:-/run/lock/audit-capture.lock}"

status_value() { auditctl -s | awk -v k="$1" '$1 == k { print $2 }'; }

prior_enabled=$(status_value enabled)
prior_backlog=$(status_value backlog_limit)
prior_pid=$(status_value pid)
prior_rules=$(auditctl -l)
log "before: enabled=$prior_enabled backlog_limit=$prior_backlog pid=$prior_pid"
log "before: rules: $prior_rules"
[[ $prior_enabled != 2 ]] || die "audit configuration is locked (enabled 2); nothing can be captured until reboot"
[[ $prior_pid == 0 ]] || die "an audit daemon (pid $prior_pid) already holds the audit socket; stop it first"

work=$(mktemp -d /tmp/audit-corpus.XXXXXX)
# Traversable by nobody, so the non-root opens fail on the file's own mode (EACCES), not the dir.
chmod 0755 "$work"

# Rules modelled on COS's cloud-audit-setup (execve b64+b32, an odd-socket rule), plus the
# failed-open and connect rules of a typical CIS profile. -F auid=0 confines them to the
# workload (which sets its loginuid to 0): everything else on this shared machine has an unset
# auid. The connect rule carries two keys, so the key field is hex with a 0x01 separator.
rules=(
	"-a always,exit -F arch=b64 -S execve -F auid=0 -k exec"
	"-a always,exit -F arch=b32 -S execve -F auid=0 -k exec"
	"-a always,exit -F arch=b64 -S connect -F auid=0 -k net -k egress"
	"-a always,exit -F arch=b64 -S socket -F a0!=1 -F a0!=2 -F a0!=10 -F a0!=16 -F a0!=17 -F auid=0 -k funky_socket"
	"-a always,exit -F arch=b64 -S open,openat -F exit=-EACCES -F auid=0 -k access"
	"-a always,exit -F arch=b64 -S open,openat -F exit=-ENOENT -F auid=0 -k noent"
	"-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat -F auid=0 -F dir=$work -k delete"
)
added=()
daemon_pid=""

cleanup() {
	local rc=$?
	set +e
	local i
	for ((i = ${#added[@]} - 1; i >= 0; i--)); do
		# shellcheck disable=SC2086 # a rule is a list of auditctl words
		auditctl ${added[i]/#-a /-d } >/dev/null || log "could not delete rule: ${added[i]}"
	done
	added=()
	stop_daemon
	auditctl -e "$prior_enabled" >/dev/null
	auditctl -b "$prior_backlog" >/dev/null
	local now_rules now_enabled now_backlog
	now_rules=$(auditctl -l)
	now_enabled=$(status_value enabled)
	now_backlog=$(status_value backlog_limit)
	log "after:  enabled=$now_enabled backlog_limit=$now_backlog pid=$(status_value pid)"
	log "after:  rules: $now_rules"
	if [[ $now_rules != "$prior_rules" || $now_enabled != "$prior_enabled" || $now_backlog != "$prior_backlog" ]]; then
		log "WARNING: audit state differs from what was found; fix by hand"
		rc=1
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_daemon() {
	[[ -n $daemon_pid ]] || return 0
	kill -TERM "$daemon_pid" 2>/dev/null
	local _
	for _ in $(seq 100); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$daemon_pid" 2>/dev/null; then
		log "auditd $daemon_pid did not stop on TERM; killing it"
		kill -KILL "$daemon_pid" 2>/dev/null
	fi
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=""
}

# start_daemon FORMAT NAME_FORMAT DIR [DISPATCH_LOG]: auditd with its own config dir and log
# file, and optionally a dispatcher plugin writing the event stream to DISPATCH_LOG.
start_daemon() {
	local format=$1 name_format=$2 dir=$3
	mkdir -p "$dir/plugins.d"
	chmod 0750 "$dir"
	# The same throw-away configuration as internal/e2e's (one file for both).
	sed -e "s|@DIR@|$dir|g" -e "s|@LOG_FORMAT@|$format|g" -e "s|@NAME_FORMAT@|$name_format|g" \
		"$here/auditd-throwaway.conf.in" >"$dir/auditd.conf"
	chmod 0640 "$dir/auditd.conf"
	if [[ -n ${4:-} ]]; then
		# auditd drops EOE records before writing its log but hands them to dispatcher
		# plugins (laurel, auditbeat-style consumers); this plugin keeps that stream too.
		# shellcheck disable=SC2016 # $1 is for the plugin script, not for us
		printf '#!/bin/sh\nexec cat >"$1"\n' >"$dir/plugin.sh"
		chmod 0750 "$dir/plugin.sh"
		cat >"$dir/plugins.d/corpus.conf" <<-EOF
			active = yes
			direction = out
			path = $dir/plugin.sh
			type = always
			args = $4
			format = string
		EOF
		chmod 0640 "$dir/plugins.d/corpus.conf"
	fi
	# -n: no fork, so $! is the daemon; -s nochange: the enabled flag stays ours to manage.
	auditd -n -s nochange -c "$dir" 9>&- &
	daemon_pid=$!
	local _
	for _ in $(seq 100); do
		[[ $(status_value pid) == "$daemon_pid" ]] && return 0
		kill -0 "$daemon_pid" 2>/dev/null || die "auditd exited at start (see syslog / try auditd -f -c $dir)"
		sleep 0.1
	done
	die "auditd $daemon_pid did not register with the kernel"
}

# The workload's helper for sockets and TTY auditing: the standard library only.
cat >"$work/helper.py" <<'EOF'
import os, socket, struct, sys

def nets(work):
    # TCP 127.0.0.1 and ::1, a refused connect, UDP, unix path and abstract sockets.
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        srv = socket.socket(fam, socket.SOCK_STREAM)
        srv.bind((host, 0)); srv.listen(1)
        c = socket.socket(fam, socket.SOCK_STREAM); c.connect(srv.getsockname()); c.close(); srv.close()
    closed = socket.socket(); closed.bind(("127.0.0.1", 0)); port = closed.getsockname()[1]; closed.close()
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        pass
    c.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("127.0.0.1", 53)); u.close()
    for name in (os.path.join(work, "corpus sock ü"), "\0corpus-abstract"):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); srv.bind(name); srv.listen(1)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(name); c.close(); srv.close()
        if not name.startswith("\0"):
            os.unlink(name)
    try:
        socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM).close()  # the "funky_socket" rule
    except OSError:
        pass

def tty(argv):
    # AUDIT_TTY_SET for this process (inherited by its children), as pam_tty_audit does.
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)  # NETLINK_AUDIT
    body = struct.pack("=II", 1, 0)  # enabled=1, log_passwd=0
    s.sendto(struct.pack("=IHHII", 16 + len(body), 1017, 0x5, 1, 0) + body, (0, 0))  # AUDIT_TTY_SET, REQUEST|ACK
    ack = s.recv(4096)
    err = struct.unpack_from("=i", ack, 16)[0]
    if err != 0:
        sys.exit("AUDIT_TTY_SET failed: errno %d" % -err)
    s.close()
    os.execvp(argv[0], argv)

if sys.argv[1] == "nets":
    nets(sys.argv[2])
else:
    tty(sys.argv[2:])
EOF

workload() {
	# A login session of its own: auid 0 and a fresh session id, like an ssh login.
	echo 0 >/proc/self/loginuid
	# The C locale keeps glibc's locale-file lookups (dozens of ENOENT opens per exec) out.
	# A plain PATH keeps failed execve probes of PATH entries (pyenv shims etc.) out.
	export LC_ALL=C LANG=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
	unset LANGUAGE
	local dir="$work/dir with spaces ü"
	mkdir -p "$dir"
	cd "$dir"
	# Odd arguments: spaces, quotes, newline, tab, UTF-8, invalid UTF-8, an empty one.
	/bin/echo corpus-odd-args "hello world" "it's" '"double"' $'line1\nline2' $'tab\there' \
		'ünïcødé ✓ 日本' $'bad \xff\xfe utf8' '' >/dev/null
	# One argument over 8 KB (split as a1_len/a1[i]), once plain and once hex-encoded.
	/bin/true corpus-long-arg "$(printf 'x%.0s' $(seq 9000))"
	/bin/true corpus-long-hex-arg "$(printf 'y z%.0s' $(seq 3000))"
	# An argv over 128 KB (2048 arguments of 64 bytes): many EXECVE records for one event.
	# Only in the first capture, to keep the corpus small.
	if [[ $1 == big ]]; then
		local big
		mapfile -t big < <(seq -f "arg-%04g-$(printf 'z%.0s' $(seq 55))" 1 2048)
		/bin/true corpus-big-argv "${big[@]}"
	fi
	# Failed opens: ENOENT as root, EACCES as nobody (su and runuser both go through PAM).
	cat /nonexistent/corpus-missing 2>/dev/null || true
	cat "$dir/missing ü file" 2>/dev/null || true
	echo secret >"$work/secret"
	chmod 0600 "$work/secret"
	runuser -u nobody -- /bin/cat "$work/secret" 2>/dev/null || true
	su -s /bin/sh -c "cat '$work/secret' 2>/dev/null; id >/dev/null" nobody || true
	rm -f "$work/secret"
	# Network: TCP/UDP to 127.0.0.1 and ::1, unix path + abstract sockets.
	"$python" -I -S "$work/helper.py" nets "$work"
	# A TTY session: tty auditing on, a shell on a pty reading two typed lines.
	printf 'echo corpus-tty-marker\nexit\n' |
		"$python" -I -S "$work/helper.py" tty /usr/bin/script -q -e -c "bash --norc --noprofile -i" /dev/null >/dev/null ||
		log "TTY session failed (TTY records will be missing)"
}

capture() {
	local format=$1 name_format=$2 dest=$3 size=$4 dispatch=${5:-} dir="$work/$1"
	log "capture: log_format=$format name_format=$name_format -> $dest"
	start_daemon "$format" "$name_format" "$dir" "${dispatch:+$dir/dispatch.log}"
	auditctl -b 8192 >/dev/null
	auditctl -e 1 >/dev/null
	local r i
	for r in "${rules[@]}"; do
		# shellcheck disable=SC2086 # a rule is a list of auditctl words
		auditctl $r >/dev/null
		added+=("$r")
	done
	(workload "$size")
	sleep 1 # let the kernel queue drain into auditd before the rules and daemon go
	for ((i = ${#added[@]} - 1; i >= 0; i--)); do
		# shellcheck disable=SC2086
		auditctl ${added[i]/#-a /-d } >/dev/null
	done
	added=()
	auditctl -e "$prior_enabled" >/dev/null
	auditctl -b "$prior_backlog" >/dev/null
	stop_daemon
	cp "$dir/audit.log" "$dest"
	chmod 0644 "$dest"
	if [[ -n $dispatch ]]; then
		[[ -s $dir/dispatch.log ]] || die "the dispatcher plugin wrote nothing to $dir/dispatch.log"
		cp "$dir/dispatch.log" "$dispatch"
		chmod 0644 "$dispatch"
	fi
	log "capture: $(wc -l <"$dest") lines, $(wc -c <"$dest") bytes"
}

capture RAW NONE "$out/audit.log" big
capture ENRICHED HOSTNAME "$out/audit-enriched.log" small "$out/audit-dispatch.log"
ausearch -i --input "$out/audit.log" >/dev/null || die "ausearch cannot read $out/audit.log"
ausearch -i --input "$out/audit-enriched.log" >/dev/null || die "ausearch cannot read $out/audit-enriched.log"
# What the derived journal records need (_HOSTNAME, _BOOT_ID) and what produced the corpus.
{
	echo "hostname=$(hostname)"
	echo "boot_id=$(tr -d - </proc/sys/kernel/random/boot_id)"
	echo "kernel=$(uname -r)"
	echo "auditd=$(dpkg-query -W -f '${Version}' auditd 2>/dev/null || echo unknown)"
	echo "captured=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/capture-info.txt"
log "done; now run: go run ./parser/testdata/corpus/derive"
