package config

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
)

// The values written in defaults.yaml are the values Default applies.
func TestDefaultsYAMLMatchesDefault(t *testing.T) {
	var documented VaultCA
	if err := sigsyaml.UnmarshalStrict(DefaultsYAML, &documented); err != nil {
		t.Fatalf("defaults.yaml does not decode strictly: %v", err)
	}
	applied := VaultCA{APIVersion: APIVersion, Kind: Kind}
	applied.Default()
	if !reflect.DeepEqual(documented.Spec, applied.Spec) {
		t.Errorf("defaults.yaml says\n%+v\nDefault applies\n%+v", documented.Spec, applied.Spec)
	}
}

// The defaults only written as comments (they depend on the chosen source or
// layout) are checked against the code line by line.
func TestDefaultsYAMLCommentsMatchCode(t *testing.T) {
	text := string(DefaultsYAML)
	istio, tls := DefaultFields(LayoutIstio), DefaultFields(LayoutKubernetesTLS)
	for _, want := range []string{
		"version: " + strconv.Itoa(DefaultKVVersion),
		"caKey: " + istio.CAKey, "#   kubernetes-tls: " + tls.CAKey,
		"caCert: " + istio.CACert, "#   kubernetes-tls: " + tls.CACert,
		"certChain: " + istio.CertChain,
		"rootCert: " + istio.RootCert, "#   kubernetes-tls: " + tls.RootCert,
		"version: " + strconv.Itoa(DefaultPKIKeyKVVersion),
		"field: " + DefaultPKIKeyField,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("defaults.yaml does not document %q", want)
		}
	}
}

func TestLoadReportsAllErrorsWithLines(t *testing.T) {
	_, err := Load([]byte(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
spec:
  vault:
    authPath: kubernetes
  source: {}
`), "c.yaml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %T %v", err, err)
	}
	got := err.Error()
	for _, want := range []string{
		"c.yaml:4: `spec.vault.role` must be set",
		"c.yaml:5: `spec.vault.authPath` must start with auth/",
		"c.yaml:6: `spec.source` must set one layout",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestUnknownFieldsEverywhere(t *testing.T) {
	_, err := Load([]byte(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadta: {}
spec:
  vault: {role: r}
  source:
    pki:
      mount: m
      rootMount: r
      key: {path: p, feild: x}
`), "c.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile("c.yaml:3: `metadta` is not a known field"),
		regexp.MustCompile("c.yaml:10: `spec.source.pki.key.feild` is not a known field .*field, mount, path, version"),
	} {
		if !want.MatchString(err.Error()) {
			t.Errorf("no match for %s in:\n%v", want, err)
		}
	}
}

