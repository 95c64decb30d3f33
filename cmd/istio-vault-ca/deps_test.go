package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The post-renderer starts on every helm upgrade and pre-commit check, and
// every package it links is initialised at each start. The libraries below
// live in the executables of their own that need them (istio-vault-ca-fn,
// istio-vault-ca-verify); this fails when one creeps back in.
func TestPostRendererLinksNoHeavyLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, heavy := range []string{
		"sigs.k8s.io/kustomize/kyaml/", // kube-openapi and protobuf registries
		"k8s.io/kube-openapi/",
		"google.golang.org/protobuf/",
		"github.com/hashicorp/vault/api", // the Vault client
	} {
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("istio-vault-ca links %s (from %s): keep it in the executable that needs it", dep, heavy)
				break
			}
		}
	}
}
