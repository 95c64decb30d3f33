package verify

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"
)

// mintVault is a fake Vault holding a root at pki/cert/ca and the mounts
// given (mount -> engine type); it records every request's method, so a
// test can see that verify wrote nothing.
func mintVault(t *testing.T, root string, mounts map[string]string) (*api.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var methods []string
	c := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		path := strings.TrimPrefix(r.URL.Path, "/v1/")
		if path == "sys/health" {
			json.NewEncoder(w).Encode(map[string]any{"initialized": true, "sealed": false, "version": "fake"})
			return
		}
		if p, ok := strings.CutPrefix(path, "sys/internal/ui/mounts/"); ok {
			for m, typ := range mounts {
				if strings.HasPrefix(p, m+"/") {
					json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"path": m + "/", "type": typ}})
					return
				}
			}
		}
		if path == "pki/cert/ca" && root != "" {
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"certificate": root}})
			return
		}
		w.WriteHeader(404)
		w.Write([]byte(`{"errors":[]}`))
	})
	return c, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), methods...) }
}

const mintConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: unit}
spec:
  vault: {role: istiod}
  source:
    mint: {csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: Istio intermediate, ttl: 720h}
`

// A minted intermediate is checked without minting one: the root mount's
// CA is read and must be a CA, and the mounts of the generate and the sign
// must be PKI engines. Every request verify makes is a read.
func TestMintChecksWithoutWriting(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	leaf := issue(t, "not a ca", false, root)
	for name, tc := range map[string]struct {
		root     string
		mounts   map[string]string
		patterns []string
	}{
		"ready": {root.certPEM, map[string]string{"pki_int": "pki", "pki": "pki"}, []string{
			`PASS  pki_int/intermediate/generate/exported \(written by the agent, not by verify\): mount pki_int/ is a PKI engine`,
			`PASS  pki/root/sign-intermediate \(written by the agent, not by verify\): mount pki/ is a PKI engine`,
			`PASS  root-cert.pem <- pki/cert/ca#certificate: present`,
			`PASS  root-cert.pem: CN=mesh root valid for`,
			`0 failed`}},
		"no intermediate mount": {root.certPEM, map[string]string{"pki": "pki"}, []string{
			`FAIL  pki_int/intermediate/generate/exported \(written by the agent, not by verify\): no mount serves it: enable the PKI engine there`,
			`1 failed`}},
		"kv at the root": {root.certPEM, map[string]string{"pki_int": "pki", "pki": "kv"}, []string{
			`FAIL  pki/root/sign-intermediate \(written by the agent, not by verify\): mount pki/ is a kv engine, not pki`}},
		"no root": {"", map[string]string{"pki_int": "pki", "pki": "pki"}, []string{
			`FAIL  root-cert.pem <- pki/cert/ca#certificate: no secret at pki/cert/ca`}},
		"root not a CA": {leaf.certPEM, map[string]string{"pki_int": "pki", "pki": "pki"}, []string{
			`FAIL  root-cert.pem: CN=not a ca is not a CA certificate`}},
	} {
		t.Run(name, func(t *testing.T) {
			c, methods := mintVault(t, tc.root, tc.mounts)
			out := runReport(t, c, mintConfig)
			matches(t, out, tc.patterns...)
			for _, m := range methods() {
				if !strings.HasPrefix(m, "GET ") {
					t.Errorf("verify made a write: %s", m)
				}
			}
		})
	}
}
