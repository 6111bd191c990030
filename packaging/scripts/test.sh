#!/usr/bin/env bash
# Tests the binaries and packages that "make packages" wrote to $OUT
# ("make test-packaging" builds them, then runs this). Every check prints
# one line, "ok" or "FAIL"; the last line counts them. Needs root: it
# installs, reinstalls, removes and purges the amd64 .deb on this machine
# (twice: as in a container without systemd, then with a stand-in for a
# running systemd in a private mount namespace).
#
# Environment: OUT, VERSION, DEB_VERSION (packaging.mk sets them).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkgdir=$(cd "$here/.." && pwd)
# shellcheck source=targets.sh
. "$here/targets.sh"
: "${OUT:?}" "${VERSION:?}" "${DEB_VERSION:?}"
OUT=$(cd "$OUT" && pwd)
GO=${GO:-go}
command -v "$GO" >/dev/null || PATH=$PATH:/usr/local/go/bin
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

# RESULTS collects one line per check, also from the namespaced sub-test.
if [[ ${1:-} != *-round ]]; then
	RESULTS=$(mktemp)
	export RESULTS
fi
pass() { printf 'ok    %s\n' "$*"; echo ok >>"$RESULTS"; }
fail() { printf 'FAIL  %s\n' "$*"; echo FAIL >>"$RESULTS"; }
# check WHAT COMMAND...: runs COMMAND; ok if it succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
# expect_eq WHAT GOT WANT
expect_eq() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
section() { printf '\n=== %s\n' "$*"; }
die() {
	printf 'FAIL  %s\n' "$*"
	echo FAIL >>"$RESULTS"
	summary
	exit 1
}
summary() {
	local ok failed
	ok=$(grep -c '^ok$' "$RESULTS")
	failed=$(grep -c '^FAIL$' "$RESULTS")
	echo
	echo "test-packaging: $ok passed, $failed failed"
	[[ $failed == 0 ]]
}

deb_file() { # deb_file SUFFIX
	echo "$OUT/hubd_${DEB_VERSION}_$1.deb"
}
amd64_deb=$(deb_file amd64)

# mode_owner PATH prints "MODE USER:GROUP".
mode_owner() { stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing; }

