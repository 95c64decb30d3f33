package bootstrap

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, which `go test ./... -update` passes to every package
	"github.com/istio-vault-ca/istio-vault-ca/internal/testca"
)

// newCA is a CA certificate for cn, signed by parent (a root when nil).
func newCA(t *testing.T, cn string, parent *testca.Cert, notAfter time.Time) *testca.Cert {
	return testca.Issue(t, cn, true, parent, notAfter)
}

func testRun() *run {
	pki := &config.PKI{Mount: "istioca", RootMount: "pki", Key: config.PKIKey{KVSecret: config.KVSecret{Version: 2, Path: "secret/istioca"}, Field: "ca-key.pem"}}
	r := &run{pki: pki, o: Options{Now: time.Now}}
	r.kvMount, r.kvPath = kvLocation(pki.Key.KVSecret)
	return r
}

// Without --rotate, every state an earlier run or a hand can leave is
// either minted (a first run), left alone (good), or named with what to
// do, and none is a silent overwrite of the key.
func TestMustMint(t *testing.T) {
	year := time.Now().Add(365 * 24 * time.Hour)
	root := newCA(t, "root", nil, year.Add(365*24*time.Hour))
	otherRoot := newCA(t, "other root", nil, year)
	inter := newCA(t, "Istio intermediate CA cluster1", root, year)
	other := newCA(t, "another intermediate", root, year)
	expired := newCA(t, "expired intermediate", root, time.Now().Add(-time.Minute))
	foreign := newCA(t, "intermediate of another root", otherRoot, year)
	good := func(c *testca.Cert) *state {
		return &state{mountType: "pki", ca: c.Cert, chain: []*x509.Certificate{c.Cert, root.Cert}, root: root.Cert, key: c.KeyPEM, hasKey: true, kvVersion: 1}
	}
	for _, tc := range []struct {
		name string
		st   *state
		want string // "" mint, "nothing" errNothingToDo, else in the error
	}{
		{"empty vault", &state{root: root.Cert}, ""},
		{"mount without a CA, no key", &state{mountType: "pki", root: root.Cert}, ""},
		{"good", good(inter), "nothing"},
		{"key but no mount", &state{root: root.Cert, key: inter.KeyPEM, hasKey: true},
			"PKI mount istioca does not exist, but KV holds a key at secret/istioca#ca-key.pem"},
		{"key but no CA", &state{mountType: "pki", root: root.Cert, key: inter.KeyPEM, hasKey: true},
			"PKI mount istioca has no default issuer (no CA certificate), but KV holds a key"},
		{"CA but no key", func() *state { s := good(inter); s.key, s.hasKey = "", false; return s }(),
			"has a CA certificate (\"Istio intermediate CA cluster1\", serial"},
		{"key of another intermediate", func() *state { s := good(inter); s.key = other.KeyPEM; return s }(),
			"does not match the public key of istioca's CA certificate"},
		{"not a key", func() *state { s := good(inter); s.key = "not a key"; return s }(),
			"is not a usable private key (it holds no PEM private key)"},
		{"signed by another root", good(foreign), "is not signed by pki's root (\"root\")"},
		{"chain without the CA first", func() *state { s := good(inter); s.chain = []*x509.Certificate{root.Cert}; return s }(),
			"istioca/cert/ca_chain does not start with the mount's CA certificate"},
		{"expired", good(expired), "expired on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.st.mustMint(testRun())
			switch {
			case tc.want == "":
				if err != nil {
					t.Errorf("want a mint, got %v", err)
				}
			case tc.want == "nothing":
				if !errors.Is(err, errNothingToDo) {
					t.Errorf("want nothing to do, got %v", err)
				}
			case err == nil || errors.Is(err, errNothingToDo) || !strings.Contains(err.Error(), tc.want):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			default:
				if !strings.Contains(err.Error(), "--rotate") {
					t.Errorf("the error does not say what to do: %v", err)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") {
					t.Errorf("the error quotes a key: %v", err)
				}
			}
		})
	}
}

// The redactor blanks the key whole, trimmed, and each line of its body.
func TestRedactKey(t *testing.T) {
	k := newCA(t, "x", nil, time.Now().Add(time.Hour)).KeyPEM
	r := testRun()
	r.secret(k)
	r.secret("root") // too short: would blank out words
	lines := strings.Split(strings.TrimSpace(k), "\n")
	for _, s := range []string{k, strings.TrimSpace(k), "Vault said: " + lines[1] + " is bad", `{"ca-key.pem":"` + strings.ReplaceAll(k, "\n", `\n`) + `"}`} {
		got := r.redact(s)
		for _, l := range lines[1 : len(lines)-1] {
			if strings.Contains(got, l) {
				t.Errorf("redact(%q) = %q still holds a line of the key", s, got)
			}
		}
	}
	if got := r.redact("rootMount pki"); got != "rootMount pki" {
		t.Errorf("a short secret mangled the text: %q", got)
	}
}

func TestKVLocation(t *testing.T) {
	for _, tc := range []struct {
		s           config.KVSecret
		mount, path string
	}{
		{config.KVSecret{Version: 2, Path: "secret/istioca"}, "secret", "istioca"},
		{config.KVSecret{Version: 2, Path: "kv/istio/cluster1/ca"}, "kv", "istio/cluster1/ca"},
		{config.KVSecret{Version: 2, Mount: "kv/istio", Path: "kv/istio/cluster1"}, "kv/istio", "cluster1"},
	} {
		if m, p := kvLocation(tc.s); m != tc.mount || p != tc.path {
			t.Errorf("kvLocation(%+v) = %q, %q; want %q, %q", tc.s, m, p, tc.mount, tc.path)
		}
	}
}
