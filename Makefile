# istio-vault-ca. The two commands a new machine needs: `make demo`, `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/istio-vault-ca

# Built tools live outside the clone, so a fresh clone (CI) reuses them; the
# vault binary's name carries a hash of the module file that pins its version.
CACHE ?= $(HOME)/.cache/istio-vault-ca
VAULT := $(CACHE)/vault-$(shell sha256sum e2e/vaultbin/go.mod e2e/vaultbin/main.go | sha256sum | cut -c1-12)

FUZZ_TARGETS := ./internal/stream:FuzzSplit ./internal/stream:FuzzReaderMatchesSplit ./internal/transform:FuzzStream ./internal/config:FuzzLoad ./internal/config:FuzzNameChecksMatchTheirExpressions ./cmd/istio-vault-ca:FuzzResourceListKindMatchesExpression ./internal/config:FuzzClusterOnlyMatchesTemplate ./internal/transform:FuzzInPlace ./internal/yamlnode:FuzzDeAnchorMatchesKyaml ./internal/yamlnode:FuzzEditsMatchKyaml
# A count of inputs, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure (golang/go#75804, fixed
# in Go 1.27), which made `make test` flaky on a loaded machine.
FUZZTIME ?= 30000x

KUSTOMIZE_VERSION := v5.8.0
KUSTOMIZE := $(CACHE)/kustomize-$(KUSTOMIZE_VERSION)
HELM3_VERSION := v3.22.0
HELM3 := $(CACHE)/helm-$(HELM3_VERSION)
HELM4_VERSION := v4.3.1
HELM4 := $(CACHE)/helm-$(HELM4_VERSION)
CORPUS ?= ../shared/corpus/istio-charts
IMAGE_REF ?= istio-vault-ca:dev

.PHONY: build demo test vet unit fuzz e2e vault bench image update clean pre-commit

# Static and stripped: a post-renderer starts on every helm upgrade, and a
# smaller binary with no dynamic loader starts faster. All three executables
# go to bin/: istio-vault-ca runs istio-vault-ca-verify for `verify` and
# istio-vault-ca-fn for a ResourceList on stdin.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/ ./cmd/...

# Run the post-renderer on the istiod chart output and show what it changed.
demo: build
	@echo "== istio-vault-ca --config examples/demo/vaultca.yaml < testdata/inputs/istiod.yaml"
	@$(BIN) --config examples/demo/vaultca.yaml < testdata/inputs/istiod.yaml > bin/demo-out.yaml
	@diff -u --label helm-template --label post-rendered testdata/inputs/istiod.yaml bin/demo-out.yaml || true
	@$(BIN) --config examples/demo/vaultca.yaml < bin/demo-out.yaml | cmp -s - bin/demo-out.yaml \
		&& echo "== second run: no change (idempotent)"
	@$(BIN) check --config examples/demo/vaultca.yaml bin/demo-out.yaml && echo "== check: converged"

# Every test: vet, unit, golden, corpus (skipped when ../shared/corpus is absent),
# and the end-to-end chain against a real Vault.
test: vet unit fuzz e2e

# Each fuzz target for FUZZTIME inputs (30000 in make test; `make fuzz
# FUZZTIME=5000000x` for longer; a duration such as 10m works, with the flake
# above).
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($(FUZZTIME))"; \
		out=$$($(GO) test $${t%%:*} -run=NONE -fuzz="^$${t#*:}\$$" -fuzztime=$(FUZZTIME) 2>&1) || { echo "$$out"; exit 1; }; \
	done

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...
	cd tools/image && $(GO) vet ./...

unit:
	$(GO) test -count=1 ./...
	cd tools/image && $(GO) test -count=1 ./...

# The KRM function's container image, built without a Docker daemon or a base
# image: bin/istio-vault-ca-image.tar, for docker/podman load or a registry push.
image: build
	cd tools/image && $(GO) run . ../../bin/istio-vault-ca-fn ../../bin/istio-vault-ca-image.tar $(IMAGE_REF)

# The real Vault binary (server and agent), built once from the Vault Go module
# in e2e/vaultbin and cached outside git. The first build takes minutes.
vault: $(VAULT)
$(VAULT):
	mkdir -p $(CACHE)
	cd e2e/vaultbin && $(GO) build -trimpath -o $(VAULT).tmp . && mv $(VAULT).tmp $(VAULT)

# The whole chain with real components: Vault server and agent, the Vault Agent
# Injector's mutation code, istiod's CA loader (separate module: e2e/go.mod).
# kpt is on the machine image; helm and kustomize are built from their Go
# modules; pre-commit comes from Debian's packages.
e2e: $(VAULT) $(KUSTOMIZE) $(HELM3) $(HELM4) pre-commit
	cd e2e && VAULT_BIN=$(VAULT) KUSTOMIZE_BIN=$(KUSTOMIZE) HELM3_BIN=$(HELM3) HELM4_BIN=$(HELM4) \
		$(GO) test -count=1 -timeout 30m ./...

# Go benchmarks (with allocations) of the transformer, then the whole-process
# comparison with kustomize and cat on the same input (needs the corpus).
bench: build $(KUSTOMIZE)
	$(GO) test ./internal/transform -run=NONE -bench=. -benchmem
	@if [ -d $(CORPUS) ]; then scripts/bench-compare.sh $(BIN) $(KUSTOMIZE) $(CORPUS); \
	else echo "no corpus at $(CORPUS): whole-process comparison skipped"; fi

$(KUSTOMIZE):
	mkdir -p $(CACHE)/gobin
	GOBIN=$(CACHE)/gobin $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(CACHE)/gobin/kustomize $(KUSTOMIZE)

$(HELM3):
	mkdir -p $(CACHE)/gobin
	GOBIN=$(CACHE)/gobin $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM3_VERSION)
	mv $(CACHE)/gobin/helm $(HELM3)

pre-commit:
	@command -v pre-commit >/dev/null || { apt-get update -q && apt-get install -y -q pre-commit; }

$(HELM4):
	mkdir -p $(CACHE)/gobin
	GOBIN=$(CACHE)/gobin $(GO) install helm.sh/helm/v4/cmd/helm@$(HELM4_VERSION)
	mv $(CACHE)/gobin/helm $(HELM4)

# Rewrite golden files; review the diff before committing.
update:
	$(GO) test ./... -update

clean:
	rm -rf bin
