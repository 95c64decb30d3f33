package migrate

import (
	"errors"
	"os"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, as in every test package
)

// seedValues is seed 004's values file as Istio shipped it, a golden input.
const seedValues = "../../testdata/golden/migrate-seed004-values/input.yaml"

// printed is the part of the VaultCA the output must hold, decoded as any
// YAML reader decodes it (not as the writer built it).
type printed struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Cluster string `yaml:"cluster"`
		Vault   struct {
			Address        string `yaml:"address"`
			AllowPlainHTTP bool   `yaml:"allowPlainHTTP"`
			Role           string `yaml:"role"`
			AuthPath       string `yaml:"authPath"`
			CACert         string `yaml:"caCert"`
		} `yaml:"vault"`
		Source struct {
			IstioCSR struct {
				PKI struct {
					Mount string `yaml:"mount"`
					Role  string `yaml:"role"`
				} `yaml:"pki"`
				TrustDomain string `yaml:"trustDomain"`
			} `yaml:"istioCSR"`
		} `yaml:"source"`
	} `yaml:"spec"`
}

func migrateFile(t *testing.T, path string, opts Options) (*Result, printed) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Migrate(data, "values.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var p printed
	dec := yaml.NewDecoder(strings.NewReader(string(out)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("the output is not the VaultCA shape: %v\n%s", err, out)
	}
	return r, p
}

// TestSeedValuesMapping: seed 004's settings land on the fields the issue's
// config names, read back from the printed YAML.
func TestSeedValuesMapping(t *testing.T) {
	r, p := migrateFile(t, seedValues, Options{Cluster: "cluster1"})
	want := map[string][2]string{
		"apiVersion":                       {p.APIVersion, "istio-vault-ca.dev/v1alpha1"},
		"kind":                             {p.Kind, "VaultCA"},
		"metadata.name":                    {p.Metadata.Name, "cluster1"},
		"spec.cluster":                     {p.Spec.Cluster, "cluster1"},
		"spec.vault.address":               {p.Spec.Vault.Address, "https://34.83.129.211:8200"},
		"spec.vault.role":                  {p.Spec.Vault.Role, "istio-csr"}, // not the node agent's istio-cert
		"spec.vault.authPath":              {p.Spec.Vault.AuthPath, "auth/kubernetes"},
		"spec.vault.caCert":                {p.Spec.Vault.CACert, ""}, // a path: the PEM cannot go there
		"spec.source.istioCSR.pki.mount":   {p.Spec.Source.IstioCSR.PKI.Mount, "istio_ca"},
		"spec.source.istioCSR.pki.role":    {p.Spec.Source.IstioCSR.PKI.Role, "istio-pki-role"},
		"spec.source.istioCSR.trustDomain": {p.Spec.Source.IstioCSR.TrustDomain, "cluster.local"},
	}
	for field, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", field, v[0], v[1])
		}
	}
	if p.Spec.Vault.AllowPlainHTTP {
		t.Error("allowPlainHTTP set for an https address")
	}
	// The values file escapes the PEM's line breaks as \n; the chart's
	// double quotes made them line breaks again, so the certificate parses.
	if !strings.HasPrefix(string(r.VaultCACert), "-----BEGIN CERTIFICATE-----\nMIIC3jCCAcagAwIBAgIRAO1S7vuRQmo2He+RtBq3fv8w") {
		t.Errorf("VaultCACert = %.80q", r.VaultCACert)
	}
	if !r.TrustDomainDefaulted {
		t.Error("the seed sets no trust domain, and the report does not say the default was used")
	}
}

// The node agent's role is not reused for the issuer: running the policy
// script would rebind it under the running node agents. The old name, and
// the PKI role the script rewrites whole, are to-do lines.
func TestNodeAgentRoleLeftAlone(t *testing.T) {
	r, p := migrateFile(t, seedValues, Options{})
	if p.Spec.Vault.Role == "istio-cert" || p.Spec.Vault.Role == "" {
		t.Errorf("spec.vault.role = %q: the issuer must not log in with the node agent's role", p.Spec.Vault.Role)
	}
	var role, pki bool
	for _, n := range r.Todo {
		role = role || n.Setting == "nodeagent.env.VAULT_ROLE" && strings.Contains(n.Text, "is istio-cert, the Kubernetes-auth role the node agents log in with: left alone until the node agents are gone")
		pki = pki || strings.Contains(n.Text, "names the PKI role istio_ca/roles/istio-pki-role, which `istio-vault-ca policy --output commands` rewrites whole")
	}
	if !role || !pki {
		t.Errorf("to do lacks the node agent's role (%v) or the PKI role rewrite (%v): %v", role, pki, r.Todo)
	}
	// A node agent role named as the issuer's would be gets another.
	r2, err := Migrate([]byte("nodeagent:\n  env:\n    CA_PROVIDER: VaultCA\n    VAULT_ADDR: https://vault:8200\n    VAULT_AUTH_PATH: auth/kubernetes/login\n    VAULT_ROLE: istio-csr\n    VAULT_SIGN_CSR_PATH: pki/sign/r\n"), "v.yaml", Options{})
	if err != nil || r2.Role == "istio-csr" {
		t.Errorf("node agent role istio-csr: issuer role %q, %v", r2.Role, err)
	}
}

