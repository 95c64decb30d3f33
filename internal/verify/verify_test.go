package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
	"github.com/istio-vault-ca/istio-vault-ca/internal/testca"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

func TestValueNamesFieldsNotValues(t *testing.T) {
	_, err := value(map[string]any{"data": map[string]any{"ca_key": "-----BEGIN PRIVATE KEY-----secret"}}, []string{"data", "root_cert"})
	if err == nil || !strings.Contains(err.Error(), `has no field "data.root_cert" (fields present: ca_key)`) || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %v", err)
	}
}

// testToken is what the fake Vault accepts.
const testToken = "unit-test-token-never-printed"

// fakeVault answers health, and KV v2 reads from secrets (API path ->
// data) for testToken; any other token gets what Vault answers a bad one.
func fakeVault(t *testing.T, secrets map[string]map[string]any) *api.Client {
	t.Helper()
	kv2 := map[string]map[string]any{}
	for path, data := range secrets {
		kv2[path] = map[string]any{"data": data}
	}
	return fakeVaultData(t, kv2)
}

// fakeVaultData answers a read of a path with its response's data as
// given: a PKI role, a mount's CA chain.
// deniedKey in a path's data makes fakeVaultData answer permission denied
// there, as to a token whose policies do not grant it.
const deniedKey = "fake: denied"

func fakeVaultData(t *testing.T, secrets map[string]map[string]any) *api.Client {
	t.Helper()
	return fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		path := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case path == "sys/health":
			json.NewEncoder(w).Encode(map[string]any{"initialized": true, "sealed": false, "version": "fake"})
		case r.Header.Get("X-Vault-Token") != testToken:
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["permission denied","invalid token"]}`))
		case secrets[path][deniedKey] != nil:
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`))
		case secrets[path] != nil:
			json.NewEncoder(w).Encode(map[string]any{"data": secrets[path]})
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"errors":[]}`))
		}
	})
}

// fakeClient serves h as a Vault on loopback and returns a client of it
// holding testToken, which retries nothing.
func fakeClient(t *testing.T, h http.HandlerFunc) *api.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	vc := api.DefaultConfig()
	vc.Address, vc.MaxRetries = srv.URL, 0
	c, err := api.NewClient(vc)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(testToken)
	return c
}

// plansOf loads a config as the command does.
func plansOf(t *testing.T, yaml string) (*config.VaultCA, []*wiring.Plan) {
	t.Helper()
	cfg, err := config.Load([]byte(yaml), "vaultca.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, tr.Plans()
}

func runReport(t *testing.T, c *api.Client, yaml string) string {
	t.Helper()
	cfg, plans := plansOf(t, yaml)
	var b strings.Builder
	Run(context.Background(), c, cfg, plans, Options{}).Write(&b)
	out := b.String()
	if strings.Contains(out, testToken) || strings.Contains(out, "-----BEGIN") {
		t.Errorf("the report prints the token or a key:\n%s", out)
	}
	return out
}

func matches(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("the report does not match %q:\n%s", p, out)
		}
	}
}

func noMatch(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if regexp.MustCompile(p).MatchString(out) {
			t.Errorf("the report matches %q:\n%s", p, out)
		}
	}
}

// A test CA: certificates and keys as PEM.
type testCert struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM string
	keyPEM  string
}

func issue(t *testing.T, cn string, isCA bool, parent *testCert) *testCert {
	t.Helper()
	var p *testca.Cert
	if parent != nil {
		p = &testca.Cert{Cert: parent.cert, Key: parent.key}
	}
	c := testca.Issue(t, cn, isCA, p, time.Now().Add(365*24*time.Hour))
	return &testCert{c.Cert, c.Key, c.CertPEM, c.KeyPEM}
}

const istiodConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: unit}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istiod}
`

