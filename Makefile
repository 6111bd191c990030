# hubd build and test entry points. "make test" is what CI runs.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test vet fuzz bench-storage

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/hubd ./cmd/hubd

run:
	$(GO) run ./cmd/hubd

# Every test, with the race detector, never from cache.
test:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m ./...

# Run each fuzz target for a short while (the seed corpora run in "make test").
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./cmd/hubd
	$(GO) test -run '^$$' -fuzz '^FuzzValidatePattern$$' -fuzztime $(FUZZTIME) ./hub/auth
	$(GO) test -run '^$$' -fuzz '^FuzzCanSubscribe$$' -fuzztime $(FUZZTIME) ./hub/auth

# The storage hook's benchmark: QoS 1 publishes/s to an offline persistent
# session, with persistence on and off, and SQLite commits/s.
bench-storage:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./hub/persist
