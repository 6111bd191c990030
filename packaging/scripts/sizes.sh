#!/usr/bin/env bash
# Prints the size of every binary in $OUT/bin, and fails if the arm64 one
# is over its budget (MAX_ARM64_MB, default 25 MB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=targets.sh
. "$here/targets.sh"
: "${OUT:?}"
max_mb=${MAX_ARM64_MB:-25}
echo "binary sizes (static, stripped):"
for t in $TARGETS; do
	f=$OUT/bin/$t/hubd
	if [[ -f $f ]]; then
		bytes=$(stat -c %s "$f")
		awk -v t="$t" -v b="$bytes" 'BEGIN { printf "  %-7s %6.2f MB  %9d bytes\n", t, b / 1e6, b }'
	else
		printf '  %-7s (not built)\n' "$t"
	fi
done
f=$OUT/bin/arm64/hubd
if [[ -f $f ]] && (($(stat -c %s "$f") > max_mb * 1000000)); then
	echo "FAIL: the arm64 binary is over $max_mb MB" >&2
	exit 1
fi
