# albrollouts — build, test, lint, generate.
# `make test` works on a fresh machine: it builds the control-plane binaries once
# (cached outside the repo), installs the Debian test clients it needs, and runs
# every unit, integration and end-to-end test.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO      ?= go
TOOLS   := $(GO) tool -modfile=hack/tools/go.mod
# helm (v4.3.2), pinned in its own module so that its dependencies (Kubernetes v0.37.2,
# ORAS, ...) do not move hack/tools' pins. Building it takes minutes the first time.
HELM    := $(GO) tool -modfile=hack/helm/go.mod helm
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/albrollouts/albrollouts/internal/version.Version=$(VERSION) \
           -X github.com/albrollouts/albrollouts/internal/version.Commit=$(COMMIT)

# `make image`: the controller's image, an OCI image-layout archive of linux/amd64 and
# linux/arm64 built by hack/image without a Docker daemon (docs/install.md, The image).
# IMAGE is the release image's repository, internal/version.Image (hack/image's test
# checks that they, the chart and config/ agree); the tag is VERSION. File times are
# SOURCE_DATE_EPOCH, the last commit's time by default.
IMAGE             ?= ghcr.io/albrollouts/albrollouts
IMAGE_ARCHIVE     ?= bin/albrollouts-image.tar
IMAGE_PLATFORMS   ?= linux/amd64,linux/arm64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

# Where hack/build-k8s-bins.sh puts etcd, kube-apiserver and kube-controller-manager.
ALBROLLOUTS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/albrollouts
K8S_BINS ?= $(ALBROLLOUTS_CACHE)/k8s-v1.37.2-etcd-v3.6.16
export K8S_BINS ALBROLLOUTS_CACHE

# govulncheck's database, built once from the golang.org/x/vulndb module that the
# Go module proxy serves (vuln.go.dev is not reached). Refresh: raise the version
# (docs/development.md). VULNCHECK_STDLIB=fail fails on the standard library's too.
VULNDB_VERSION   ?= v0.0.0-20261105234957-e22db6528018
VULNDB           ?= $(ALBROLLOUTS_CACHE)/vulndb-$(VULNDB_VERSION)
VULNCHECK_STDLIB ?= warn

# Test knobs: `make test GOTEST_FLAGS=-v`, `make test FUZZTIME=30s`,
# `make sim SEEDS=1000 FIRST=5000 SIM_FLAGS=-sim.exclude=second-rollout`.
GOTEST_FLAGS ?=
FUZZTIME     ?= 10s
SEEDS        ?= 200
FIRST        ?= 1
SIM_FLAGS    ?=

.PHONY: all build image k8s-bins test-deps conformance argo-crd-paths test test-unit test-race fuzz sim bench lint vulncheck linkcheck generate chart-files helm chart verify-generated clean help

all: build

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## Build bin/albrollouts (the CLI, local environment and demo) and bin/albrollouts-controller (the image's binary).
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/albrollouts ./cmd/albrollouts
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/albrollouts-controller ./cmd/albrollouts-controller

# Built before `make test` too: the test of hack/image builds the same binaries, which
# then come from the Go build cache instead of minutes of cross-compiling beside the
# timing-sensitive tests.
image: ## Build bin/albrollouts-image.tar, the controller image for linux/amd64 and linux/arm64 (an OCI archive; no Docker daemon).
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./hack/image -out $(IMAGE_ARCHIVE) -image $(IMAGE) \
	  -version $(VERSION) -commit $(COMMIT) -platforms $(IMAGE_PLATFORMS)

.PHONY: demo
demo: ## The demo: a verified canary, a broken version aborted, a bad one caught by its step analysis, a blue-green switch, under real traffic (DEMO_FLAGS="--speed 2").
	@echo "make demo: building bin/albrollouts, then the control-plane binaries if they are missing (first run only, about 7 minutes), then the demo (under 3 minutes)"
	@$(MAKE) --no-print-directory build
	bin/albrollouts demo --k8s-bins-script hack/build-k8s-bins.sh $(DEMO_FLAGS)

k8s-bins: ## Build etcd, kube-apiserver, kube-controller-manager into the cache (once).
	hack/build-k8s-bins.sh

test-deps: k8s-bins ## Everything the tests need: control-plane binaries, Debian's AWS CLI, Argo's kubectl plugin and controller.
	hack/install-test-deps.sh

conformance: k8s-bins build ## Argo Rollouts' own e2e suites against albrollouts, compared with hack/conformance/expectations.txt (docs/argo-conformance.md).
	hack/conformance.sh

test: linkcheck test-deps build helm image ## Link check, unit, integration and end-to-end tests (the Helm chart's and the image's included), plus a short fuzz run.
	$(GO) test -count=1 -timeout 25m $(GOTEST_FLAGS) ./...
	$(MAKE) --no-print-directory test-race
	$(MAKE) --no-print-directory fuzz

test-unit: ## Only the tests that need no control plane (fast).
	$(GO) test -count=1 -short $(GOTEST_FLAGS) ./...

# The controller's race run goes alone: beside the engine's elbsim tests under
# -race it starves their health checks on 2 cores.
test-race: ## The verification engine, ELBv2 provider and rollout controller tests under the race detector.
	$(GO) test -race -count=1 -timeout 15m $(GOTEST_FLAGS) ./internal/verify/... ./internal/elbv2/... ./internal/sim/bench
	$(GO) test -race -count=1 -timeout 30m $(GOTEST_FLAGS) ./internal/controller/...

