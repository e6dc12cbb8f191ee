# xborder — build, test and run a local federation.
# `make demo` and `make test` are all a new machine needs (Go 1.26).

GO       ?= go
BIN      ?= bin/xborder
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/xborder/xborder/node.Version=$(VERSION)
PKGS     := ./...
OPA_VERSION := v1.22.3
OPA      := bin/opa
# Policies every line of which their tests must reach (the others: 90 % in all).
POLICY_FULL_COVERAGE := policies/analysis.rego policies/dataspace.rego

.PHONY: help build wasm test conformance chromium jena demo lint policy-test bench clean testnet testnet-down testnet-test testnet-bench package package-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build the static binary into bin/xborder
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/xborder

# The example modules (examples/README.md), as the sandbox runs them.
# Not part of `make test`: examples/examples_test.go builds them itself.
WASM_EXAMPLES := predictor cohort-describe

wasm: ## build the example WebAssembly modules into bin/wasm/ (GOOS=wasip1 GOARCH=wasm)
	@mkdir -p bin/wasm
	@for m in $(WASM_EXAMPLES); do \
	  echo "bin/wasm/$$m.wasm"; \
	  GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -o bin/wasm/$$m.wasm ./examples/$$m || exit 1; \
	done

test: lint policy-test conformance chromium jena ## lint, the shipped policies under stock OPA, OPA's conformance suite, every Go test with -race
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# OPA's conformance suite (its own YAML cases, from the module cache) run
# through the planner and irvm. The -race run of `make test` checks every
# tenth case; this runs all of them, without the race detector.
conformance: ## OPA's conformance suite through the planner and irvm: pass / topdown / skipped, and no wrong answer
	@mkdir -p bin
	@$(GO) test -count=1 -timeout 10m -v -run '^TestConformance$$' ./policy/irvm/ > bin/conformance.log 2>&1 || \
	  { grep -E 'OPA conformance|wrong|Error|FAIL' bin/conformance.log | head -50; echo "OPA conformance failed (log: bin/conformance.log)"; exit 1; }
	@grep -o 'OPA conformance.*' bin/conformance.log

# The web console's browser tests drive headless Chromium: installed from
# Debian's packages when it is missing and apt-get can (root or sudo);
# otherwise this says what to install and stops.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	    echo "installing Debian's chromium for the console's browser tests"; \
	    $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends chromium; \
	  fi; \
	  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	    { echo "chromium is missing: the console's browser tests need it (Debian: apt-get install chromium)" >&2; exit 1; }; }

# The DCAT export is validated with Apache Jena's SHACL engine (exchange's
# TestDCATExportValidates...): Debian's libapache-jena-java and a JRE,
# installed when missing and apt-get can; otherwise this says what to
# install and stops.
jena:
	@{ command -v java >/dev/null && test -f /usr/share/java/jena-shacl.jar; } || { \
	  if command -v apt-get >/dev/null; then \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	    echo "installing Debian's Jena and a JRE for the DCAT-AP validation"; \
	    $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends libapache-jena-java openjdk-17-jre-headless; \
	  fi; \
	  { command -v java >/dev/null && test -f /usr/share/java/jena-shacl.jar; } || \
	    { echo "Jena or Java is missing: the DCAT-AP validation needs them (Debian: apt-get install libapache-jena-java openjdk-17-jre-headless)" >&2; exit 1; }; }

demo: build wasm ## run a five-country federation on loopback (DEMO_ONCE=1 stops after the checks)
	$(BIN) demo --dir demo-data --predictor bin/wasm/predictor.wasm

lint: ## gofmt check, go vet, staticcheck when installed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); else echo "staticcheck not installed; skipped (go install honnef.co/go/tools/cmd/staticcheck@v0.8.2)"; fi
	@# packaging/ is its own module (docs/DESIGN.md, "Chosen dependencies").
	cd packaging && $(GO) vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then cd packaging && staticcheck ./...; fi

policy-test: $(OPA) ## the shipped policies under the upstream opa binary: strict check, format, tests, coverage
	$(OPA) check --strict policies/
	$(OPA) fmt --list --fail policies/
	$(OPA) test policies/
	@$(OPA) test --coverage --threshold 90 policies/ > bin/opa-coverage.json || \
	  { echo "policy coverage below 90% (report: bin/opa-coverage.json)"; exit 1; }
	@echo "policy coverage: $$(grep -o '"coverage": *[0-9.]*' bin/opa-coverage.json | tail -1)"
	@for f in $(POLICY_FULL_COVERAGE); do \
	  $(OPA) eval --fail -I "c := input.files[\"$$f\"].coverage; c == 100" < bin/opa-coverage.json > /dev/null || \
	    { echo "$$f: policy coverage below 100% (report: bin/opa-coverage.json)"; exit 1; }; \
	done

