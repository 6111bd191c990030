#!/usr/bin/env bash
# Cross-builds one static, stripped hubd binary with cgo (for SQLite) using
# Debian's cross compilers.
#
#   scripts/build.sh TARGET OUTFILE
#
# TARGET is one of: amd64 arm64 armv7 armv6 mipsle. VERSION (environment)
# is stamped into the binary (main.version). Needs the compilers that
# scripts/targets.sh names (packaging/README.md lists the Debian packages).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=targets.sh
. "$here/targets.sh"

target=${1:?usage: build.sh TARGET OUTFILE}
out=${2:?usage: build.sh TARGET OUTFILE}
target_env "$target"
out=$(realpath -m "$out")
: "${VERSION:=devel}"
GO=${GO:-go}
command -v "$GO" >/dev/null || PATH=$PATH:/usr/local/go/bin

if ! command -v "$CC" >/dev/null; then
	echo "build.sh: $CC not found; install $CC_PACKAGE (and $LIBC_PACKAGE)" >&2
	exit 1
fi

# Debian's hardening flags (dpkg-buildflags with hardening=+all), for the C
# code in the binary (SQLite and the Go runtime's cgo glue). The binary is
# stripped and its version stamped (main.version).
cppflags="-D_FORTIFY_SOURCE=2"
cflags="-O2 -g0 -fstack-protector-strong -Wformat -Werror=format-security $EXTRA_CFLAGS"
# Full RELRO, no executable stack. Static PIE where Debian's glibc ships rcrt1.o (amd64, arm64);
# elsewhere a plain static executable (glibc has no static PIE there).
ldflags_ext="-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack"
buildmode=exe
if [[ $STATIC_PIE == yes ]]; then
	buildmode=pie
	ldflags_ext="-static-pie $ldflags_ext"
else
	ldflags_ext="-static $ldflags_ext"
fi

mkdir -p "$(dirname "$out")"
echo "build: $target (GOARCH=$GOARCH${GOARM:+ GOARM=$GOARM}${GOMIPS:+ GOMIPS=$GOMIPS}, CC=$CC, buildmode=$buildmode) -> $out"
cd "${HUBD_SRC:-$here/../..}" # HUBD_SRC: build another checkout (for packaging work)
env CGO_ENABLED=1 GOOS=linux GOARCH="$GOARCH" GOARM="${GOARM:-}" GOMIPS="${GOMIPS:-}" \
	CC="$CC" CGO_CPPFLAGS="$cppflags" CGO_CFLAGS="$cflags" CGO_LDFLAGS="" \
	"$GO" build -trimpath -buildmode="$buildmode" \
	-tags sqlite_omit_load_extension,netgo,osusergo \
	-ldflags "-w -X main.version=$VERSION -linkmode=external -extldflags '$ldflags_ext'" \
	-o "$out.unstripped" ./cmd/hubd

# Record which fortified C library functions (__memcpy_chk and the like)
# the C code calls, for the tests, then strip the symbols (what go build
# -ldflags=-s would do, but after the look).
"${CC%gcc}nm" "$out.unstripped" | awk '$2 == "T" && $3 ~ /^__[a-z]+_chk$/ { print $3 }' | sort -u >"$out.fortified"
"${CC%gcc}strip" -o "$out" "$out.unstripped"
rm -f "$out.unstripped"
