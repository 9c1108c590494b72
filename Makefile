# hoheit's build. `make test` is what CI runs; it installs what the tests
# need (idempotent, cached under .cache/), so a fresh machine needs nothing else.

GO          ?= go
CACHE       := $(CURDIR)/.cache
BIN         := $(CACHE)/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 5s
export PATH := $(BIN):$(PATH)

.PHONY: all build test deps unit integration policy-test fuzz-smoke example lint bench bench-trivy bench-stages bench-mesh fuzz clean

all: build

build:
	$(GO) build -o hoheit ./cmd/hoheit

## test: everything CI runs: vet, unit + integration tests with the race detector,
## the policy packs' golden cases, a short fuzz run of every target, the README's first command
test: deps
	$(GO) vet ./...
	$(GO) test -race -tags integration -count=1 ./...
	$(MAKE) policy-test fuzz-smoke example

## deps: install what the integration tests need (headless Chromium for the HTML report)
deps:
	scripts/test-deps.sh

## unit: fast tests only, no external components
unit:
	$(GO) test ./...

integration: deps
	$(GO) test -tags integration -count=1 ./...

policy-test:
	$(GO) run ./cmd/hoheit policy test

## fuzz-smoke: every Fuzz target for $(FUZZTIME) on top of its seed corpus in testdata/fuzz
fuzz-smoke:
	scripts/fuzz-smoke.sh $(FUZZTIME)

## example: the README's first command must run and find the planted mistakes (exit 1)
example:
	$(GO) build -o $(BIN)/hoheit ./cmd/hoheit
	@$(BIN)/hoheit scan examples/estate --quiet --format json --output /dev/null; \
	  rc=$$?; if [ $$rc -ne 1 ]; then echo "hoheit scan examples/estate exited $$rc, want 1 (findings)"; exit 1; fi; \
	  echo "hoheit scan examples/estate: findings found, exit 1 as expected"

lint:
	GOBIN=$(BIN) $(GO) install $(STATICCHECK)
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

## bench: Go benchmarks, then the side-by-side comparison with trivy (see docs/benchmarks.md)
bench: deps bench-trivy
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bench/compare.sh

## bench-trivy: build trivy v0.69.3 for the comparison into .cache/bin/trivy (idempotent)
bench-trivy:
	bench/build-trivy.sh

## bench-stages: where a scan's time goes, stage by stage, with CPU and heap profiles under bench/out
bench-stages:
	mkdir -p bench/out
	$(GO) run ./bench/gen -n 100000 -o bench/out/plan-100000.json
	$(GO) run ./bench/stages -plan bench/out/plan-100000.json -cpuprofile bench/out/prof -memprofile bench/out/heap.pprof

## bench-mesh: TCP throughput and latency through the mesh with a 1,000-rule policy against
## plain wireguard-go, side by side (root; ROUNDS=5 DURATION=10 PARALLEL=1; see docs/benchmarks.md)
bench-mesh:
	bench/mesh-throughput.sh

## fuzz: long fuzzing of one target, e.g. make fuzz TARGET=FuzzParse PKG=./internal/source/terraform
fuzz:
	$(GO) test -run '^$$' -fuzz '^$(TARGET)$$' -fuzztime 10m $(PKG)

clean:
	rm -rf hoheit bench/out