// TestReportNamesEverySetting: every node agent env entry of the seed is
// either mapped or in the report, none silently lost.
func TestReportNamesEverySetting(t *testing.T) {
	r, _ := migrateFile(t, seedValues, Options{})
	reported := map[string]bool{}
	for _, n := range append(append([]Note{}, r.Todo...), r.Dropped...) {
		reported[n.Setting] = true
	}
	mapped := map[string]bool{"CA_PROVIDER": true, envAddr: true, envAuthPath: true, envRole: true, envSignCSRPath: true}
	for _, name := range []string{"CA_ADDR", "CA_PROVIDER", "VALID_TOKEN", envAddr, envAuthPath, envRole, envSignCSRPath, envTLSRootCert} {
		if !mapped[name] && !reported["nodeagent.env."+name] {
			t.Errorf("nodeagent.env.%s is neither mapped nor reported", name)
		}
	}
	for _, key := range []string{"global.sds.enabled", "global.sds.udsPath", "nodeagent.image", "global.trustDomain"} {
		if !reported[key] {
			t.Errorf("%s is not in the report", key)
		}
	}
}

func TestMapErrors(t *testing.T) {
	env := func(over map[string]string) []byte {
		vals := map[string]string{"CA_PROVIDER": "VaultCA", envAddr: "https://vault:8200", envAuthPath: "auth/kubernetes/login", envRole: "r", envSignCSRPath: "pki/sign/r"}
		for k, v := range over {
			vals[k] = v
		}
		var b strings.Builder
		b.WriteString("nodeagent:\n  env:\n")
		for _, k := range []string{"CA_PROVIDER", envAddr, envAuthPath, envRole, envSignCSRPath, envTLSRootCert} {
			if v, ok := vals[k]; ok {
				b.WriteString("    " + k + ": '" + v + "'\n")
			}
		}
		return []byte(b.String())
	}
	for _, tc := range []struct {
		name string
		over map[string]string
		want string // "" passes
	}{
		{"ok", nil, ""},
		{"nested mount", map[string]string{envSignCSRPath: "ns1/pki_int/sign/r"}, ""},
		{"leading slash", map[string]string{envSignCSRPath: "/pki/sign/r", envAuthPath: "/auth/k8s/login"}, ""},
		{"sign without role", map[string]string{envSignCSRPath: "pki/sign/"}, "must be <mount>/sign/<role>"},
		{"sign without mount", map[string]string{envSignCSRPath: "sign/r"}, "must be <mount>/sign/<role>"},
		{"sign-verbatim", map[string]string{envSignCSRPath: "pki/sign-verbatim/r"}, "must be <mount>/sign/<role>"},
		{"role path", map[string]string{envSignCSRPath: "pki/sign/r/x"}, "must be <mount>/sign/<role>"},
		{"auth without login", map[string]string{envAuthPath: "auth/kubernetes"}, "must end in /login"},
		{"auth not under auth/", map[string]string{envAuthPath: "kubernetes/login"}, "auth/<mount>/login"},
		{"auth bare", map[string]string{envAuthPath: "auth/login"}, "auth/<mount>/login"},
		{"plain http", map[string]string{envAddr: "http://vault.example.com:8200"}, "plain http://"},
		{"not a URL", map[string]string{envAddr: "vault:8200"}, "must be an http(s) URL"},
		{"credentials", map[string]string{envAddr: "https://u:secret@vault:8200"}, "holds credentials (\"https://xxxxx@vault:8200\")"},
		{"template", map[string]string{envRole: "r{{ .Cluster }}"}, "holds {{"},
		{"root cert path", map[string]string{envTLSRootCert: "/etc/ca.pem"}, "holds no PEM certificate"},
		{"root cert key", map[string]string{envTLSRootCert: "-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----"}, "holds a PEM PRIVATE KEY block"},
		{"provider", map[string]string{"CA_PROVIDER": "GoogleCA"}, "not VaultCA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Migrate(env(tc.over), "v.yaml", Options{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Errorf("the message shows the password: %v", err)
			case tc.want != "":
				var merr *Error
				if !errors.As(err, &merr) || !strings.HasPrefix(err.Error(), "line ") {
					t.Errorf("error is not located at a line: %v", err)
				}
			}
		})
	}
}

// TestAllowPlainHTTP: the flag carries a plain address over, and says so
// in the config, which would refuse it otherwise.
func TestAllowPlainHTTP(t *testing.T) {
	r, err := Migrate([]byte("nodeagent:\n  env:\n    CA_PROVIDER: VaultCA\n    VAULT_ADDR: http://10.1.2.3:8200\n    VAULT_ROLE: r\n    VAULT_SIGN_CSR_PATH: pki/sign/r\n"), "v", Options{AllowPlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.AllowPlainHTTP || r.Address != "http://10.1.2.3:8200" {
		t.Errorf("got address %q allowPlainHTTP %v", r.Address, r.AllowPlainHTTP)
	}
}

// TestRendered: a values string is what the chart's double quotes make of it.
func TestRendered(t *testing.T) {
	for in, want := range map[string]string{
		`a\nb`:    "a\nb",
		`plain`:   "plain",
		`say "x"`: `say "x"`, // would end the chart's quotes: kept as written
	} {
		if got := rendered(in); got != want {
			t.Errorf("rendered(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBothFormsAgree: seed 004's values file and the DaemonSet the chart
// renders from it give the same VaultCA, the certificate included (the
// values file escapes its line breaks, the render holds them).
func TestBothFormsAgree(t *testing.T) {
	values, _ := migrateFile(t, seedValues, Options{})
	render, _ := migrateFile(t, "../../testdata/golden/migrate-seed004-values-rendered/input.yaml", Options{})
	if d := differences(values, render); len(d) > 0 {
		t.Errorf("the two forms differ: %v", d)
	}
	if values.VaultCACert == nil {
		t.Error("no certificate read")
	}
}
