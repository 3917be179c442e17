#!/bin/sh
# audit-setup.sh: the init container of the auditd-cloud-logging DaemonSet.
#
# It makes the node's kernel emit the audit records the fluent-bit plugin ships, working on the
# host through the host's root filesystem mounted at $HOST_ROOT (it runs the HOST's systemctl and
# auditctl with chroot, so the image needs neither).
#
# Usage: audit-setup.sh [setup|disable]        (the argument wins over $MODE)
#
# setup (default)
#   COS node (ID=cos in the host's os-release): start the host unit cloud-audit-setup, wait until it
#     is active, print the kernel audit status and rule count. cloud-audit-setup locks the rules
#     (auditctl -e 2) until reboot; a second run finds them locked and succeeds without change.
#   Other nodes: load the bundled rule set (rules/auditd-cloud-logging.rules) with the host's
#     auditctl; rules already loaded are kept; auditing is enabled if it was off.
#   Custom rules: if $AUDIT_RULES_FILE exists and is not empty, it is loaded instead, on any node.
#   Already locked (enabled 2): nothing can change until reboot; the loaded rules are listed and the
#     run succeeds.
#   AUDIT_LOCK=true: lock the rules after loading (auditctl -e 2); changing or removing them then
#     needs a reboot or a new node. Off by default.
# disable
#   Remove this project's rules (the rules of the bundled file and of $AUDIT_RULES_FILE, and any
#   rule carrying one of their keys). Where the rules are locked they cannot be removed: the node
#   must be recreated (see docs/deploy.md, "Disable and removal").
#
# Environment:
#   MODE                    setup | disable (default setup)
#   HOST_ROOT               where the host's / is mounted (default /host)
#   NODE_NAME               node name used in every message (default: this host's name)
#   AUDIT_RULES_FILE        custom rules (default /etc/auditd-cloud-logging/rules/audit.rules)
#   BUNDLED_RULES           bundled rules (default <script dir>/rules/auditd-cloud-logging.rules)
#   AUDIT_LOCK              true | false (default false)
#   AUDIT_SETUP_TIMEOUT     seconds to wait for cloud-audit-setup to become active (default 60)
#   AUDIT_REQUIRE_RECEIVER  true | false (default true): refuse to load rules when nothing receives
#                           audit records (auditctl -s pid 0; on COS, where journald reads them
#                           without a pid, its systemd-journald-audit.socket not active), because
#                           the records would then only reach the kernel log, never the log file
#                           or the journal's audit transport
#
# Exit codes (also in docs/deploy.md):
#   0  done, or nothing to do (already set up, already locked, nothing to remove)
#   2  bad usage: unknown mode, bad variable value, unreadable or empty rules file
#   3  the host root is not mounted at $HOST_ROOT or has no readable os-release
#   4  a host tool is missing: auditctl (any node) or systemctl (COS)
#   5  COS: cloud-audit-setup failed or did not become active within $AUDIT_SETUP_TIMEOUT seconds
#   6  auditctl failed: status query, or a rule was rejected / could not be removed
#   7  nothing receives audit records (AUDIT_REQUIRE_RECEIVER=true)
#   8  disable: the rules are locked until reboot; the node must be recreated

set -u

MODE_ARG=${1:-}
MODE=${MODE_ARG:-${MODE:-setup}}
HOST_ROOT=${HOST_ROOT:-/host}
AUDIT_RULES_FILE=${AUDIT_RULES_FILE:-/etc/auditd-cloud-logging/rules/audit.rules}
SCRIPT_DIR=$(dirname "$0")
BUNDLED_RULES=${BUNDLED_RULES:-$SCRIPT_DIR/rules/auditd-cloud-logging.rules}
AUDIT_LOCK=${AUDIT_LOCK:-false}
AUDIT_SETUP_TIMEOUT=${AUDIT_SETUP_TIMEOUT:-60}
AUDIT_REQUIRE_RECEIVER=${AUDIT_REQUIRE_RECEIVER:-true}
ON_COS=false
COS_UNIT=cloud-audit-setup

