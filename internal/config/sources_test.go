package config_test

import (
	"strings"
	"testing"
	"time"

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
		"no source":        {"", "c.yaml:3: `spec.source` must set one layout: `kv`, `pki`, `istioCSR` or `mint`"},
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

// The istioCSR source loads as issue 19 writes it, with its defaults, and
// refuses what would fail later, naming the field.
func TestIstioCSRSource(t *testing.T) {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nmetadata: {name: cluster1}\nspec:\n  cluster: cluster1\n"
	const vault = "  vault: {address: https://vault.example.com:8200, role: istio-csr, authPath: auth/kubernetes-cluster1}\n"
	const source = "  source:\n    istioCSR:\n      pki: {mount: istioca, role: \"istio-{{ .Cluster }}\"}   # Vault signs at istioca/sign/istio-cluster1\n      trustDomain: cluster.local\n"
	cfg, err := config.Load([]byte(head+vault+source), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Spec.Source.IstioCSR
	got := []string{c.PKI.Mount, c.PKI.Role, c.PKI.MaxTTL, c.TrustDomain, c.Address, c.Issuer.Name, c.Issuer.Namespace, c.Issuer.Kind, c.Issuer.ServiceAccount,
		c.CertManager.Name, c.CertManager.Namespace, cfg.Spec.Vault.Policy}
	want := []string{"istioca", "istio-cluster1", "24h", "cluster.local", "cert-manager-istio-csr.cert-manager.svc:443", "istio-ca", "istio-system", "Issuer", "istio-ca-vault",
		"cert-manager", "cert-manager", "istio-csr-sign-cluster1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("loaded\n%v\nwant\n%v", got, want)
	}
	for name, tc := range map[string]struct{ spec, want string }{
		"no address":      {"  vault: {role: istio-csr}\n" + source, "`spec.vault.address` must be set with spec.source.istioCSR"},
		"no role":         {"  vault: {address: https://v:8200}\n" + source, "`spec.vault.role` must be set: the Vault Kubernetes-auth role cert-manager's issuer logs in with"},
		"no mount":        {vault + "  source: {istioCSR: {pki: {role: r}}}\n", "`spec.source.istioCSR.pki.mount` must be set"},
		"bad kind":        {vault + "  source: {istioCSR: {pki: {mount: m, role: r}, issuer: {kind: Venafi}}}\n", "`spec.source.istioCSR.issuer.kind` must be \"Issuer\" or \"ClusterIssuer\""},
		"bad address":     {vault + "  source: {istioCSR: {pki: {mount: m, role: r}, address: \"https://csr:443\"}}\n", "`spec.source.istioCSR.address` must be istio-csr's host:port"},
		"bad domain":      {vault + "  source: {istioCSR: {pki: {mount: m, role: r}, trustDomain: \"spiffe://x\"}}\n", "`spec.source.istioCSR.trustDomain` must be a trust domain"},
		"short ttl":       {vault + "  source: {istioCSR: {pki: {mount: m, role: r, maxTTL: 10m}}}\n", "`spec.source.istioCSR.pki.maxTTL` must be whole seconds of at least 1h"},
		"root is mount":   {vault + "  source: {istioCSR: {pki: {mount: m, role: r, rootMount: m}}}\n", "`spec.source.istioCSR.pki.rootMount` is the signing mount itself"},
		"with gateways":   {vault + "  source: {istioCSR: {pki: {mount: m, role: r}}}\n  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    certificates: [{name: a, kv: {path: secret/a}}]\n", "`spec.gateways` is not used with spec.source.istioCSR"},
		"with kv":         {vault + "  source: {kv: {path: secret/x}, istioCSR: {pki: {mount: m, role: r}}}\n", "`spec.source` sets both `kv` and `istioCSR`"},
		"cert-manager sa": {vault + "  source: {istioCSR: {pki: {mount: m, role: r}, certManager: {name: Cert_Manager}}}\n", "`spec.source.istioCSR.certManager.name` must be a Kubernetes name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load([]byte(head+tc.spec), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	// A ClusterIssuer's service account lives in cert-manager's namespace.
	cfg, err = config.Load([]byte(head+vault+"  source: {istioCSR: {pki: {mount: m, role: r}, issuer: {kind: ClusterIssuer}}}\n"), "c.yaml")
	if err != nil || cfg.Spec.Source.IstioCSR.Issuer.Namespace != "cert-manager" {
		t.Errorf("ClusterIssuer: %v, namespace %q, want cert-manager", err, cfg.Spec.Source.IstioCSR.Issuer.Namespace)
	}
}

// A minted intermediate's defaults: the root mount is caPath's first
// segment, the key RSA 2048 (EC 256), and a rotating agent mints the next
// one after 2/3 of the ttl; the example loads as written.
func TestMintDefaults(t *testing.T) {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nmetadata: {name: cluster1}\nspec:\n  cluster: cluster1\n"
	for name, tc := range map[string]struct {
		spec                       string
		rootMount, keyType, render string
		keyBits                    int
	}{
		"seed 003": {`  vault: {role: "gen-int-ca-istio-{{ .Cluster }}-mesh", authPath: "auth/kube-{{ .Cluster }}-mesh-auth"}
  source:
    mint:
      csrPath: "pki_int_{{ .Cluster }}/intermediate/generate/exported"
      caPath: pki/root/sign-intermediate
      commonName: "Istio intermediate {{ .Cluster }}"
      ttl: 720h
`, "pki", "rsa", "", 2048},
		"rotation, ec": {"  vault: {role: istiod, tokenPeriod: 1h}\n  rotation: true\n  source: {mint: {csrPath: int/intermediate/generate/exported, caPath: 'root_{{ .Cluster }}/issuer/default/sign-intermediate', commonName: x, ttl: 90m, keyType: ec}}\n",
			"root_cluster1", "ec", "1h", 256},
		"rotation, seconds": {"  vault: {role: istiod, tokenPeriod: 1h}\n  rotation: true\n  source: {mint: {csrPath: int/intermediate/generate/exported, caPath: top/root/sign-intermediate, rootMount: top, commonName: x, ttl: 100s}}\n",
			"top", "rsa", "66s", 2048},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load([]byte(head+tc.spec), "c.yaml")
			if err != nil {
				t.Fatal(err)
			}
			m := cfg.Spec.Source.Mint
			if m.RootMount != tc.rootMount || m.KeyType != tc.keyType || m.KeyBits != tc.keyBits || cfg.Spec.Agent.StaticSecretRenderInterval != tc.render {
				t.Errorf("rootMount %q keyType %q keyBits %d render interval %q, want %q %q %d %q",
					m.RootMount, m.KeyType, m.KeyBits, cfg.Spec.Agent.StaticSecretRenderInterval, tc.rootMount, tc.keyType, tc.keyBits, tc.render)
			}
		})
	}
}

// The mint paths are exactly the forms that mint an intermediate from a
// root: not a root generate (a self-signed root for istiod's token), not
// the root's own mount, not a rootMount other than caPath's (root-cert.pem
// would be a root the chain does not end at); a common name Vault refuses
// and a C1 control character are refused at load.
func TestMintRefuses(t *testing.T) {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nmetadata: {name: c}\nspec:\n  vault: {role: istiod}\n  source: {mint: {"
	for name, tc := range map[string]struct{ mint, want string }{
		"root generate":     {"csrPath: pki_int/root/generate/exported, caPath: pki/root/sign-intermediate, commonName: x, ttl: 720h", "`spec.source.mint.csrPath` must be <mount>/intermediate/generate/exported"},
		"internal generate": {"csrPath: pki_int/intermediate/generate/internal, caPath: pki/root/sign-intermediate, commonName: x, ttl: 720h", "`spec.source.mint.csrPath` must be"},
		"no mount":          {"csrPath: intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: x, ttl: 720h", "`spec.source.mint.csrPath` must be"},
		"sign-verbatim":     {"csrPath: pki_int/intermediate/generate/exported, caPath: pki/sign-intermediate, commonName: x, ttl: 720h", "`spec.source.mint.caPath` must be <rootMount>/root/sign-intermediate"},
		"issuer no ref":     {"csrPath: pki_int/intermediate/generate/exported, caPath: pki/issuer/sign-intermediate, commonName: x, ttl: 720h", "`spec.source.mint.caPath` must be"},
		"other rootMount":   {"csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, rootMount: other, commonName: x, ttl: 720h", "`spec.source.mint.rootMount` is \"other\", not caPath's mount \"pki\""},
		"same mount":        {"csrPath: pki/intermediate/generate/exported, caPath: pki/issuer/default/sign-intermediate, commonName: x, ttl: 720h", "`spec.source.mint.csrPath` is on the root's mount pki"},
		"long name":         {"csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: " + strings.Repeat("n", 65) + ", ttl: 720h", "`spec.source.mint.commonName` is 65 characters"},
		"C1 control":        {"csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: \"a\\u0085b\", ttl: 720h", "control character"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load([]byte(head+tc.mint+"}}\n"), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	if _, err := config.Load([]byte(head+"csrPath: pki_int/issuers/generate/intermediate/exported, caPath: a/pki/issuer/r1/sign-intermediate, commonName: "+strings.Repeat("n", 64)+", ttl: 720h}}\n"), "c.yaml"); err != nil {
		t.Errorf("the issuers form, a nested mount and a 64-character name: %v", err)
	}
}

// A ttl shorter than Istio's 24h workload certificates warns: istiod cuts
// each at the intermediate's expiry. 24h itself loads quietly.
func TestMintShortTTLWarns(t *testing.T) {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nmetadata: {name: c}\nspec:\n  vault: {role: istiod}\n  source: {mint: {csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: x, ttl: "
	for ttl, want := range map[string]string{"12h": "`spec.source.mint.ttl` is 12h, shorter than 24h", "24h": "", "720h": ""} {
		cfg, err := config.Load([]byte(head+ttl+"}}\n"), "c.yaml")
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if ws := cfg.Warnings(); len(ws) > 0 {
			got = ws.Error()
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ttl %s: warnings %q, want %q", ttl, got, want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{480 * time.Hour: "480h", 90 * time.Minute: "90m", 66*time.Second + 600*time.Millisecond: "66s", time.Hour + time.Second: "3601s"} {
		if got := config.ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
