#!/usr/bin/env bash
# make bench: hubd against Mosquitto on this machine, written to
# bench/results/DATE.md and DATE.svg (see bench/README.md).
#
# Environment: GO (go command), MAKE, BENCH_QUICK=1 (shrunk scenarios,
# written to a temporary directory, not to bench/results), BENCH_DATE
# (names the report; default today, UTC), BENCH_REPS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
began=$(date +%s)
GO=${GO:-go}
MAKE=${MAKE:-make}
date=${BENCH_DATE:-$(date -u +%Y-%m-%d)}
out=bench/results
suite_flags=(-reps "${BENCH_REPS:-3}")
if [[ ${BENCH_QUICK:-} == 1 ]]; then
	out=$(mktemp -d)
	suite_flags+=(-quick -reps 1 -restarts 2)
fi

mosquitto=$(command -v mosquitto || true)
if [[ -z $mosquitto && -x /usr/sbin/mosquitto ]]; then
	mosquitto=/usr/sbin/mosquitto
fi
if [[ -z $mosquitto ]]; then
	echo "bench: mosquitto not found: install the Debian package mosquitto (bash .ci/deps does, from .ci/deps.d/bench.list)" >&2
	exit 1
fi
# 5,000 idle clients hold as many descriptors in hubbench and in the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < 12000)); then
	echo "bench: the idle-clients scenario needs ulimit -n of at least 12000 (have $(ulimit -n))" >&2
	exit 1
fi

echo "== build: hubd (release) and hubbench"
"$MAKE" --no-print-directory build
"$GO" build -o bin/hubbench ./cmd/hubbench

echo "== micro-benchmarks (go test -bench)"
mkdir -p "$out"
micro=$out/$date-micro.txt
{
	"$GO" test -run '^$' -bench '^Benchmark(ACL|MatchTopic|HookOnACLCheck)$' -benchtime 100ms -count 5 ./hub/auth
	# The storage benchmark's broker logs between a benchmark's name and
	# its numbers; drop the log lines and join the halves for benchstat.
	"$GO" test -run '^$' -bench . -benchtime 2000x -count 3 ./hub/persist 2>&1 |
		awk '/^time=/ { next }
			/^Benchmark/ && /\ttime=/ { sub(/\ttime=.*/, ""); pending = $0; next }
			pending != "" && /^[ \t]+[0-9]+\t/ { print pending $0; pending = ""; next }
			{ print }'
} >"$micro"
grep -E '^(Benchmark|ok|FAIL)' "$micro" | tail -n 3

echo "== suite: hubd against Mosquitto"
bin/hubbench suite -hubd bin/hubd -mosquitto "$mosquitto" -out "$out" -date "$date" \
	-micro "$micro" -go "$GO" -since "$began" "${suite_flags[@]}"
echo "make bench: $(($(date +%s) - began)) s; report $out/$date.md, plot $out/$date.svg"
