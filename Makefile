# hubd build and test entry points. "make test" is what CI runs; it first
# installs whatever Debian packages the tests need (see .ci/deps).
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test test-deps test-go vet fuzz bench-storage bench-discovery

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/hubd ./cmd/hubd

run:
	$(GO) run ./cmd/hubd

# Every test: Go tests with the race detector, never from cache, plus the
# test targets that the included makefiles add to TEST_TARGETS.
TEST_TARGETS := test-go
test: test-deps
	$(MAKE) $(TEST_TARGETS)

test-deps:
	bash .ci/deps

test-go: vet
	$(GO) test -race -count=1 -timeout 30m ./...

vet:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# Run each fuzz target for a short while (the seed corpora run in "make test").
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./cmd/hubd
	$(GO) test -run '^$$' -fuzz '^FuzzValidatePattern$$' -fuzztime $(FUZZTIME) ./hub/auth
	$(GO) test -run '^$$' -fuzz '^FuzzCanSubscribe$$' -fuzztime $(FUZZTIME) ./hub/auth
	$(GO) test -run '^$$' -fuzz '^FuzzParseAnnouncement$$' -fuzztime $(FUZZTIME) ./discovery
	$(GO) test -run '^$$' -fuzz '^FuzzCompileTemplate$$' -fuzztime $(FUZZTIME) ./discovery

# The storage hook's benchmark: QoS 1 publishes/s to an offline persistent
# session, with persistence on and off, and SQLite commits/s.
bench-storage:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./hub/persist

# Discovery ingest (configs/s) and state updates/s, through the codecs
# alone and through the registry (SQLite included).
bench-discovery:
	$(GO) test -run '^$$' -bench . -benchtime 1000x ./discovery

# Packaging and benchmark targets live beside their code.
-include packaging/packaging.mk
-include bench/bench.mk
