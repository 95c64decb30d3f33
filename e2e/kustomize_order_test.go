package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCatchesATransformerAfterTheFunction builds an overlay whose
// namePrefix runs after the base's function, with the real kustomize. The
// function checked istiod's service account before the rename, so the
// build succeeds with a role that can no longer log in; `check` on the
// final output is what catches it, as the README says to run it.
func TestCheckCatchesATransformerAfterTheFunction(t *testing.T) {
	kustomize := os.Getenv("KUSTOMIZE_BIN")
	if kustomize == "" {
		t.Fatal("KUSTOMIZE_BIN is not set: run with `make e2e`")
	}
	base := copyExample(t, "kustomize")
	overlay := t.TempDir()
	rel, err := filepath.Rel(overlay, base)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte("resources:\n- "+rel+"\nnamePrefix: a-\n"), 0o644))
	built, err := exec.Command(kustomize, "build", "--enable-alpha-plugins", "--enable-exec", overlay).Output()
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	if !strings.Contains(string(built), "serviceAccountName: a-istiod") {
		t.Fatalf("the overlay did not rename istiod's service account; the case shows nothing:\n%s", built)
	}
	out := filepath.Join(t.TempDir(), "built.yaml")
	must(t, os.WriteFile(out, built, 0o644))
	stdout, stderr, code := tool(t, nil, nil, "check", "--config", filepath.Join(base, "vaultca.yaml"), out)
	if code == 0 || stdout != "" || !strings.Contains(stderr, `is "a-istiod" but the Vault role binds only istiod: add "a-istiod" to spec.istiod.serviceAccounts`) {
		t.Errorf("check on the final output: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