// The chain must start with the CA certificate: istiod loads a chain of
// the root alone and signs, but the workloads' certificates then verify to
// no root (issue 14).
func TestChainMustStartWithTheCACert(t *testing.T) {
	root := issue(t, "Root CA", true, nil)
	inter := issue(t, "Intermediate CA", true, root)
	other := issue(t, "Other Root", true, nil)
	for name, tc := range map[string]struct {
		chain    string
		patterns []string
	}{
		"root alone": {root.certPEM, []string{
			`FAIL  cert-chain.pem: does not start with the CA certificate of ca-cert.pem \(CN=Intermediate CA\) but with CN=Root CA: .* \(in secret/data/istiod#data.cert_chain\)`,
		}},
		"ending elsewhere": {inter.certPEM + other.certPEM, []string{
			`FAIL  cert-chain.pem: certificate 1 \(CN=Intermediate CA\) is not signed by certificate 2 \(CN=Other Root\).*\(in secret/data/istiod#data.cert_chain\)`,
			`FAIL  cert-chain.pem: ends with CN=Other Root, which is neither in root-cert.pem nor signed by a certificate in it`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			c := fakeVault(t, map[string]map[string]any{"secret/data/istiod": {
				"ca_key": inter.keyPEM, "ca_cert": inter.certPEM, "cert_chain": tc.chain, "root_cert": root.certPEM,
			}})
			out := runReport(t, c, istiodConfig)
			matches(t, out, tc.patterns...)
			noMatch(t, out, `PASS  bundle`)
		})
	}
	for name, chain := range map[string]string{
		"with the root":    inter.certPEM + root.certPEM,
		"without the root": inter.certPEM,
	} {
		t.Run(name, func(t *testing.T) {
			c := fakeVault(t, map[string]map[string]any{"secret/data/istiod": {
				"ca_key": inter.keyPEM, "ca_cert": inter.certPEM, "cert_chain": chain, "root_cert": root.certPEM,
			}})
			out := runReport(t, c, istiodConfig)
			matches(t, out, `PASS  bundle: .*chain starts with it and leads to CN=Root CA`, ` 0 failed`)
		})
	}
}

const gatewayConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: unit}
spec:
  vault: {role: istiod}
  gateways:
  - selector: {istio: ingressgateway}
    role: istio-ingressgateway
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: bookinfo
      kv: {version: 2, path: secret/gateways/bookinfo, caField: ca.crt}
  source:
    kv: {version: 2, path: secret/istiod}
`

// A gateway's certificate fields hold certificates only and its key field
// one key, the certificate's (issue 15).
func TestGatewayCertificateFields(t *testing.T) {
	root := issue(t, "Root CA", true, nil)
	inter := issue(t, "Intermediate CA", true, root)
	gwCA := issue(t, "Gateway CA", true, nil)
	leaf := issue(t, "bookinfo.example.com", false, gwCA)
	otherLeaf := issue(t, "other.example.com", false, gwCA)
	for name, tc := range map[string]struct {
		fields   map[string]any
		patterns []string
	}{
		"certificate and key in tls.crt": {
			map[string]any{"tls.crt": leaf.certPEM + leaf.keyPEM, "tls.key": leaf.keyPEM, "ca.crt": gwCA.certPEM},
			[]string{`FAIL  bookinfo.crt: holds a "PRIVATE KEY" PEM block where a CERTIFICATE is expected \(in secret/data/gateways/bookinfo#data.tls.crt\)`},
		},
		"key in ca.crt": {
			map[string]any{"tls.crt": leaf.certPEM, "tls.key": leaf.keyPEM, "ca.crt": gwCA.certPEM + leaf.keyPEM},
			[]string{`FAIL  bookinfo-ca.crt: holds a "PRIVATE KEY" PEM block where a CERTIFICATE is expected \(in secret/data/gateways/bookinfo#data.ca.crt\)`},
		},
		"two keys": {
			map[string]any{"tls.crt": leaf.certPEM, "tls.key": leaf.keyPEM + otherLeaf.keyPEM, "ca.crt": gwCA.certPEM},
			[]string{`FAIL  bookinfo.key: holds more than one PEM block`},
		},
		"certificate in tls.key": {
			map[string]any{"tls.crt": leaf.certPEM, "tls.key": leaf.certPEM, "ca.crt": gwCA.certPEM},
			[]string{`FAIL  bookinfo.key: holds a "CERTIFICATE" PEM block where a private key is expected`},
		},
		"key of another certificate": {
			map[string]any{"tls.crt": leaf.certPEM, "tls.key": otherLeaf.keyPEM, "ca.crt": gwCA.certPEM},
			[]string{`FAIL  bookinfo.key: does not match the public key of bookinfo.crt \(CN=bookinfo.example.com\)`},
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := fakeVault(t, map[string]map[string]any{
				"secret/data/istiod":            {"ca_key": inter.keyPEM, "ca_cert": inter.certPEM, "cert_chain": inter.certPEM + root.certPEM, "root_cert": root.certPEM},
				"secret/data/gateways/bookinfo": tc.fields,
			})
			out := runReport(t, c, gatewayConfig)
			matches(t, out, tc.patterns...)
			noMatch(t, out, `PASS  gateway certificate`)
		})
	}
	t.Run("good", func(t *testing.T) {
		c := fakeVault(t, map[string]map[string]any{
			"secret/data/istiod":            {"ca_key": inter.keyPEM, "ca_cert": inter.certPEM, "cert_chain": inter.certPEM + root.certPEM, "root_cert": root.certPEM},
			"secret/data/gateways/bookinfo": {"tls.crt": leaf.certPEM + gwCA.certPEM, "tls.key": leaf.keyPEM, "ca.crt": gwCA.certPEM},
		})
		out := runReport(t, c, gatewayConfig)
		matches(t, out, `PASS  gateway certificate bookinfo: bookinfo.crt holds certificates only; bookinfo.key holds one key, and it matches CN=bookinfo.example.com`, ` 0 failed`)
	})
}

