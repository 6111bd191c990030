#!/usr/bin/env bash
# Builds the .deb of one target from $OUT/bin/TARGET/hubd and $OUT/stage
# (stage.sh), with mkpkg and nfpm/deb.yaml, and prints the file name.
#   scripts/deb.sh TARGET
# Needs OUT, MKPKG, DEB_UPSTREAM_VERSION, DEB_REVISION, DEB_MAINTAINER and
# SOURCE_DATE_EPOCH in the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=targets.sh
. "$here/targets.sh"
target=${1:?usage: deb.sh TARGET}
target_env "$target"
: "${OUT:?}" "${MKPKG:?}" "${DEB_UPSTREAM_VERSION:?}" "${DEB_REVISION:?}" "${DEB_MAINTAINER:?}" "${SOURCE_DATE_EPOCH:?}"
if [[ -z $DEB_ARCH ]]; then
	echo "deb.sh: target $target has no Debian package" >&2
	exit 1
fi
OUT=$(cd "$OUT" && pwd)
stage=$OUT/stage/$target
mkdir -p "$stage"
cp "$OUT/stage/deb/hubd.yaml" "$OUT/stage/hubd.1.gz" "$OUT/stage/changelog.Debian.gz" "$stage/"

# Lintian overrides: the common ones, plus those of this build.
{
	cat "$here/../debian/lintian-overrides"
	echo "#"
	echo "# /usr/bin/hubd is static on purpose: one binary that runs on every"
	echo "# Debian and Raspberry Pi OS release, whatever its C library (see"
	echo "# packaging/README.md, \"Why static\")."
	if [[ $STATIC_PIE == yes ]]; then
		echo "# It is a static PIE, which lintian takes for a shared library without"
		echo "# dependencies."
		echo "hubd: shared-library-lacks-prerequisites [usr/bin/hubd]"
	else
		echo "# Debian's glibc has no static PIE for $DEB_ARCH, so it is a static executable."
		echo "hubd: statically-linked-binary [usr/bin/hubd]"
	fi
} >"$stage/lintian-overrides"

preinst="" note2=""
case $target in
amd64) note="This build is for amd64 (x86-64) PCs." ;;
arm64) note="This build is for arm64: Raspberry Pi 3, 4, 5 and Zero 2 W, 64-bit OS." ;;
armv7)
	note="This build is for ARMv7: Raspberry Pi 2, 3, 4, 5 and Zero 2 W, 32-bit OS."
	note2="It does not run on a Pi 1 or Zero (ARMv6): use the armhf-v6 build there."
	preinst=./debian/preinst-armv7
	;;
armv6)
	note="This build is for ARMv6 and runs on every Raspberry Pi with a 32-bit"
	note2="OS, Pi 1 and Zero included."
	;;
esac

file=$OUT/hubd_${DEB_UPSTREAM_VERSION}-${DEB_REVISION}_${DEB_SUFFIX}.deb
rm -f "$OUT"/hubd_*_"$DEB_SUFFIX".deb # older versions
cd "$here/.."
env DEB_ARCH="$DEB_ARCH" HUBD_BIN="$OUT/bin/$target/hubd" STAGE="$stage" \
	DEB_PREINST="$preinst" DEB_BUILD_NOTE="$note" DEB_BUILD_NOTE2="$note2" \
	"$MKPKG" -config nfpm/deb.yaml -packager deb -target "$file"
echo "deb: $file"
