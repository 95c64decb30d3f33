package verify

import (
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
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
		"good":            {func(map[string]any) {}, `PASS +PKI role istioca/roles/istio-c1: read: require_cn=false, .*server_flag, client_flag, use_csr_sans and issuer_ref`},
		"require_cn":      {func(r map[string]any) { r["require_cn"] = true }, `FAIL .*require_cn is true: .*"the common_name field is required"`},
		"no uri sans":     {func(r map[string]any) { delete(r, "allowed_uri_sans") }, `FAIL .*allowed_uri_sans is empty: .*spiffe://mesh.example/ns/default/sa/default`},
		"other domain":    {func(r map[string]any) { r["allowed_uri_sans"] = "spiffe://cluster.local/*" }, `FAIL .*allowed_uri_sans is spiffe://cluster.local/\*, which does not allow spiffe://mesh.example/`},
		"rsa only":        {func(r map[string]any) { r["key_type"] = "rsa" }, `FAIL .*key_type is rsa: .*"role requires keys of type rsa"`},
		"ec only":         {func(r map[string]any) { r["key_type"] = "ec" }, `FAIL .*key_type is "ec": istio-agent sends RSA keys by default`},
		"no canary":       {func(r map[string]any) { r["allowed_domains"] = []any{"istiod.istio-system.svc"} }, `FAIL .*does not allow istiod-canary.istio-system.svc, cert-manager-istio-csr.cert-manager.svc: istiod-tls`},
		"subdomains only": {func(r map[string]any) { r["allow_bare_domains"] = false; r["allow_subdomains"] = true }, `FAIL .*does not allow istiod.istio-system.svc, istiod-canary.istio-system.svc, cert-manager-istio-csr.cert-manager.svc`},
		"short max_ttl":   {func(r map[string]any) { r["max_ttl"] = 600 }, `FAIL .*max_ttl is 10m0s`},
		"no server_flag":  {func(r map[string]any) { r["server_flag"] = false }, `FAIL .*server_flag is false: istiod-tls and istio-csr's serving certificate are then no server certificates`},
		"no client_flag":  {func(r map[string]any) { r["client_flag"] = false }, `FAIL .*client_flag is false: workload certificates are then no client certificates`},
		"no use_csr_sans": {func(r map[string]any) { r["use_csr_sans"] = false }, `FAIL .*use_csr_sans is false: Vault then drops the CSR's SPIFFE URI SAN`},
		"no such issuer":  {func(r map[string]any) { r["issuer_ref"] = "gone" }, `FAIL .*issuer_ref is "gone", which is no issuer of mount istioca .*Vault answers 500 at every sign`},
	} {
		t.Run(name, func(t *testing.T) {
			role := goodRole()
			tc.change(role)
			c := fakeVaultData(t, map[string]map[string]any{
				"istioca/roles/istio-c1": role,
				"istioca/cert/ca_chain":  {"ca_chain": root.certPEM},
				"istioca/issuer/mesh":    {"issuer_name": "mesh"},
			})
			out := runReport(t, c, csrConfig)
			matches(t, out, tc.want, `PASS +chain of istioca: is a root`)
			if name != "good" {
				noMatch(t, out, `PASS +PKI role`)
			}
		})
	}
}

