package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// wildcardConfig is a config that istio-vault-ca accepted before wildcards
// were refused: a * in the KV path, and a gateway role bound by globs.
const wildcardConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: wild}
spec:
  vault: {role: istiod}
  gateways:
  - selector: {istio: ingressgateway}
    role: istio-ingressgateway
    mountPath: /etc/istio/ingress-certs
    serviceAccounts: ["*"]
    namespaces: ["istio-*"]
    certificates:
    - name: shop
      kv: {version: 2, path: secret/gateways/shop}
  source:
    kv: {version: 2, path: "secret/*"}
`

// exactConfig names the CA's path itself.
const exactConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: exact}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`

// What `istio-vault-ca policy` printed for wildcardConfig before the fix:
// the policy (--output hcl, trimmed to the rule that matters) and the body
// of the gateway's role (--output role). (Bound to istiod's own role, the
// glob would have been refused by Vault: "can not mix "*" with values".)
const (
	wildcardPolicyBefore = `path "secret/data/*" {
  capabilities = ["read"]
}
`
	wildcardRoleBefore = `{"bound_service_account_names": ["*"], "bound_service_account_namespaces": ["istio-*"], "token_policies": ["istiod-ca"]}`
)

// TestWildcardConfigRefused shows, on a real Vault, why a * in a path and a
// glob in a gateway's bindings are refused: the policy the tool wrote for
// them read a secret the config never named, and the role let an account
// in an unrelated istio-* namespace log in. Then, that the tool refuses the
// config now.
func TestWildcardConfigRefused(t *testing.T) {
	e := newEnv(t)
	root := e.vault.client
	kvPut(t, root, 2, "secret", "istio/cacerts", map[string]any{"ca_key": "the CA"})
	kvPut(t, root, 2, "secret", "payments/db", map[string]any{"password": "unrelated"})
	must(t, root.Sys().PutPolicy("istiod-ca", wildcardPolicyBefore))
	must(t, root.Sys().EnableAuthWithOptions("kubernetes", &api.EnableAuthOptions{Type: "kubernetes"}))
	_, err := root.Logical().Write("auth/kubernetes/config", e.k8s.vaultAuthConfig())
	must(t, err)
	_, err = root.Logical().WriteBytes("auth/kubernetes/role/istio-ingressgateway", []byte(wildcardRoleBefore))
	must(t, err)

	// Any account of any istio-* namespace logs in with the role...
	billing := e.k8s.token(t, serviceAccount{Namespace: "istio-payments", Name: "billing"})
	login, err := root.Logical().Write("auth/kubernetes/login", map[string]any{"role": "istio-ingressgateway", "jwt": billing})
	if err != nil || login == nil || login.Auth == nil {
		t.Fatalf("the glob binding did not let istio-payments/billing log in (the premise of the fix): %v", err)
	}
	// ...and its token reads a secret no config named.
	client, err := root.Clone()
	must(t, err)
	client.SetToken(login.Auth.ClientToken)
	got, err := client.KVv2("secret").Get(t.Context(), "payments/db")
	if err != nil || got.Data["password"] != "unrelated" {
		t.Fatalf("the wildcard policy did not read secret/payments/db (the premise of the fix): %v", err)
	}

	// The policy the tool writes for the exact path does not.
	exact := filepath.Join(t.TempDir(), "exact.yaml")
	must(t, os.WriteFile(exact, []byte(exactConfig), 0o644))
	hcl, stderr, code := tool(t, nil, nil, "policy", "--config", exact)
	if code != 0 {
		t.Fatalf("policy for the exact path: %s", stderr)
	}
	must(t, root.Sys().PutPolicy("exact", hcl))
	tok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"exact"}})
	must(t, err)
	client.SetToken(tok.Auth.ClientToken)
	if _, err := client.KVv2("secret").Get(t.Context(), "payments/db"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the exact policy reads secret/payments/db: %v", err)
	}
	if _, err := client.KVv2("secret").Get(t.Context(), "istio/cacerts"); err != nil {
		t.Errorf("the exact policy does not read the CA: %v", err)
	}

	// The tool refuses that config now, for the path and for both bindings,
	// and writes nothing that could be piped into vault.
	cfg := writeTestConfig(t, wildcardConfig)
	for _, output := range []string{"hcl", "role", "commands"} {
		out, stderr, code := tool(t, nil, nil, "policy", "--config", cfg, "--output", output)
		if code != 2 || out != "" {
			t.Errorf("policy --output %s: exit %d, stdout:\n%s", output, code, out)
		}
		for _, want := range []string{
			"`spec.source.kv.path` contains a wildcard",
			`spec.gateways\[0\].serviceAccounts\[0\]. must be a service account name .* got "\*"`,
			`spec.gateways\[0\].namespaces\[0\]. must be a Kubernetes namespace name .* got "istio-\*"`,
		} {
			if !regexp.MustCompile(want).MatchString(stderr) {
				t.Errorf("policy --output %s: stderr does not match %s:\n%s", output, want, stderr)
			}
		}
	}
}
