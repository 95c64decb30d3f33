package e2e

import (
	"crypto/tls"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// bootstrapConfig is seed 001's PKI layout (TSB's istioca), its
// intermediate minted by `istio-vault-ca bootstrap` instead of by hand.
const bootstrapConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: tsb}
spec:
  cluster: cluster1
  vault: {role: istiod, authPath: auth/kubernetes-bootstrap, policy: istioca-bootstrap}
  secretVolumePath: /etc/cacerts-vault
  source:
    pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca}}
`

// rootOnly is all a user has before bootstrap: a root CA in the pki mount
// (and the dev server's KV v2 at secret/).
func rootOnly(t *testing.T, v *api.Client) {
	t.Helper()
	must(t, v.Sys().Mount("pki", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	_, err := v.Logical().Write("pki/root/generate/internal", map[string]any{"common_name": "Root CA", "ttl": "87600h"})
	must(t, err)
}

// TestBootstrap: on a Vault with only a root mount, bootstrap makes the
// PKI layout's intermediate and key; verify, logged in as istiod, passes;
// the real agent, injected by the real injector into istiod's pod,
// renders the bundle from it (the key is the certificate's, the chain the
// intermediate then the root, the root Vault's), and the real istiod
// loads it, publishes the root and signs a workload with the
// intermediate. TestBootstrapRuns has the runs after it.
func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	v := e.vault.client
	cfgFile, _ := e.setup(t, layout{name: "bootstrap", config: bootstrapConfig, seed: rootOnly})
	rootPEM := readPEM(t, v, "pki/cert/ca")

	out, errOut, code := bootstrapRun(t, e.vault, cfgFile, "--verbose")
	if code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s%s", code, out, errOut)
	}
	if vout, code := e.verify(t, cfgFile); code != 0 {
		t.Fatalf("verify --jwt after bootstrap: exit %d\n%s", code, vout)
	}
	minted := readPEM(t, v, "istioca/cert/ca")

	pod := e.injectedIstiod(t, cfgFile)
	initC := checkInjectedPod(t, pod, false)
	run := e.k8s.runPod(t, pod)
	agent := run.startAgent(t, initC, pod.Annotations["vault.hashicorp.com/secret-volume-path"], 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("vault-agent-init failed: %v", err)
	}
	checkFiles(t, agent, pod)
	caCert, caKey, chain, root := agent.read(t, "ca-cert.pem"), agent.read(t, "ca-key.pem"), agent.read(t, "cert-chain.pem"), agent.read(t, "root-cert.pem")
	if _, err := tls.X509KeyPair([]byte(caCert), []byte(caKey)); err != nil {
		t.Errorf("the rendered ca-key.pem is not ca-cert.pem's key: %v", err)
	}
	if !samePEM(caCert, minted) || !samePEM(root, rootPEM) || !samePEM(chain, minted+"\n"+rootPEM) {
		t.Errorf("the agent rendered other than bootstrap made: ca-cert %v, root %v, cert-chain (intermediate then root) %v",
			samePEM(caCert, minted), samePEM(root, rootPEM), samePEM(chain, minted+"\n"+rootPEM))
	}
	istiod := run.startIstiod(t)
	istiod.waitReady(t)
	if got := istiod.publishedRoot(t, e.k8s, "e2e-bootstrap"); !samePEM(got, rootPEM) {
		t.Errorf("istiod publishes a root other than Vault's")
	}
	istiod.workloadSigned(t, e.k8s, rootPEM, minted)
	istiod.proc.stop()
}

// TestBootstrapRuns (Vault alone): without a root nothing is made; the
// first run mints what verify accepts; a second run changes nothing in
// Vault; --rotate makes a new intermediate and key under the same root;
// states an earlier run or a hand can leave are named, nothing written,
// and --rotate mends them; the key never appears in the command's output.
func TestBootstrapRuns(t *testing.T) {
	vs := startVault(t)
	v := vs.client
	rootOnly(t, v)
	cfgFile := writeTestConfig(t, bootstrapConfig)
	rootPEM := readPEM(t, v, "pki/cert/ca")
	verify := func(when string) {
		t.Helper()
		out, errOut, code := tool(t, nil, []string{"VAULT_ADDR=" + vs.addr, "VAULT_TOKEN=" + rootToken}, "verify", "--config", cfgFile)
		if code != 0 {
			t.Fatalf("verify %s: exit %d\n%s%s", when, code, out, errOut)
		}
	}

	// Without a root to sign with, nothing is made.
	must(t, v.Sys().Mount("emptyroot", &api.MountInput{Type: "pki"}))
	for root, want := range map[string]string{
		"emptyroot":  "rootMount emptyroot has no CA certificate (no default issuer): generate or import the root first",
		"nosuchroot": "rootMount nosuchroot does not exist: bootstrap signs with a root CA it does not create",
	} {
		cfg := writeTestConfig(t, strings.Replace(strings.Replace(bootstrapConfig, "rootMount: pki", "rootMount: "+root, 1), "mount: istioca", "mount: istioca-"+root, 1))
		before := pkiState(t, v, "pki")
		_, errOut, code := bootstrapRun(t, vs, cfg)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("rootMount %s: exit %d, want 1 and %q:\n%s", root, code, want, errOut)
		}
		if after := pkiState(t, v, "pki"); after != before {
			t.Errorf("rootMount %s: Vault changed:\nbefore:\n%s\nafter:\n%s", root, before, after)
		}
	}

	out, errOut, code := bootstrapRun(t, vs, cfgFile, "--verbose")
	if code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, `minted "Istio intermediate CA cluster1"`) || !strings.Contains(out, "KV version 1") {
		t.Errorf("bootstrap's summary: %q", out)
	}
	verify("after bootstrap")
	first := readPEM(t, v, "istioca/cert/ca")
	if chain := readPEM(t, v, "istioca/cert/ca_chain"); !samePEM(chain, first+"\n"+rootPEM) {
		t.Errorf("istioca/cert/ca_chain is not the intermediate then the root:\n%s", chain)
	}

	// A second run changes nothing, and says so.
	before := pkiState(t, v)
	out, errOut, code = bootstrapRun(t, vs, cfgFile)
	if code != 0 || !strings.HasPrefix(out, "nothing to do: ") {
		t.Errorf("second run: exit %d\n%s%s", code, out, errOut)
	}
	if after := pkiState(t, v); after != before {
		t.Errorf("the second run changed Vault:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// --rotate: a new intermediate and key, under the same root, the key
	// a new KV version, the new issuer the mount's default.
	out, errOut, code = bootstrapRun(t, vs, cfgFile, "--rotate", "--verbose")
	if code != 0 || !strings.HasPrefix(out, "rotated istioca's intermediate from serial ") || !strings.Contains(out, "KV version 2") {
		t.Fatalf("--rotate: exit %d\n%s%s", code, out, errOut)
	}
	second := readPEM(t, v, "istioca/cert/ca")
	keys := kvKeys(t, v)
	if samePEM(second, first) || len(keys) != 2 || keys[0] == keys[1] {
		t.Fatalf("--rotate did not make a new intermediate (%v) and key (%d versions)", !samePEM(second, first), len(keys))
	}
	if _, err := tls.X509KeyPair([]byte(second), []byte(keys[1])); err != nil {
		t.Errorf("the new key is not the new intermediate's: %v", err)
	}
	if err := parsePEMCert(t, []byte(second)).CheckSignatureFrom(parsePEMCert(t, []byte(rootPEM))); err != nil || !samePEM(readPEM(t, v, "pki/cert/ca"), rootPEM) {
		t.Errorf("the new intermediate does not chain to the same root: %v", err)
	}
	if chain := readPEM(t, v, "istioca/cert/ca_chain"); !samePEM(chain, second+"\n"+rootPEM) {
		t.Errorf("after --rotate, istioca/cert/ca_chain is not the new intermediate then the root:\n%s", chain)
	}
	verify("after --rotate")

	// States a hand or an interrupted run leaves: named, nothing written.
	for _, tc := range []struct {
		name string
		data map[string]any
		want string
	}{
		{"the previous key back in KV", map[string]any{"ca-key.pem": keys[0]}, "does not match the public key of istioca's CA certificate"},
		{"no key in KV", map[string]any{}, "but KV has no key for it at secret/istioca#ca-key.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.KVv2("secret").Put(t.Context(), "istioca", tc.data)
			must(t, err)
			before := pkiState(t, v)
			_, errOut, code := bootstrapRun(t, vs, cfgFile)
			if code != 1 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "bootstrap --rotate") {
				t.Errorf("exit %d, want 1 and %q with what to do:\n%s", code, tc.want, errOut)
			}
			if after := pkiState(t, v); after != before {
				t.Errorf("a refused run changed Vault:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	// --rotate mends either.
	if out, errOut, code := bootstrapRun(t, vs, cfgFile, "--rotate"); code != 0 {
		t.Fatalf("--rotate after a broken state: exit %d\n%s%s", code, out, errOut)
	}
	verify("after mending")
}

// bootstrapRun runs `istio-vault-ca bootstrap` with the root token and
// fails the test if its stdout or stderr holds the token or any line of
// any key the secret has ever held.
func bootstrapRun(t *testing.T, vs *vaultServer, cfgFile string, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, code := tool(t, nil, []string{"VAULT_ADDR=" + vs.addr, "VAULT_TOKEN=" + rootToken},
		append([]string{"bootstrap", "--config", cfgFile}, args...)...)
	all := out + errOut
	if strings.Contains(all, rootToken) {
		t.Fatalf("bootstrap printed the token:\n%s", all)
	}
	for i, key := range kvKeys(t, vs.client) {
		for _, line := range strings.Split(strings.TrimSpace(key), "\n") {
			if line != "" && !strings.HasPrefix(line, "-----") && strings.Contains(all, line) {
				t.Fatalf("bootstrap printed a line of the key of KV version %d:\n%s", i+1, all)
			}
		}
	}
	return out, errOut, code
}

// kvKeys is the key field of every version of the key's secret, oldest
// first ("" where a version has none).
func kvKeys(t *testing.T, v *api.Client) []string {
	t.Helper()
	versions, err := v.KVv2("secret").GetVersionsAsList(t.Context(), "istioca")
	if err != nil {
		return nil // no secret yet
	}
	var keys []string
	for _, m := range versions {
		s, err := v.KVv2("secret").GetVersion(t.Context(), "istioca", m.Version)
		must(t, err)
		k, _ := s.Data["ca-key.pem"].(string)
		keys = append(keys, k)
	}
	return keys
}

func readPEM(t *testing.T, v *api.Client, path string) string {
	t.Helper()
	s, err := v.Logical().Read(path)
	must(t, err)
	if s == nil {
		t.Fatalf("nothing at %s", path)
	}
	return strings.TrimSpace(s.Data["certificate"].(string))
}

// pkiState is what bootstrap could change, as text: the mounts, the
// issuers, keys and default of the PKI mounts named (istioca's by default),
// what the agent reads, and the key secret's versions.
func pkiState(t *testing.T, v *api.Client, pkiMounts ...string) string {
	t.Helper()
	var b strings.Builder
	mounts, err := v.Sys().ListMounts()
	must(t, err)
	var names []string
	for name, m := range mounts {
		names = append(names, fmt.Sprintf("%s %s %d", name, m.Type, m.Config.MaxLeaseTTL))
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "mounts: %v\n", names)
	if len(pkiMounts) == 0 {
		pkiMounts = []string{"istioca", "pki"}
	}
	for _, m := range pkiMounts {
		for _, p := range []string{m + "/issuers", m + "/keys"} {
			s, err := v.Logical().List(p)
			must(t, err)
			if s != nil {
				fmt.Fprintf(&b, "%s: %v\n", p, s.Data["keys"])
			}
		}
		def, err := v.Logical().Read(m + "/config/issuers")
		must(t, err)
		fmt.Fprintf(&b, "%s default issuer: %v\n", m, def.Data["default"])
		fmt.Fprintf(&b, "%s/cert/ca_chain: %s\n", m, readPEM(t, v, m+"/cert/ca_chain"))
	}
	versions, _ := v.KVv2("secret").GetVersionsAsList(t.Context(), "istioca") // none before the first run
	fmt.Fprintf(&b, "secret/istioca versions: %d\n", len(versions))
	return b.String()
}
