#!/usr/bin/env bash
# Builds the OpenWrt package of the mipsle binary with mkpkg and
# nfpm/ipk.yaml, and the same files as a .tar.gz to unpack over / on
# OpenWrt releases that use apk instead of opkg.
# Needs OUT, MKPKG, DEB_UPSTREAM_VERSION, DEB_REVISION, DEB_MAINTAINER and
# SOURCE_DATE_EPOCH in the environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${OUT:?}" "${MKPKG:?}" "${DEB_UPSTREAM_VERSION:?}" "${DEB_REVISION:?}" "${DEB_MAINTAINER:?}" "${SOURCE_DATE_EPOCH:?}"
OUT=$(cd "$OUT" && pwd)
# opkg's architecture name for little-endian MIPS32r2 routers.
arch=mipsel_24kc
version=${DEB_UPSTREAM_VERSION}-${DEB_REVISION}
file=$OUT/hubd_${version}_$arch.ipk
rm -f "$OUT"/hubd_*_"$arch".ipk "$OUT"/hubd_*_openwrt_"$arch".tar.gz # older versions
cd "$here/.."
env IPK_ARCH=$arch IPK_LICENSE=unpublished HUBD_BIN="$OUT/bin/mipsle/hubd" STAGE="$OUT/stage/openwrt" \
	"$MKPKG" -config nfpm/ipk.yaml -packager ipk -target "$file"
echo "ipk: $file"

tree=$OUT/stage/openwrt/tree
rm -rf "$tree"
install -D -m 0755 "$OUT/bin/mipsle/hubd" "$tree/usr/bin/hubd"
install -D -m 0755 openwrt/hubd.init "$tree/etc/init.d/hubd"
install -D -m 0644 "$OUT/stage/openwrt/hubd.yaml" "$tree/etc/hubd/hubd.yaml"
tgz=$OUT/hubd_${version}_openwrt_$arch.tar.gz
tar -C "$tree" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
	-cf - usr etc | gzip -9n >"$tgz"
echo "tar: $tgz"