# ---------------------------------------------------------------------------
# Binaries: static, hardened, and working on each CPU (under qemu-user).
test_binaries() {
	section "binaries (static, stripped, hardened; run under qemu-user)"
	local t f info type
	for t in $TARGETS; do
		target_env "$t"
		f=$OUT/bin/$t/hubd
		[[ -x $f ]] || {
			fail "$t: $f missing"
			continue
		}
		info=$(file -b "$f")
		check "$t: statically linked ($info)" grep -qE 'statically linked|static-pie linked' <<<"$info"
		check "$t: stripped" grep -q ', stripped' <<<"$info"
		type=$(readelf -hW "$f" | sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p')
		if [[ $STATIC_PIE == yes ]]; then
			expect_eq "$t: position-independent (static PIE)" "$type" DYN
			check "$t: BIND_NOW (full RELRO)" grep -q 'BIND_NOW' <(readelf -dW "$f")
		else
			expect_eq "$t: static executable (glibc has no static PIE here)" "$type" EXEC
		fi
		check "$t: GNU_RELRO segment" grep -q 'GNU_RELRO' <(readelf -lW "$f")
		check "$t: stack not executable" bash -c "readelf -lW '$f' | grep GNU_STACK | grep -qv RWE"
		# glibc's own code calls no __*_chk function: these come from C code
		# built with _FORTIFY_SOURCE (and the rest of the hardening flags).
		check "$t: C code fortified ($(tr '\n' ' ' <"$f.fortified" 2>/dev/null))" \
			grep -qxE '__(memcpy|fprintf|sprintf|snprintf|vsnprintf)_chk' "$f.fortified"
		local bi
		bi=$("$GO" version -m "$f" 2>&1)
		check "$t: built with -trimpath" grep -q $'build\t-trimpath=true' <<<"$bi"
		check "$t: built with tags sqlite_omit_load_extension,netgo,osusergo" \
			grep -q $'build\t-tags=sqlite_omit_load_extension,netgo,osusergo' <<<"$bi"
		check "$t: built with cgo (SQLite)" grep -q $'build\tCGO_ENABLED=1' <<<"$bi"
		check "$t: GOARCH=$GOARCH" grep -q $'build\tGOARCH='"$GOARCH"'$' <<<"$bi"
		[[ -n $GOARM ]] && check "$t: GOARM=$GOARM" grep -q $'build\tGOARM='"$GOARM"'$' <<<"$bi"
		[[ -n $GOMIPS ]] && check "$t: GOMIPS=$GOMIPS" grep -q $'build\tGOMIPS='"$GOMIPS"'$' <<<"$bi"

		local out rc
		# shellcheck disable=SC2086
		out=$(timeout 120 $RUN "$f" version 2>&1)
		expect_eq "$t: ${RUN:-native}: hubd version" "$out" "hubd $VERSION"
		# shellcheck disable=SC2086
		out=$(timeout 180 $RUN "$f" selftest 2>&1)
		rc=$?
		if ((rc == 0)) && grep -q '^selftest OK' <<<"$out"; then
			pass "$t: ${RUN:-native}: hubd selftest ($out)"
		else
			fail "$t: ${RUN:-native}: hubd selftest, exit status $rc: $out"
		fi
	done
	# The v6 result means something only if the emulated ARM1176 refuses
	# ARMv7 code as the real one does: the armv7 build must die there.
	(
		ulimit -c 0
		cd /tmp && exec timeout 60 qemu-arm-static -cpu arm1176 "$OUT/bin/armv7/hubd" version
	) >/dev/null 2>&1
	expect_eq "armv7 build dies with SIGILL on an ARM1176 (so the armv6 pass is real)" "$?" 132
}

# ---------------------------------------------------------------------------
test_sizes() {
	section "binary sizes"
	if bash "$here/sizes.sh"; then pass "arm64 binary within budget"; else fail "arm64 binary over budget"; fi
}

# ---------------------------------------------------------------------------
# What the packages are made of: configuration, man page, copyright.
test_generated() {
	section "configuration, man page, copyright"
	local hubd=$OUT/bin/amd64/hubd conf
	for conf in deb openwrt; do
		local f=$OUT/stage/$conf/hubd.yaml
		check "$conf hubd.yaml passes hubd config check" "$hubd" config check "$f"
		# Every setting of "hubd config example" is there, unchanged but
		# data_dir: comments aside, the files are the same.
		check "$conf hubd.yaml has every setting of hubd config example" \
			diff <("$hubd" config example | grep -v '^#' | grep -v '^data_dir:') \
			<(grep -v '^#' "$f" | grep -v '^data_dir:')
	done
	expect_eq "deb hubd.yaml data_dir" "$(grep '^data_dir:' "$OUT/stage/deb/hubd.yaml")" "data_dir: /var/lib/hubd"
	expect_eq "openwrt hubd.yaml data_dir" "$(grep '^data_dir:' "$OUT/stage/openwrt/hubd.yaml")" "data_dir: /srv/hubd"

	local man
	man=$(MANWIDTH=200 man -l "$OUT/stage/hubd.1.gz" 2>/dev/null)
	check "man page renders" test -n "$man"
	check "man page has no groff warnings" test -z "$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$OUT/stage/hubd.1.gz" 2>&1 >/dev/null)"
	local flag cmd missing=""
	local cmds
	cmds=$("$hubd" help | sed -n 's/^  hubd \([a-z]*\( [a-z]*\)\{0,1\}\).*/\1/p' | sed 's/ [A-Z].*//; s/ *$//')
	for cmd in serve $(tr ' ' '-' <<<"$cmds"); do
		case $cmd in selftest | version | config-*) continue ;; esac # no flags; -h would run them
		# shellcheck disable=SC2046
		for flag in $("$hubd" $(tr '-' ' ' <<<"$cmd") -h 2>&1 | sed -n 's/^  -\([a-z-]*\).*/\1/p'); do
			grep -qF -- "--$flag" <<<"$man" || missing+=" --$flag($cmd)"
		done
	done
	check "man page documents every flag of every command${missing:+ (missing:$missing)}" test -z "$missing"
	missing=""
	while read -r cmd; do
		[[ -z $cmd ]] && continue
		grep -qF -- "$cmd" <<<"$man" || missing+=" [$cmd]"
	done <<<"$cmds"
	check "man page documents every command of hubd help${missing:+ (missing:$missing)}" test -z "$missing"

	local mod
	missing=""
	for mod in $("$GO" version -m "$hubd" | awk '$1 == "dep" { print $2 }'); do
		grep -qxF "Comment: Go module $mod" "$pkgdir/debian/copyright" || missing+=" $mod"
	done
	check "debian/copyright covers every Go module in the binary${missing:+ (add a stanza for:$missing)}" test -z "$missing"
}

