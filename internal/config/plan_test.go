package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// The checks on a gateway's certificate names stand for the plan wiring
// builds from them: a config is refused exactly when its plan would have a
// defect. The defects, read from the plan's annotations:
//   - a name part (after the /) longer than Kubernetes' 63 characters;
//   - a file written twice;
//   - a secret the injector finds that is not a file of the plan. vault-k8s
//     (v1.6.2, agent.secrets) makes a secret of every annotation named
//     agent-inject-secret-<x>, agent-inject-template-file-<x> or
//     agent-inject-template-<x>, trying the prefixes in that order.
//
// It also holds Certificate.FileNames to the files wiring renders.
func TestGatewayNameChecksMatchThePlan(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name, certs string
		refused     bool
	}{
		{"plain", "    - {name: shop, kv: {path: secret/shop, caField: ca.crt}}\n    - {name: api, pki: {mount: pki, role: gw, commonName: api.example.com}}\n", false},
		{"no caField, no collision", "    - {name: shop, kv: {path: secret/shop}}\n    - {name: shop-ca, kv: {path: secret/shopca}}\n", false},
		{"file inside a name", "    - {name: profile, kv: {path: secret/shop}}\n    - {name: a-file-b, kv: {path: secret/b}}\n", false},
		{"longest with caField", "    - {name: " + long(34) + ", kv: {path: secret/shop, caField: ca.crt}}\n", false},
		{"longest kv", "    - {name: " + long(37) + ", kv: {path: secret/shop}}\n", false},
		{"longest pki", "    - {name: " + long(37) + ", pki: {mount: pki, role: gw, commonName: x.example.com}}\n", false},
		{"collision", "    - {name: shop, kv: {path: secret/shop, caField: ca.crt}}\n    - {name: shop-ca, kv: {path: secret/shopca}}\n", true},
		{"file- prefix", "    - {name: file-shop, kv: {path: secret/shop}}\n", true},
		{"file- prefix, pki", "    - {name: file-api, pki: {mount: pki, role: gw, commonName: x.example.com}}\n", true},
		{"one too long with caField", "    - {name: " + long(35) + ", kv: {path: secret/shop, caField: ca.crt}}\n", true},
		{"one too long", "    - {name: " + long(38) + ", kv: {path: secret/shop}}\n", true},
		{"one too long, pki", "    - {name: " + long(38) + ", pki: {mount: pki, role: gw, commonName: x.example.com}}\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n  vault: {role: istiod}\n  source: {kv: {path: secret/istiod}}\n"+
				"  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    certificates:\n"+tc.certs), "c.yaml")
			if (err != nil) != tc.refused {
				t.Fatalf("refused=%v, want %v: %v", err != nil, tc.refused, err)
			}
			// Load returns the config it checked, also when it refuses it.
			plan, perr := wiring.ForGateway(cfg, 0)
			if perr != nil {
				t.Fatal(perr)
			}
			var want []string
			for _, c := range cfg.Spec.Gateways[0].Certificates {
				want = append(want, c.FileNames()...)
			}
			var got []string
			for _, f := range plan.Files {
				got = append(got, f.Name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("wiring renders %v, Certificate.FileNames says %v", got, want)
			}
			if defects := planDefects(plan); (len(defects) > 0) != tc.refused {
				t.Errorf("refused=%v, but the plan's defects are %q", tc.refused, defects)
			}
		})
	}
}

// planDefects reads a plan's annotations as the API server and the
// injector do.
func planDefects(p *wiring.Plan) []string {
	var defects []string
	files := map[string]bool{}
	for _, f := range p.Files {
		if files[f.Name] {
			defects = append(defects, "file written twice: "+f.Name)
		}
		files[f.Name] = true
	}
	for _, a := range p.Annotations {
		name := strings.TrimPrefix(a.Name, wiring.Prefix)
		if len(name) > 63 {
			defects = append(defects, "annotation name too long: "+name)
		}
		for _, prefix := range []string{"agent-inject-secret-", "agent-inject-template-file-", "agent-inject-template-"} {
			if secret, ok := strings.CutPrefix(name, prefix); ok {
				if !files[secret] {
					defects = append(defects, "phantom secret "+secret+" from "+name)
				}
				break
			}
		}
	}
	return defects
}
