# istio-vault-ca. The two commands a new machine needs: `make demo`, `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/istio-vault-ca

# Built tools live outside the clone, so a fresh clone (CI) reuses them, in
# a directory of their own: the cache's istio-vault-ca directory itself holds
# the tool's explain record. The vault binary's name carries a hash of the
# module file that pins its version. The name is not what makes a cached
# tool trusted: before each use, bin/toolcache (tools/toolcache) checks the
# sha256 recorded beside it at build time and the module versions the Go
# toolchain embedded in it, and rebuilds it on a mismatch.
CACHE ?= $(HOME)/.cache/istio-vault-ca
TOOLS ?= $(CACHE)/tools
TOOLCACHE := bin/toolcache
VAULT := $(TOOLS)/vault-$(shell sha256sum e2e/vaultbin/go.mod e2e/vaultbin/main.go | sha256sum | cut -c1-12)
# The control plane the e2e runs as real processes, each from a module of
# its own under e2e/ that pins it, named by a hash of that module as Vault
# is: etcd and kube-apiserver (a main of ours calling theirs), the Vault
# Agent Injector and istiod (their own main packages, as a `tool` of the
# module: `go install PKG@VERSION` fails here for vault-k8s, because the
# module proxy refuses the module's version list, which go install reads
# for deprecation notices), and cert-manager's controllers for a Vault
# Issuer (a main of ours wiring the cert-manager module's controllers: its
# controller binary's module is not served).
# istiod must be the istio version the e2e module requires, so that the
# library tests and the process are the same code: `make vet` checks.
pinhash = $(shell sha256sum $(1)/go.mod $(wildcard $(1)/*.go) | sha256sum | cut -c1-12)
ETCD := $(TOOLS)/etcd-$(call pinhash,e2e/etcdbin)
KUBE_APISERVER := $(TOOLS)/kube-apiserver-$(call pinhash,e2e/apiserverbin)
VAULT_K8S := $(TOOLS)/vault-k8s-$(call pinhash,e2e/injectorbin)
ISTIOD := $(TOOLS)/pilot-discovery-$(call pinhash,e2e/istiodbin)
CERT_MANAGER := $(TOOLS)/cert-manager-$(call pinhash,e2e/certmanagerbin)

FUZZ_TARGETS := ./internal/stream:FuzzSplit ./internal/stream:FuzzReaderMatchesSplit ./internal/transform:FuzzStream ./internal/config:FuzzLoad ./internal/config:FuzzNameChecksMatchTheirExpressions ./cmd/istio-vault-ca:FuzzResourceListKindMatchesExpression ./internal/config:FuzzClusterOnlyMatchesTemplate ./internal/transform:FuzzInPlace ./internal/yamlnode:FuzzDeAnchorMatchesKyaml ./internal/yamlnode:FuzzEditsMatchKyaml ./internal/transform:FuzzJSONWrite ./internal/targets:FuzzSecurityID ./internal/stream:FuzzKindLineMatchesExpression ./internal/migrate:FuzzMigrate ./internal/lint:FuzzStream
# A count of inputs, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline as a failure (golang/go#75804, fixed
# in Go 1.27), which made `make test` flaky on a loaded machine.
FUZZTIME ?= 30000x

KUSTOMIZE_VERSION := v5.8.0
KUSTOMIZE := $(TOOLS)/kustomize-$(KUSTOMIZE_VERSION)
HELM3_VERSION := v3.22.0
HELM3 := $(TOOLS)/helm-$(HELM3_VERSION)
HELM4_VERSION := v4.3.1
HELM4 := $(TOOLS)/helm-$(HELM4_VERSION)
# kpt's Go module cannot be built here (modules it needs are not served), so
# the e2e runs the kpt of the machine image (package google-cloud-cli-kpt),
# checked to be the version the tests were written against.
KPT ?= /usr/bin/kpt
KPT_VERSION := 1.0.0-beta.56
# pre-commit from Debian's packages, at a pinned package version (its
# dependencies come from the same stable release).
PRE_COMMIT := /usr/bin/pre-commit
PRE_COMMIT_DEB := 3.0.4-1
PRE_COMMIT_VERSION := pre-commit 3.0.4
CORPUS ?= ../shared/corpus/istio-charts
IMAGE_REF ?= istio-vault-ca:dev

.PHONY: build demo test vet unit fuzz e2e vault controlplane bench image update clean pre-commit kpt FORCE

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
	@# A fuzz target that is not in FUZZ_TARGETS never runs in make test.
	@for f in $$(git grep -ho '^func Fuzz[A-Za-z0-9_]*' -- '*_test.go' | sed 's/^func //'); do \
		case " $(FUZZ_TARGETS) " in *":$$f "*) ;; *) echo "fuzz target $$f is not in FUZZ_TARGETS"; exit 1;; esac; \
	done
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...
	cd e2e/etcdbin && $(GO) vet ./...
	cd e2e/apiserverbin && $(GO) vet ./...
	cd e2e/certmanagerbin && $(GO) vet ./...
	@for pin in istiodbin:istio.io/istio injectorbin:github.com/hashicorp/vault-k8s; do \
		dir=$${pin%%:*} mod=$${pin#*:}; \
		lib=$$(cd e2e && $(GO) list -m -f '{{.Version}}' $$mod) && bin=$$(cd e2e/$$dir && $(GO) list -m -f '{{.Version}}' $$mod) && \
		test -n "$$lib" && test "$$lib" = "$$bin" || \
		{ echo "e2e/$$dir pins $$mod $$bin, e2e/go.mod $$lib: the process and the library tests must be the same code"; exit 1; }; \
	done
	cd tools/image && $(GO) vet ./...
	cd tools/toolcache && $(GO) vet ./...

# -update=false changes nothing, but fails in a test package that does not
# import internal/golden: `go test ./... -update` (make update) needs every
# package to know the flag.
unit:
	$(GO) test -count=1 ./... -update=false
	cd tools/image && $(GO) test -count=1 ./...
	cd tools/toolcache && $(GO) test -count=1 ./...

# The KRM function's container image, built without a Docker daemon or a base
# image: bin/istio-vault-ca-image.tar, for docker/podman load or a registry push.
image: build
	cd tools/image && $(GO) run . ../../bin/istio-vault-ca-fn ../../bin/istio-vault-ca-image.tar $(IMAGE_REF)

# Checks and builds the cached tools (stdlib only, so it builds in seconds).
# The cache directory is also where istio-vault-ca keeps its explain record,
# which it writes only into a directory of the caller's with mode 0700: made
# (or narrowed) so here, or every failed run on a developer's machine would
# say it cannot keep the record.
$(TOOLCACHE): tools/toolcache/go.mod tools/toolcache/main.go FORCE
	@install -d -m 700 $(CACHE)
	cd tools/toolcache && $(GO) build -o ../../$@ .

# The real Vault binary (server and agent), built once from the Vault Go module
# in e2e/vaultbin and cached outside git. The first build takes minutes.
# Each cached tool's recipe runs every time (FORCE): it is the check, and
# builds only what is missing or does not pass.
vault: $(VAULT)
$(VAULT): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) build $@ e2e/vaultbin

# The whole chain with real components (separate module: e2e/go.mod): Vault
# server and agent, etcd and kube-apiserver, the Vault Agent Injector and
# istiod and cert-manager's Vault controllers as processes.
# kpt is on the machine image; helm and kustomize are built from their Go
# modules; pre-commit comes from Debian's packages. Each is checked first.
e2e: $(VAULT) $(KUSTOMIZE) $(HELM3) $(HELM4) kpt pre-commit controlplane
	cd e2e && VAULT_BIN=$(VAULT) KUSTOMIZE_BIN=$(KUSTOMIZE) HELM3_BIN=$(HELM3) HELM4_BIN=$(HELM4) \
		ETCD_BIN=$(ETCD) KUBE_APISERVER_BIN=$(KUBE_APISERVER) VAULT_K8S_BIN=$(VAULT_K8S) ISTIOD_BIN=$(ISTIOD) \
		CERT_MANAGER_BIN=$(CERT_MANAGER) KPT_BIN=$(KPT) PRE_COMMIT_BIN=$(PRE_COMMIT) $(GO) test -count=1 -timeout 30m ./...

# Go benchmarks (with allocations) of the transformer, then the whole-process
# comparison with kustomize and cat on the same input (needs the corpus).
bench: build $(KUSTOMIZE)
	$(GO) test ./internal/transform -run=NONE -bench=. -benchmem
	@if [ -d $(CORPUS) ]; then scripts/bench-compare.sh $(BIN) $(KUSTOMIZE) $(CORPUS); \
	else echo "no corpus at $(CORPUS): whole-process comparison skipped"; fi

# The real control plane's processes (the first build takes minutes:
# kube-apiserver about three on two cores, cert-manager about two).
controlplane: $(ETCD) $(KUBE_APISERVER) $(VAULT_K8S) $(ISTIOD) $(CERT_MANAGER)
$(ETCD): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) build $@ e2e/etcdbin
$(KUBE_APISERVER): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) build $@ e2e/apiserverbin
$(VAULT_K8S): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) build $@ e2e/injectorbin github.com/hashicorp/vault-k8s
$(ISTIOD): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) build $@ e2e/istiodbin istio.io/istio/pilot/cmd/pilot-discovery
$(CERT_MANAGER): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) build $@ e2e/certmanagerbin

$(KUSTOMIZE): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) install $@ sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(HELM3): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) install $@ helm.sh/helm/v3/cmd/helm@$(HELM3_VERSION)

$(HELM4): $(TOOLCACHE) FORCE
	GO=$(GO) $(TOOLCACHE) install $@ helm.sh/helm/v4/cmd/helm@$(HELM4_VERSION)

kpt: $(TOOLCACHE)
	@$(TOOLCACHE) version $(KPT) $(KPT_VERSION) version || \
		{ echo "the e2e is pinned to kpt $(KPT_VERSION), from the machine image (google-cloud-cli-kpt); set KPT= to such a kpt"; exit 1; }

# Installed (as root, like CI) when the pinned package version is not.
pre-commit: $(TOOLCACHE)
	@test "$$(dpkg-query -W -f='$${db:Status-Abbrev}$${Version}' pre-commit 2>/dev/null)" = "ii $(PRE_COMMIT_DEB)" || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pre-commit=$(PRE_COMMIT_DEB); }
	@$(TOOLCACHE) version $(PRE_COMMIT) "$(PRE_COMMIT_VERSION)" --version

# Rewrite golden files; review the diff before committing.
update:
	$(GO) test ./... -update

clean:
	rm -rf bin
