package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, which `go test ./... -update` passes to every package
)

const (
	token = "cmd-test-token-never-sent-elsewhere"
	jwt   = "eyJhbGciOiJSUzI1NiJ9.cmd-test-jwt-never-sent-elsewhere.sig"
)

const testConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cmd}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istiod}
`

// recorder is a server that keeps every request it gets.
type recorder struct {
	mu   sync.Mutex
	seen []string // method, URL, headers and body of each request
}

func (r *recorder) handle(w http.ResponseWriter, req *http.Request, answer http.HandlerFunc) {
	body, _ := io.ReadAll(req.Body)
	var b bytes.Buffer
	req.Header.Write(&b)
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.String()+"\n"+b.String()+"\n"+string(body))
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(body))
	answer(w, req)
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// vaultLike answers health as an unsealed Vault and everything else with
// a 404, as Vault does for a path with no secret.
func vaultLike(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/v1/sys/health" {
		json.NewEncoder(w).Encode(map[string]any{"initialized": true, "sealed": false, "version": "fake"})
		return
	}
	w.WriteHeader(404)
	w.Write([]byte(`{"errors":[]}`))
}

// serve starts a server on host (a loopback address); a host this machine
// cannot bind falls back to 127.0.0.1 on another port, still another
// address as far as scheme, host and port go.
func serve(t *testing.T, host string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// runVerify runs the command with a clean Vault environment plus env.
func runVerify(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	return runVerifyConfig(t, testConfig, env, args...)
}

// runVerifyConfig is runVerify with another config.
func runVerifyConfig(t *testing.T, config string, env map[string]string, args ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vaultca.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{api.EnvVaultAddress, api.EnvVaultAgentAddr, api.EnvVaultToken, api.EnvVaultCACert, api.EnvVaultCACertBytes, api.EnvVaultCAPath,
		api.EnvVaultSkipVerify, api.EnvVaultProxyAddr, api.EnvHTTPProxy, api.EnvVaultDisableRedirects, api.EnvVaultSRVLookup, api.EnvVaultNamespace} {
		t.Setenv(name, "")
	}
	t.Setenv(api.EnvVaultToken, token)
	for k, v := range env {
		t.Setenv(k, v)
	}
	if env["jwt"] != "" {
		jwtFile := filepath.Join(dir, "jwt")
		if err := os.WriteFile(jwtFile, []byte(env["jwt"]), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--jwt", jwtFile)
	}
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"--config", cfg, "--timeout", "3s"}, args...), &stdout, &stderr)
	out := stdout.String() + stderr.String()
	for _, secret := range []string{token, jwt} {
		if strings.Contains(out, secret) {
			t.Errorf("verify printed a secret:\n%s", out)
		}
	}
	return out, code
}

func match(t *testing.T, out, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(out) {
		t.Errorf("output does not match %q:\n%s", pattern, out)
	}
}

// A Vault address that redirects to another host gets no token and no JWT
// sent there: the client follows no redirect (issue 15).
func TestRedirectSendsNothingElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		jwt    string
	}{
		{"307 token", 307, ""},
		{"307 login", 307, jwt},
		{"302 token", 302, ""},
		{"301 login", 301, jwt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := &recorder{}
			b := serve(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.handle(w, r, vaultLike) }))
			a := serve(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/sys/health" {
					vaultLike(w, r)
					return
				}
				http.Redirect(w, r, b.URL+r.URL.RequestURI(), tc.status)
			}))
			out, code := runVerify(t, map[string]string{api.EnvVaultAddress: a.URL, "jwt": tc.jwt})
			for _, req := range other.requests() {
				if strings.Contains(req, token) || strings.Contains(req, jwt) {
					t.Errorf("the other address received the token or the JWT:\n%s", req)
				}
			}
			if n := len(other.requests()); n != 0 {
				t.Errorf("the other address received %d requests", n)
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			match(t, out, `FAIL  .*: Vault at `+regexp.QuoteMeta(a.URL)+` answered \d+, redirecting to `+regexp.QuoteMeta(b.URL)+`/v1/.*: verify follows no redirect`)
		})
	}
}

// A proxy is checked as the address is: plain HTTP through a proxy on
// another machine hands it the token in clear.
func TestProxyChecks(t *testing.T) {
	vault := serve(t, "127.0.0.1", http.HandlerFunc(vaultLike))
	for _, name := range []string{api.EnvVaultProxyAddr, api.EnvHTTPProxy} {
		t.Run(name+" on another machine", func(t *testing.T) {
			// 192.0.2.0/24 is reserved for documentation: nothing answers.
			out, code := runVerify(t, map[string]string{api.EnvVaultAddress: vault.URL, name: "http://user:proxypass@192.0.2.1:3128"})
			if code != 2 || strings.Contains(out, "proxypass") {
				t.Errorf("exit %d, want 2, and no password:\n%s", code, out)
			}
			match(t, out, `VAULT_ADDR `+regexp.QuoteMeta(vault.URL)+` is plain HTTP and goes through the proxy http://xxxxx@192.0.2.1:3128 .*: the token and the CA key would cross the network in clear`)
		})
	}
	t.Run("on this machine", func(t *testing.T) {
		// The proxy answers as Vault: what matters is that it is used and
		// that the report says so.
		proxied := &recorder{}
		proxy := serve(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.handle(w, r, vaultLike) }))
		out, _ := runVerify(t, map[string]string{api.EnvVaultAddress: vault.URL, api.EnvVaultProxyAddr: proxy.URL})
		match(t, out, `WARN  proxy `+regexp.QuoteMeta(proxy.URL)+`: requests to `+regexp.QuoteMeta(vault.URL)+` go through this proxy`)
		if len(proxied.requests()) == 0 {
			t.Errorf("the proxy was not used, so the warning is not about what happened:\n%s", out)
		}
	})
}

