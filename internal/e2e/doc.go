// Package e2e holds CI's end-to-end test with real parts: Debian's auditd writing to a
// temporary log, rules loaded by the project's own scripts/audit-setup.sh, a workload, the
// built plugin (.so) driven by the C host (plugin/chost) as fluent-bit drives it, tailing the
// growing log in several chunks with an FLB_RETRY replay, into the local Cloud Logging
// emulator. It runs as root with kernel audit; elsewhere it skips, unless AUDIT_TESTS_REQUIRED=1
// (CI) turns the skip into a failure.
//
// It changes the machine's audit state while it runs (a daemon, rules, the enabled flag and the
// backlog limit) and restores what it found. It takes the lock scripts/capture-corpus.sh takes
// (/run/lock/audit-capture.lock, AUDIT_CAPTURE_LOCK), so the two never run at the same time.
package e2e