# ---------------------------------------------------------------------------
test_lintian() {
	section "lintian"
	if bash "$here/lint.sh"; then pass "lintian: no errors or warnings"; else fail "lintian"; fi
}

# ---------------------------------------------------------------------------
# The .deb and .ipk files: fields, file list with modes and owners.
test_package_contents() {
	section "package contents"
	local t deb want got
	for t in amd64 arm64 armv7 armv6; do
		target_env "$t"
		deb=$(deb_file "$DEB_SUFFIX")
		[[ -f $deb ]] || {
			fail "$t: $deb missing"
			continue
		}
		expect_eq "$t: Package" "$(dpkg-deb -f "$deb" Package)" hubd
		expect_eq "$t: Version" "$(dpkg-deb -f "$deb" Version)" "$DEB_VERSION"
		expect_eq "$t: Architecture" "$(dpkg-deb -f "$deb" Architecture)" "$DEB_ARCH"
		expect_eq "$t: Depends" "$(dpkg-deb -f "$deb" Depends)" "adduser, procps"
		want="-rw-r--r-- root/root ./etc/default/hubd
-rw-r--r-- root/root ./etc/hubd/hubd.yaml
-rw-r--r-- root/root ./lib/systemd/system/hubd-mqtt.socket
-rw-r--r-- root/root ./lib/systemd/system/hubd-tls.socket
-rw-r--r-- root/root ./lib/systemd/system/hubd.service
-rwxr-xr-x root/root ./usr/bin/hubd
-rw-r--r-- root/root ./usr/share/doc/hubd/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/hubd/copyright
-rw-r--r-- root/root ./usr/share/lintian/overrides/hubd
-rw-r--r-- root/root ./usr/share/man/man1/hubd.1.gz"
		got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | sort -k3)
		check "$t: files, modes and owners" diff <(sort -k3 <<<"$want") <(echo "$got")
		got=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
		expect_eq "$t: conffiles" "$(sort <<<"$got")" $'/etc/default/hubd\n/etc/hubd/hubd.yaml'
		got=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/bin/hubd | sha256sum | cut -d' ' -f1)
		expect_eq "$t: contains the $t binary" "$got" "$(sha256sum <"$OUT/bin/$t/hubd" | cut -d' ' -f1)"
		if [[ $t == armv7 ]]; then
			check "$t: has the ARMv6-refusing preinst" bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -tf - | grep -qx ./preinst"
		else
			check "$t: has no preinst" bash -c "! dpkg-deb --ctrl-tarfile '$deb' | tar -tf - | grep -qx ./preinst"
		fi
	done

	# The ARMv7 package's preinst refuses an ARMv6 CPU.
	local tmp
	tmp=$(mktemp -d)
	mkdir "$tmp/bin"
	for m in armv6l armv7l aarch64; do
		printf '#!/bin/sh\necho %s\n' "$m" >"$tmp/bin/uname"
		chmod +x "$tmp/bin/uname"
		PATH=$tmp/bin:$PATH sh "$pkgdir/debian/preinst-armv7" install >/dev/null 2>&1
		expect_eq "armv7 preinst on a CPU reporting $m" "$?" "$([[ $m == armv6l ]] && echo 1 || echo 0)"
	done
	rm -rf "$tmp"

	local ipk
	ipk=$(ls "$OUT"/hubd_"${DEB_VERSION}"_mipsel_24kc.ipk 2>/dev/null)
	if [[ -f $ipk ]]; then
		tmp=$(mktemp -d)
		tar -xzf "$ipk" -C "$tmp"
		expect_eq "ipk: outer members" "$(tar -tzf "$ipk" | sed 's|^\./||' | sort | tr '\n' ' ')" "control.tar.gz data.tar.gz debian-binary "
		mkdir "$tmp/control" "$tmp/data"
		tar -xzf "$tmp/control.tar.gz" -C "$tmp/control"
		tar -xzf "$tmp/data.tar.gz" -C "$tmp/data"
		expect_eq "ipk: Architecture" "$(sed -n 's/^Architecture: //p' "$tmp/control/control")" mipsel_24kc
		expect_eq "ipk: Version" "$(sed -n 's/^Version: //p' "$tmp/control/control")" "$DEB_VERSION"
		expect_eq "ipk: conffiles" "$(cat "$tmp/control/conffiles")" /etc/hubd/hubd.yaml
		check "ipk: postinst and prerm" test -x "$tmp/control/postinst" -a -x "$tmp/control/prerm"
		got=$(tar -tvzf "$tmp/data.tar.gz" | awk '$1 !~ /^d/ { n = $6; sub(/^\.?\//, "", n); print $1, $2, "/" n }' | sort -k3)
		want="-rw-r--r-- root/root /etc/hubd/hubd.yaml