// TLS verification turned off is a warning in the report (issue 15).
func TestSkipVerifyWarns(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(vaultLike))
	t.Cleanup(srv.Close)
	out, _ := runVerify(t, map[string]string{api.EnvVaultAddress: srv.URL, api.EnvVaultSkipVerify: "1"})
	match(t, out, `WARN  vault `+regexp.QuoteMeta(srv.URL)+`: TLS verification is off \(VAULT_SKIP_VERIFY\)`)
	match(t, out, `PASS  vault `+regexp.QuoteMeta(srv.URL)+`: reachable`)
}

// No URL is printed with its password, no token or JWT at all, even when
// the server echoes them back (issue 15).
func TestNothingSecretPrinted(t *testing.T) {
	echo := serve(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sys/health" {
			vaultLike(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(500)
		json.NewEncoder(w).Encode(map[string]any{"errors": []string{"token " + r.Header.Get("X-Vault-Token") + " and body " + string(body) + " rejected"}})
	}))
	withPassword := strings.Replace(echo.URL, "http://", "http://admin:p4ssw0rd@", 1)
	for name, tc := range map[string]struct {
		env     map[string]string
		code    int
		pattern string
	}{
		"address with a password": {map[string]string{api.EnvVaultAddress: withPassword}, 1,
			`PASS  vault http://xxxxx@127\.0\.0\.1:\d+: reachable`},
		"echoed token": {map[string]string{api.EnvVaultAddress: echo.URL}, 1,
			`FAIL  ca-key.pem <- .*: Vault answered 500: token xxxxx and body rejected`},
		"echoed JWT": {map[string]string{api.EnvVaultAddress: echo.URL, "jwt": jwt}, 1,
			`FAIL  login auth/kubernetes role istiod: Vault answered 500: token and body .*"jwt":"xxxxx"`}, // the login carries no token
		"refused address with a password": {map[string]string{api.EnvVaultAddress: "http://admin:p4ssw0rd@192.0.2.1:8200"}, 2,
			`VAULT_ADDR http://xxxxx@192\.0\.2\.1:8200 is plain HTTP to another machine`},
		"address that does not parse": {map[string]string{api.EnvVaultAddress: "http://admin:p4ssw0rd@[::1"}, 2,
			`VAULT_ADDR is not a URL: missing ']' in host`},
		"proxy that does not parse": {map[string]string{api.EnvVaultAddress: echo.URL, api.EnvVaultProxyAddr: "http://u:p4ssw0rd@[::1"}, 2,
			`VAULT_PROXY_ADDR is not a URL: missing ']' in host`},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := runVerify(t, tc.env)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if strings.Contains(out, "p4ssw0rd") {
				t.Errorf("printed the password:\n%s", out)
			}
			match(t, out, tc.pattern)
		})
	}
}

