#!/usr/bin/env bash
# Generates the files that every package shares, into $OUT/stage:
#   deb/hubd.yaml, openwrt/hubd.yaml  configuration ("hubd config example",
#                                     see conffile.sh)
#   hubd.1.gz                         the man page, dated and versioned
#   changelog.Debian.gz               one entry for this version
# Needs the amd64 binary ($OUT/bin/amd64/hubd) and VERSION, DEB_VERSION,
# DEB_MAINTAINER and SOURCE_DATE_EPOCH in the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${OUT:?}" "${VERSION:?}" "${DEB_VERSION:?}" "${DEB_MAINTAINER:?}" "${SOURCE_DATE_EPOCH:?}"
stage=$OUT/stage
mkdir -p "$stage/deb" "$stage/openwrt"

# Run the amd64 build here, natively or under emulation.
hubd=("$OUT/bin/amd64/hubd")
[[ $(uname -m) == x86_64 ]] || hubd=(qemu-x86_64-static "${hubd[@]}")

"$here/conffile.sh" deb "${hubd[@]}" >"$stage/deb/hubd.yaml.tmp"
mv "$stage/deb/hubd.yaml.tmp" "$stage/deb/hubd.yaml"
"$here/conffile.sh" openwrt "${hubd[@]}" >"$stage/openwrt/hubd.yaml.tmp"
mv "$stage/openwrt/hubd.yaml.tmp" "$stage/openwrt/hubd.yaml"

date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
sed "s/^\.TH HUBD 1 \"\" \"hubd\"/.TH HUBD 1 \"$date\" \"hubd $VERSION\"/" "$here/../man/hubd.1" |
	gzip -9n >"$stage/hubd.1.gz"

commit=$(git -C "$here/.." rev-parse HEAD 2>/dev/null || echo unknown)
{
	echo "hubd ($DEB_VERSION) unstable; urgency=medium"
	echo
	echo "  * hubd $VERSION, built from git commit"
	echo "    $commit."
	echo
	echo " -- $DEB_MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$stage/changelog.Debian.gz"
echo "stage: $stage (hubd.yaml for deb and openwrt, hubd.1.gz, changelog.Debian.gz)"