// A role whose issuer_ref names an issuer the mount has passes, and a
// not_after set is a warning, not a failure.
func TestCSRRoleIssuerAndNotAfter(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	role := goodRole()
	role["issuer_ref"], role["not_after"] = "mesh", "2030-01-01T00:00:00Z"
	c := fakeVaultData(t, map[string]map[string]any{
		"istioca/roles/istio-c1": role, "istioca/cert/ca_chain": {"ca_chain": root.certPEM},
		"istioca/issuer/mesh": {"issuer_name": "mesh"},
	})
	out := runReport(t, c, csrConfig)
	matches(t, out, `PASS +PKI role istioca/roles/istio-c1: read:`, `WARN +PKI role istioca/roles/istio-c1: not_after is 2030-01-01T00:00:00Z: every certificate ends then`)
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
		"any sa":       {func(r map[string]any) { r["bound_service_account_names"] = []any{"*"} }, `FAIL .*bound_service_account_names is \*: the wildcard "\*" lets service accounts other than the issuer's log in`},
		"any ns":       {func(r map[string]any) { r["bound_service_account_namespaces"] = "*" }, `FAIL .*bound_service_account_namespaces is \*: the wildcard "\*"`},
		"root too":     {func(r map[string]any) { r["token_policies"] = []any{"istio-csr-sign-c1", "root"} }, `FAIL .*token_policies has root beside istio-csr-sign-c1: the issuer's token gets more`},
	} {
		t.Run(name, func(t *testing.T) {
			auth := goodAuthRole()
			tc.change(auth)
			c := fakeVaultData(t, map[string]map[string]any{
				"istioca/roles/istio-c1": goodRole(), "istioca/cert/ca_chain": {"ca_chain": root.certPEM},
				"auth/kubernetes/role/istio-csr": auth, "sys/policy/istio-csr-sign-c1": goodPolicy(t),
			})
			out := runReport(t, c, csrConfig)
			matches(t, out, tc.want, `PASS +policy istio-csr-sign-c1: is exactly what istio-vault-ca policy prints`)
			if name != "good" && name != "server aud" {
				noMatch(t, out, `PASS +role auth`)
			}
		})
	}
}

// The issuer's policy as policy prints it, as sys/policy reads it back.
func goodPolicy(t *testing.T) map[string]any {
	cfg, plans := plansOf(t, csrConfig)
	set := policy.For(cfg, plans...)
	return map[string]any{"name": set.Policies[0].Name, "rules": set.HCL(set.Policies[0])}
}

// The issuer's policy in Vault must be exactly update on the sign path: one
// that lacks it, or grants more, is named; one that may not be read is said
// to be unchecked.
func TestCSRPolicy(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	sign := "path \"istioca/sign/istio-c1\" {\n  capabilities = [\"update\"]\n}\n"
	for name, tc := range map[string]struct {
		rules any // nil: no policy; false: not readable
		want  string
	}{
		"as printed":  {"", `PASS +policy istio-csr-sign-c1: is exactly what istio-vault-ca policy prints \(update on istioca/sign/istio-c1\)`},
		"reformatted": {"# by hand\n" + sign, `PASS +policy istio-csr-sign-c1: is exactly`},
		"read only":   {strings.Replace(sign, "update", "read", 1), `FAIL +policy istio-csr-sign-c1: its rules are not what istio-vault-ca policy prints .*: the capabilities differ`},
		"no sign":     {"path \"istioca/issue/istio-c1\" {\n  capabilities = [\"update\"]\n}\n", `FAIL +policy .*grants paths istioca/issue/istio-c1 beside the sign path; has no rule for istioca/sign/istio-c1`},
		"whole mount": {sign + "path \"istioca/*\" {\n  capabilities = [\"create\", \"update\", \"delete\", \"sudo\"]\n}\n", `FAIL +policy .*grants paths istioca/\* beside the sign path`},
		"absent":      {nil, `FAIL +policy istio-csr-sign-c1: Vault has no policy istio-csr-sign-c1`},
		"unreadable":  {false, `WARN +policy istio-csr-sign-c1: could not be checked: permission denied: VAULT_TOKEN may not read sys/policy/istio-csr-sign-c1`},
	} {
		t.Run(name, func(t *testing.T) {
			data := map[string]map[string]any{
				"istioca/roles/istio-c1": goodRole(), "istioca/cert/ca_chain": {"ca_chain": root.certPEM},
				"auth/kubernetes/role/istio-csr": goodAuthRole(),
			}
			switch r := tc.rules.(type) {
			case string:
				if r == "" {
					data["sys/policy/istio-csr-sign-c1"] = goodPolicy(t)
				} else {
					data["sys/policy/istio-csr-sign-c1"] = map[string]any{"rules": r}
				}
			}
			if tc.rules == false {
				data["sys/policy/istio-csr-sign-c1"] = map[string]any{deniedKey: true}
			}
			out := runReport(t, fakeVaultData(t, data), csrConfig)
			matches(t, out, tc.want)
			if !strings.Contains(name, "as printed") && name != "reformatted" {
				noMatch(t, out, `PASS +policy`)
			}
		})
	}
}
