package verify

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
)

// fakeMint is what a fake Vault holds for a minted intermediate: the root
// at pki/cert/ca, the mounts (mount -> engine type), the token's
// capabilities (path -> capabilities; none: 404 from capabilities-self)
// and istiod's policy text ("": the token may not read it).
type fakeMint struct {
	root   string
	mounts map[string]string
	caps   map[string][]string
	policy string
	// maxLease is the root mount's max lease TTL in seconds (0: the
	// token may not read its tune).
	maxLease int
}

// mintVault is a fake Vault serving fm; it records every request's method,
// so a test can see that verify wrote nothing. A path no mount serves is
// answered with permission denied, as Vault does.
func mintVault(t *testing.T, fm fakeMint) (*api.Client, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var methods []string
	c := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		path := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case path == "sys/health":
			json.NewEncoder(w).Encode(map[string]any{"initialized": true, "sealed": false, "version": "fake"})
			return
		case path == "sys/capabilities-self" && fm.caps != nil:
			var body struct{ Path string } // what the api client sends
			json.NewDecoder(r.Body).Decode(&body)
			caps, ok := fm.caps[body.Path]
			if !ok {
				caps = []string{"deny"}
			}
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"capabilities": caps, body.Path: caps}})
			return
		case path == "sys/policies/acl/istiod-ca" && fm.policy != "":
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"name": "istiod-ca", "policy": fm.policy}})
			return
		case strings.HasPrefix(path, "sys/policies/acl/") || strings.HasPrefix(path, "sys/policy/"):
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`))
			return
		case path == "sys/mounts/pki/tune" && fm.maxLease > 0:
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"max_lease_ttl": fm.maxLease}})
			return
		case path == "pki/issuer/r1/json" && fm.root != "":
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"certificate": fm.root, "issuer_name": "r1"}})
			return
		case strings.HasPrefix(path, "pki/issuer/"):
			w.WriteHeader(500) // as Vault 1.21 answers
			w.Write([]byte(`{"errors":["unable to find PKI issuer for reference: nope"]}`))
			return
		case path == "pki/cert/ca" && fm.root != "":
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"certificate": fm.root}})
			return
		}
		if p, ok := strings.CutPrefix(path, "sys/internal/ui/mounts/"); ok {
			for m, typ := range fm.mounts {
				if strings.HasPrefix(p, m+"/") {
					json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"path": m + "/", "type": typ}})
					return
				}
			}
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`))
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
// CA is read and must be a CA, the mounts of the generate and the sign
// must be PKI engines, the token must have update on both and read on the
// root (sys/capabilities-self), and istiod's policy, where the token may
// read it, must be the one the tool writes. Every request verify makes is
// a read, or the capabilities-self query, which writes nothing.
func TestMintChecksWithoutWriting(t *testing.T) {
	root := issue(t, "mesh root", true, nil)
	leaf := issue(t, "not a ca", false, root)
	cfg, plans := plansOf(t, mintConfig)
	set := policy.For(cfg, plans...)
	written := set.HCL(set.Policies[0])
	both := map[string]string{"pki_int": "pki", "pki": "pki"}
	istiod := map[string][]string{"pki_int/intermediate/generate/exported": {"update"}, "pki/root/sign-intermediate": {"update"}, "pki/cert/ca": {"read"}}
	rootToken := map[string][]string{"pki_int/intermediate/generate/exported": {"root"}, "pki/root/sign-intermediate": {"root"}, "pki/cert/ca": {"root"}}
	for name, tc := range map[string]struct {
		fm       fakeMint
		ttl      string // instead of 720h
		caPath   string // instead of pki/root/sign-intermediate
		patterns []string
		absent   []string
	}{
		"ready": {fakeMint{root.certPEM, both, istiod, written, 0}, "", "", []string{
			`PASS  pki_int/intermediate/generate/exported \(written by the agent, not by verify\): mount pki_int/ is a PKI engine`,
			`PASS  pki/root/sign-intermediate \(written by the agent, not by verify\): mount pki/ is a PKI engine`,
			`PASS  pki/root/sign-intermediate \(update\): the token may update it`,
			`PASS  pki/cert/ca \(read\): the token may read it`,
			`PASS  policy istiod-ca: is the policy istio-vault-ca writes, pins and all`,
			`PASS  root-cert.pem <- pki/cert/ca#certificate: present`,
			`PASS  root-cert.pem: CN=mesh root valid for`,
			`0 failed`}, nil},
		"ttl over the mount's max lease": {fakeMint{root.certPEM, both, istiod, written, 86400}, "", "", []string{
			`WARN  spec.source.mint.ttl 720h: is longer than mount pki's max lease TTL \(24h0m0s\)`, `0 failed`}, nil},
		"ttl over the root's life": {fakeMint{root.certPEM, both, rootToken, "", 10 * 365 * 86400}, "9000h", "", []string{
			`WARN  spec.source.mint.ttl 9000h: is longer than the root's remaining life`}, []string{`max lease TTL \(`}},
		"a named issuer": {fakeMint{root.certPEM, both, rootToken, "", 0}, "", "pki/issuer/r1/sign-intermediate", []string{
			`PASS  root-cert.pem <- pki/issuer/r1/json#certificate: present`, `PASS  root-cert.pem: CN=mesh root`}, []string{`pki/cert/ca`}},
		"a named issuer that is not there": {fakeMint{root.certPEM, both, rootToken, "", 0}, "", "pki/issuer/nope/sign-intermediate", []string{
			`FAIL  root-cert.pem <- pki/issuer/nope/json#certificate: mount pki has no issuer "nope", which caPath names \(Vault said: unable to find PKI issuer for reference: nope\): name one of its issuers \(vault list pki/issuers\)`}, nil},
		"a stale ttl pin": {fakeMint{root.certPEM, both, istiod, strings.Replace(written, `"720h"`, `"24h"`, 1), 0}, "", "", []string{
			`FAIL  policy istiod-ca: is not the policy istio-vault-ca writes`, `1 failed`}, nil},
		"no path length pin": {fakeMint{root.certPEM, both, istiod, strings.Replace(strings.Replace(written, `    "max_path_length" = ["0"]`+"\n", "", 1), `, "max_path_length"`, "", 1), 0}, "", "", []string{
			`FAIL  policy istiod-ca: is not the policy`}, nil},
		"read only on the sign": {fakeMint{root.certPEM, both, map[string][]string{"pki_int/intermediate/generate/exported": {"update"}, "pki/root/sign-intermediate": {"read"}, "pki/cert/ca": {"read"}}, "", 0}, "", "", []string{
			`FAIL  pki/root/sign-intermediate \(update\): the token may only read, not update`,
			`WARN  policy istiod-ca: not checked: the token may not read sys/policies/acl/istiod-ca`}, nil},
		"no grant on the root": {fakeMint{root.certPEM, both, map[string][]string{"pki_int/intermediate/generate/exported": {"update"}, "pki/root/sign-intermediate": {"update"}}, written, 0}, "", "", []string{
			`FAIL  pki/cert/ca \(read\): the token may do nothing there, not read`}, nil},
		"no intermediate mount, root token": {fakeMint{root.certPEM, map[string]string{"pki": "pki"}, rootToken, written, 0}, "", "", []string{
			`FAIL  pki_int/intermediate/generate/exported \(written by the agent, not by verify\): no mount serves it \(Vault answers a missing mount with permission denied\): enable it \(vault secrets enable -path=pki_int pki\); the agent mints into it`,
			`1 failed`}, []string{`give it its CA`, `FAIL.*permission denied\)?:? the token`}},
		"kv at the root": {fakeMint{root.certPEM, map[string]string{"pki_int": "pki", "pki": "kv"}, istiod, written, 0}, "", "", []string{
			`FAIL  pki/root/sign-intermediate \(written by the agent, not by verify\): mount pki/ is a kv engine, not pki`}, nil},
		"no root": {fakeMint{"", both, istiod, written, 0}, "", "", []string{
			`FAIL  root-cert.pem <- pki/cert/ca#certificate: no secret at pki/cert/ca`}, nil},
		"root not a CA": {fakeMint{leaf.certPEM, both, istiod, written, 0}, "", "", []string{
			`FAIL  root-cert.pem: CN=not a ca is not a CA certificate`}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			c, methods := mintVault(t, tc.fm)
			cfg := mintConfig
			if tc.caPath != "" {
				cfg = strings.Replace(cfg, "caPath: pki/root/sign-intermediate", "caPath: "+tc.caPath, 1)
			}
			if tc.ttl != "" {
				cfg = strings.Replace(cfg, "ttl: 720h", "ttl: "+tc.ttl, 1)
			}
			out := runReport(t, c, cfg)
			matches(t, out, tc.patterns...)
			noMatch(t, out, tc.absent...)
			for _, m := range methods() {
				if !strings.HasPrefix(m, "GET ") && m != "POST /v1/sys/capabilities-self" {
					t.Errorf("verify made a write: %s", m)
				}
			}
		})
	}
}