NODE=${NODE_NAME:-}
if [ -z "$NODE" ]; then
	NODE=$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname 2>/dev/null || echo unknown-node)
fi

say() {
	printf '%s: %s\n' "$NODE" "$*"
}

fail() {
	code=$1
	shift
	printf '%s: ERROR: %s\n' "$NODE" "$*" >&2
	exit "$code"
}

# Print each line of $1 behind the node name, so multi-line tool output stays attributable.
say_lines() {
	printf '%s\n' "$1" | while IFS= read -r l; do
		[ -n "$l" ] && say "  $l"
	done
}

# A trailing slash would make "$HOST_ROOT/usr" read as "//usr"; "/" itself becomes "".
HOST_ROOT=${HOST_ROOT%/}

on_host() {
	chroot "${HOST_ROOT:-/}" "$@"
}

# Path (as seen on the host) of an executable host tool, or nothing.
find_host_tool() {
	for d in /usr/sbin /sbin /usr/bin /bin; do
		if [ -f "$HOST_ROOT$d/$1" ] && [ -x "$HOST_ROOT$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	return 1
}

# os-release is often a symlink; an absolute target must be resolved inside the host root, not in
# this container (whose own os-release says Debian).
host_os_release() {
	for f in /etc/os-release /usr/lib/os-release; do
		p=$HOST_ROOT$f
		n=0
		while [ -L "$p" ] && [ $n -lt 8 ]; do
			t=$(readlink "$p")
			case $t in
			/*) p=$HOST_ROOT$t ;;
			*) p=$(dirname "$p")/$t ;;
			esac
			n=$((n + 1))
		done
		if [ -f "$p" ] && [ -r "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

os_release_value() {
	sed -n "s/^$2=//p" "$1" | head -n 1 | tr -d "\"'"
}

is_bool() {
	case $1 in true | false) return 0 ;; esac
	return 1
}

# --- kernel audit state, through the host's auditctl -------------------------------------------

AUDITCTL=

need_auditctl() {
	AUDITCTL=$(find_host_tool auditctl) ||
		fail 4 "the host has no auditctl under $HOST_ROOT/{usr/sbin,sbin,usr/bin,bin}; install the auditd package in the node image (e.g. apt-get install auditd) or run on COS"
}

STATUS=
ENABLED=
RECEIVER_PID=

read_status() {
	STATUS=$(on_host "$AUDITCTL" -s 2>&1) || fail 6 "auditctl -s failed: $STATUS"
	ENABLED=$(printf '%s\n' "$STATUS" | sed -n 's/^enabled \([0-9]*\).*/\1/p' | head -n 1)
	RECEIVER_PID=$(printf '%s\n' "$STATUS" | sed -n 's/^pid \([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$ENABLED" ] || fail 6 "auditctl -s printed no 'enabled' line: $STATUS"
}

RULES=
RULE_COUNT=0

read_rules() {
	RULES=$(on_host "$AUDITCTL" -l 2>&1) || fail 6 "auditctl -l failed: $RULES"
	if [ "$RULES" = "No rules" ] || [ -z "$RULES" ]; then
		RULES=
		RULE_COUNT=0
	else
		RULE_COUNT=$(printf '%s\n' "$RULES" | grep -c .)
	fi
}

report_state() {
	read_status
	read_rules
	case $ENABLED in
	0) state="disabled (enabled 0)" ;;
	1) state="enabled (enabled 1)" ;;
	2) state="enabled and locked until reboot (enabled 2)" ;;
	*) state="enabled $ENABLED" ;;
	esac
	receiver="receiver pid ${RECEIVER_PID:-unknown}"
	if [ "$ON_COS" = true ] && [ "${RECEIVER_PID:-0}" = 0 ]; then
		receiver="records read by journald (multicast, no receiver pid)"
	fi
	say "kernel audit is $state, $RULE_COUNT rules loaded, $receiver"
}

report_locked() {
	read_rules
	say "audit rules are locked (enabled 2): they are immutable until the node reboots; $RULE_COUNT rules loaded:"
	say_lines "$RULES"
}