func TestExpandCluster(t *testing.T) {
	cfg, err := Load([]byte(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
spec:
  cluster: East-1
  vault: {role: "istiod-{{ .Cluster | lower }}", authPath: "auth/kubernetes-{{ .Cluster }}"}
  source:
    kv: {path: "kubernetes-{{ .Cluster }}-secrets/istiod-service/certs"}
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Spec
	if s.Vault.Role != "istiod-east-1" || s.Vault.AuthPath != "auth/kubernetes-East-1" || s.Source.KV.Path != "kubernetes-East-1-secrets/istiod-service/certs" {
		t.Errorf("not expanded: %+v %+v", s.Vault, s.Source.KV)
	}
}

func TestExpandIsHermetic(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "s.secret")
	_, err := Load([]byte(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
spec:
  vault: {role: r}
  source:
    kv: {path: "kv/{{ env \"VAULT_TOKEN\" }}"}
`), "c.yaml")
	if err == nil || strings.Contains(err.Error(), "s.secret") {
		t.Errorf("env must not be readable from a config template: %v", err)
	}
}

// The key is read by istiod and replaced, never written, by the agent: only
// read bits, for the owner or the owner and its group.
func TestKeyPerms(t *testing.T) {
	for perms, ok := range map[string]bool{"0400": true, "0440": true, "400": true, "440": true,
		"0600": false, "0640": false, "0770": false, "0070": false, "0500": false, "0000": false, "0040": false,
		"0444": false, "0644": false, "0401": false, "abc": false, "04000": false} {
		c := VaultCA{APIVersion: APIVersion, Kind: Kind, Spec: Spec{Vault: Vault{Role: "r"}, Agent: Agent{KeyPerms: perms}, Source: Source{KV: &KV{KVSecret: KVSecret{Path: "a/b"}}}}}
		c.Default()
		errs := c.Validate()
		if (len(errs) == 0) != ok {
			t.Errorf("keyPerms %q: errors %v, want ok=%v", perms, errs, ok)
		}
	}
}

func TestSingleDocument(t *testing.T) {
	_, err := Load([]byte("apiVersion: a\n---\napiVersion: b\n"), "c.yaml")
	if err == nil || !strings.Contains(err.Error(), "exactly one VaultCA document, found 2") {
		t.Errorf("got %v", err)
	}
}

// loadSpec loads a VaultCA whose spec is the given YAML, indented under spec:.
func loadSpec(t *testing.T, spec string) error {
	t.Helper()
	_, err := Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n"+spec), "c.yaml")
	return err
}

// A * or + that reaches a policy path is a Vault wildcard: path "secret/*"
// gave `path "secret/data/*" {read}`, which reads every secret of the mount.
// Refused wherever a value becomes a path, mount, role or policy name, also
// when only {{ .Cluster }} puts it there; and a gateway's role binds
// accounts and namespaces by DNS label, as istiod's does, never by glob.
func TestWildcardsRefused(t *testing.T) {
	gw := func(extra string) string {
		return "  vault: {role: istiod}\n  source: {kv: {path: secret/istiod}}\n  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n" + extra
	}
	for _, tc := range []struct{ field, spec string }{
		{"spec.source.kv.path", "  vault: {role: istiod}\n  source: {kv: {version: 2, path: \"secret/*\"}}\n"},
		{"spec.source.kv.path", "  vault: {role: istiod}\n  source: {kv: {path: \"secret/+/ca\"}}\n"},
		{"spec.source.kv.path", "  cluster: \"*\"\n  vault: {role: istiod}\n  source: {kv: {path: \"secret/{{ .Cluster }}\"}}\n"},
		{"spec.source.kv.mount", "  vault: {role: istiod}\n  source: {kv: {mount: \"se*\", path: \"se*/x\"}}\n"},
		{"spec.vault.role", "  vault: {role: \"istiod*\"}\n  source: {kv: {path: secret/istiod}}\n"},
		{"spec.vault.authPath", "  vault: {role: istiod, authPath: \"auth/*\"}\n  source: {kv: {path: secret/istiod}}\n"},
		{"spec.vault.policy", "  vault: {role: istiod, policy: \"istiod-*\"}\n  source: {kv: {path: secret/istiod}}\n"},
		{"spec.source.pki.mount", "  vault: {role: istiod}\n  source: {pki: {mount: \"pki*\", rootMount: pki, key: {path: kv/key}}}\n"},
		{"spec.source.pki.rootMount", "  vault: {role: istiod}\n  source: {pki: {mount: pki_int, rootMount: \"+\", key: {path: kv/key}}}\n"},
		{"spec.source.pki.key.path", "  vault: {role: istiod}\n  source: {pki: {mount: pki_int, rootMount: pki, key: {path: \"kv/*\"}}}\n"},
		{"spec.source.pki.key.mount", "  vault: {role: istiod}\n  source: {pki: {mount: pki_int, rootMount: pki, key: {mount: \"k+\", path: \"k+/key\"}}}\n"},
		{"spec.gateways[0].role", gw("    role: \"gw*\"\n    certificates: [{name: a, kv: {path: secret/a}}]\n")},
		{"spec.gateways[0].authPath", gw("    authPath: \"auth/+\"\n    certificates: [{name: a, kv: {path: secret/a}}]\n")},
		{"spec.gateways[0].certificates[0].kv.path", gw("    certificates: [{name: a, kv: {path: \"secret/*\"}}]\n")},
		{"spec.gateways[0].certificates[0].kv.mount", gw("    certificates: [{name: a, kv: {mount: \"s*\", path: \"s*/a\"}}]\n")},
		{"spec.gateways[0].certificates[0].pki.mount", gw("    certificates: [{name: a, pki: {mount: \"pki*\", role: gw, commonName: a.example.com}}]\n")},
		{"spec.gateways[0].certificates[0].pki.role", gw("    certificates: [{name: a, pki: {mount: pki, role: \"*\", commonName: a.example.com}}]\n")},
		{"spec.gateways[0].serviceAccounts[0]", gw("    serviceAccounts: [\"*\"]\n    certificates: [{name: a, kv: {path: secret/a}}]\n")},
		{"spec.gateways[0].namespaces[1]", gw("    namespaces: [istio-ingress, \"istio-*\"]\n    certificates: [{name: a, kv: {path: secret/a}}]\n")},
		{"spec.gateways[0].serviceAccounts[0]", gw("    serviceAccounts: [Ingress_GW]\n    certificates: [{name: a, kv: {path: secret/a}}]\n")},
	} {
		err := loadSpec(t, tc.spec)
		if err == nil || !strings.Contains(err.Error(), "`"+tc.field+"` ") {
			t.Errorf("%s: not refused:\n%s\ngot: %v", tc.field, tc.spec, err)
		}
	}
	// A wildcard certificate's name is not a path: it stays allowed.
	if err := loadSpec(t, gw("    certificates: [{name: a, pki: {mount: pki, role: gw, commonName: \"*.example.com\", altNames: [\"*.shop.example.com\"]}}]\n")); err != nil {
		t.Errorf("wildcard common name refused: %v", err)
	}
}

// An error inside a list names the item's line, not the line of spec.
func TestErrorsInListsHaveTheItemsLine(t *testing.T) {
	err := loadSpec(t, `  vault: {role: istiod}
  source: {kv: {path: secret/istiod}}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/certs
    namespaces:
    - istio-ingress
    - "istio-*"
    certificates:
    - name: a
      kv: {path: secret/a}
    - name: b
      kv: {path: "secret/*"}
`)
	for _, want := range []string{
		"c.yaml:11: `spec.gateways[0].namespaces[1]` ",
		"c.yaml:16: `spec.gateways[0].certificates[1].kv.path` ",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func gatewayWith(certs string) string {
	return "  vault: {role: istiod}\n  source: {kv: {path: secret/istiod}}\n  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    certificates:\n" + certs
}

// A gateway's files share one directory and one set of annotations: two
// certificates writing the same file would silently overwrite each other,
// a name starting with file- is read by the injector as another secret's
// template file, and an annotation name longer than 63 characters is
// refused by the API server.
func TestGatewayCertificateFileNames(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name, certs, want string // want: "" accepted, else a regexp the error matches
	}{
		{"ca file of one is the cert of another", "    - {name: shop, kv: {path: secret/shop, caField: ca.crt}}\n    - {name: shop-ca, kv: {path: secret/shopca}}\n",
			"c.yaml:11: `spec.gateways\\[0\\].certificates\\[1\\].name` writes shop-ca.crt, which certificates\\[0\\] \\(shop\\) writes too"},
		{"in either order", "    - {name: shop-ca, kv: {path: secret/shopca}}\n    - {name: shop, kv: {path: secret/shop, caField: ca.crt}}\n",
			"`spec.gateways\\[0\\].certificates\\[1\\].name` writes shop-ca.crt, which certificates\\[0\\] \\(shop-ca\\) writes too"},
		{"without caField there is no collision", "    - {name: shop, kv: {path: secret/shop}}\n    - {name: shop-ca, kv: {path: secret/shopca}}\n", ""},
		{"kv and pki of one name do not share a file", "    - {name: shop, kv: {path: secret/shop}}\n    - {name: shop2, pki: {mount: pki, role: gw, commonName: shop.example.com}}\n", ""},
		{"same name twice", "    - {name: shop, kv: {path: secret/a}}\n    - {name: shop, pki: {mount: pki, role: gw, commonName: shop.example.com}}\n",
			"`spec.gateways\\[0\\].certificates\\[1\\].name` \"shop\" is used twice"},
		{"file- prefix", "    - {name: file-shop, kv: {path: secret/shop}}\n",
			"`spec.gateways\\[0\\].certificates\\[0\\].name` must not start with file-: .*agent-inject-template-file-shop.crt as the template file of another secret, shop.crt"},
		{"file- prefix on pki", "    - {name: file-x, pki: {mount: pki, role: gw, commonName: x.example.com}}\n", "must not start with file-"},
		{"file inside the name is fine", "    - {name: profile-shop, kv: {path: secret/shop}}\n", ""},
		{"longest kv name with caField", "    - {name: " + long(34) + ", kv: {path: secret/shop, caField: ca.crt}}\n", ""},
		{"one longer", "    - {name: " + long(35) + ", kv: {path: secret/shop, caField: ca.crt}}\n",
			"`spec.gateways\\[0\\].certificates\\[0\\].name` gives the annotation vault.hashicorp.com/agent-inject-template-a{35}-ca.crt, whose name after the / is 64 characters: Kubernetes allows 63; shorten the name to at most 34 characters"},
		{"longest kv name", "    - {name: " + long(37) + ", kv: {path: secret/shop}}\n", ""},
		{"longest pki name", "    - {name: " + long(37) + ", pki: {mount: pki, role: gw, commonName: x.example.com}}\n", ""},
		{"pki one longer", "    - {name: " + long(38) + ", pki: {mount: pki, role: gw, commonName: x.example.com}}\n", "at most 37 characters"},
		{"60 characters", "    - {name: " + long(60) + ", kv: {path: secret/shop}}\n", "whose name after the / is 86 characters"},
	} {
		err := loadSpec(t, gatewayWith(tc.certs))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error())):
			t.Errorf("%s: want an error matching %s, got: %v", tc.name, tc.want, err)
		}
	}
}

// Plain http:// to anything but loopback sends the CA key across the
// network in clear: refused unless spec.vault.allowPlainHTTP says so.
func TestPlainHTTPAddress(t *testing.T) {
	for _, tc := range []struct {
		vault string
		ok    bool
	}{
		{"address: http://vault.example.com:8200", false},
		{"address: http://vault.example.com:8200, tlsSkipVerify: true", false},
		{"address: HTTP://vault.example.com:8200", false},
		{"address: http://10.0.0.7:8200", false},
		{"address: http://127.0.0.1.example.com:8200", false},
		{"address: http://vault.example.com:8200, allowPlainHTTP: true", true},
		{"address: http://127.0.0.1:8200", true},
		{"address: http://127.8.9.1:8200", true},
		{"address: http://localhost:8200", true},
		{"address: \"http://[::1]:8200\"", true},
		{"address: https://vault.example.com:8200", true},
	} {
		err := loadSpec(t, "  vault: {role: istiod, "+tc.vault+"}\n  source: {kv: {path: secret/istiod}}\n")
		if tc.ok && err != nil {
			t.Errorf("%s: refused: %v", tc.vault, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "c.yaml:4: `spec.vault.address` is plain http:// to a host that is not loopback")) {
			t.Errorf("%s: want the plain-http error, got %v", tc.vault, err)
		}
	}
}

// A role name Vault's Kubernetes auth has no path for (its
// framework.GenericNameRegex) is refused at load, in every mode and for
// gateways; the names Vault takes load.
func TestVaultRoleNames(t *testing.T) {
	sources := map[string]string{
		"kv":       "  source: {kv: {path: secret/istiod}}\n",
		"istioCSR": "  source: {istioCSR: {pki: {mount: istioca, role: istio}, trustDomain: cluster.local}}\n",
	}
	for mode, src := range sources {
		for _, role := range []string{"x|y", "a>b", "#x", "-istiod", "istiod.", "a/b", "é"} {
			err := loadSpec(t, "  vault: {role: \""+role+"\", address: \"https://vault.example.com\"}\n"+src)
			if err == nil || !strings.Contains(err.Error(), "`spec.vault.role` must be a Vault role name") {
				t.Errorf("%s: role %q: got %v, want it refused as no Vault role name", mode, role, err)
			}
		}
		for _, role := range []string{"istiod", "istio-csr", "a", "a.b_c-d", "Istio_CSR1"} {
			if err := loadSpec(t, "  vault: {role: \""+role+"\", address: \"https://vault.example.com\"}\n"+src); err != nil {
				t.Errorf("%s: role %q refused: %v", mode, role, err)
			}
		}
	}
	gw := "  vault: {role: istiod}\n  source: {kv: {path: secret/istiod}}\n  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    role: \"gw|x\"\n    certificates: [{name: a, kv: {path: secret/a}}]\n"
	if err := loadSpec(t, gw); err == nil || !strings.Contains(err.Error(), "`spec.gateways[0].role` must be a Vault role name") {
		t.Errorf("gateway role gw|x: got %v", err)
	}
}

// In the istioCSR mode no agent template, injector annotation or agent
// exists: the messages speak of what the values go into.
func TestIstioCSRMessagesSpeakOfIssuer(t *testing.T) {
	src := "  source: {istioCSR: {pki: {mount: istioca, role: istio}, trustDomain: cluster.local}}\n"
	for spec, want := range map[string]string{
		"  vault: {role: istio-csr, address: \"https://u:p@vault.example.com\"}\n" + src:                                                                              "written into the cert-manager Issuer's server",
		"  vault: {role: istio-csr, address: \"http://vault.example.com\"}\n" + src:                                                                                   "cert-manager would send its Vault token and every CSR",
		"  cluster: \"c'1\"\n  vault: {role: istio-csr}\n  source: {istioCSR: {pki: {mount: istioca, role: \"istio-{{ .Cluster }}\"}, trustDomain: cluster.local}}\n": "the quoted strings of the policy and the Issuer",
	} {
		err := loadSpec(t, spec)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "agent") || strings.Contains(err.Error(), "injector") {
			t.Errorf("%s: got %v, want %q and no agent or injector", spec, err, want)
		}
	}
}

// The warnings of the istioCSR mode speak of cert-manager's Issuer: no pod
// mounts tlsSecret, and tlsSkipVerify is not used.
func TestIstioCSRWarnings(t *testing.T) {
	cfg, err := Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n"+"  vault: {role: istio-csr, address: \"https://vault.example.com\", tlsSecret: vault-tls, tlsSkipVerify: true}\n  source: {istioCSR: {pki: {mount: istioca, role: istio}, trustDomain: cluster.local}}\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Warnings().Error()
	for _, want := range []string{"`spec.vault.tlsSecret` is \"vault-tls\", but with istioCSR no pod gets Vault annotations", "`spec.vault.tlsSkipVerify` is true: with istioCSR cert-manager's Issuer checks"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "agent") || strings.Contains(got, "injector mounts") {
		t.Errorf("a warning speaks of the agent or the injector:\n%s", got)
	}
	// No agent mounts the Secret in this mode: caCert stays what the
	// user wrote (none), not a path in an agent's container that `issuer`
	// would then try to read here.
	if cfg.Spec.Vault.CACert != "" {
		t.Errorf("tlsSecret with istioCSR defaulted caCert to %q", cfg.Spec.Vault.CACert)
	}
}

// A user name or password in spec.vault.address would be written into the
// injector's service annotation, in every manifest and in Git: refused, and
// no message repeats it, nor the error of an address that does not parse
// (stderr reaches CI logs and explain's record).
func TestAddressWithCredentials(t *testing.T) {
	for _, tc := range []struct{ address, want string }{
		{"http://admin:Sup3rS3cretPassw0rd@vault.example.com:8200",
			"c.yaml:4: `spec.vault.address` holds credentials (\"http://xxxxx@vault.example.com:8200\"): they would be written into every manifest, in the injector's service annotation; remove them: the agent logs in with Kubernetes auth (spec.vault.role)"},
		{"https://user:Sup3rS3cretPassw0rd@vault.example.com:8200", "(\"https://xxxxx@vault.example.com:8200\"): they would be written"},
		{"https://Sup3rS3cretPassw0rd@vault.example.com", "(\"https://xxxxx@vault.example.com\")"},
		{"http://127.0.0.1:Sup3rS3cretPassw0rd@localhost:8200", "(\"http://xxxxx@localhost:8200\")"},
		{"http://admin:Sup3rS3cretPassw0rd@[::1", "must be an http(s) URL such as https://vault.example.com:8200, got \"http://xxxxx@[::1\""},
		{"admin:Sup3rS3cretPassw0rd@vault:8200", "must be an http(s) URL such as https://vault.example.com:8200, got \"xxxxx@vault:8200\""},
		{"https://vault.example.com:8200/a@Sup3rS3cretPassw0rd", ""},
	} {
		err := loadSpec(t, "  vault: {role: istiod, address: \""+tc.address+"\"}\n  source: {kv: {path: secret/istiod}}\n")
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.address, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Sup3rS3cretPassw0rd") {
			t.Errorf("%s: got %v, want %q and no password", tc.address, err, tc.want)
		}
	}
}

// Warnings are not errors: the config loads, and says what is risky, with
// the line.
func TestWarnings(t *testing.T) {
	cfg, err := Load([]byte(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
spec:
  vault:
    role: istiod
    address: http://vault.example.com:8200
    allowPlainHTTP: true
    tlsSkipVerify: true
  source: {kv: {path: secret/istiod}}
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Warnings().Error()
	for _, want := range []string{
		"c.yaml:8: `spec.vault.tlsSkipVerify` is true: the agent accepts any certificate",
		"c.yaml:6: `spec.vault.address` is plain http://",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	cfg, err = Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n  vault: {role: istiod, address: \"https://vault:8200\"}\n  source: {kv: {path: secret/istiod}}\n"), "c.yaml")
	if err != nil || len(cfg.Warnings()) != 0 {
		t.Errorf("a plain config: %v, warnings %v", err, cfg.Warnings())
	}
}

// Type errors name the field and its line, and say what to write.
func TestTypeErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"  vault: {role: istiod}\n  agent: {keyPerms: 0400}\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:5: `spec.agent.keyPerms` is the number 0400, which YAML reads as octal 256: quote it, keyPerms: \"0400\""},
		{"  vault: {role: istiod}\n  agent: {keyPerms: 0440}\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:5: `spec.agent.keyPerms` is the number 0440, which YAML reads as octal 288: quote it, keyPerms: \"0440\""},
		{"  vault: {role: istiod}\n  rotation: \"yes\"\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:5: `spec.rotation` must be true or false, got the string \"yes\""},
		{"  vault: {role: istiod}\n  source: {kv: {version: two, path: secret/istiod}}\n",
			"c.yaml:5: `spec.source.kv.version` must be a number, got the string \"two\""},
		{"  vault: {role: istiod}\n  agent: {runAsUser: \"1337\"}\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:5: `spec.agent.runAsUser` must be a number, got the string \"1337\""},
		{"  vault: {role: [istiod]}\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:4: `spec.vault.role` must be a string, got a list"},
		{"  vault: istiod\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:4: `spec.vault` must be a mapping, got the string \"istiod\""},
		{"  vault: {role: istiod}\n  istiod: {namespaces: istio-system}\n  source: {kv: {path: secret/istiod}}\n",
			"c.yaml:5: `spec.istiod.namespaces` must be a list, got the string \"istio-system\""},
		{"  vault: {role: istiod}\n  source: {kv: {path: secret/istiod}}\n  gateways: [{selector: {istio: [a]}, mountPath: /c, certificates: [{name: a, kv: {path: s/a}}]}]\n",
			"c.yaml:6: `spec.gateways[0].selector.istio` must be a string, got a list"},
	} {
		err := loadSpec(t, tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got:\n%v", tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), "Go struct") {
			t.Errorf("a decoder message reaches the user: %v", err)
		}
	}
	// What YAML 1.1 reads as a boolean, as Kubernetes does, stays one.
	for _, v := range []string{"true", "false", "yes", "on", "True"} {
		if err := loadSpec(t, "  vault: {role: istiod}\n  rotation: "+v+"\n  source: {kv: {path: secret/istiod}}\n"); err != nil {
			t.Errorf("rotation: %s: %v", v, err)
		}
	}
	// Quoted, or a number without a leading 0, which means what it says.
	for _, v := range []string{`"0400"`, `'0440'`, `400`} {
		if err := loadSpec(t, "  vault: {role: istiod}\n  agent: {keyPerms: "+v+"}\n  source: {kv: {path: secret/istiod}}\n"); err != nil {
			t.Errorf("keyPerms: %s: %v", v, err)
		}
	}
}

// A value that cannot be expanded gets that one error, not a second one
// about the template delimiters it still holds.
func TestExpansionErrorIsTheOnlyOne(t *testing.T) {
	for _, path := range []string{`secret/{{ .cluster }}`, `secret/{{ env "HOME" }}`, `secret/{{ .Cluster`, `kubernetes-{{ .Cluster }}-secrets/istiod`,
		`secret/x" }}{{ with secret "sys/raw/core`} {
		err := loadSpec(t, "  vault: {role: istiod}\n  source: {kv: {path: '"+path+"'}}\n")
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 {
			t.Errorf("%s: want exactly one error, got:\n%v", path, err)
		}
	}
}

// A manifest of another kind passed as the config is named for what it is,
// not picked apart field by field.
func TestOtherKindIsNamed(t *testing.T) {
	_, err := Load([]byte(`apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: x}
spec:
  profile: default
  values: {global: {}}
`), "iop.yaml")
	var fe *FieldError
	if !errors.As(err, &fe) || !IsNotVaultCA(err) {
		t.Fatalf("want one FieldError that IsNotVaultCA, got %T: %v", err, err)
	}
	want := "iop.yaml:2: `kind` must be \"VaultCA\", got \"IstioOperator\" (apiVersion install.istio.io/v1alpha1): this is not a VaultCA config"
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "not a known field") {
		t.Errorf("want %q, got:\n%v", want, err)
	}
	// A VaultCA with a typo elsewhere is still a VaultCA.
	_, err = Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec: {vault: {role: r}, source: {kv: {path: a/b}}, rotaton: true}\n"), "c.yaml")
	if err == nil || IsNotVaultCA(err) || !strings.Contains(err.Error(), "`spec.rotaton` is not a known field") {
		t.Errorf("got %v", err)
	}
}

// spec.vault.tlsSecret: a Secret name; caCert defaults to the ca.crt the
// injector mounts from it; never with tlsSkipVerify; a caCert elsewhere
// with it, or under /vault/tls without it, is a warning.
func TestTLSSecret(t *testing.T) {
	for _, tc := range []struct {
		vault, caCert, err, warning string
	}{
		{vault: "tlsSecret: vault-tls", caCert: "/vault/tls/ca.crt"},
		{vault: "tlsSecret: vault.tls-ca", caCert: "/vault/tls/ca.crt"},
		{vault: "tlsSecret: vault-tls, caCert: /vault/tls/root.pem", caCert: "/vault/tls/root.pem"},
		{vault: "tlsSecret: vault-tls, caCert: /etc/ssl/vault.pem", caCert: "/etc/ssl/vault.pem",
			warning: "c.yaml:4: `spec.vault.caCert` is \"/etc/ssl/vault.pem\", outside /vault/tls where the injector mounts the Secret spec.vault.tlsSecret (\"vault-tls\"): the agent trusts that file, not the Secret's CA"},
		{vault: "caCert: /vault/tls/ca.crt", caCert: "/vault/tls/ca.crt",
			warning: "`spec.vault.caCert` is \"/vault/tls/ca.crt\", under /vault/tls, where the injector mounts only the Secret of vault.hashicorp.com/tls-secret: without spec.vault.tlsSecret nothing is there"},
		{vault: "caCert: /etc/ssl/vault.pem", caCert: "/etc/ssl/vault.pem"},
		{vault: "tlsSecret: Vault_TLS", err: "c.yaml:4: `spec.vault.tlsSecret` must be a Kubernetes Secret name (lowercase letters, digits, - and ., at most 253 characters), got \"Vault_TLS\""},
		{vault: "tlsSecret: vault-tls.", err: "`spec.vault.tlsSecret` must be a Kubernetes Secret name"},
		{vault: "tlsSecret: \"" + strings.Repeat("a", 254) + "\"", err: "`spec.vault.tlsSecret` must be a Kubernetes Secret name"},
		{vault: "tlsSecret: vault-tls, tlsSkipVerify: true", err: "c.yaml:4: `spec.vault.tlsSkipVerify` is true with spec.vault.tlsSecret \"vault-tls\": the agent would not check Vault's certificate at all"},
	} {
		cfg, err := Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n  vault: {role: istiod, "+tc.vault+"}\n  source: {kv: {path: secret/istiod}}\n"), "c.yaml")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: want %q, got %v", tc.vault, tc.err, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: refused: %v", tc.vault, err)
			continue
		}
		if cfg.Spec.Vault.CACert != tc.caCert {
			t.Errorf("%s: caCert %q, want %q", tc.vault, cfg.Spec.Vault.CACert, tc.caCert)
		}
		var ws string
		if w := cfg.Warnings(); len(w) > 0 {
			ws = w.Error()
		}
		if (tc.warning == "") != (ws == "") || !strings.Contains(ws, tc.warning) {
			t.Errorf("%s: warnings %q, want %q", tc.vault, ws, tc.warning)
		}
	}
}