-rwxr-xr-x root/root /etc/init.d/hubd
-rwxr-xr-x root/root /usr/bin/hubd"
		check "ipk: files, modes and owners" diff <(echo "$want") <(echo "$got")
		expect_eq "ipk: contains the mipsle binary" "$(sha256sum <"$tmp/data/usr/bin/hubd" | cut -d' ' -f1)" \
			"$(sha256sum <"$OUT/bin/mipsle/hubd" | cut -d' ' -f1)"
		rm -rf "$tmp"
	else
		fail "ipk: no .ipk in $OUT"
	fi
	check "openwrt .tar.gz has the same three files" bash -c \
		"tar -tzf '$OUT/hubd_${DEB_VERSION}_openwrt_mipsel_24kc.tar.gz' | grep -vE '/$' | sort | tr '\n' ' ' | grep -qx 'etc/hubd/hubd.yaml etc/init.d/hubd usr/bin/hubd '"
}

# ---------------------------------------------------------------------------
# The procd init script, run by dash with procd's functions stubbed, in a
# private mount namespace where /etc/passwd, /etc/group, /etc/shadow and
# /srv are scratch copies.
test_openwrt_init() {
	section "OpenWrt init script (procd), in a private mount namespace"
	check "init script: sh -n" sh -n "$pkgdir/openwrt/hubd.init"
	local tmp out
	tmp=$(mktemp -d)
	printf 'root:x:0:0:root:/root:/bin/ash\nmosquitto:x:1883:1883::/var/run/mosquitto:/bin/false\n' >"$tmp/passwd"
	printf 'root:x:0:\nmosquitto:x:1883:\n' >"$tmp/group"
	printf 'root:*:0:0:99999:7:::\n' >"$tmp/shadow"
	mkdir "$tmp/srv"
	cat >"$tmp/run.sh" <<EOF
set -e
mount --bind "$tmp/passwd" /etc/passwd
mount --bind "$tmp/group" /etc/group
mount --bind "$tmp/shadow" /etc/shadow
mount --bind "$tmp/srv" /srv
procd_open_instance() { echo "open_instance"; }
procd_set_param() { echo "param \$*"; }
procd_close_instance() { echo "close_instance"; }
CONF=$OUT/stage/openwrt/hubd.yaml
. "$pkgdir/openwrt/hubd.init"
CONF=$OUT/stage/openwrt/hubd.yaml
start_service
start_service >/dev/null
grep '^hubd:' /etc/passwd
grep '^hubd:' /etc/group
grep -c '^hubd:' /etc/passwd /etc/group /etc/shadow
stat -c 'srv %a %U:%G' /srv/hubd
EOF
	out=$(unshare --mount --propagation private sh -c ". '$tmp/run.sh'" 2>&1)
	echo "$out" | sed 's/^/      /'
	check "init: runs hubd serve with the config" grep -qx "param command /usr/bin/hubd serve --config $OUT/stage/openwrt/hubd.yaml" <<<"$out"
	check "init: as user hubd" grep -qx "param user hubd" <<<"$out"
	check "init: respawn" grep -qx "param respawn 3600 5 5" <<<"$out"
	check "init: output to the system log" grep -qx "param stdout 1" <<<"$out"
	check "init: creates user hubd with a free id (1884: 1883 is taken)" grep -qx "hubd:x:1884:1884:hubd:/var/run/hubd:/bin/false" <<<"$out"
	check "init: creates group hubd" grep -qx "hubd:x:1884:" <<<"$out"
	check "init: one passwd line (second start adds none)" grep -qx '/etc/passwd:1' <<<"$out"
	check "init: one group line" grep -qx '/etc/group:1' <<<"$out"
	check "init: one shadow line" grep -qx '/etc/shadow:1' <<<"$out"
	check "init: creates the data directory 0750 hubd:hubd" grep -qx "srv 750 hubd:hubd" <<<"$out"
	check "host /etc/passwd untouched" bash -c "! grep -q '^hubd:x:1884:' /etc/passwd"

	# postinst and prerm hand over to OpenWrt's default_postinst and
	# default_prerm (which enable, start, stop and disable the service).
	mkdir -p "$tmp/root/lib"
	printf 'default_postinst() { echo "default_postinst $*"; }\ndefault_prerm() { echo "default_prerm $*"; }\n' >"$tmp/root/lib/functions.sh"
	out=$(IPKG_INSTROOT=$tmp/root sh "$pkgdir/openwrt/postinst" configure)
	check "ipk postinst calls default_postinst" grep -q "^default_postinst .*postinst configure$" <<<"$out"
	out=$(IPKG_INSTROOT=$tmp/root sh "$pkgdir/openwrt/prerm" remove)
	check "ipk prerm calls default_prerm" grep -q "^default_prerm .*prerm remove$" <<<"$out"
	rm -rf "$tmp"
}

