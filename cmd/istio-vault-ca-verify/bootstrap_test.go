package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/testca"
)

const pkiConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cmd}
spec:
  cluster: cluster1
  vault: {role: istiod}
  source:
    pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca}}
`

// fakePKI answers the requests bootstrap makes as Vault's PKI and KV v2
// engines do (Vault 1.11 and later: several issuers a mount, a default),
// signing for real, so that the whole run is exercised without a Vault.
// The end-to-end test runs the same against the real one.
type fakePKI struct {
	mu       sync.Mutex
	t        *testing.T
	rootKey  crypto.Signer
	root     *x509.Certificate
	rootPEM  string
	mounts   map[string]map[string]any
	keys     map[string]crypto.PublicKey // key ID -> public key, as the mount keeps them
	issuers  map[string][]string         // issuer ID -> PEM chain, the issuer's first
	def      string                      // the default issuer
	kv       []map[string]any            // versions of secret/istioca
	writes   int                         // requests that change something
	echoKV   bool                        // a KV write fails, quoting the request body
	keysSeen []string                    // every private key handed out
}

func newFakePKI(t *testing.T) *fakePKI {
	root := testca.Issue(t, "fake root", true, nil, time.Now().Add(10*365*24*time.Hour))
	return &fakePKI{t: t, rootKey: root.Key, root: root.Cert, rootPEM: strings.TrimSpace(root.CertPEM),
		mounts: map[string]map[string]any{"pki": {"type": "pki"}, "secret": {"type": "kv", "options": map[string]string{"version": "2"}}},
		keys:   map[string]crypto.PublicKey{}, issuers: map[string][]string{}}
}

func (f *fakePKI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	json.Unmarshal(raw, &body)
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	reply := func(code int, data map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	}
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"errors": []string{msg}})
	}
	if r.Method != http.MethodGet && path != "sys/capabilities-self" {
		f.writes++
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, "sys/mounts/"):
		if m, ok := f.mounts[strings.TrimPrefix(path, "sys/mounts/")]; ok {
			reply(200, m)
			return
		}
		fail(400, "No secret engine mount at "+strings.TrimPrefix(path, "sys/mounts/")+"/")
	case r.Method == http.MethodPost && strings.HasPrefix(path, "sys/mounts/"):
		f.mounts[strings.TrimPrefix(path, "sys/mounts/")] = map[string]any{"type": body["type"]}
		w.WriteHeader(204)
	case path == "sys/capabilities-self":
		reply(200, map[string]any{"capabilities": []string{"root"}})
	case path == "pki/cert/ca":
		reply(200, map[string]any{"certificate": f.rootPEM})
	case path == "istioca/config/issuers" && r.Method == http.MethodGet:
		reply(200, map[string]any{"default": f.def})
	case path == "istioca/config/issuers":
		f.def = body["default"].(string)
		reply(200, map[string]any{"default": f.def})
	case path == "istioca/cert/ca" || path == "istioca/cert/ca_chain":
		chain := f.issuers[f.def]
		if chain == nil {
			fail(500, "no default issuer currently configured")
			return
		}
		if path == "istioca/cert/ca" {
			chain = chain[:1]
		}
		reply(200, map[string]any{"certificate": strings.Join(chain, "\n")})
	case path == "istioca/intermediate/generate/exported":
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			f.t.Error(err)
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: body["common_name"].(string)}}, key)
		if err != nil {
			f.t.Error(err)
		}
		id := fmt.Sprintf("key-%d", len(f.keys)+1)
		f.keys[id] = key.Public()
		keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
		f.keysSeen = append(f.keysSeen, keyPEM)
		reply(200, map[string]any{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), "private_key": keyPEM, "key_id": id})
	case path == "pki/root/sign-intermediate":
		b, _ := pem.Decode([]byte(body["csr"].(string)))
		csr, err := x509.ParseCertificateRequest(b.Bytes)
		if err != nil {
			f.t.Error(err)
		}
		ttl, _ := time.ParseDuration(body["ttl"].(string))
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: body["common_name"].(string)},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(ttl), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, f.root, csr.PublicKey, f.rootKey)
		if err != nil {
			f.t.Error(err)
		}
		cert := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
		reply(200, map[string]any{"certificate": cert, "issuing_ca": f.rootPEM, "ca_chain": []string{cert, f.rootPEM}})
	case path == "istioca/intermediate/set-signed":
		pems := strings.SplitAfter(strings.TrimSpace(body["certificate"].(string)), "-----END CERTIFICATE-----")
		b, _ := pem.Decode([]byte(pems[0]))
		cert, _ := x509.ParseCertificate(b.Bytes)
		id, keyID := fmt.Sprintf("issuer-%d", len(f.issuers)+1), ""
		for k, pub := range f.keys {
			if pub.(*rsa.PublicKey).Equal(cert.PublicKey) {
				keyID = k
			}
		}
		var chain []string
		for _, p := range pems {
			if p = strings.TrimSpace(p); p != "" {
				chain = append(chain, p)
			}
		}
		f.issuers[id] = chain
		if f.def == "" {
			f.def = id
		}
		reply(200, map[string]any{"mapping": map[string]any{id: keyID}, "imported_issuers": []string{id}})
	case path == "secret/data/istioca" && r.Method == http.MethodGet:
		if len(f.kv) == 0 {
			fail(404, "")
			return
		}
		reply(200, map[string]any{"data": f.kv[len(f.kv)-1], "metadata": map[string]any{"version": len(f.kv)}})
	case path == "secret/data/istioca":
		if f.echoKV {
			fail(500, "rejected: "+string(raw))
			return
		}
		if cas := body["options"].(map[string]any)["cas"].(float64); int(cas) != len(f.kv) {
			fail(400, "check-and-set parameter did not match the current version")
			return
		}
		f.kv = append(f.kv, body["data"].(map[string]any))
		reply(200, map[string]any{"version": len(f.kv)})
	default:
		f.t.Errorf("bootstrap made a request the fake does not know: %s %s", r.Method, path)
		fail(404, "")
	}
}

// runBootstrapCmd runs `bootstrap` against addr with a clean Vault
// environment, and fails the test if the output holds a key or the token.
func runBootstrapCmd(t *testing.T, addr, config string, keys func() []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "vaultca.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{api.EnvVaultAgentAddr, api.EnvVaultCACert, api.EnvVaultCAPath, api.EnvVaultSkipVerify,
		api.EnvVaultProxyAddr, api.EnvHTTPProxy, api.EnvVaultDisableRedirects, api.EnvVaultSRVLookup, api.EnvVaultNamespace} {
		t.Setenv(name, "")
	}
	t.Setenv(api.EnvVaultAddress, addr)
	t.Setenv(api.EnvVaultToken, token)
	var out, errOut bytes.Buffer
	code = run(append([]string{"bootstrap", "--config", cfg, "--timeout", "20s"}, args...), &out, &errOut)
	all := out.String() + errOut.String()
	for _, secret := range append(keys(), token) {
		for _, line := range strings.Split(strings.TrimSpace(secret), "\n") {
			if !strings.HasPrefix(line, "-----") && strings.Contains(all, line) {
				t.Fatalf("bootstrap printed (a line of) a key or the token:\n%s", all)
			}
		}
	}
	return out.String(), errOut.String(), code
}

// A first run mints, a second changes nothing, --rotate mints the next
// one as a new KV version and makes it the default issuer; no key is
// printed, with --verbose either.
func TestBootstrapFlow(t *testing.T) {
	f := newFakePKI(t)
	srv := serve(t, "127.0.0.1", f)
	keys := func() []string { f.mu.Lock(); defer f.mu.Unlock(); return append([]string(nil), f.keysSeen...) }

	out, errOut, code := runBootstrapCmd(t, srv.URL, pkiConfig, keys, "--verbose")
	if code != cli.ExitOK {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	match(t, out, `^minted "Istio intermediate CA cluster1" \(serial [0-9a-f:]+, expires \d{4}-\d\d-\d\d\) in PKI mount istioca, signed by pki's root "fake root"; its key is at secret/istioca#ca-key.pem, KV version 1\n$`)
	match(t, errOut, `enabled the PKI mount istioca`)
	if f.mounts["istioca"]["type"] != "pki" || len(f.kv) != 1 || f.def != "issuer-1" || len(f.issuers["issuer-1"]) != 2 {
		t.Fatalf("after the first run: mounts %v, %d KV versions, default %q, chain of %d", f.mounts, len(f.kv), f.def, len(f.issuers["issuer-1"]))
	}
	if f.kv[0]["ca-key.pem"] != f.keysSeen[0] {
		t.Errorf("KV does not hold the generated key")
	}

	writes := f.writes
	out, errOut, code = runBootstrapCmd(t, srv.URL, pkiConfig, keys)
	if code != cli.ExitOK || f.writes != writes {
		t.Fatalf("second run: exit %d, %d writes\n%s%s", code, f.writes-writes, out, errOut)
	}
	match(t, out, `^nothing to do: istioca's intermediate "Istio intermediate CA cluster1" .* chains to pki's root "fake root", and its key at secret/istioca#ca-key.pem \(KV version 1\) is its; --rotate makes the next one\n$`)

	out, errOut, code = runBootstrapCmd(t, srv.URL, pkiConfig, keys, "--rotate", "--verbose", "--common-name", "next")
	if code != cli.ExitOK {
		t.Fatalf("--rotate: exit %d\n%s%s", code, out, errOut)
	}
	match(t, out, `^rotated istioca's intermediate from serial [0-9a-f:]+ to "next" .* KV version 2; istiod loads it`)
	match(t, errOut, `made issuer issuer-2 the default of istioca \(it was issuer-1\)`)
	if len(f.kv) != 2 || f.kv[1]["ca-key.pem"] != f.keysSeen[1] || f.def != "issuer-2" {
		t.Errorf("after --rotate: %d KV versions, default %q", len(f.kv), f.def)
	}

	// The key of one issuance with the certificate of another is named,
	// and nothing is written.
	f.kv = append(f.kv, map[string]any{"ca-key.pem": f.keysSeen[0]})
	writes = f.writes
	_, errOut, code = runBootstrapCmd(t, srv.URL, pkiConfig, keys)
	if code != cli.ExitFailed || f.writes != writes {
		t.Errorf("mismatched key: exit %d, %d writes", code, f.writes-writes)
	}
	match(t, errOut, `the key at secret/istioca#ca-key.pem .* does not match the public key of istioca's CA certificate \("next", serial .*run bootstrap --rotate`)
}