# --- rules files ----------------------------------------------------------------------------------

check_rules_file() {
	if [ ! -f "$1" ] || [ ! -r "$1" ]; then
		fail 2 "rules file $1 is missing or unreadable"
	fi
	grep -q '^[[:space:]]*-' "$1" || fail 2 "rules file $1 has no auditctl lines (lines starting with '-')"
}

# Keys (-k K or -F key=K) used in a rules file, one per line.
rules_keys() {
	sed -n 's/^[[:space:]]*-[^#]*-k[[:space:]]\{1,\}\([^[:space:]]\{1,\}\).*/\1/p; s/^[[:space:]]*-[^#]*-F[[:space:]]\{1,\}key=\([^[:space:]]\{1,\}\).*/\1/p' "$1" | sort -u
}

LOADED=0
PRESENT=0
SKIPPED=0
FAILED=0

# Calls the function named $2 once per rule line of the rules file $1, with the line's words as
# its arguments; comments and blank lines are skipped, and lineno says where the line was.
each_rule() {
	file=$1
	handler=$2
	lineno=0
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line%%#*}
		set -f
		# shellcheck disable=SC2086 # auditctl -R splits rule lines on blanks; so do we.
		set -- $line
		set +f
		[ $# -gt 0 ] || continue
		"$handler" "$@"
	done <"$file"
}

# Loads every line of a rules file with the host's auditctl, one call per line so that a rule that
# is already loaded ("Rule exists") counts as done instead of aborting the rest.
load_rules_file() {
	each_rule "$1" load_rule
}

# shellcheck disable=SC2317 # called through each_rule
load_rule() {
	if [ "$1" = "-e" ] && [ "${2:-}" = "2" ]; then
		say "$file:$lineno: skipping '-e 2' (lock); set AUDIT_LOCK=true to lock the rules after loading"
		SKIPPED=$((SKIPPED + 1))
		return
	fi
	if out=$(on_host "$AUDITCTL" "$@" 2>&1); then
		LOADED=$((LOADED + 1))
	else
		case $out in
		*"Rule exists"* | *"rule exists"*)
			PRESENT=$((PRESENT + 1))
			;;
		*)
			printf '%s: ERROR: %s:%s: auditctl rejected "%s": %s\n' "$NODE" "$file" "$lineno" "$*" "$out" >&2
			FAILED=$((FAILED + 1))
			;;
		esac
	fi
}

REMOVED=0
ABSENT=0

# Deletes the rules of a rules file: "-a/-A list,action ..." becomes "-d list,action ...", "-w path ..."
# becomes "-W path ...". Control lines (-e, -b, -f, -D, ...) are not undone.
remove_rules_file() {
	each_rule "$1" remove_rule
}

# shellcheck disable=SC2317 # called through each_rule
remove_rule() {
	case $1 in
	-a | -A) del=-d ;;
	-w) del=-W ;;
	*) return ;;
	esac
	shift
	if out=$(on_host "$AUDITCTL" "$del" "$@" 2>&1); then
		REMOVED=$((REMOVED + 1))
	else
		case $out in
		*"No such file"* | *"No rule matches"* | *"rule not found"*)
			ABSENT=$((ABSENT + 1))
			;;
		*)
			printf '%s: ERROR: %s:%s: auditctl could not remove "%s %s": %s\n' "$NODE" "$file" "$lineno" "$del" "$*" "$out" >&2
			FAILED=$((FAILED + 1))
			;;
		esac
	fi
}

custom_rules_present() {
	[ -s "$AUDIT_RULES_FILE" ]
}

# --- modes ----------------------------------------------------------------------------------------

