package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
)

// A cert-chain.pem of the root alone, under an intermediate CA: istiod's
// own CA code loads it and signs, but the workload certificate it issues
// does not verify to root-cert.pem; verify must fail it and name the field
// (issue 14).
func TestVerifyChainWithoutCACert(t *testing.T) {
	v := startVault(t)
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA chain", 50)
	for _, tc := range []struct {
		name, chain string
		ok          bool
	}{
		{"root alone", ca.rootPEM, false},
		{"CA cert then root", ca.chainPEM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := ca.fields()
			fields["cert_chain"] = tc.chain
			kvPut(t, v.client, 2, "secret", "verify", fields)

			// The files as the agent writes them, from what Vault holds.
			s, err := v.client.KVv2("secret").Get(t.Context(), "verify")
			must(t, err)
			dir := t.TempDir()
			for file, field := range map[string]string{"ca-key.pem": "ca_key", "ca-cert.pem": "ca_cert", "cert-chain.pem": "cert_chain", "root-cert.pem": "root_cert"} {
				must(t, os.WriteFile(filepath.Join(dir, file), []byte(s.Data[field].(string)), 0o600))
			}
			_, signErr := istiodSign(t, dir)
			out, code := verifyWith(t, v.addr)
			if tc.ok {
				if signErr != nil || code != 0 {
					t.Fatalf("a good bundle: istiod: %v; verify exit %d:\n%s", signErr, code, out)
				}
				return
			}
			if signErr == nil || !strings.Contains(signErr.Error(), "workload certificate does not verify") || !strings.Contains(signErr.Error(), "certificate signed by unknown authority") {
				t.Errorf("istiod's CA code: got %v, want the workload certificate to verify to no root", signErr)
			}
			pattern := `FAIL  cert-chain.pem: does not start with the CA certificate of ca-cert.pem \(CN=Intermediate CA chain,O=Istio\) but with CN=Root CA,O=Istio: .* \(in secret/data/verify#data.cert_chain\)`
			if code != 1 || !regexp.MustCompile(pattern).MatchString(out) {
				t.Errorf("verify: exit %d (want 1), output does not match %q:\n%s", code, pattern, out)
			}
		})
	}
}

// A token Vault does not know, or no longer knows, is named as such, not as
// a policy problem (issue 16).
func TestVerifyInvalidToken(t *testing.T) {
	v := startVault(t)
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA token", 51)
	kvPut(t, v.client, 2, "secret", "verify", ca.fields())
	revoked, err := v.client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	must(t, err)
	must(t, v.client.Auth().Token().RevokeTree(revoked.Auth.ClientToken))
	for name, tok := range map[string]string{
		"never issued": "hvs.not-a-token-of-this-vault",
		"revoked":      revoked.Auth.ClientToken,
	} {
		t.Run(name, func(t *testing.T) {
			out, code := verifyWith(t, v.addr, "VAULT_TOKEN="+tok)
			if code != 1 || !regexp.MustCompile(`FAIL  ca-key.pem <- secret/data/verify#data.ca_key: invalid token \(Vault said: .*invalid token.*\): the token expired, was revoked`).MatchString(out) ||
				strings.Contains(out, "policy does not grant") || strings.Contains(out, tok) {
				t.Errorf("exit %d:\n%s", code, out)
			}
		})
	}
}

const verifyGatewayConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: verify}
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
    kv: {version: 2, path: secret/verify}
`

// A gateway's tls.crt that holds its key too fails (issue 15). A gateway
// sharing istiod's role or paths is refused by the config already, so
// verify's own check of that is shown in internal/verify.
func TestVerifyGateway(t *testing.T) {
	v := startVault(t)
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA gateway", 52)
	kvPut(t, v.client, 2, "secret", "verify", ca.fields())
	crt, key := leaf(t, ca, ca.keyPEM, "bookinfo.example.com")
	for _, tc := range []struct {
		name, crt, pattern string
	}{
		{"good", crt + ca.certPEM,
			`PASS  gateway certificate bookinfo: bookinfo.crt holds certificates only; bookinfo.key holds one key, and it matches CN=bookinfo.example.com`},
		{"key in tls.crt", crt + key,
			`FAIL  bookinfo.crt: holds a "PRIVATE KEY" PEM block where a CERTIFICATE is expected \(in secret/data/gateways/bookinfo#data.tls.crt\)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kvPut(t, v.client, 2, "secret", "gateways/bookinfo", map[string]any{"tls.crt": tc.crt, "tls.key": key, "ca.crt": ca.rootPEM})
			out, code := verifyConfigWith(t, verifyGatewayConfig, v.addr)
			want := 1
			if tc.name == "good" {
				want = 0
			}
			if code != want || !regexp.MustCompile(tc.pattern).MatchString(out) {
				t.Errorf("exit %d (want %d), output does not match %q:\n%s", code, want, tc.pattern, out)
			}
		})
	}
}