// A KV write that fails quoting the request, which holds the key, prints
// no part of the key, and says what was changed before.
func TestBootstrapErrorsDoNotQuoteTheKey(t *testing.T) {
	f := newFakePKI(t)
	f.echoKV = true
	srv := serve(t, "127.0.0.1", f)
	_, errOut, code := runBootstrapCmd(t, srv.URL, pkiConfig, func() []string { return f.keysSeen }, "--verbose")
	if code != cli.ExitFailed || len(f.keysSeen) != 1 {
		t.Fatalf("exit %d, %d keys generated\n%s", code, len(f.keysSeen), errOut)
	}
	match(t, errOut, `storing the key at secret/istioca: Vault answered 500: rejected: .*xxxxx.*; the new intermediate was not set`)
	match(t, errOut, `\(changed in Vault before this: enabled the PKI mount istioca; generated a key in istioca`)
	match(t, errOut, `the root pki signed intermediate "Istio intermediate CA cluster1" \(serial ([0-9a-f:]+)\), whose key entry is in istioca/keys; if you do not run bootstrap again, revoke it: vault write pki/revoke serial_number=[0-9a-f:]+\)`)
}

// Config and usage errors exit 2 before Vault is asked anything.
func TestBootstrapUsage(t *testing.T) {
	never := serve(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("Vault was asked %s %s", r.Method, r.URL)
	}))
	none := func() []string { return nil }
	for _, tc := range []struct {
		name, config string
		args         []string
		want         string
	}{
		{"kv source", testConfig, nil, "the config's source is not spec.source.pki"},
		{"kv v1 key", strings.Replace(pkiConfig, "path: secret/istioca", "path: secret/istioca, version: 1", 1), nil, "spec.source.pki.key.version is 1"},
		{"short ttl", pkiConfig, []string{"--ttl", "30m"}, "--ttl must be at least 1h, got 30m0s"},
		{"key type", pkiConfig, []string{"--key-type", "dsa"}, `--key-type must be ec or rsa, got "dsa"`},
		{"argument", pkiConfig, []string{"vaultca.yaml"}, `unexpected argument "vaultca.yaml"`},
		{"quote in the name", pkiConfig, []string{"--common-name", `a"b`}, "--common-name contains a quote or backslash"},
		{"C1 in the name", pkiConfig, []string{"--common-name", "a\u0085b"}, "--common-name contains a newline or control character"},
		{"newline in the name", pkiConfig, []string{"--common-name", "a\nb"}, "--common-name contains a newline or control character"},
		{"long name", pkiConfig, []string{"--common-name", strings.Repeat("n", 65)}, "--common-name is 65 characters"},
		{"auth mount", strings.Replace(pkiConfig, "mount: istioca,", "mount: auth/x,", 1), nil, `spec.source.pki.mount is "auth/x", under auth`},
		{"identity root", strings.Replace(pkiConfig, "rootMount: pki", "rootMount: identity", 1), nil, `spec.source.pki.rootMount is "identity", under identity`},
		{"cubbyhole key", strings.Replace(pkiConfig, "path: secret/istioca", "path: cubbyhole/istioca", 1), nil, `spec.source.pki.key.path is "cubbyhole/istioca", under cubbyhole`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runBootstrapCmd(t, never.URL, tc.config, none, tc.args...)
			if code != cli.ExitBadInput || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tc.want)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "vaultca.yaml")
		os.WriteFile(cfg, []byte(pkiConfig), 0o600)
		t.Setenv(api.EnvVaultAddress, never.URL)
		t.Setenv(api.EnvVaultToken, "")
		var out, errOut bytes.Buffer
		if code := run([]string{"bootstrap", "--config", cfg}, &out, &errOut); code != cli.ExitBadInput || !strings.Contains(errOut.String(), "set VAULT_TOKEN") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	})
}
