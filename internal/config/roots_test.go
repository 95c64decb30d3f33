package config_test

import (
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// An extra root is published to every namespace: the config refuses one
// that reads a private key or Vault's own mounts, and a rootRotation the
// istioCSR mode would silently ignore, each naming the field and line.
func TestRootRotationRefusals(t *testing.T) {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n  vault: {role: istiod, address: https://vault.example.com:8200}\n"
	const kv = "  source: {kv: {version: 2, path: secret/istio/ca}}\n"
	const pki = "  source: {pki: {mount: pki_int, rootMount: pki, key: {path: secret/istio/key}}}\n"
	const csr = "  source: {istioCSR: {pki: {mount: istioca, role: istio}}}\n"
	rr := func(roots string) string { return "  rootRotation:\n    extraRoots:\n    - " + roots + "\n" }
	for name, tc := range map[string]struct{ spec, want string }{
		"istioCSR":              {csr + rr("pki: {mount: pki_next}"), "c.yaml:6: `spec.rootRotation` is not used with spec.source.istioCSR: istiod holds no root file in the istioCSR mode; roots are istio-csr's (its rootCAFile"},
		"source's own key":      {kv + rr("kv: {version: 2, path: secret/istio/ca, field: ca_key}"), "c.yaml:8: `spec.rootRotation.extraRoots[0].kv.field` \"ca_key\" of secret/istio/ca is spec.source.kv.fields.caKey"},
		"source's renamed key":  {"  source: {kv: {path: secret/istio/ca, fields: {caKey: k}}}\n" + rr("kv: {path: /secret/istio/ca/, field: k}"), "`spec.rootRotation.extraRoots[0].kv.field` \"k\" of /secret/istio/ca/ is spec.source.kv.fields.caKey"},
		"pki source's key":      {pki + rr("kv: {version: 1, path: secret/istio/key, field: ca-key.pem}"), "`spec.rootRotation.extraRoots[0].kv.field` \"ca-key.pem\" of secret/istio/key is spec.source.pki.key"},
		"a key-named field":     {kv + rr("kv: {path: secret/other, field: tls.key}"), "`spec.rootRotation.extraRoots[0].kv.field` \"tls.key\" is a private key's field name"},
		"vault's generated key": {kv + rr("kv: {path: secret/other, field: private_key}"), "\"private_key\" is a private key's field name"},
		"pki sys":               {kv + rr("pki: {mount: sys}"), "c.yaml:8: `spec.rootRotation.extraRoots[0].pki.mount` \"sys\" is Vault's own mount"},
		"pki cubbyhole":         {kv + rr("pki: {mount: cubbyhole/x}"), "\"cubbyhole/x\" is Vault's own mount"},
		"kv identity":           {kv + rr("kv: {path: identity/entity, field: root_cert}"), "`spec.rootRotation.extraRoots[0].kv.path` is under Vault's own mount \"identity\""},
		"next is istioCSR":      {kv + "  rootRotation:\n    next: {istioCSR: {pki: {mount: m, role: r}}}\n", "c.yaml:7: `spec.rootRotation.next.istioCSR` is not a CA rotate-plan can rotate to"},
		"next is checked":       {kv + "  rootRotation:\n    next: {kv: {version: 3, path: secret/next}}\n", "c.yaml:7: `spec.rootRotation.next.kv.version` must be 1 or 2, got 3"},
		"next sets two":         {kv + "  rootRotation:\n    next: {kv: {path: secret/next}, pki: {mount: a, rootMount: b, key: {path: secret/k}}}\n", "`spec.rootRotation.next` sets both `kv` and `pki`: choose one layout"},
		"next's renamed key":    {kv + "  rootRotation:\n    next: {kv: {path: secret/next, fields: {caKey: nk}}}\n    extraRoots:\n    - kv: {path: secret/next, field: nk}\n", "`spec.rootRotation.extraRoots[0].kv.field` \"nk\" is a private key's field name"},
		"kv auth by mount":      {kv + rr("kv: {mount: auth, path: auth/x, field: root_cert}"), "is under Vault's own mount \"auth\""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load([]byte(head+tc.spec), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	// What stays accepted: a root from the source's own secret (its root
	// field) and from another mount.
	for _, ok := range []string{
		kv + rr("kv: {version: 2, path: secret/istio/ca, field: root_cert}"),
		kv + rr("pki: {mount: pki_next}"),
		pki + rr("kv: {version: 1, path: secret/istio/key, field: root_cert}"),
		kv + "  rootRotation:\n    next: {pki: {mount: pki_int_2026, rootMount: pki_2026, key: {path: secret/k}}}\n",
	} {
		if _, err := config.Load([]byte(head+ok), "c.yaml"); err != nil {
			t.Errorf("refused %q: %v", ok, err)
		}
	}
}
