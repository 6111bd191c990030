#!/usr/bin/env bash
# Prints systemd's exposure rating of a service unit (systemd-analyze
# security, offline) and fails if it is above MAX_EXPOSURE (default 3.0).
#   scripts/unit-security.sh UNIT-FILE
set -euo pipefail
unit=${1:?usage: unit-security.sh UNIT-FILE}
max=${MAX_EXPOSURE:-3.0}
command -v systemd-analyze >/dev/null || {
	echo "unit-security.sh: systemd-analyze not found (apt-get install systemd)" >&2
	exit 1
}
report=$(SYSTEMD_COLORS=0 systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
# The settings that still cost points, then the verdict.
grep -E '^✗' <<<"$report" | sed 's/^/  /' || true
line=$(grep -E 'Overall exposure level' <<<"$report" || true)
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$line")
if [[ -z $score ]]; then
	echo "FAIL: no exposure level in systemd-analyze's report:" >&2
	echo "$report" >&2
	exit 1
fi
echo "systemd-analyze security: $(basename "$unit") exposure $score (at most $max)"
if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
	echo "FAIL: exposure $score is above $max" >&2
	exit 1
fi