$(OPA): ## the upstream opa binary, built from the Go module proxy
	GOBIN=$(CURDIR)/bin $(GO) install github.com/open-policy-agent/opa@$(OPA_VERSION)

bench: wasm ## benchmarks with their baselines: node start-up and footprint, policy decisions
	$(GO) run ./bench/startup
	$(GO) test -run '^$$' -bench . -benchtime 1x -cpu 1 ./policy/

# The five-country Docker testnet (testnet/README.md). NETEM=1 emulates WAN
# latency between the countries where the kernel has netem.
NETEM         ?= 0
TESTNET_COUNT ?= 1
TESTNET_RUN   ?= Scenario

testnet: build ## five-country Docker testnet: image FROM scratch, keys, genesis, up, wait (NETEM=1: WAN latency)
	NETEM=$(NETEM) testnet/testnet.sh up

testnet-down: ## remove the testnet's containers, network, volumes and generated keys
	testnet/testnet.sh down

testnet-test: testnet ## the testnet scenarios against the containers (TESTNET_COUNT=3 repeats them)
	$(GO) test -tags testnet -count=$(TESTNET_COUNT) -timeout 40m -v -run '$(TESTNET_RUN)' ./testnet/

testnet-bench: testnet ## testnet benchmarks: catalogue convergence, commit latency, failover, transfer vs TLS
	$(GO) test -tags testnet -count=1 -timeout 40m -v -run '^$$' -bench . -benchtime 1x ./testnet/

# The Debian package (docs/OPERATIONS.md). Its version: the latest vX.Y.Z
# tag (+gitN.HASH after it), else 0.0.0~gitDATE.HASH; its files' dates, the
# man pages' included, are the commit's (SOURCE_DATE_EPOCH).
DEB_ARCH    ?= amd64
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && \
  echo "$${v\#v}" | sed -e 's/-\([0-9]*\)-g\([0-9a-f]*\)$$/+git\1.\2/' -e 's/-/~/g' || \
  echo "0.0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$$(git rev-parse --short HEAD 2>/dev/null || echo dev)")
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PKG_STAGE   := bin/pkg
DEB         := dist/xborder_$(DEB_VERSION)_$(DEB_ARCH).deb

package: ## the Debian package dist/xborder_VERSION_amd64.deb: binary, hardened systemd unit, man pages, completions
	CGO_ENABLED=0 GOOS=linux GOARCH=$(DEB_ARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(PKG_STAGE)/xborder ./cmd/xborder
	rm -rf $(PKG_STAGE)/man $(PKG_STAGE)/completions
	mkdir -p $(PKG_STAGE)/completions
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(PKG_STAGE)/xborder gen-man $(PKG_STAGE)/man
	for sh in bash zsh fish; do $(PKG_STAGE)/xborder completion $$sh > $(PKG_STAGE)/completions/xborder.$$sh || exit 1; done
	cd packaging && SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./cmd/mkdeb -version '$(DEB_VERSION)' -arch $(DEB_ARCH) \
	  -bin $(CURDIR)/$(PKG_STAGE)/xborder -man $(CURDIR)/$(PKG_STAGE)/man -completions $(CURDIR)/$(PKG_STAGE)/completions \
	  -debian $(CURDIR)/packaging/debian -doc $(CURDIR)/docs -out $(CURDIR)/dist

# The package installed, started, reloaded, removed and purged in a Debian
# bookworm container (packaging/test/package-test.sh). No image registry needed:
# the rootfs is debootstrapped once and cached in PACKAGE_TEST_CACHE.
PACKAGE_TEST_CACHE ?= $(abspath $(shell $(GO) env GOCACHE)/..)/xborder-package-test

package-test: package ## install the package in a Debian container: user, unit (systemd-analyze verify), ExecStart as user xborder, healthcheck, status, reload, remove vs purge
	PACKAGE_TEST_CACHE=$(PACKAGE_TEST_CACHE) packaging/test/package-test.sh $(DEB)

clean: ## remove build output and demo data
	rm -rf bin demo-data dist
