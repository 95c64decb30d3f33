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