fuzz: ## Fuzz the AWS Query decoder briefly.
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/sim/elbsim/query

sim: ## The controller's randomized simulation over SEEDS seeds from FIRST (each failing seed prints the command that replays it).
	$(GO) test -count=1 -timeout 0 -run '^TestSimulation$$' ./internal/controller -v -sim.seeds=$(SEEDS) -sim.first=$(FIRST) $(SIM_FLAGS) | grep -v '^=== RUN'

bench: ## Benchmarks: elbsim API and data plane, verification cost.
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/sim/elbsim/... ./internal/verify/... ./internal/sim/bench

lint: linkcheck ## Link check, gofmt, go vet, golangci-lint and govulncheck (pinned in hack/tools).
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	  if [[ -n "$$out" ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS) golangci-lint run ./...
	$(MAKE) --no-print-directory vulncheck

# govulncheck in its default symbol mode: only vulnerable functions that the
# code calls count. hack/vulncheck prints one line each and fails on a required
# module's; the standard library's are the Go toolchain's and only warned of.
vulncheck: $(VULNDB)/index/modules.json ## Fail on a known vulnerability the code reaches in a dependency (govulncheck, offline database).
	$(TOOLS) govulncheck -db file://$(VULNDB) -format json ./... | $(GO) run ./hack/vulncheck report -stdlib=$(VULNCHECK_STDLIB)

$(VULNDB)/index/modules.json:
	$(GO) run ./hack/vulncheck db -go $(GO) -version $(VULNDB_VERSION) -out $(VULNDB)

# README.md and docs/**/*.md: every relative link's file exists, every #anchor
# is a heading of its target (GitHub's slugs). Part of test and lint; under a second.
linkcheck: ## Fail on a broken relative link or #anchor in README.md and docs/.
	$(GO) run ./hack/linkcheck

# hack/crd-quantities lets the CRDs' resource quantities (the Rollout's pod template,
# the analysis kinds' Job provider) take a number (cpu: 0.001), as Argo's CRDs do; controller-gen's int-or-string schema takes only integers.
generate: ## Regenerate deepcopy code and CRDs from api/.
	$(TOOLS) controller-gen object paths=./api/... \
	  crd:crdVersions=v1,generateEmbeddedObjectMeta=true,maxDescLen=0 paths=./api/... \
	  output:crd:artifacts:config=config/crd/bases
	$(GO) run ./hack/crd-quantities config/crd/bases/argoproj.io_rollouts.yaml \
	  config/crd/bases/argoproj.io_analysisruns.yaml config/crd/bases/argoproj.io_analysistemplates.yaml \
	  config/crd/bases/argoproj.io_clusteranalysistemplates.yaml
	$(MAKE) --no-print-directory chart-files

# The Helm chart reads copies of config/'s CRDs, roles and analysis templates
# (charts/albrollouts/files): Helm only reads files inside the chart. charts/chart_test.go
# fails when a copy differs from config/.
CHART_FILES := charts/albrollouts/files
chart-files: ## Copy config/'s CRDs, RBAC rules and ClusterAnalysisTemplates into the Helm chart.
	rm -rf $(CHART_FILES)
	mkdir -p $(CHART_FILES)/crds $(CHART_FILES)/rbac $(CHART_FILES)/analysis
	cp config/crd/bases/*.yaml $(CHART_FILES)/crds/
	cp config/rbac/role.yaml config/rbac/leader_election_role.yaml config/rbac/notifications_role.yaml $(CHART_FILES)/rbac/
	cp config/analysis/alb-canary-health.yaml $(CHART_FILES)/analysis/

# `make test` runs the same through go test ./charts (lint, template with default and
# changed values, install, upgrade and uninstall on a local API server).
# Built before the tests rather than by go test ./charts in the middle of them, where its
# minutes of compiling would starve the timing-sensitive tests running beside it.
helm: ## Build the pinned helm (hack/helm/go.mod) into the Go build cache: minutes the first time, then a second.
	$(HELM) version >/dev/null

chart: ## Lint the Helm chart and render it with its default values (helm pinned in hack/helm).
	$(HELM) lint --strict charts/albrollouts
	$(HELM) template albrollouts charts/albrollouts --namespace albrollouts-system >/dev/null

argo-crd-paths: ## Regenerate hack/argo-crd, the property paths of Argo Rollouts' CRDs (the release in hack/argo-rollouts-version) that ours must keep.
	@dir="$$($(GO) mod download -json github.com/argoproj/argo-rollouts@$$(cat hack/argo-rollouts-version) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"; \
	  $(GO) run ./hack/argo-crd-paths "$$dir/manifests/crds" hack/argo-crd

verify-generated: generate ## Fail when generated files are stale.
	@if [[ -n "$$(git status --porcelain -- api config/crd/bases $(CHART_FILES))" ]]; then \
	  echo "generated files are stale; run 'make generate' and commit:"; git status --porcelain -- api config/crd/bases $(CHART_FILES); git --no-pager diff --stat -- api config/crd/bases $(CHART_FILES); exit 1; fi

clean: ## Remove build output (keeps the control-plane binary cache).
	rm -rf bin
