package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// A gateway with nothing but a selector and a certificate: its role,
// policy and service accounts are the defaults.
const leastPrivilegeConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cluster1}
spec:
  cluster: cluster1
  vault: {role: istiod}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: bookinfo
      kv: {version: 2, path: "secret/gateways/{{ .Cluster }}/bookinfo"}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`

// TestLeastPrivilege applies what `policy --output commands` prints with
// the real vault CLI, then logs in as each workload would: a token the
// gateway pod can obtain is denied istiod's CA key, and istiod's token the
// gateway's key. Before per-role policies, one policy held both.
func TestLeastPrivilege(t *testing.T) {
	e := newEnv(t)
	v := e.vault.client
	l := layout{name: "least-privilege", config: leastPrivilegeConfig, seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "istio/cacerts", map[string]any{"ca_key": "istiod-ca-key"})
		kvPut(t, v, 2, "secret", "gateways/cluster1/bookinfo", map[string]any{"tls.key": "gateway-key"})
	}}
	_, authPath := e.setup(t, l)
	gwJWT := e.k8s.token(t, gatewaySA)

	login := func(t *testing.T, role, jwt string) *api.Client {
		t.Helper()
		s, err := v.Logical().Write(authPath+"/login", map[string]any{"role": role, "jwt": jwt})
		if err != nil {
			t.Fatalf("login as role %s: %v", role, err)
		}
		c, err := v.Clone()
		must(t, err)
		c.SetToken(s.Auth.ClientToken)
		return c
	}
	canRead := func(c *api.Client, path string) bool {
		s, err := c.Logical().Read(path)
		return err == nil && s != nil
	}
	const istiodPath, gatewayPath = "secret/data/istio/cacerts", "secret/data/gateways/cluster1/bookinfo"

	gateway := login(t, "istio-ingressgateway", gwJWT)
	if canRead(gateway, istiodPath) {
		t.Error("a token logged in through the gateway's role reads istiod's CA key")
	}
	if !canRead(gateway, gatewayPath) {
		t.Error("the gateway's token cannot read the gateway's own key")
	}
	istiod := login(t, "istiod", e.jwt)
	if canRead(istiod, gatewayPath) {
		t.Error("istiod's token reads the gateway's key")
	}
	if !canRead(istiod, istiodPath) {
		t.Error("istiod's token cannot read istiod's CA")
	}
	if _, err := v.Logical().Write(authPath+"/login", map[string]any{"role": "istiod", "jwt": gwJWT}); err == nil {
		t.Error("the gateway's service account logs in through istiod's role")
	}
	// The legacy charts' and istioctl's name for the gateway's account.
	legacy := e.k8s.token(t, serviceAccount{Namespace: "istio-system", Name: "istio-ingressgateway-service-account"})
	if !canRead(login(t, "istio-ingressgateway", legacy), gatewayPath) {
		t.Error("the legacy gateway's service account cannot read the gateway's key")
	}
}

// TestPolicyPipesIntoVaultCLI runs the README's two pipes with the real
// vault CLI: the policy into `vault policy write`, the role body into
// `vault write <role path> -`.
func TestPolicyPipesIntoVaultCLI(t *testing.T) {
	e := newEnv(t)
	cfgFile := writeTestConfig(t, leastPrivilegeConfig)
	must(t, e.vault.client.Sys().EnableAuthWithOptions("kubernetes", &api.EnableAuthOptions{Type: "kubernetes"}))
	for _, pipe := range []string{
		"istio-vault-ca policy --config " + cfgFile + " | vault policy write istiod-ca-cluster1 -",
		"istio-vault-ca policy --config " + cfgFile + " --output role | vault write auth/kubernetes/role/istiod -",
		"istio-vault-ca policy --config " + cfgFile + " --role istio-ingressgateway | vault policy write istio-ingressgateway-certs-cluster1 -",
		"istio-vault-ca policy --config " + cfgFile + " --role istio-ingressgateway --output role | vault write auth/kubernetes/role/istio-ingressgateway -",
	} {
		if out, err := e.vaultCLI(t, "bash", "-c", "set -e -o pipefail; "+pipe); err != nil {
			t.Fatalf("%s: %v\n%s", pipe, err, out)
		}
	}
	role, err := e.vault.client.Logical().Read("auth/kubernetes/role/istiod")
	must(t, err)
	if got := toString(role.Data["bound_service_account_names"]); got != "istiod" {
		t.Errorf("istiod's role binds %v", got)
	}
	policy, err := e.vault.client.Sys().GetPolicy("istio-ingressgateway-certs-cluster1")
	must(t, err)
	if strings.Contains(policy, "istio/cacerts") || !strings.Contains(policy, "gateways/cluster1/bookinfo") {
		t.Errorf("the gateway's policy:\n%s", policy)
	}
}

func toString(v any) string {
	if s, ok := v.([]any); ok {
		var parts []string
		for _, x := range s {
			parts = append(parts, x.(string))
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// TestRoleAudienceAndPeriod applies a config with spec.vault.audience and
// tokenPeriod through the policy script and logs in with the real Vault: a
// token of that audience logs in and gets a periodic token; a role asking
// for another audience refuses the same token.
func TestRoleAudienceAndPeriod(t *testing.T) {
	for _, tc := range []struct {
		audience string
		login    bool
	}{
		{tokenAudience, true},
		{"https://other.example.com", false},
	} {
		t.Run(tc.audience, func(t *testing.T) {
			e := newEnv(t)
			cfg := strings.Replace(leastPrivilegeConfig, "vault: {role: istiod}",
				`vault: {role: istiod, audience: "`+tc.audience+`", tokenPeriod: 600s}`, 1)
			_, authPath := e.setup(t, layout{name: "audience", config: cfg, seed: func(t *testing.T, v *api.Client) {}})
			s, err := e.vault.client.Logical().Write(authPath+"/login", map[string]any{"role": "istiod", "jwt": e.jwt})
			if !tc.login {
				if err == nil {
					t.Fatal("a token of another audience logged in")
				}
				cfgFile := writeTestConfig(t, cfg)
				if out, code := e.verify(t, cfgFile); code != 1 || !strings.Contains(out, "the token's audience is not the one role istiod requires") {
					t.Errorf("verify on an audience mismatch: exit %d:\n%s", code, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			c, err := e.vault.client.Clone()
			must(t, err)
			c.SetToken(s.Auth.ClientToken)
			self, err := c.Auth().Token().LookupSelf()
			must(t, err)
			if p, _ := self.Data["period"].(json.Number); p.String() != "600" {
				t.Errorf("the token's period is %v, want 600", self.Data["period"])
			}
		})
	}
}
