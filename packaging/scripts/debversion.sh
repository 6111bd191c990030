#!/usr/bin/env bash
# Prints the Debian upstream version for a hubd version as "git describe"
# gives it (the top Makefile's VERSION), with the commit time as
# SOURCE_DATE_EPOCH:
#   v1.2.3              -> 1.2.3
#   v1.2.3-4-gabc1234   -> 1.2.3+git20261126.4.abc1234
#   v1.2.3-rc1          -> 1.2.3~rc1
#   abc1234 (no tag)    -> 0.0~git20261126.231732.abc1234
#   ...-dirty           -> ...+dirty
#   devel               -> 0.0~devel
# so that versions sort in commit order.
set -euo pipefail
v=${1:?usage: debversion.sh VERSION}
: "${SOURCE_DATE_EPOCH:?}"
day=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d)
time=$(date -u -d "@$SOURCE_DATE_EPOCH" +%H%M%S)
suffix=""
if [[ $v == *-dirty ]]; then
	v=${v%-dirty}
	suffix="+dirty"
fi
git=""
if [[ $v =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
	v=${BASH_REMATCH[1]}
	git="+git$day.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
fi
base=${v#v}
base=${base/-/\~} # v1.0.0-rc1: a pre-release sorts before 1.0.0
if [[ -z $git && $v =~ ^[0-9a-f]{7,40}$ ]]; then
	# No tag: an abbreviated commit hash.
	out="0.0~git$day.$time.$v"
elif [[ $base =~ ^[0-9][0-9A-Za-z.+~]*$ ]]; then
	out="$base$git"
else
	out="0.0~$(tr -c 'A-Za-z0-9.+~\n' '.' <<<"$v")$git"
fi
echo "$out$suffix"
