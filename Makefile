# istio-vault-ca. The two commands a new machine needs: `make demo`, `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/istio-vault-ca

.PHONY: build demo test vet unit update clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/istio-vault-ca

# Run the post-renderer on the istiod chart output and show what it changed.
demo: build
	@echo "== istio-vault-ca --config examples/demo/vaultca.yaml < testdata/inputs/istiod.yaml"
	@$(BIN) --config examples/demo/vaultca.yaml < testdata/inputs/istiod.yaml > bin/demo-out.yaml
	@diff -u --label helm-template --label post-rendered testdata/inputs/istiod.yaml bin/demo-out.yaml || true
	@$(BIN) --config examples/demo/vaultca.yaml < bin/demo-out.yaml | cmp -s - bin/demo-out.yaml \
		&& echo "== second run: no change (idempotent)"
	@$(BIN) check --config examples/demo/vaultca.yaml bin/demo-out.yaml && echo "== check: converged"

# Every test: vet, unit, golden, corpus (skipped when ../shared/corpus is absent).
test: vet unit

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

# Rewrite golden files; review the diff before committing.
update:
	$(GO) test ./... -update

clean:
	rm -rf bin
