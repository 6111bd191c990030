# Benchmarks: hubd against Mosquitto, side by side (see bench/README.md).
# Needs the Debian package mosquitto (.ci/deps.d/bench.list). Not part of
# "make test".
.PHONY: bench bench-quick

# Every scenario, three runs per broker; writes bench/results/DATE.md and
# DATE.svg and lists them in bench/results/README.md.
bench:
	GO="$(GO)" MAKE="$(MAKE)" bash bench/run.sh

# The same, shrunk and written to a temporary directory: to try the runner.
bench-quick:
	GO="$(GO)" MAKE="$(MAKE)" BENCH_QUICK=1 bash bench/run.sh