// A token Vault does not know is named as such, not as a policy that does
// not grant the path (issue 16).
func TestInvalidTokenIsNotAPolicyProblem(t *testing.T) {
	c := fakeVault(t, nil)
	c.SetToken("a-token-this-vault-never-issued")
	out := runReport(t, c, istiodConfig)
	matches(t, out, `FAIL  ca-key.pem <- secret/data/istiod#data.ca_key: invalid token \(Vault said: permission denied; invalid token\): the token expired, was revoked`)
	noMatch(t, out, `policy does not grant`, `a-token-this-vault-never-issued`)
}

// What Vault said is quoted on one line, its lists of errors unpacked, as
// Vault 1.21 sends them.
func TestExplainAPIErrorNamesWhatVaultSaid(t *testing.T) {
	for errs, want := range map[string]string{
		"1 error occurred:\n\t* permission denied\n\n":                     "permission denied: the token's policy does not grant read on x (Vault said: permission denied)",
		"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n": "invalid token (Vault said: permission denied; invalid token): the token expired",
		"permission denied": "permission denied: the token's policy does not grant read on x (Vault said: permission denied)",
	} {
		got := explainAPIError(&api.ResponseError{StatusCode: 403, Errors: []string{errs}}, "the token's policy does not grant read on x")
		if !strings.HasPrefix(got, want) {
			t.Errorf("%q: got %q, want it to start with %q", errs, got, want)
		}
	}
}