# ---------------------------------------------------------------------------
test_unit() {
	section "systemd unit"
	if bash "$here/unit-security.sh" "$pkgdir/systemd/hubd.service"; then
		pass "systemd-analyze security: exposure at most 3.0"
	else
		fail "systemd-analyze security"
	fi
}

# verify_installed_units runs systemd-analyze verify on the installed
# units, with /usr/bin/hubd present.
verify_installed_units() {
	local out man=()
	command -v man >/dev/null || man=(--man=no)
	out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify "${man[@]}" /lib/systemd/system/hubd.service \
		/lib/systemd/system/hubd-mqtt.socket /lib/systemd/system/hubd-tls.socket 2>&1)
	local rc=$?
	[[ -n $out ]] && echo "$out" | sed 's/^/      /'
	check "systemd-analyze verify hubd.service hubd-mqtt.socket hubd-tls.socket" test "$rc" = 0 -a -z "$out"
}

# ---------------------------------------------------------------------------
# Install, reinstall, remove, purge the amd64 package.
purge_if_installed() {
	if dpkg-query -W -f='${Status}' hubd 2>/dev/null | grep -q 'installed\|config-files\|half'; then
		dpkg --purge hubd >/dev/null 2>&1 || true
	fi
}

# run_hubd_as_service starts hubd as the unit does (user hubd, the packaged
# configuration, in /var/lib/hubd) on loopback ports and without mDNS (no
# traffic leaves this machine), waits for its first
# start to create the admin user, checks what it printed, and stops it.
run_hubd_as_service() {
	local log pid pw i
	log=$(mktemp)
	(cd /var/lib/hubd && exec setpriv --reuid=hubd --regid=hubd --init-groups -- /usr/bin/hubd serve --config /etc/hubd/hubd.yaml \
		--mqtt-addr 127.0.0.1:0 --ws-addr "" --http-addr 127.0.0.1:0 --mdns=false) >"$log" 2>&1 </dev/null &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[[ -s /var/lib/hubd/initial-admin-password ]] && grep -q 'hubd started' "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	pw=$(cat /var/lib/hubd/initial-admin-password 2>/dev/null)
	check "hubd (as user hubd) wrote initial-admin-password" test -n "$pw"
	expect_eq "initial-admin-password is 0600 hubd:hubd" "$(mode_owner /var/lib/hubd/initial-admin-password)" "600 hubd:hubd"
	check "hubd printed the admin password on stdout (so it is in the journal)" \
		grep -qF "Created user \"admin\" with password: $pw" "$log"
	expect_eq "hubd.db is owned by hubd" "$(stat -c %U /var/lib/hubd/hubd.db 2>/dev/null)" hubd
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "hubd stops on SIGTERM within 15 s"
	else
		wait "$pid"
		expect_eq "hubd exits 0 after SIGTERM" "$?" 0
	fi
	sed 's/password: .*/password: (hidden)/; s/^/      /' "$log" | head -20
	rm -f "$log"
	check "hubd user list (as user hubd) shows admin" \
		bash -c "runuser -u hubd -- /usr/bin/hubd user list --config /etc/hubd/hubd.yaml </dev/null | grep -q admin"
}

