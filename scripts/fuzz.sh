#!/usr/bin/env bash
# Runs every FuzzXxx target in the repository for FUZZTIME each (go test -fuzz takes one target
# at a time). A target that finds a failing input fails the run at once. A run that fails
# without one — Go's fuzzing engine sometimes ends a short run with "context deadline
# exceeded" when a worker is slow to stop on a loaded machine — is tried up to twice more, and fails
# the run only if every try fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
go="${GO:-go}"
status=0
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort |
	while read -r f; do sed -n "s|^func \(Fuzz[A-Za-z0-9_]*\)(.*|$(dirname "$f") \1|p" "$f"; done)
while read -r dir t; do
	for try in 1 2 3; do
		echo "fuzz $dir $t (try $try)"
		log=$(mktemp)
		if "$go" test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" "$dir" </dev/null >"$log" 2>&1; then
			tail -n 2 "$log"
			rm -f "$log"
			break
		fi
		cat "$log"
		if grep -q "Failing input written to" "$log" || [ "$try" = 3 ]; then
			rm -f "$log"
			echo "fuzz: $dir $t FAILED"
			status=1
			break
		fi
		rm -f "$log"
		echo "fuzz: $dir $t: the fuzzing engine failed without a failing input; trying again"
	done
done <<<"$targets"
exit "$status"