setup_with_file() {
	file=$1
	what=$2
	need_auditctl
	read_status
	if [ "$ENABLED" = 2 ]; then
		report_locked
		say "setup: nothing changed (rules locked); $what was not loaded"
		exit 0
	fi
	if [ "${RECEIVER_PID:-0}" = 0 ] && [ "$ON_COS" = true ] && journald_reads_audit; then
		# journald reads the kernel's audit multicast group and never registers as the audit
		# pid: on COS, pid 0 with its audit socket active is the normal state.
		say "COS: journald reads audit records from the kernel's multicast group (auditctl -s shows pid 0)"
	elif [ "${RECEIVER_PID:-0}" = 0 ] && [ "$ON_COS" = true ]; then
		if [ "$AUDIT_REQUIRE_RECEIVER" = true ]; then
			fail 7 "COS: systemd-journald-audit.socket is not active, so journald does not read audit records: they would reach only the kernel log, which the shipped input does not read; start it on the node (systemctl start systemd-journald-audit.socket), or set AUDIT_REQUIRE_RECEIVER=false"
		fi
		say "warning: journald's audit socket is not active (pid 0); loading anyway because AUDIT_REQUIRE_RECEIVER=false"
	elif [ "${RECEIVER_PID:-0}" = 0 ]; then
		if [ "$AUDIT_REQUIRE_RECEIVER" = true ]; then
			fail 7 "no process receives audit records (auditctl -s: pid 0): they would reach only the kernel log, never /var/log/audit/audit.log or the journal; start auditd on the node (systemctl enable --now auditd), or set AUDIT_REQUIRE_RECEIVER=false"
		fi
		say "warning: no process receives audit records (pid 0); loading anyway because AUDIT_REQUIRE_RECEIVER=false"
	fi
	say "loading $what from $file"
	load_rules_file "$file"
	if [ "$FAILED" -gt 0 ]; then
		fail 6 "$FAILED rules of $file were rejected (see above); $LOADED loaded, $PRESENT already loaded"
	fi
	say "loaded $LOADED rules, $PRESENT were already loaded, $SKIPPED lines skipped"
	if [ "$ENABLED" = 0 ]; then
		if [ "${RECEIVER_PID:-0}" = 0 ] && [ "$ON_COS" != true ]; then
			# With nobody reading, the kernel would print every record to its log and make
			# processes wait on a full backlog; auditd turns auditing on itself when it starts.
			say "left kernel auditing off (enabled 0): nothing receives records yet; auditd enables it when it starts"
		else
			out=$(on_host "$AUDITCTL" -e 1 2>&1) || fail 6 "auditctl -e 1 (enable auditing) failed: $out"
			say "enabled kernel auditing (it was off)"
		fi
	fi
	if [ "$AUDIT_LOCK" = true ]; then
		out=$(on_host "$AUDITCTL" -e 2 2>&1) || fail 6 "auditctl -e 2 (lock) failed: $out"
		say "locked the rules (AUDIT_LOCK=true): they cannot be changed or removed until the node reboots; to turn auditing off the node must be recreated"
	fi
	report_state
	say "setup done"
}

# journald_reads_audit: whether the host's systemd-journald-audit.socket is active (journald
# then reads the kernel's audit multicast group, as on every COS release).
journald_reads_audit() {
	sc=$(find_host_tool systemctl) || return 1
	on_host "$sc" is-active systemd-journald-audit.socket >/dev/null 2>&1
}

setup_cos() {
	SYSTEMCTL=$(find_host_tool systemctl) ||
		fail 4 "COS node without systemctl under $HOST_ROOT; is the host root mounted at $HOST_ROOT?"
	need_auditctl
	read_status
	if [ "$ENABLED" = 2 ]; then
		report_locked
		say "setup: $COS_UNIT already ran (rules locked); nothing to do"
		exit 0
	fi
	[ "$AUDIT_LOCK" = true ] || say "note: $COS_UNIT locks the rules (auditctl -e 2) until reboot, whatever AUDIT_LOCK says"
	out=$(on_host "$SYSTEMCTL" start "$COS_UNIT" 2>&1) ||
		fail 5 "systemctl start $COS_UNIT failed: $out"
	say "started $COS_UNIT; waiting up to ${AUDIT_SETUP_TIMEOUT}s for it to be active"
	waited=0
	while :; do
		st=$(on_host "$SYSTEMCTL" is-active "$COS_UNIT" 2>&1)
		case $st in
		active) break ;;
		failed)
			details=$(on_host "$SYSTEMCTL" status --no-pager "$COS_UNIT" 2>&1)
			say_lines "$details"
			fail 5 "$COS_UNIT failed (see its status above; journalctl -u $COS_UNIT on the node)"
			;;
		esac
		if [ "$waited" -ge "$AUDIT_SETUP_TIMEOUT" ]; then
			fail 5 "$COS_UNIT is still '$st' after ${AUDIT_SETUP_TIMEOUT}s"
		fi
		sleep 1
		waited=$((waited + 1))
	done
	say "$COS_UNIT is active"
	report_state
	say "setup done"
}