// --jwt takes a path; given the token itself, the message must not repeat
// it: stderr ends up in CI logs and in explain's record.
func TestJWTFlagErrorsDoNotEchoTheArgument(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vaultca.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1") // never reached: the token file is read first
	t.Setenv("VAULT_TOKEN", "")
	header, payload := "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ", "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aXN0aW8tc3lzdGVtOmlzdGlvZCJ9"
	short := header + "." + payload + ".c2ln"
	long := header + "." + strings.Repeat(payload, 12) + "." + strings.Repeat("c2lnbmF0dXJl", 30) // as long as a real one
	dir := t.TempDir()
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"a token that could be a file name", short, "--jwt: no such file (the flag takes a path to a token file, not the token)"},
		{"a token longer than a file name", long, "--jwt: no such file (the flag takes a path to a token file, not the token)"},
		{"a missing file", filepath.Join(dir, "istiod.jwt"), "--jwt: no such file (the flag takes a path to a token file, not the token)"},
		{"a directory", dir, "--jwt: cannot read the token file: is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"--config", cfg, "--jwt", tc.arg}, &stdout, &stderr)
			if code != cli.ExitBadInput || stdout.Len() != 0 || stderr.String() != "istio-vault-ca verify: "+tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, stdout.String(), stderr.String(), tc.want)
			}
		})
	}
}

// verify takes no argument: a config named without --config was ignored
// and ./vaultca.yaml looked for, so `verify base.yaml` said "no config".
// Said as policy, config and patches say it, before anything is read.
func TestPositionalArgumentIsRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(cli.EnvConfig, "")
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1") // never reached
	for _, args := range [][]string{
		{"base.yaml"},
		{"--jwt", "istiod.jwt", "base.yaml"},
		{"--role", "istiod", "base.yaml", "--jwt", "istiod.jwt"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			want := "istio-vault-ca verify: unexpected argument \"base.yaml\": pass the config with --config base.yaml\n"
			if code != cli.ExitBadInput || stdout.Len() != 0 || stderr.String() != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout.String(), stderr.String(), want)
			}
		})
	}
}

// No part of a password in VAULT_ADDR is printed, however the address is
// malformed: the URL parser's errors quote what it took for the host (a
// password holding a / ends the host there), and an address without a
// scheme parses as an opaque URL with no userinfo to redact.
func TestAddressPasswordNeverPrinted(t *testing.T) {
	const secret = "Zq9"
	for _, tc := range []struct{ addr, pattern string }{
		{"http://admin:" + secret + "/rest@127.0.0.1:1", `^istio-vault-ca verify: VAULT_ADDR is not a URL: it holds an @, .*percent-encode`},
		{"http://admin:" + secret + "#rest@127.0.0.1:1", `^istio-vault-ca verify: VAULT_ADDR is not a URL: it holds an @`},
		{"http://admin:" + secret + "?rest@127.0.0.1:1", `^istio-vault-ca verify: VAULT_ADDR is not a URL: it holds an @`},
		{"http://admin:" + secret + "%zz@127.0.0.1:1", `^istio-vault-ca verify: VAULT_ADDR is not a URL: it holds an @`},
		{"http://[admin:" + secret + "@127.0.0.1:1", `^istio-vault-ca verify: VAULT_ADDR is not a URL: net/url: invalid userinfo`},
		{"admin:" + secret + "rest@127.0.0.1:1", `^istio-vault-ca verify: VAULT_ADDR must be an http://, https:// or unix:// URL such as https://vault.example.com:8200, got xxxxx@127.0.0.1:1`},
		{"admin:" + secret + "rest@vault.example.com:8200/", `^istio-vault-ca verify: VAULT_ADDR must be an http://, https:// or unix:// URL`},
		{"http://admin:" + secret + "@vault.example.com:8200", `^istio-vault-ca verify: VAULT_ADDR http://xxxxx@vault.example.com:8200 is plain HTTP to another machine`},
		{"http://admin:" + secret + "@127.0.0.1:1", `^FAIL  vault http://xxxxx@127.0.0.1:1: connection refused`},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			out, _ := runVerify(t, map[string]string{api.EnvVaultAddress: tc.addr})
			if strings.Contains(out, secret) {
				t.Errorf("printed (part of) the password:\n%s", out)
			}
			match(t, out, tc.pattern)
		})
	}
}

