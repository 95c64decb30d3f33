package config_test

import (
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// A config sets exactly one source for istiod and for each certificate;
// the messages name the sources by their fields, as they did when each
// check was written out by hand.
func TestExactlyOneSource(t *testing.T) {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n  vault: {role: istiod}\n"
	const gw = "  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    certificates:\n"
	kv := "  source: {kv: {path: secret/istiod}}\n"
	for name, tc := range map[string]struct{ spec, want string }{
		"no source":        {"", "c.yaml:3: `spec.source` must set one layout: `kv`, `pki` or `mint`"},
		"two sources":      {"  source: {kv: {path: secret/istiod}, pki: {mount: pki_int, rootMount: pki, key: {path: secret/k}}}\n", "c.yaml:5: `spec.source` sets both `kv` and `pki`: choose one layout"},
		"no certificate":   {kv + gw + "    - {name: shop}\n", "c.yaml:10: `spec.gateways[0].certificates[0]` must set `kv` or `pki`"},
		"two certificates": {kv + gw + "    - {name: shop, kv: {path: secret/shop}, pki: {mount: pki, role: gw, commonName: x.example.com}}\n", "c.yaml:10: `spec.gateways[0].certificates[0]` sets both `kv` and `pki`: choose one"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load([]byte(head+tc.spec), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
