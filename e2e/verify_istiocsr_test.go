package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// csrVerifyConfig is issue 19's example, its PKI mount MOUNT.
const csrVerifyConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cluster1}
spec:
  cluster: cluster1
  vault: {address: https://vault.example.com:8200, role: istio-csr, authPath: auth/kubernetes-cluster1}
  source:
    istioCSR:
      pki: {mount: MOUNT, role: "istio-{{ .Cluster }}"}
      trustDomain: cluster.local
`

// verify in the istioCSR mode against a real Vault: the PKI role that
// `policy --output commands` writes passes; a role with require_cn and no
// URI SANs is named setting by setting; a mount whose chain ends at an
// intermediate fails with the way out.
func TestVerifyIstioCSR(t *testing.T) {
	v := startVault(t)
	e := &env{vault: v}
	must(t, v.client.Sys().Mount("istioca", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	_, err := v.client.Logical().Write("istioca/root/generate/internal", map[string]any{"common_name": "e2e mesh root", "ttl": "87600h", "key_type": "ec", "key_bits": 256})
	must(t, err)
	config := strings.Replace(csrVerifyConfig, "MOUNT", "istioca", 1)
	script, stderr, code := tool(t, nil, nil, "policy", "--config", writeTestConfig(t, config), "--output", "commands")
	if code != 0 {
		t.Fatalf("policy --output commands: %s", stderr)
	}
	// Without the auth method the script stops before it writes anything.
	if out, err := e.vaultCLI(t, "sh", "-c", script); err == nil || !strings.Contains(out, "Vault has no auth method at auth/kubernetes-cluster1") {
		t.Errorf("the policy script without the auth method: %v, want it to say the auth method is missing\n%s", err, out)
	}
	if p, err := v.client.Sys().GetPolicy("istio-csr-sign-cluster1"); err != nil || p != "" {
		t.Errorf("the policy script without the auth method wrote the policy (%q, %v)", p, err)
	}
	must(t, v.client.Sys().EnableAuthWithOptions("kubernetes-cluster1", &api.EnableAuthOptions{Type: "kubernetes"}))
	if out, err := e.vaultCLI(t, "sh", "-c", script); err != nil {
		t.Fatalf("the policy script failed: %v\n%s", err, out)
	}

	// The role signs what reaches it through cert-manager (the parameters
	// its Vault issuer sends): istio-agent's CSR, no CN, a SPIFFE URI SAN
	// and a P-256 key; and istiod-tls, by DNS name.
	const spiffe = "spiffe://cluster.local/ns/default/sa/default"
	signed, err := v.client.Logical().Write("istioca/sign/istio-cluster1", map[string]any{
		"csr": string(workloadCSR(t, spiffe)), "uri_sans": spiffe, "exclude_cn_from_sans": true, "ttl": "1h"})
	must(t, err)
	if leaf := parsePEMCert(t, []byte(signed.Data["certificate"].(string))); len(leaf.URIs) != 1 || leaf.URIs[0].String() != spiffe {
		t.Errorf("signed workload certificate has URIs %v, want %s", leaf.URIs, spiffe)
	}
	_, err = v.client.Logical().Write("istioca/sign/istio-cluster1", map[string]any{
		"csr": string(workloadCSR(t, spiffe)), "common_name": "istiod.istio-system.svc", "alt_names": "istiod.istio-system.svc", "uri_sans": spiffe, "ttl": "1h"})
	must(t, err)

	out, code := verifyConfigWith(t, config, v.client.Address())
	if code != 0 {
		t.Fatalf("verify of the role policy wrote: exit %d\n%s", code, out)
	}
	reportHas(t, out, `PASS +role auth/kubernetes-cluster1/role/istio-csr: binds istio-system/istio-ca-vault for audience vault://istio-system/istio-ca`,
		`PASS +PKI role istioca/roles/istio-cluster1: read: require_cn=false`, `PASS +chain of istioca: is a root \(CN=e2e mesh root\)`,
		`PASS +policy istio-csr-sign-cluster1: is exactly what istio-vault-ca policy prints`)

	// A role whose certificates are no server certificates (istiod-tls),
	// as Vault reads it back, and an auth role that binds everyone.
	_, err = v.client.Logical().JSONMergePatch(context.Background(), "istioca/roles/istio-cluster1", map[string]any{"server_flag": false})
	must(t, err)
	_, err = v.client.Logical().JSONMergePatch(context.Background(), "auth/kubernetes-cluster1/role/istio-csr", map[string]any{"bound_service_account_names": "*", "token_policies": "istio-csr-sign-cluster1,root"})
	if err != nil { // an auth method without PATCH: write it whole
		_, err = v.client.Logical().Write("auth/kubernetes-cluster1/role/istio-csr", map[string]any{"bound_service_account_names": "*", "bound_service_account_namespaces": "istio-system",
			"audience": "vault://istio-system/istio-ca", "token_policies": "istio-csr-sign-cluster1,root"})
	}
	must(t, err)
	out, code = verifyConfigWith(t, config, v.client.Address())
	if code != 1 {
		t.Errorf("verify of a role with server_flag=false: exit %d, want 1\n%s", code, out)
	}
	reportHas(t, out, `FAIL +PKI role istioca/roles/istio-cluster1: server_flag is false`,
		`FAIL +role auth/kubernetes-cluster1/role/istio-csr: bound_service_account_names is \*: the wildcard`,
		`FAIL +role auth/kubernetes-cluster1/role/istio-csr: token_policies has root beside istio-csr-sign-cluster1`)
	if out, err := e.vaultCLI(t, "sh", "-c", script); err != nil { // mend both
		t.Fatalf("the policy script failed: %v\n%s", err, out)
	}

	// The two settings that made signing fail with Vault 1.21.
	// (A role write replaces every field: the others as the script wrote them.)
	_, err = v.client.Logical().Write("istioca/roles/istio-cluster1", map[string]any{"require_cn": true, "allowed_uri_sans": "", "key_type": "any",
		"allowed_domains": "istiod.istio-system.svc,cert-manager-istio-csr.cert-manager.svc", "allow_bare_domains": true, "max_ttl": "24h"})
	must(t, err)
	out, code = verifyConfigWith(t, config, v.client.Address())
	if code != 1 {
		t.Errorf("verify of a role with require_cn and no URI SANs: exit %d, want 1\n%s", code, out)
	}
	reportHas(t, out, `FAIL +PKI role istioca/roles/istio-cluster1: require_cn is true`, `FAIL +PKI role istioca/roles/istio-cluster1: allowed_uri_sans is empty`)
	if strings.Contains(out, "key_type") || strings.Contains(out, "does not allow") {
		t.Errorf("verify names a setting that is right:\n%s", out)
	}
	// and Vault refuses what verify said it would.
	_, err = v.client.Logical().Write("istioca/sign/istio-cluster1", map[string]any{
		"csr": string(workloadCSR(t, spiffe)), "uri_sans": spiffe, "exclude_cn_from_sans": true, "ttl": "1h"})
	if err == nil || !strings.Contains(err.Error(), "the common_name field is required") {
		t.Errorf("signing with require_cn=true: %v, want Vault's \"the common_name field is required\"", err)
	}

	// An intermediate mount holding only the intermediate: its chain ends
	// short of a root.
	must(t, v.client.Sys().Mount("istioint", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	csr, err := v.client.Logical().Write("istioint/intermediate/generate/internal", map[string]any{"common_name": "e2e istio intermediate", "key_type": "ec", "key_bits": 256})
	must(t, err)
	interCert, err := v.client.Logical().Write("istioca/root/sign-intermediate", map[string]any{"csr": csr.Data["csr"], "ttl": "43800h", "format": "pem"})
	must(t, err)
	_, err = v.client.Logical().Write("istioint/intermediate/set-signed", map[string]any{"certificate": interCert.Data["certificate"]})
	must(t, err)
	inter := strings.Replace(csrVerifyConfig, "MOUNT", "istioint", 1)
	_, err = v.client.Logical().Write("istioint/roles/istio-cluster1", map[string]any{"require_cn": false, "allowed_uri_sans": "spiffe://cluster.local/*", "key_type": "any", "allowed_domains": "istiod.istio-system.svc,cert-manager-istio-csr.cert-manager.svc", "allow_bare_domains": true, "max_ttl": "24h"})
	must(t, err)
	out, code = verifyConfigWith(t, inter, v.client.Address())
	if code != 1 {
		t.Errorf("verify of an intermediate with no root: exit %d, want 1\n%s", code, out)
	}
	reportHas(t, out, `FAIL +chain of istioint: ends at intermediate CN=e2e istio intermediate, not a root`)
	// Its policy grants the sign path of this mount, as policy prints it.
	withRoot := strings.Replace(inter, `role: "istio-{{ .Cluster }}"}`, `role: "istio-{{ .Cluster }}", rootMount: istioca}`, 1)
	script, stderr, code = tool(t, nil, nil, "policy", "--config", writeTestConfig(t, withRoot), "--output", "commands")
	if code != 0 {
		t.Fatalf("policy --output commands: %s", stderr)
	}
	if out, err := e.vaultCLI(t, "sh", "-c", script); err != nil {
		t.Fatalf("the policy script failed: %v\n%s", err, out)
	}
	out, code = verifyConfigWith(t, withRoot, v.client.Address())
	if code != 0 {
		t.Errorf("verify of the intermediate with its root mount: exit %d\n%s", code, out)
	}
	reportHas(t, out, `PASS +chain of istioint: leads to the root at istioca/cert/ca \(CN=e2e mesh root\)`)
}

// reportHas fails the test for each pattern a verify report does not match.
func reportHas(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("the report does not match %q:\n%s", p, out)
		}
	}
}