disable_rules() {
	need_auditctl
	read_status
	if [ "$ENABLED" = 2 ]; then
		report_locked
		fail 8 "cannot remove the audit rules: they are locked until reboot. Recreate this node to remove them: after deleting the DaemonSets, recreate one node pool at a time (e.g. gcloud container clusters upgrade CLUSTER --node-pool=POOL --cluster-version=CURRENT_VERSION), never all pools at once"
	fi
	keys=
	for f in "$BUNDLED_RULES" "$AUDIT_RULES_FILE"; do
		[ -s "$f" ] || continue
		say "removing the rules of $f"
		remove_rules_file "$f"
		for k in $(rules_keys "$f"); do
			case " $keys " in *" $k "*) ;; *) keys="$keys $k" ;; esac
		done
	done
	# Rules of an older version of the rules files are found by key.
	for k in $keys; do
		out=$(on_host "$AUDITCTL" -D -k "$k" 2>&1) || {
			printf '%s: ERROR: auditctl -D -k %s failed: %s\n' "$NODE" "$k" "$out" >&2
			FAILED=$((FAILED + 1))
		}
	done
	[ "$FAILED" -eq 0 ] || fail 6 "$FAILED rules could not be removed (see above)"
	say "removed $REMOVED rules ($ABSENT were not loaded); swept keys:$keys"
	report_state
	say "disable done; delete this DaemonSet once every node reports it"
}

main() {
	case $MODE in
	setup | disable) ;;
	*) fail 2 "unknown mode '$MODE': use setup or disable" ;;
	esac
	is_bool "$AUDIT_LOCK" || fail 2 "AUDIT_LOCK='$AUDIT_LOCK': use true or false"
	is_bool "$AUDIT_REQUIRE_RECEIVER" || fail 2 "AUDIT_REQUIRE_RECEIVER='$AUDIT_REQUIRE_RECEIVER': use true or false"
	case $AUDIT_SETUP_TIMEOUT in
	'' | *[!0-9]*) fail 2 "AUDIT_SETUP_TIMEOUT='$AUDIT_SETUP_TIMEOUT': use a whole number of seconds" ;;
	esac
	[ -d "${HOST_ROOT:-/}" ] || fail 3 "host root ${HOST_ROOT:-/} is not mounted (mount the node's / there)"
	osr=$(host_os_release) || fail 3 "no readable os-release under ${HOST_ROOT:-/}/etc or /usr/lib; is the node's / mounted at ${HOST_ROOT:-/}?"
	os_id=$(os_release_value "$osr" ID)
	[ "$os_id" = cos ] && ON_COS=true
	os_ver=$(os_release_value "$osr" VERSION_ID)
	say "mode $MODE on ${os_id:-unknown OS}${os_ver:+ $os_ver}"

	if [ "$MODE" = disable ]; then
		check_rules_file "$BUNDLED_RULES"
		disable_rules
		exit 0
	fi
	if custom_rules_present; then
		check_rules_file "$AUDIT_RULES_FILE"
		setup_with_file "$AUDIT_RULES_FILE" "custom rules"
	elif [ "$os_id" = cos ]; then
		setup_cos
	else
		check_rules_file "$BUNDLED_RULES"
		setup_with_file "$BUNDLED_RULES" "the bundled rules"
	fi
	exit 0
}

main
