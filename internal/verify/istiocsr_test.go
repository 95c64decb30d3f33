package verify

import (
	"strings"
	"testing"
)

const csrConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: unit}
spec:
  cluster: c1
  vault: {address: https://vault.example.com:8200, role: istio-csr}
  istiod: {revisions: [default, canary]}
  source:
    istioCSR:
      pki: {mount: istioca, role: "istio-{{ .Cluster }}"}
      trustDomain: mesh.example
`

// The role as policy --output commands writes it, as Vault reads it back.
func goodRole() map[string]any {
	return map[string]any{
		"require_cn": false, "allowed_uri_sans": []any{"spiffe://mesh.example/*"}, "key_type": "any",
		"allowed_domains": []any{"istiod.istio-system.svc", "istiod-canary.istio-system.svc", "cert-manager-istio-csr.cert-manager.svc"}, "allow_bare_domains": true,
		"max_ttl": 86400,
	}
}

// Each setting of the PKI role that makes cert-manager's sign request
// fail is named with what Vault answers, and a good role passes.
func TestCSRRoleSettings(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	for name, tc := range map[string]struct {
		change func(map[string]any)
		want   string
	}{
		"good":            {func(map[string]any) {}, `PASS +PKI role istioca/roles/istio-c1: signs a workload CSR`},
		"require_cn":      {func(r map[string]any) { r["require_cn"] = true }, `FAIL .*require_cn is true: .*"the common_name field is required"`},
		"no uri sans":     {func(r map[string]any) { delete(r, "allowed_uri_sans") }, `FAIL .*allowed_uri_sans is empty: .*spiffe://mesh.example/ns/default/sa/default`},
		"other domain":    {func(r map[string]any) { r["allowed_uri_sans"] = "spiffe://cluster.local/*" }, `FAIL .*allowed_uri_sans is spiffe://cluster.local/\*, which does not allow spiffe://mesh.example/`},
		"rsa only":        {func(r map[string]any) { r["key_type"] = "rsa" }, `FAIL .*key_type is rsa: .*"role requires keys of type rsa"`},
		"ec only":         {func(r map[string]any) { r["key_type"] = "ec" }, `FAIL .*key_type is "ec": istio-agent sends RSA keys by default`},
		"no canary":       {func(r map[string]any) { r["allowed_domains"] = []any{"istiod.istio-system.svc"} }, `FAIL .*does not allow istiod-canary.istio-system.svc, cert-manager-istio-csr.cert-manager.svc: istiod-tls`},
		"subdomains only": {func(r map[string]any) { r["allow_bare_domains"] = false; r["allow_subdomains"] = true }, `FAIL .*does not allow istiod.istio-system.svc, istiod-canary.istio-system.svc, cert-manager-istio-csr.cert-manager.svc`},
		"short max_ttl":   {func(r map[string]any) { r["max_ttl"] = 600 }, `FAIL .*max_ttl is 10m0s`},
	} {
		t.Run(name, func(t *testing.T) {
			role := goodRole()
			tc.change(role)
			c := fakeVaultData(t, map[string]map[string]any{
				"istioca/roles/istio-c1": role,
				"istioca/cert/ca_chain":  {"ca_chain": root.certPEM},
			})
			out := runReport(t, c, csrConfig)
			matches(t, out, tc.want, `PASS +chain of istioca: is a root`)
			if name != "good" {
				noMatch(t, out, `PASS +PKI role`)
			}
		})
	}
}

// A mount that is an intermediate leads to its root: its own imported
// chain, or the root at pki.rootMount; an intermediate with no root known
// fails (istio-csr#105).
func TestCSRChain(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	other := issue(t, "another root", true, nil)
	inter := issue(t, "istio intermediate", true, root)
	withRoot := strings.Replace(csrConfig, `role: "istio-{{ .Cluster }}"}`, `role: "istio-{{ .Cluster }}", rootMount: pki}`, 1)
	for name, tc := range map[string]struct {
		config, chain, root, want string
	}{
		"full chain imported":       {csrConfig, inter.certPEM + root.certPEM, "", `WARN +chain of istioca: leads to root CN=mesh root but pki.mount is an intermediate: set pki.rootMount`},
		"intermediate alone":        {csrConfig, inter.certPEM, "", `FAIL +chain of istioca: ends at intermediate CN=istio intermediate, not a root: .*istio-csr#105`},
		"root at rootMount":         {withRoot, inter.certPEM, root.certPEM, `PASS +chain of istioca: leads to the root at pki/cert/ca \(CN=mesh root\)`},
		"another root at rootMount": {withRoot, inter.certPEM, other.certPEM, `FAIL +chain of istioca: ends at CN=istio intermediate, which the root at pki/cert/ca \(CN=another root\) did not sign`},
	} {
		t.Run(name, func(t *testing.T) {
			data := map[string]map[string]any{"istioca/roles/istio-c1": goodRole(), "istioca/cert/ca_chain": {"ca_chain": tc.chain},
				"auth/kubernetes/role/istio-csr": goodAuthRole()}
			if tc.root != "" {
				data["pki/cert/ca"] = map[string]any{"certificate": tc.root}
			}
			matches(t, runReport(t, fakeVaultData(t, data), tc.config), tc.want)
		})
	}
}

// The Kubernetes-auth role as policy --output commands writes it.
func goodAuthRole() map[string]any {
	return map[string]any{"bound_service_account_names": []any{"istio-ca-vault"}, "bound_service_account_namespaces": []any{"istio-system"},
		"audience": "vault://istio-system/istio-ca", "token_policies": []any{"istio-csr-sign-c1"}}
}

// The issuer's Kubernetes-auth role: each binding that refuses
// cert-manager's login, or a policy that cannot sign, is named.
func TestCSRAuthRole(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	for name, tc := range map[string]struct {
		change func(map[string]any)
		want   string
	}{
		"good":         {func(map[string]any) {}, `PASS +role auth/kubernetes/role/istio-csr: binds istio-system/istio-ca-vault for audience vault://istio-system/istio-ca with policy istio-csr-sign-c1`},
		"server aud":   {func(r map[string]any) { r["audience"] = "https://vault.example.com:8200" }, `PASS +role auth/kubernetes/role/istio-csr: binds`},
		"other sa":     {func(r map[string]any) { r["bound_service_account_names"] = []any{"vault-issuer"} }, `FAIL +role auth/kubernetes/role/istio-csr: bound_service_account_names is vault-issuer, without istio-ca-vault`},
		"other ns":     {func(r map[string]any) { r["bound_service_account_namespaces"] = []any{"cert-manager"} }, `FAIL .*bound_service_account_namespaces is cert-manager, without istio-system`},
		"k8s audience": {func(r map[string]any) { r["audience"] = "https://kubernetes.default.svc" }, `FAIL .*audience is "https://kubernetes.default.svc", which cert-manager's token does not carry`},
		"other policy": {func(r map[string]any) { r["token_policies"] = []any{"default"} }, `FAIL .*token_policies is default, without istio-csr-sign-c1`},
	} {
		t.Run(name, func(t *testing.T) {
			auth := goodAuthRole()
			tc.change(auth)
			c := fakeVaultData(t, map[string]map[string]any{
				"istioca/roles/istio-c1": goodRole(), "istioca/cert/ca_chain": {"ca_chain": root.certPEM},
				"auth/kubernetes/role/istio-csr": auth,
			})
			matches(t, runReport(t, c, csrConfig), tc.want)
		})
	}
}