// istiod and a gateway share nothing, checked from the plans alone: the
// report says so even when Vault is down (issue 14).
func TestSeparation(t *testing.T) {
	istiod := &wiring.Plan{Role: "istiod", AuthPath: "auth/kubernetes", Files: []wiring.File{{SecretRead: wiring.SecretRead{APIPath: "secret/data/istiod", Capability: wiring.Read}}}}
	gw := func(role, authPath string, paths ...string) *wiring.Plan {
		p := &wiring.Plan{Role: role, AuthPath: authPath, Selector: map[string]string{"istio": "ingressgateway", "app": "gw"}}
		for _, path := range paths {
			p.Files = append(p.Files, wiring.File{SecretRead: wiring.SecretRead{APIPath: path, Capability: wiring.Read}})
		}
		return p
	}
	for name, tc := range map[string]struct {
		gateway  *wiring.Plan
		patterns []string
	}{
		"istiod's role": {gw("istiod", "auth/kubernetes", "secret/data/gw"), []string{
			`FAIL  gateway \{app: gw, istio: ingressgateway\}: logs in as istiod \(auth/kubernetes role istiod\)`,
		}},
		"istiod's path": {gw("gw", "auth/kubernetes", "secret/data/gw", "secret/data/istiod"), []string{
			`FAIL  gateway \{app: gw, istio: ingressgateway\}: uses secret/data/istiod, which reaches istiod.s CA material`,
		}},
		"both": {gw("istiod", "auth/kubernetes", "secret/data/istiod"), []string{`logs in as istiod`, `uses secret/data/istiod`}},
		"same role name at another auth path": {gw("istiod", "auth/kubernetes-gw", "secret/data/gw"), []string{
			`PASS  gateway \{app: gw, istio: ingressgateway\}: shares no role and no Vault path with istiod`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			// Nothing listens here: the check must not need Vault.
			vc := api.DefaultConfig()
			vc.Address = "http://127.0.0.1:1"
			vc.MaxRetries = 0
			c, err := api.NewClient(vc)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _ := plansOf(t, istiodConfig)
			var b strings.Builder
			Run(context.Background(), c, cfg, []*wiring.Plan{istiod, tc.gateway}, Options{}).Write(&b)
			matches(t, b.String(), append(tc.patterns, `FAIL  vault http://127.0.0.1:1: connection refused`)...)
		})
	}
}

// Every check the present fields allow runs, so one run shows every
// problem: a field that is missing, or does not parse, hides nothing that
// the other fields show (issue 16).
func TestBundleChecksRunDespiteAMissingField(t *testing.T) {
	root := issue(t, "Root CA", true, nil)
	inter := issue(t, "Intermediate CA", true, root)
	other := issue(t, "Other CA", true, root)
	leaf := issue(t, "not-a-ca.example.com", false, root)
	good := func() map[string]any {
		return map[string]any{"ca_key": inter.keyPEM, "ca_cert": inter.certPEM, "cert_chain": inter.certPEM + root.certPEM, "root_cert": root.certPEM}
	}
	for name, tc := range map[string]struct {
		edit     func(map[string]any)
		patterns []string
	}{
		"no root, key of another CA": {func(f map[string]any) { delete(f, "root_cert"); f["ca_key"] = other.keyPEM }, []string{
			`FAIL  root-cert.pem <- secret/data/istiod#data.root_cert: .*has no field "data.root_cert"`,
			`FAIL  ca-key.pem: does not match the public key of ca-cert.pem \(CN=Intermediate CA\)`,
			`PASS  ca-cert.pem: CN=Intermediate CA valid for`,
		}},
		"root not PEM, key of another CA": {func(f map[string]any) { f["root_cert"] = "not pem"; f["ca_key"] = other.keyPEM }, []string{
			`FAIL  root-cert.pem: holds text that is not PEM`,
			`FAIL  ca-key.pem: does not match the public key of ca-cert.pem`,
		}},
		"no key, chain out of order": {func(f map[string]any) { delete(f, "ca_key"); f["cert_chain"] = root.certPEM + inter.certPEM }, []string{
			`FAIL  ca-key.pem <- secret/data/istiod#data.ca_key: .*has no field`,
			`FAIL  cert-chain.pem: does not start with the CA certificate of ca-cert.pem`,
			`FAIL  cert-chain.pem: certificate 1 \(CN=Root CA\) is not signed by certificate 2 \(CN=Intermediate CA\)`,
			`PASS  root-cert.pem: CN=Root CA valid for`,
		}},
		"no chain, CA cert not a CA": {func(f map[string]any) { delete(f, "cert_chain"); f["ca_cert"], f["ca_key"] = leaf.certPEM, leaf.keyPEM }, []string{
			`FAIL  cert-chain.pem <- secret/data/istiod#data.cert_chain: .*has no field`,
			`FAIL  ca-cert.pem: CN=not-a-ca.example.com is not a CA certificate`,
		}},
		// Not a bundle of ca-cert.pem and root-cert.pem: istiod reads
		// cert-chain.pem, and it is missing.
		"no chain, the rest good": {func(f map[string]any) { delete(f, "cert_chain") }, []string{
			`FAIL  cert-chain.pem <- secret/data/istiod#data.cert_chain: .*has no field`,
			`PASS  ca-cert.pem: CN=Intermediate CA valid for`,
			` 1 failed`,
		}},
		"no CA cert, chain ending elsewhere": {func(f map[string]any) {
			delete(f, "ca_cert")
			f["cert_chain"] = other.certPEM + issue(t, "Elsewhere", true, nil).certPEM
		}, []string{
			`FAIL  ca-cert.pem <- secret/data/istiod#data.ca_cert: .*has no field`,
			`FAIL  cert-chain.pem: certificate 1 \(CN=Other CA\) is not signed by certificate 2 \(CN=Elsewhere\)`,
			`FAIL  cert-chain.pem: ends with CN=Elsewhere, which is neither in root-cert.pem`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			fields := good()
			tc.edit(fields)
			out := runReport(t, fakeVault(t, map[string]map[string]any{"secret/data/istiod": fields}), istiodConfig)
			matches(t, out, tc.patterns...)
			noMatch(t, out, `PASS  bundle`)
		})
	}
}

