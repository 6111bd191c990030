#!/usr/bin/env bash
# Runs lintian on every .deb in $OUT and fails on any error or warning that
# the package's overrides (debian/lintian-overrides, deb.sh) do not explain.
# Overridden tags are shown, with their explanation.
set -euo pipefail
: "${OUT:?}"
shopt -s nullglob
debs=("$OUT"/*.deb)
if ((${#debs[@]} == 0)); then
	echo "lint.sh: no .deb in $OUT (make deb)" >&2
	exit 1
fi
command -v lintian >/dev/null || {
	echo "lint.sh: lintian is not installed (apt-get install lintian)" >&2
	exit 1
}
rc=0
for deb in "${debs[@]}"; do
	echo "lintian $(basename "$deb"):"
	# One run shows everything; with --show-overrides lintian's own exit
	# status counts overridden tags too, so the verdict comes from its
	# E: (error) and W: (warning) lines instead.
	report=$(lintian --display-info --show-overrides --tag-display-limit 0 "$deb" 2>&1) || true
	# lintian warns when run as root (as CI does); that line is noise.
	grep -v 'running with root privileges is not recommended' <<<"$report" | sed 's/^/  /' || true
	if grep -qE '^(E|W): ' <<<"$report"; then
		echo "FAIL: lintian reports errors or warnings for $(basename "$deb")" >&2
		rc=1
	elif grep -qE '^(internal error|Cannot|Unable)|^lintian: ' <<<"$report"; then
		echo "FAIL: lintian did not run cleanly on $(basename "$deb")" >&2
		rc=1
	fi
done
((rc == 0)) && echo "lintian: no errors, no warnings (overrides shown as O:, informational tags as I:)"
exit $rc
