package wiring

import (
	"bytes"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
)

const (
	certA = "-----BEGIN CERTIFICATE-----\nQUFB\n-----END CERTIFICATE-----"
	certB = "-----BEGIN CERTIFICATE-----\nQkJC\n-----END CERTIFICATE-----"
	keyA  = "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----"
)

func load(t *testing.T, spec string) *Plan {
	t.Helper()
	cfg, err := config.Load([]byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n"+spec), "test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ForIstiod(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// secretData is what Vault returns for each path, shaped as the agent's
// `secret` function exposes it (.Data, with KV v2 nesting under data).
type secretData map[string]map[string]any

// render executes an agent template with the semantics the agent uses for
// error_on_missing_key (missingkey=error) and the functions ours call.
func render(t *testing.T, tmpl string, data secretData) (string, error) {
	t.Helper()
	funcs := template.FuncMap{
		"secret": func(path string) (map[string]any, error) {
			d, ok := data[path]
			if !ok {
				t.Fatalf("template reads %q, which the test did not stub", path)
			}
			return map[string]any{"Data": d}, nil
		},
		"trimSpace": strings.TrimSpace,
		// The agent exposes sprig's hermetic functions with a sprig_ prefix.
		"sprig_fail": sprig.HermeticTxtFuncMap()["fail"],
	}
	tp, err := template.New("agent").Funcs(funcs).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		t.Fatalf("agent template does not parse: %v\n%s", err, tmpl)
	}
	var b bytes.Buffer
	err = tp.Execute(&b, nil)
	return b.String(), err
}

// wellFormedPEM checks one file: PEM blocks only, each on its own lines,
// exactly one trailing newline.
func wellFormedPEM(t *testing.T, name, out string, blocks int) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
		t.Errorf("%s: must end in exactly one newline: %q", name, out)
	}
	if strings.Contains(out, "----------") {
		t.Errorf("%s: concatenated PEM lines: %q", name, out)
	}
	rest, n := []byte(out), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
	}
	if n != blocks || len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("%s: %d PEM blocks (want %d), left over %q", name, n, blocks, rest)
	}
}

func TestTemplatesRenderWellFormedPEM(t *testing.T) {
	chain := certA + "\n" + certB
	for name, tc := range map[string]struct {
		spec   string
		data   secretData
		blocks map[string]int
	}{
		"kv1 values without trailing newline": {
			spec: "  vault: {role: r}\n  source: {kv: {version: 1, path: kv/istiod}}\n",
			data: secretData{"kv/istiod": {"ca_key": keyA, "ca_cert": certA, "cert_chain": chain, "root_cert": certB}},
		},
		"kv1 values stored from files (trailing newlines)": {
			spec: "  vault: {role: r}\n  source: {kv: {version: 1, path: kv/istiod}}\n",
			data: secretData{"kv/istiod": {"ca_key": keyA + "\n", "ca_cert": certA + "\n\n", "cert_chain": chain + "\n", "root_cert": "\n" + certB + "\n"}},
		},
		"kv2 with dotted field names": {
			spec: "  vault: {role: r}\n  source: {kv: {version: 2, path: secret/istiod, fields: {caKey: ca-key.pem, caCert: ca-cert.pem, certChain: cert-chain.pem, rootCert: root-cert.pem}}}\n",
			data: secretData{"secret/data/istiod": {"data": map[string]any{"ca-key.pem": keyA, "ca-cert.pem": certA, "cert-chain.pem": chain, "root-cert.pem": certB}}},
		},
		"pki with kv2 key": {
			spec: "  vault: {role: r}\n  source: {pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca}}}\n",
			data: secretData{
				"secret/data/istioca":   {"data": map[string]any{"ca-key.pem": keyA + "\n"}},
				"istioca/cert/ca":       {"certificate": certA},
				"istioca/cert/ca_chain": {"certificate": chain + "\n"},
				"pki/cert/ca":           {"certificate": certB},
			},
		},
		"kubernetes-tls": {
			spec: "  vault: {role: r}\n  fileLayout: kubernetes-tls\n  source: {kv: {version: 2, path: secret/tls}}\n",
			data: secretData{"secret/data/tls": {"data": map[string]any{"tls.key": keyA, "tls.crt": certA, "ca.crt": certB}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := load(t, tc.spec)
			for _, f := range p.Files {
				out, err := render(t, f.Template, tc.data)
				if err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				want := 1
				if f.Part == PartChain {
					want = 2
				}
				wellFormedPEM(t, f.Name, out, want)
			}
		})
	}
}

// A field missing from the secret must fail the render, never write
// "<no value>" or an empty file: istiod would refuse the bundle or, with no
// files at all, silently self-sign.
func TestTemplatesFailOnMissingField(t *testing.T) {
	for name, spec := range map[string]string{
		"kv1":                  "  vault: {role: r}\n  source: {kv: {version: 1, path: kv/istiod}}\n",
		"kv2 with dotted name": "  vault: {role: r}\n  source: {kv: {version: 2, path: kv/istiod, fields: {caKey: ca-key.pem}}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := load(t, spec)
			key := p.Files[0]
			out, err := render(t, key.Template, secretData{key.APIPath: {"data": map[string]any{}}})
			if err == nil {
				t.Fatalf("rendered %q from a secret without the field", out)
			}
			field := key.Keys[len(key.Keys)-1]
			if !strings.Contains(err.Error(), "field "+field+" is missing or empty in "+key.APIPath) {
				t.Errorf("the error does not name the field and path: %v", err)
			}
		})
	}
}

func TestKVAPIPath(t *testing.T) {
	for _, tc := range []struct {
		kv   config.KVSecret
		want string
	}{
		{config.KVSecret{Version: 1, Path: "kv/a/b"}, "kv/a/b"},
		{config.KVSecret{Version: 2, Path: "secret/a/b"}, "secret/data/a/b"},
		{config.KVSecret{Version: 2, Mount: "teams/mesh", Path: "teams/mesh/a"}, "teams/mesh/data/a"},
		{config.KVSecret{Version: 2, Mount: "teams/mesh/", Path: "teams/mesh/a"}, "teams/mesh/data/a"},
	} {
		if got := KVAPIPath(tc.kv); got != tc.want {
			t.Errorf("KVAPIPath(%+v) = %q, want %q", tc.kv, got, tc.want)
		}
	}
}

func TestAPIPathsMatchAnnotations(t *testing.T) {
	p := load(t, "  vault: {role: r}\n  source: {pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca}}}\n")
	want := []PathCapability{{"secret/data/istioca", Read, nil}, {"istioca/cert/ca", Read, nil}, {"istioca/cert/ca_chain", Read, nil}, {"pki/cert/ca", Read, nil}}
	if got := p.APIPaths(); !reflect.DeepEqual(got, want) {
		t.Errorf("APIPaths = %v, want %v", got, want)
	}
	for _, f := range p.Files {
		found := false
		for _, a := range p.Annotations {
			if a.Name == Prefix+"agent-inject-secret-"+f.Name && a.Value == f.APIPath && strings.Contains(annotationValue(p, "agent-inject-template-"+f.Name), `"`+f.APIPath+`"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: secret annotation and template do not both read %s", f.Name, f.APIPath)
		}
	}
}

func annotationValue(p *Plan, name string) string {
	for _, a := range p.Annotations {
		if a.Name == Prefix+name {
			return a.Value
		}
	}
	return ""
}