// The token and the login JWT go to VAULT_ADDR and nowhere else, TLS
// verification off is a warning, and a password in VAULT_ADDR is not
// printed (issue 15).
func TestVerifyConnection(t *testing.T) {
	v := startVault(t)
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA connection", 53)
	kvPut(t, v.client, 2, "secret", "verify", ca.fields())

	t.Run("redirect to another address", func(t *testing.T) {
		// Another machine, as far as the client can tell: a second
		// loopback address (another port where it cannot be bound).
		var mu sync.Mutex
		var seen []string
		other := listen(t, "127.0.0.2")
		otherSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var h bytes.Buffer
			r.Header.Write(&h)
			mu.Lock()
			seen = append(seen, r.URL.String()+"\n"+h.String()+string(body))
			mu.Unlock()
		}))
		otherSrv.Listener = other
		otherSrv.Start()
		defer otherSrv.Close()
		// A front for the real Vault that answers health itself, as a
		// standby does, and redirects everything else.
		vaultURL, err := url.Parse(v.addr)
		must(t, err)
		toVault := httputil.NewSingleHostReverseProxy(vaultURL)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/sys/health" {
				toVault.ServeHTTP(w, r)
				return
			}
			http.Redirect(w, r, otherSrv.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}))
		defer front.Close()
		const fakeJWT = "eyJhbGciOiJSUzI1NiJ9.e2e-login-jwt-never-sent-elsewhere.sig"
		jwtFile := filepath.Join(t.TempDir(), "jwt")
		must(t, os.WriteFile(jwtFile, []byte(fakeJWT), 0o600))
		for name, args := range map[string][]string{"token": nil, "login": {"--jwt", jwtFile}} {
			cfg := writeTestConfig(t, verifyConfig)
			out, stderr, code := tool(t, nil, []string{"VAULT_ADDR=" + front.URL, "VAULT_TOKEN=" + rootToken, "VAULT_PROXY_ADDR=", "VAULT_HTTP_PROXY="},
				append([]string{"verify", "--config", cfg, "--timeout", "3s"}, args...)...)
			out += stderr
			if code != 1 || !strings.Contains(out, "answered 307, redirecting to "+otherSrv.URL) || strings.Contains(out, rootToken) || strings.Contains(out, fakeJWT) {
				t.Errorf("%s: exit %d:\n%s", name, code, out)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, req := range seen {
			if strings.Contains(req, rootToken) || strings.Contains(req, fakeJWT) {
				t.Errorf("the other address received the token or the JWT:\n%s", req)
			}
		}
		if len(seen) != 0 {
			t.Errorf("the other address received %d requests", len(seen))
		}
	})
	t.Run("password in VAULT_ADDR", func(t *testing.T) {
		addr := strings.Replace(v.addr, "http://", "http://admin:p4ssw0rd@", 1)
		out, code := verifyWith(t, addr)
		if code != 0 || strings.Contains(out, "p4ssw0rd") || !strings.Contains(out, "PASS  vault http://xxxxx@127.0.0.1:") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("TLS verification off", func(t *testing.T) {
		tv := startVault(t, "-dev-tls", "-dev-tls-cert-dir="+t.TempDir())
		kvPut(t, tv.client, 2, "secret", "verify", ca.fields())
		out, code := verifyWith(t, tv.addr, "VAULT_SKIP_VERIFY=1")
		if code != 0 || !regexp.MustCompile(`WARN  vault https://127.0.0.1:\d+: TLS verification is off \(VAULT_SKIP_VERIFY\)`).MatchString(out) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

// listen binds host, or 127.0.0.1 where host cannot be bound.
func listen(t *testing.T, host string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
	}
	return l
}
