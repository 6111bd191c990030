#!/usr/bin/env bash
# Writes a package's configuration file: "hubd config example" (so that it
# documents every option of this very binary), with data_dir set for the
# package and its comment rewritten, under a header for the platform.
#
#   scripts/conffile.sh deb|openwrt HUBD-COMMAND... > hubd.yaml
#
# Fails if the example's data_dir line is not where it is expected, so a
# change in "hubd config example" cannot slip through unnoticed.
set -euo pipefail
flavor=${1:?usage: conffile.sh deb|openwrt HUBD-COMMAND...}
shift
case $flavor in
deb)
	data_dir=/var/lib/hubd
	header='# /etc/hubd/hubd.yaml: configuration of the hubd service.
#
# dpkg keeps your changes when hubd is upgraded. Check them with
# "hubd config check /etc/hubd/hubd.yaml"; hubd reloads the access rules
# (acl) by itself when this file changes, and everything else on
# "systemctl restart hubd". Extra command-line flags go in /etc/default/hubd.
#'
	data_comment='# Directory holding the database (hubd.db) and initial-admin-password.
# The package creates /var/lib/hubd for the system user hubd, and the
# systemd unit makes it the service'"'"'s StateDirectory. If you move it, give
# the new directory to user hubd (mode 0750) and add it to ReadWritePaths=
# in a drop-in ("systemctl edit hubd"): the service sees every other
# directory read-only.'
	;;
openwrt)
	data_dir=/srv/hubd
	header='# /etc/hubd/hubd.yaml: configuration of hubd on OpenWrt.
#
# opkg keeps your changes when hubd is upgraded. Check them with
# "hubd config check /etc/hubd/hubd.yaml"; hubd reloads the access rules
# (acl) by itself when this file changes, and everything else on
# "/etc/init.d/hubd restart".
#'
	data_comment='# Directory holding the database (hubd.db) and initial-admin-password.
# It must survive a reboot: /var and /tmp are in RAM on OpenWrt. /srv/hubd
# is on the router'"'"'s flash; every acknowledged QoS 1 or 2 message is a
# write there, so for a busy hub use a USB stick or SD card instead (for
# example /mnt/sda1/hubd).'
	;;
*)
	echo "conffile.sh: unknown flavor $flavor" >&2
	exit 2
	;;
esac

example=$("$@" config example)
n=$(grep -c '^data_dir: ' <<<"$example" || true)
if [[ $n != 1 ]]; then
	echo "conffile.sh: expected one 'data_dir:' line in 'hubd config example', found $n" >&2
	exit 1
fi
printf '%s\n' "$header"
awk -v dir="$data_dir" -v comment="$data_comment" '
	# The header above replaces the title line of the example.
	NR == 1 && $0 == "# hubd configuration." { title = 1; next }
	NR == 2 && title && $0 == "#" { next }
	# Hold back each run of comment lines until we know whether it
	# documents data_dir (then it is replaced) or something else.
	/^#/ { held = held $0 "\n"; next }
	/^data_dir: / { printf "%s\n", comment; print "data_dir: " dir; held = ""; next }
	{ printf "%s", held; held = ""; print }
	END { printf "%s", held }
' <<<"$example"
