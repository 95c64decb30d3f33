package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeQuickStart runs the README's Vault set-up block, as written,
// against a fresh dev Vault with the real vault CLI, then checks that the
// verify line in it passed: a new user who follows the README gets a Vault
// that istiod can load its CA from.
func TestReadmeQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	must(t, err)
	_, block, ok := strings.Cut(string(readme), "<!-- quickstart:")
	if !ok {
		t.Fatal("the README has no quickstart block")
	}
	_, block, _ = strings.Cut(block, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	if !strings.Contains(block, "istio-vault-ca verify") {
		t.Fatalf("the quickstart block does not end with verify:\n%s", block)
	}

	e := newEnv(t)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "examples/demo"), 0o755))
	demo, err := os.ReadFile("../examples/demo/vaultca.yaml")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "examples/demo/vaultca.yaml"), demo, 0o644))
	ca, _, _, _ := newCA(t, nil, nil, "", "Istio intermediate cluster1", 60)
	// As the README asks: istiod's token reviews itself, so its account
	// is bound to system:auth-delegator; ca.crt is the API server's CA.
	e.k8s.bindAuthDelegator(t, istiodSA)
	for name, body := range map[string]string{"ca-key.pem": ca.keyPEM, "ca-cert.pem": ca.certPEM, "cert-chain.pem": ca.chainPEM, "root-cert.pem": ca.rootPEM, "istiod.jwt": e.jwt, "ca.crt": string(e.k8s.caPEM)} {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	script := "set -e\ncd " + dir + "\nexport KUBERNETES_HOST=" + e.k8s.url + "\n" + block
	out, err := e.vaultCLI(t, "sh", "-c", script)
	if err != nil {
		t.Fatalf("the README's set-up failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "PASS") || strings.Contains(out, "FAIL") {
		t.Errorf("verify after the README's set-up:\n%s", out)
	}
}
