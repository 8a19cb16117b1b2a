# tmc — run `make help` for the targets.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
ENVTEST_DIR := $(BIN)/envtest
export KUBEBUILDER_ASSETS ?= $(ENVTEST_DIR)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/kcp-dev/tmc/internal/version.Version=$(VERSION) -X github.com/kcp-dev/tmc/internal/version.Commit=$(COMMIT)
GOTEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: help build demo image install tools test test-unit test-e2e envtest schemas vet lint staticcheck tidy-check fmt fmt-check bench fuzz clean

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F ':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## Build bin/tmc
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/tmc ./cmd/tmc

demo: build envtest ## Start three local API servers, plan and apply examples/policies on them
	$(GO) build -o $(BIN)/clusters ./hack/clusters
	hack/demo.sh

IMAGE ?= ghcr.io/kcp-dev/tmc:$(VERSION)
image: ## Build the container image deploy/ runs (needs Docker; not part of CI)
	docker build -t $(IMAGE) .

install: ## Install tmc into $GOPATH/bin
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/tmc

envtest: ## Build kube-apiserver and etcd for the tests into bin/envtest (no-op when up to date)
	@hack/build-envtest.sh $(ENVTEST_DIR)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TOOLS := chromium:chromium promtool:prometheus
tools: ## Install the Debian packages the tests need when missing: chromium (status page test), prometheus (promtool, alert rule tests)
	@for t in $(TOOLS); do cmd=$${t%%:*}; pkg=$${t##*:}; command -v $$cmd >/dev/null 2>&1 && continue; \
	  echo "installing Debian's $$pkg (apt-get) for $$cmd..."; \
	  $(SUDO) apt-get install -y -q --no-install-recommends $$pkg >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends $$pkg >/dev/null; } || exit 1; done

test: envtest tools lint ## Everything CI runs: lint, unit tests with the race detector, end-to-end tests
	$(GO) test $(GOTEST_FLAGS) -race $$($(GO) list ./... | grep -v /test/)
	$(GO) test $(GOTEST_FLAGS) ./test/...

test-unit: envtest tools ## Unit tests (the inventory test starts one API server)
	$(GO) test $(GOTEST_FLAGS) $$($(GO) list ./... | grep -v /test/)

test-e2e: envtest tools ## End-to-end tests against real API servers
	$(GO) test $(GOTEST_FLAGS) ./test/...

schemas: ## Regenerate schemas/ from the Go types
	$(GO) run ./hack/schemagen

vet: ## go vet
	$(GO) vet ./...

STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOIMPORTS ?= $(GO) run golang.org/x/tools/cmd/goimports@v0.51.0

lint: vet fmt-check tidy-check staticcheck ## vet, gofmt + goimports (local imports grouped), go mod tidy check, staticcheck

staticcheck: ## staticcheck (built from the module proxy on first use)
	$(STATICCHECK) ./...

tidy-check: ## Fail when go.mod/go.sum are not tidy
	$(GO) mod tidy -diff

fmt: ## gofmt and goimports the tree
	gofmt -w $$(git ls-files '*.go')
	$(GOIMPORTS) -local github.com/kcp-dev/tmc -w $$(git ls-files '*.go')

fmt-check: ## Fail when a file is not gofmt'ed or its imports are not grouped (std, others, github.com/kcp-dev/tmc)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi
	@out=$$($(GOIMPORTS) -local github.com/kcp-dev/tmc -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "imports not grouped (make fmt):"; echo "$$out"; exit 1; fi

bench: envtest ## Run the benchmarks and print their figures (see docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./internal/...
	$(GO) run ./hack/bench -n 1000
	$(GO) run ./hack/bench -webhook 10
	$(GO) run ./hack/soak -intervals 250
	$(GO) run ./hack/rolloutbench -clusters 20
	$(GO) run ./hack/shardbench -workspaces 30 -objects 100

FUZZTIME ?= 30s
fuzz: ## Run each fuzz target for FUZZTIME (default 30s): every reader of untrusted input
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./internal/fieldpath
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) ./internal/policy
	$(GO) test -run '^$$' -fuzz FuzzTransform -fuzztime $(FUZZTIME) ./internal/render
	$(GO) test -run '^$$' -fuzz FuzzManifests -fuzztime $(FUZZTIME) ./internal/render
	$(GO) test -run '^$$' -fuzz FuzzFacts -fuzztime $(FUZZTIME) ./internal/render
	$(GO) test -run '^$$' -fuzz FuzzDocuments -fuzztime $(FUZZTIME) ./internal/limits
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./internal/plan
	$(GO) test -run '^$$' -fuzz FuzzLoadRepoKubeconfig -fuzztime $(FUZZTIME) ./internal/cluster

clean: ## Remove bin/ (including the envtest binaries)
	rm -rf $(BIN)