# dpkg_step WHAT ARGS...: runs dpkg with no input (a conffile prompt would
# fail it) and shows its output.
dpkg_step() {
	local what=$1 out rc
	shift
	out=$(timeout 300 dpkg "$@" </dev/null 2>&1)
	rc=$?
	echo "$out" | sed 's/^/      /'
	check "$what" test "$rc" = 0
	DPKG_OUT=$out
}

# in_namespace ROUND runs this script's ROUND (install-round or
# systemd-round) in a private mount namespace, where /run is an empty
# tmpfs: whatever runs on this machine, the package sees only the init
# system the round sets up. The host's systemd, if any, is never asked to
# start hubd.
in_namespace() {
	local round=$1
	if [[ $(id -u) != 0 ]]; then
		fail "the install test needs root"
		return
	fi
	[[ -f $amd64_deb ]] || {
		fail "$amd64_deb missing"
		return
	}
	purge_if_installed
	if getent passwd hubd >/dev/null; then
		fail "a user hubd exists that the hubd package did not create; not touching it"
		return
	fi
	if ! unshare --mount --propagation private true 2>/dev/null; then
		fail "unshare --mount does not work here"
		return
	fi
	if ! unshare --mount --propagation private bash "$0" "$round"; then
		fail "$round did not finish"
	fi
	purge_if_installed
}

test_install() {
	section "install, reinstall, remove and purge the amd64 package (no systemd running)"
	in_namespace install-round
}