// verify trusts the CA the agent trusts for Vault: --ca-cert, else
// VAULT_CACERT, else spec.vault.caCert when that file is here. With
// tlsSecret it never is (the injector mounts the Secret at /vault/tls in
// the agent's container): verify refuses to fall back on the system's
// roots and says how to fetch the Secret's ca.crt.
func TestVaultCA(t *testing.T) {
	if _, err := os.Stat("/vault/tls/ca.crt"); err == nil {
		t.Skip("/vault/tls/ca.crt exists on this machine")
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(vaultLike))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "vault-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(otherFile, otherCA(t), 0o644); err != nil {
		t.Fatal(err)
	}
	withSecret := strings.Replace(testConfig, "vault: {role: istiod}", "vault: {role: istiod, tlsSecret: vault-tls}", 1)
	withFile := strings.Replace(testConfig, "vault: {role: istiod}", "vault: {role: istiod, caCert: "+caFile+"}", 1)
	reached := `PASS  vault ` + regexp.QuoteMeta(srv.URL) + `: reachable`
	for _, tc := range []struct {
		name, config string
		env          map[string]string
		args         []string
		code         int // -1: any but 2 (the fake Vault has no secrets)
		want         string
	}{
		{"tlsSecret, no CA given", withSecret, nil, nil, 2,
			`spec.vault.caCert /vault/tls/ca.crt is where the injector mounts the Secret vault-tls \(spec.vault.tlsSecret\) in the agent's container, not on this machine: pass --ca-cert FILE \(or set VAULT_CACERT\) with its ca.crt, e.g. from kubectl -n istio-system get secret vault-tls -o jsonpath='\{.data.ca\\.crt\}' \| base64 -d > vault-ca.crt`},
		{"tlsSecret, --ca-cert", withSecret, nil, []string{"--ca-cert", caFile}, -1,
			`NOTE  vault ` + regexp.QuoteMeta(srv.URL) + `: uses the CA in ` + regexp.QuoteMeta(caFile) + ` \(--ca-cert\) to check Vault's certificate`},
		{"tlsSecret, VAULT_CACERT", withSecret, map[string]string{api.EnvVaultCACert: caFile}, nil, -1, reached},
		{"--ca-cert over VAULT_CACERT", withSecret, map[string]string{api.EnvVaultCACert: otherFile}, []string{"--ca-cert", caFile}, -1, reached},
		{"--ca-cert of another CA", withSecret, nil, []string{"--ca-cert", otherFile}, 1,
			`FAIL  vault ` + regexp.QuoteMeta(srv.URL) + `: TLS handshake failed .*x509.*: set VAULT_CACERT \(or pass --ca-cert FILE\)`},
		{"--ca-cert missing", withSecret, nil, []string{"--ca-cert", filepath.Join(dir, "nope.pem")}, 2, `--ca-cert .*nope.pem: cannot use it as the CA of Vault's certificate`},
		{"caCert on this machine", withFile, nil, nil, -1,
			`NOTE  vault ` + regexp.QuoteMeta(srv.URL) + `: uses the CA in ` + regexp.QuoteMeta(caFile) + ` \(spec.vault.caCert, the agent's\)`},
		{"no CA named: the system's roots", testConfig, nil, nil, 1, `TLS handshake failed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{api.EnvVaultAddress: srv.URL}
			for k, v := range tc.env {
				env[k] = v
			}
			out, code := runVerifyConfig(t, tc.config, env, tc.args...)
			if tc.code >= 0 && code != tc.code || tc.code < 0 && code == 2 {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			match(t, out, tc.want)
			if tc.code != 2 && tc.want != `TLS handshake failed` && !strings.Contains(tc.name, "another CA") {
				match(t, out, reached)
			}
			// Naming the CA passes nothing: with the wrong one, no PASS
			// about Vault comes before the handshake's FAIL.
			if strings.Contains(tc.name, "another CA") && strings.Contains(out, "PASS  vault") {
				t.Errorf("a PASS about Vault beside the failed handshake:\n%s", out)
			}
		})
	}
}

// otherCA is a CA certificate that signed nothing the test serves
// (httptest's servers all share one certificate).
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