// Each extra root of spec.rootRotation is read and must be a self-signed
// CA certificate; the bundle is still checked against the source's own
// root.
func TestExtraRoots(t *testing.T) {
	root := issue(t, "Old Root", true, nil)
	inter := issue(t, "Old Intermediate", true, root)
	next := issue(t, "New Root", true, nil)
	nextInter := issue(t, "New Intermediate", true, next)
	leaf := issue(t, "leaf.example.com", false, next)
	const config = istiodConfig + `  rootRotation:
    extraRoots:
    - kv: {version: 2, path: secret/roots/next}
`
	bundle := map[string]any{"ca_key": inter.keyPEM, "ca_cert": inter.certPEM, "cert_chain": inter.certPEM + root.certPEM, "root_cert": root.certPEM}
	for name, tc := range map[string]struct {
		extra             map[string]any
		patterns, noMatch []string
	}{
		"a new root": {map[string]any{"root_cert": next.certPEM}, []string{
			`PASS  root-cert.pem <- secret/data/roots/next#data.root_cert \(extra root\): CN=New Root is a self-signed CA, valid for \d+ more days`,
			`PASS  bundle: key matches ca-cert.pem; CN=Old Intermediate is a CA; chain starts with it and leads to CN=Old Root`,
		}, []string{`FAIL`}},
		// In place: the new key, certificate and chain in the source,
		// whose root field still holds the old root, the new root the
		// extra one.
		"the new chain under the extra root": {map[string]any{"root_cert": next.certPEM}, []string{
			`PASS  bundle: key matches ca-cert.pem; CN=New Intermediate is a CA; chain starts with it and leads to CN=New Root`,
		}, []string{`FAIL`}},
		"an intermediate": {map[string]any{"root_cert": nextInter.certPEM}, []string{
			`FAIL  root-cert.pem <- secret/data/roots/next#data.root_cert \(extra root\): CN=New Intermediate is not self-signed \(issued by CN=New Root\)`,
		}, nil},
		"a leaf": {map[string]any{"root_cert": leaf.certPEM}, []string{
			`FAIL  root-cert.pem <- secret/data/roots/next#data.root_cert \(extra root\): CN=leaf.example.com is not a CA certificate`,
		}, nil},
		"missing": {map[string]any{"other": next.certPEM}, []string{
			`FAIL  root-cert.pem <- secret/data/roots/next#data.root_cert \(extra root\): has no field "data.root_cert" \(fields present: other\)`,
		}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			b := bundle
			if strings.Contains(name, "new chain") {
				b = map[string]any{"ca_key": nextInter.keyPEM, "ca_cert": nextInter.certPEM, "cert_chain": nextInter.certPEM + next.certPEM, "root_cert": root.certPEM}
			}
			c := fakeVault(t, map[string]map[string]any{"secret/data/istiod": b, "secret/data/roots/next": tc.extra})
			out := runReport(t, c, config)
			matches(t, out, tc.patterns...)
			noMatch(t, out, tc.noMatch...)
		})
	}
}
