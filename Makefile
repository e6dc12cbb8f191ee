# xborder — build, test and run a local federation.
# `make demo` and `make test` are all a new machine needs (Go 1.26).

GO       ?= go
BIN      ?= bin/xborder
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/xborder/xborder/node.Version=$(VERSION)
PKGS     := ./...

.PHONY: help build test demo lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build the static binary into bin/xborder
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/xborder

test: lint ## vet, format check and every test with the race detector
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

demo: build ## run a five-country federation on loopback (DEMO_ONCE=1 stops after the checks)
	$(BIN) demo --dir demo-data

lint: ## gofmt check, go vet, staticcheck when installed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); else echo "staticcheck not installed; skipped (go install honnef.co/go/tools/cmd/staticcheck@v0.8.2)"; fi

bench: ## start-up, footprint and mesh benchmarks against a bare libp2p host
	$(GO) run ./bench/startup

clean: ## remove build output and demo data
	rm -rf bin demo-data