install_round() {
	mount -t tmpfs tmpfs /run || die "mount tmpfs on /run"
	dpkg_step "dpkg -i (install)" -i "$amd64_deb"
	expect_eq "package status" "$(dpkg-query -W -f='${Status} ${Version}' hubd)" "install ok installed $DEB_VERSION"
	local pw
	pw=$(getent passwd hubd)
	check "system user hubd exists ($pw)" test -n "$pw"
	IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
	check "hubd is a system user (uid $uid < 1000)" test "${uid:-1000}" -lt 1000
	expect_eq "hubd's group is hubd" "$(getent group "$gid" | cut -d: -f1)" hubd
	expect_eq "hubd's home" "$home" /var/lib/hubd
	expect_eq "hubd's shell" "$shell" /usr/sbin/nologin
	expect_eq "/var/lib/hubd" "$(stat -c '%F %a %U:%G' /var/lib/hubd)" "directory 750 hubd:hubd"
	expect_eq "/usr/bin/hubd" "$(mode_owner /usr/bin/hubd)" "755 root:root"
	expect_eq "/etc/hubd/hubd.yaml" "$(mode_owner /etc/hubd/hubd.yaml)" "644 root:root"
	expect_eq "/etc/default/hubd" "$(mode_owner /etc/default/hubd)" "644 root:root"
	expect_eq "/lib/systemd/system/hubd.service" "$(mode_owner /lib/systemd/system/hubd.service)" "644 root:root"
	check "conffiles registered" bash -c "dpkg-query -W -f='\${Conffiles}' hubd | grep -q '/etc/hubd/hubd.yaml' && dpkg-query -W -f='\${Conffiles}' hubd | grep -q '/etc/default/hubd'"
	expect_eq "hubd.service enabled" "$(readlink /etc/systemd/system/multi-user.target.wants/hubd.service)" /lib/systemd/system/hubd.service
	check "socket units not enabled" test ! -e /etc/systemd/system/sockets.target.wants/hubd-mqtt.socket -a ! -e /etc/systemd/system/sockets.target.wants/hubd-tls.socket
	check "postinst says hubd was not started without systemd" grep -q 'systemd is not running' <<<"$DPKG_OUT"
	expect_eq "installed hubd version" "$(/usr/bin/hubd version)" "hubd $VERSION"
	check "hubd config check /etc/hubd/hubd.yaml" /usr/bin/hubd config check /etc/hubd/hubd.yaml
	check "man hubd" bash -c "! command -v man >/dev/null || man -w hubd >/dev/null"
	verify_installed_units
	run_hubd_as_service

	# An edited conffile survives a reinstall, without a prompt.
	sed -i 's/^  level: info$/  level: debug/' /etc/hubd/hubd.yaml
	check "conffile edited" grep -q '^  level: debug$' /etc/hubd/hubd.yaml
	dpkg_step "dpkg -i again (reinstall, conffile edited)" -i "$amd64_deb"
	check "edited conffile kept on reinstall" grep -q '^  level: debug$' /etc/hubd/hubd.yaml
	check "no .dpkg-dist/.dpkg-new left" bash -c "! ls /etc/hubd/*.dpkg-* /etc/default/hubd.dpkg-* 2>/dev/null | grep -q ."
	check "data kept on reinstall" test -f /var/lib/hubd/hubd.db

	# An administrator's "systemctl disable hubd" (offline, that removes the
	# symlink) survives a reinstall.
	rm /etc/systemd/system/multi-user.target.wants/hubd.service
	dpkg_step "dpkg -i again (reinstall, service disabled)" -i "$amd64_deb"
	check "disabled service stays disabled" test ! -e /etc/systemd/system/multi-user.target.wants/hubd.service

	dpkg_step "dpkg -r (remove)" -r hubd
	check "remove: binary gone" test ! -e /usr/bin/hubd
	check "remove: conffile kept" grep -q '^  level: debug$' /etc/hubd/hubd.yaml
	check "remove: data kept" test -f /var/lib/hubd/hubd.db
	check "remove: user kept" bash -c "getent passwd hubd >/dev/null"
	expect_eq "remove: hubd.service masked while its unit file is gone" "$(readlink /etc/systemd/system/hubd.service)" /dev/null
	dpkg_step "dpkg -i after remove" -i "$amd64_deb"
	check "edited conffile kept across remove and install" grep -q '^  level: debug$' /etc/hubd/hubd.yaml
	check "no mask left (hubd.service can start)" test ! -L /etc/systemd/system/hubd.service

	dpkg_step "dpkg --purge" --purge hubd
	check "purge: package gone" bash -c "! dpkg-query -W -f='\${Status}' hubd 2>/dev/null | grep -q ."
	check "purge: user hubd removed" bash -c "! getent passwd hubd"
	check "purge: group hubd removed" bash -c "! getent group hubd"
	check "purge: /var/lib/hubd removed" test ! -e /var/lib/hubd
	check "purge: /etc/hubd removed" test ! -e /etc/hubd
	check "purge: /etc/default/hubd removed" test ! -e /etc/default/hubd
	check "purge: no unit symlinks left" bash -c "! find /etc/systemd/system -name 'hubd*' | grep -q ."
	check "purge: no deb-systemd-helper state left" bash -c "! find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name '*hubd*' 2>/dev/null | grep -q ."
}

# ---------------------------------------------------------------------------
# The same life cycle with systemd "running": /run/systemd/system exists
# and systemctl records its arguments.
test_install_systemd() {
	section "maintainer scripts with systemd running (simulated: private /run, recording systemctl)"
	in_namespace systemd-round
}

systemd_round() {
	local fake log real
	fake=$(mktemp -d)
	log=$fake/systemctl.log
	real=$(command -v systemctl)
	mount -t tmpfs tmpfs /run || die "mount tmpfs on /run"
	mkdir -p /run/systemd/system
	# A policy-rc.d that forbids starting services (as in container images)
	# would hide what the scripts ask for: allow everything here.
	if [[ -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 0\n' >"$fake/policy-rc.d"
		chmod +x "$fake/policy-rc.d"
		mount --bind "$fake/policy-rc.d" /usr/sbin/policy-rc.d || die "hide policy-rc.d"
	fi
	# systemctl: offline work (--root=, used by deb-systemd-helper for
	# presets) goes to the real one; requests to the manager are recorded.
	cat >"$fake/systemctl" <<EOF
#!/bin/sh
case " \$* " in
*" --root="*) exec "$real" "\$@" ;;
esac
echo "\$*" >>"$log"
case " \$* " in
*" is-enabled "*)
	unit=\$(echo "\$*" | sed 's/.* //')
	if [ -e "/etc/systemd/system/multi-user.target.wants/\$unit" ] || [ -e "/etc/systemd/system/sockets.target.wants/\$unit" ]; then
		echo enabled
	else
		echo disabled
		exit 1
	fi
	;;
esac
exit 0
EOF
	chmod +x "$fake/systemctl"
	export PATH=$fake:$PATH

	: >"$log"
	dpkg_step "dpkg -i (install)" -i "$amd64_deb"
	check "install: daemon-reload" grep -qx -- '--system daemon-reload' "$log"
	check "install: start hubd.service" grep -q -- ' start hubd.service$' "$log"
	check "install: no restart" bash -c "! grep -q ' restart ' '$log'"
	check "install: postinst points to the journal" grep -q 'journalctl -u hubd' <<<"$DPKG_OUT"
	sed 's/^/      systemctl /' "$log"

	: >"$log"
	dpkg_step "dpkg -i again (upgrade path)" -i "$amd64_deb"
	check "upgrade: restart hubd.service" grep -q -- ' restart hubd.service$' "$log"
	check "upgrade: no stop" bash -c "! grep -q ' stop ' '$log'"
	sed 's/^/      systemctl /' "$log"

	: >"$log"
	dpkg_step "dpkg -r (remove)" -r hubd
	check "remove: stops the sockets and the service" grep -q -- 'stop hubd-mqtt.socket hubd-tls.socket hubd.service$' "$log"
	sed 's/^/      systemctl /' "$log"

	: >"$log"
	dpkg_step "dpkg --purge" --purge hubd
	check "purge: starts nothing" bash -c "! grep -qE ' (start|restart) ' '$log'"
	check "purge: user hubd removed" bash -c "! getent passwd hubd"
	rm -rf "$fake"
}

# ---------------------------------------------------------------------------
case ${1:-} in
install-round)
	install_round
	exit 0
	;;
systemd-round)
	systemd_round
	exit 0
	;;
esac

trap 'purge_if_installed; rm -f "$RESULTS"' EXIT
start=$(date +%s)
test_binaries
test_sizes
test_generated
test_package_contents
test_openwrt_init
test_lintian
test_unit
test_install
test_install_systemd
echo
echo "checks took $(($(date +%s) - start)) s${PKG_START:+; with the builds, $(($(date +%s) - PKG_START)) s}"
summary
