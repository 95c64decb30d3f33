package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// mintConfig is issue 20's VaultCA for one cluster, seed 003's names, as
// written there; extra lines go under spec.
func mintConfig(cluster, ttl, extra string) string {
	return `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: ` + cluster + `}
spec:
  cluster: ` + cluster + `
  vault: {role: "gen-int-ca-istio-{{ .Cluster }}-mesh", authPath: "auth/kube-{{ .Cluster }}-mesh-auth"` + extraVault(extra) + `}
  source:
    mint:
      csrPath: "pki_int_{{ .Cluster }}/intermediate/generate/exported"   # seed 003's names
      caPath: pki/root/sign-intermediate
      commonName: "Istio intermediate {{ .Cluster }}"
      ttl: ` + ttl + "\n" + extraSpec(extra)
}

// extra is "tokenPeriod=10s" for a rotating config: the vault setting and
// rotation: true.
func extraVault(extra string) string {
	if p, ok := strings.CutPrefix(extra, "tokenPeriod="); ok {
		return ", tokenPeriod: " + p
	}
	return ""
}

func extraSpec(extra string) string {
	if extra != "" {
		return "  rotation: true\n"
	}
	return ""
}

// mintVault does what seed 003 does once in Vault: a root in pki, a PKI
// mount per cluster for the intermediates, and (to see what istiod's
// agent asks) a file audit device. The intermediate mounts write the CSR
// of a generate response into the audit log in clear, which the tool
// does not control and which is no secret: the log shows then that it
// holds the response, while the private key beside it stays HMAC'd.
func mintVault(t *testing.T, v *api.Client, auditLog string, clusters ...string) (rootPEM string) {
	t.Helper()
	must(t, v.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": auditLog}}))
	must(t, v.Sys().Mount("pki", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	root, err := v.Logical().Write("pki/root/generate/internal", map[string]any{"common_name": "mesh root", "ttl": "87600h"})
	must(t, err)
	for _, c := range clusters {
		must(t, v.Sys().Mount("pki_int_"+c, &api.MountInput{Type: "pki", Config: api.MountConfigInput{
			MaxLeaseTTL: "8760h", AuditNonHMACResponseKeys: []string{"csr"}}}))
	}
	return root.Data["certificate"].(string) + "\n"
}

// auditEntry is one line of Vault's file audit log: what this test reads.
type auditEntry struct {
	Type    string `json:"type"`
	Time    time.Time
	Request struct {
		Path      string `json:"path"`
		Operation string `json:"operation"`
	} `json:"request"`
	Response struct {
		Data map[string]any `json:"data"`
	} `json:"response"`
	Error string `json:"error"`
}

// auditResponses are the audit log's answers to requests of path that
// went through (a denied request is logged too, with its error).
func auditResponses(t *testing.T, auditLog, path string) []auditEntry {
	t.Helper()
	f, err := os.Open(auditLog)
	must(t, err)
	defer f.Close()
	var out []auditEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEntry
		must(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Type == "response" && e.Request.Path == path && e.Error == "" {
			out = append(out, e)
		}
	}
	must(t, sc.Err())
	return out
}

// keyEntries are the keys a PKI mount keeps (Vault 1.11 and later keep
// one for every generate).
func keyEntries(t *testing.T, v *api.Client, mount string) int {
	t.Helper()
	s, err := v.Logical().List(mount + "/keys")
	must(t, err)
	if s == nil {
		return 0
	}
	keys, _ := s.Data["keys"].([]any)
	return len(keys)
}

// mintedBundle is what one agent rendered.
type mintedBundle struct {
	key, cert, chain, root string
	ca                     *x509.Certificate
}

func readBundle(t *testing.T, read func(string) string) mintedBundle {
	t.Helper()
	b := mintedBundle{key: read("ca-key.pem"), cert: read("ca-cert.pem"), chain: read("cert-chain.pem"), root: read("root-cert.pem")}
	if b.cert != "" {
		b.ca = parsePEMCert(t, []byte(b.cert))
	}
	return b
}

// check asserts what istiod's loader needs and seed 003 promises: the key
// is the certificate's, the certificate is a CA of the name and lifetime
// asked, signed by the root, and the chain is the intermediate then the
// root, which is Vault's.
func (b mintedBundle) check(t *testing.T, cn string, ttl time.Duration, rootPEM string) {
	t.Helper()
	if _, err := tls.X509KeyPair([]byte(b.cert), []byte(b.key)); err != nil {
		t.Errorf("ca-key.pem is not the key of ca-cert.pem: %v", err)
	}
	if b.chain != b.cert+b.root {
		t.Errorf("cert-chain.pem is not ca-cert.pem then root-cert.pem:\n%s", b.chain)
	}
	if !samePEM(b.root, rootPEM) {
		t.Errorf("root-cert.pem is not Vault's root:\n%s", b.root)
	}
	root := parsePEMCert(t, []byte(rootPEM))
	if err := b.ca.CheckSignatureFrom(root); err != nil || !b.ca.IsCA || b.ca.Subject.CommonName != cn {
		t.Errorf("ca-cert.pem is %s (CA %v), signed by the root: %v; want a CA named %q", b.ca.Subject, b.ca.IsCA, err, cn)
	}
	// Vault backdates NotBefore by 30s.
	if got := b.ca.NotAfter.Sub(b.ca.NotBefore); got < ttl || got > ttl+time.Minute {
		t.Errorf("the intermediate lives %v, want the ttl asked, %v", got, ttl)
	}
}

// keyMarker is a line from inside a PEM key: what a log or a secret would
// hold if the key leaked into it, in whatever wrapping.
func keyMarker(t *testing.T, keyPEM string) string {
	t.Helper()
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		t.Fatalf("not a PEM key: %q", keyPEM)
	}
	lines := strings.Split(strings.TrimSpace(keyPEM), "\n")
	return lines[len(lines)/2]
}

// kvValues is every value of every secret in every KV mount of Vault.
func kvValues(t *testing.T, v *api.Client) []string {
	t.Helper()
	mounts, err := v.Sys().ListMounts()
	must(t, err)
	var out []string
	for m, mi := range mounts {
		if mi.Type != "kv" && mi.Type != "generic" {
			continue
		}
		v2 := mi.Options["version"] == "2"
		var walk func(dir string)
		walk = func(dir string) {
			list := m + dir
			if v2 {
				list = m + "metadata/" + dir
			}
			s, err := v.Logical().List(list)
			must(t, err)
			if s == nil {
				return
			}
			for _, k := range s.Data["keys"].([]any) {
				name := dir + k.(string)
				if strings.HasSuffix(name, "/") {
					walk(name)
					continue
				}
				read := m + name
				if v2 {
					read = m + "data/" + name
				}
				sec, err := v.Logical().Read(read)
				must(t, err)
				raw, _ := json.Marshal(sec.Data)
				out = append(out, string(raw))
			}
		}
		walk("")
	}
	return out
}

// TestMint is issue 20's proof on the real control plane: two clusters,
// cluster1 and cluster2, each mint their intermediate under one root in
// one Vault, set up by `istio-vault-ca policy --output commands`. For each,
// istiod's pod from the tool's output for the istio-discovery chart is
// mutated by the real injector; its vault-agent-init makes one generate
// and one sign (Vault's audit log counts them) and renders a bundle whose
// key is its certificate's; the real istiod loads it, publishes Vault's
// root, and signs a workload's CSR. A workload certificate of cluster1
// verifies with cluster2's root-cert.pem. istiod's token cannot mint
// outside the policy's pins. The key is in no KV secret, tool output or
// log. Then cluster1 rotates: with a short ttl, the running sidecar mints
// the next intermediate, and the same istiod process signs with it.
func TestMint(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	auditLog := filepath.Join(t.TempDir(), "vault-audit.log")
	rootPEM := mintVault(t, e.vault.client, auditLog, "cluster1", "cluster2")

	var outputs []string // everything the tool, the agents and istiod wrote
	bundles := map[string]mintedBundle{}
	var leaf1 *x509.Certificate
	for i, cluster := range []string{"cluster1", "cluster2"} {
		cfgFile, authPath := e.setup(t, layout{name: cluster, config: mintConfig(cluster, "720h", ""), seed: func(*testing.T, *api.Client) {}})
		out, code := e.verify(t, cfgFile)
		if code != 0 {
			t.Fatalf("%s: verify: exit %d\n%s", cluster, code, out)
		}
		outputs = append(outputs, out)
		if n := keyEntries(t, e.vault.client, "pki_int_"+cluster); n != 0 {
			t.Errorf("%s: verify left %d key(s) in pki_int_%s: it must write nothing", cluster, n, cluster)
		}
		script, _, _ := tool(t, nil, nil, "policy", "--config", cfgFile, "--output", "commands")
		rendered, _, _ := tool(t, []byte(istiodChart(t)), nil, "--config", cfgFile)
		outputs = append(outputs, script, rendered)

		pod := e.injectedIstiod(t, cfgFile)
		initC := checkInjectedPod(t, pod, false)
		run := e.k8s.runPod(t, pod)
		agent := run.startAgent(t, initC, secretVolumePath(pod), 60*time.Second)
		if err := agent.wait(); err != nil {
			t.Fatalf("%s: vault-agent-init failed: %v\n%s", cluster, err, agent.log.String())
		}
		checkFiles(t, agent, pod)
		b := readBundle(t, func(f string) string { return agent.read(t, f) })
		b.check(t, "Istio intermediate "+cluster, 720*time.Hour, rootPEM)
		bundles[cluster] = b
		if !b.ca.MaxPathLenZero || b.ca.MaxPathLen != 0 {
			t.Errorf("%s: the minted intermediate may sign CAs (path length %d, zero %v): the sign must pin max_path_length=0", cluster, b.ca.MaxPathLen, b.ca.MaxPathLenZero)
		}

		// One generate and one sign for the four files, and the
		// certificate rendered is the one Vault issued.
		gens := auditResponses(t, auditLog, "pki_int_"+cluster+"/intermediate/generate/exported")
		signs := auditResponses(t, auditLog, "pki/root/sign-intermediate")
		if len(gens) != 1 || len(signs) != i+1 {
			t.Errorf("%s: the agent made %d generate(s) and the clusters %d sign(s), want 1 and %d", cluster, len(gens), len(signs), i+1)
		}
		if n := keyEntries(t, e.vault.client, "pki_int_"+cluster); n != 1 {
			t.Errorf("%s: pki_int_%s keeps %d key entries after one pod start, want 1", cluster, cluster, n)
		}
		issued, err := e.vault.client.Logical().Read("pki/cert/" + serialOf(b.ca))
		must(t, err)
		if issued == nil || !samePEM(issued.Data["certificate"].(string), b.cert) {
			t.Errorf("%s: ca-cert.pem is not a certificate the root issued", cluster)
		}

		istiod := run.startIstiod(t)
		istiod.waitReady(t)
		if got := istiod.publishedRoot(t, e.k8s, "e2e-mint-"+cluster); !samePEM(got, rootPEM) {
			t.Errorf("%s: istiod publishes a root other than Vault's:\n%s\nwant:\n%s", cluster, got, rootPEM)
		}
		leaf := istiod.workloadSigned(t, e.k8s, rootPEM, b.cert)
		if cluster == "cluster1" {
			leaf1 = leaf
		}
		mintDenied(t, e, authPath, cluster)
		istiod.proc.stop()
		outputs = append(outputs, agent.log.String(), istiod.proc.log.String())
	}

	// Shared trust: cluster1's workload, with the chain cluster1's istiod
	// sends, verifies to the root cluster2's istiod was given.
	inter := x509.NewCertPool()
	inter.AddCert(bundles["cluster1"].ca)
	if _, err := leaf1.Verify(x509.VerifyOptions{Roots: certPool(t, []byte(bundles["cluster2"].root)), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("cluster1's workload certificate does not verify with cluster2's root-cert.pem: %v", err)
	}

	rotated := mintRotation(t, e, auditLog, rootPEM)
	outputs = append(outputs, rotated.logs...)

	// The keys are nowhere but the agents' files: no KV secret, no output
	// of the tool, no log of an agent or istiod, and not in Vault's audit
	// log, which holds the generate's response (the CSR in clear) with the
	// key HMAC'd.
	audit, err := os.ReadFile(auditLog)
	must(t, err)
	if !strings.Contains(string(audit), "BEGIN CERTIFICATE REQUEST") || !strings.Contains(string(audit), `"private_key":"hmac-sha256:`) {
		t.Errorf("the audit log does not hold the generate's response (the CSR in clear, the key HMAC'd): the check below would prove nothing")
	}
	kv := kvValues(t, e.vault.client)
	apiAudit, _ := os.ReadFile(e.k8s.auditLog())
	keys := append([]string{bundles["cluster1"].key, bundles["cluster2"].key}, rotated.keys...)
	for i, key := range keys {
		marker := keyMarker(t, key)
		for j, o := range append(append(outputs, string(audit), string(apiAudit)), kv...) {
			if strings.Contains(o, marker) {
				t.Errorf("key %d appears in output %d (of %d outputs and logs, then Vault's audit log, the API server's, and %d KV secrets)", i, j, len(outputs), len(kv))
			}
		}
	}
	t.Logf("key entries left in the intermediate mounts: pki_int_cluster1 %d, pki_int_cluster2 %d",
		keyEntries(t, e.vault.client, "pki_int_cluster1"), keyEntries(t, e.vault.client, "pki_int_cluster2"))
}

func serialOf(c *x509.Certificate) string {
	h := fmt.Sprintf("%x", c.SerialNumber)
	if len(h)%2 == 1 {
		h = "0" + h
	}
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, "-")
}

// mintDenied logs in as istiod's agent does and asks for what the policy
// does not pin: another name, another lifetime, an argument more, another
// key type, or the other cluster's mount. Each is refused with 403; the
// requests the agent made with the same role went through.
func mintDenied(t *testing.T, e *env, authPath, cluster string) {
	t.Helper()
	c, err := e.vault.client.Clone()
	must(t, err)
	c.ClearToken()
	login, err := c.Logical().Write(authPath+"/login", map[string]any{"role": "gen-int-ca-istio-" + cluster + "-mesh", "jwt": e.jwt})
	must(t, err)
	c.SetToken(login.Auth.ClientToken)
	other := map[string]string{"cluster1": "cluster2", "cluster2": "cluster1"}[cluster]
	csr := string(workloadCSR(t, "spiffe://cluster.local/ns/x/sa/y"))
	cn := "Istio intermediate " + cluster
	gen := "pki_int_" + cluster + "/intermediate/generate/exported"
	for what, req := range map[string]struct {
		path string
		data map[string]any
	}{
		"another name":             {gen, map[string]any{"common_name": "evil", "key_type": "rsa", "key_bits": "2048"}},
		"another key":              {gen, map[string]any{"common_name": cn, "key_type": "ec", "key_bits": "256"}},
		"an argument more":         {gen, map[string]any{"common_name": cn, "key_type": "rsa", "key_bits": "2048", "alt_names": "evil.example.com"}},
		"no key type":              {gen, map[string]any{"common_name": cn}},
		"another lifetime":         {"pki/root/sign-intermediate", map[string]any{"csr": csr, "common_name": cn, "ttl": "87600h", "format": "pem", "max_path_length": "0"}},
		"no lifetime":              {"pki/root/sign-intermediate", map[string]any{"csr": csr, "common_name": cn, "format": "pem", "max_path_length": "0"}},
		"the CSR's own names":      {"pki/root/sign-intermediate", map[string]any{"csr": csr, "common_name": cn, "ttl": "720h", "format": "pem", "max_path_length": "0", "use_csr_values": "true"}},
		"a CA that signs CAs":      {"pki/root/sign-intermediate", map[string]any{"csr": csr, "common_name": cn, "ttl": "720h", "format": "pem", "max_path_length": "1"}},
		"no path length":           {"pki/root/sign-intermediate", map[string]any{"csr": csr, "common_name": cn, "ttl": "720h", "format": "pem"}},
		"the other cluster's":      {"pki_int_" + other + "/intermediate/generate/exported", map[string]any{"common_name": "Istio intermediate " + other, "key_type": "rsa", "key_bits": "2048"}},
		"the other cluster's name": {"pki/root/sign-intermediate", map[string]any{"csr": csr, "common_name": "Istio intermediate " + other, "ttl": "720h", "format": "pem", "max_path_length": "0"}},
	} {
		_, err := c.Logical().Write(req.path, req.data)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 403 {
			t.Errorf("%s: istiod's token asked %s with %s: got %v, want 403 permission denied", cluster, req.path, what, err)
		}
	}
}

// rotation is what the rotating phase leaves for the leak checks.
type rotation struct{ keys, logs []string }

// mintRotation has cluster1's istiod rotate: ttl 45s, so the sidecar's
// render interval is 30s, and a periodic token of 10s that the running
// agent renews three or four times meanwhile. The init container mints
// one intermediate, the sidecar another as it starts (a new agent is a
// new template runner), and then, after the interval, the next: the same
// istiod process signs with it. No renewal of the token mints.
func mintRotation(t *testing.T, e *env, auditLog, rootPEM string) rotation {
	t.Helper()
	const cluster = "cluster1"
	gen := "pki_int_" + cluster + "/intermediate/generate/exported"
	// cluster1's auth mount is set up: only the policy and role change
	// (the ttl the policy pins, the token period).
	cfgFile := writeTestConfig(t, mintConfig(cluster, "45s", "tokenPeriod=10s"))
	e.applyPolicy(t, cfgFile)
	pod := e.injectedIstiod(t, cfgFile)
	if got := pod.Annotations["vault.hashicorp.com/template-static-secret-render-interval"]; got != "30s" {
		t.Errorf("render interval %q, want 30s (2/3 of the ttl)", got)
	}
	initC := checkInjectedPod(t, pod, true)
	sidecarC := findContainer(pod.Spec.Containers, "vault-agent")
	run := e.k8s.runPod(t, pod)
	volumePath := secretVolumePath(pod)
	before := len(auditResponses(t, auditLog, gen))
	initAgent := run.startAgent(t, initC, volumePath, 60*time.Second)
	if err := initAgent.wait(); err != nil {
		t.Fatalf("vault-agent-init failed: %v", err)
	}
	first := readBundle(t, func(f string) string { return initAgent.read(t, f) })
	first.check(t, "Istio intermediate "+cluster, 45*time.Second, rootPEM)

	started := time.Now()
	sidecar := run.startAgent(t, sidecarC, volumePath, 5*time.Minute)
	// A new agent is a new template runner: the sidecar mints once as it
	// starts, writing the files one at a time. An istiod reading them in
	// between finds a key of another certificate and exits, and the
	// kubelet starts it again (README, "Minted intermediates"). There is
	// no kubelet here, so istiod starts where the kubelet's restart would:
	// once the sidecar's first bundle is whole.
	waitFor(t, 60*time.Second, "the sidecar's start-up mint to be written whole", func() bool {
		if len(auditResponses(t, auditLog, gen)) < before+2 {
			return false
		}
		b := readBundle(t, sidecar.tryRead)
		_, err := tls.X509KeyPair([]byte(b.cert), []byte(b.key))
		return b.ca != nil && !b.ca.Equal(first.ca) && err == nil && b.chain == b.cert+b.root
	})
	istiod := run.startIstiod(t)
	istiod.waitReady(t)
	pid := istiod.proc.pid

	// istiod signs with whatever the files hold once they settle: the
	// init container's intermediate or the one the sidecar minted on start.
	roots := certPool(t, []byte(rootPEM))
	sa := serviceAccount{Namespace: "e2e-workload", Name: "workload"}
	token := e.k8s.token(t, sa, "istio-ca")
	csr := workloadCSR(t, fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", sa.Namespace, sa.Name))
	signer := func() *x509.Certificate {
		chain, err := istiod.sign(t, roots, token, csr)
		if err != nil || len(chain) < 2 {
			return nil
		}
		if chain[0].CheckSignatureFrom(chain[1]) != nil {
			t.Errorf("istiod sent a chain whose CA did not sign the leaf")
		}
		return chain[1]
	}
	var current mintedBundle
	waitFor(t, 60*time.Second, "istiod to sign with the intermediate in its files", func() bool {
		current = readBundle(t, sidecar.tryRead)
		s := signer()
		return current.ca != nil && s != nil && s.Equal(current.ca)
	})
	waitFor(t, 90*time.Second, "the sidecar to mint the next intermediate", func() bool {
		next := readBundle(t, sidecar.tryRead)
		return next.ca != nil && !next.ca.Equal(current.ca) && next.chain == next.cert+next.root
	})
	next := readBundle(t, sidecar.tryRead)
	minted := time.Since(started)
	waitFor(t, 30*time.Second, "istiod to sign with the next intermediate", func() bool {
		s := signer()
		return s != nil && s.Equal(next.ca)
	})
	next = readBundle(t, sidecar.tryRead)
	next.check(t, "Istio intermediate "+cluster, 45*time.Second, rootPEM)
	if istiod.proc.pid != pid || istiod.proc.running() != nil {
		t.Errorf("istiod was restarted or exited during rotation")
	}
	if got := istiod.publishedRoot(t, e.k8s, "e2e-mint-rotated"); !samePEM(got, rootPEM) {
		t.Errorf("after rotation istiod publishes another root")
	}

	// The mints: one by the init container, one as the sidecar started,
	// one at the interval; none for the token's renewals.
	gens := auditResponses(t, auditLog, gen)[before:]
	var at []string
	for _, g := range gens {
		at = append(at, g.Time.Sub(gens[0].Time).Round(100*time.Millisecond).String())
	}
	renewals := len(auditResponses(t, auditLog, "auth/token/renew-self"))
	t.Logf("rotation: %d generates at %s after the first; the next intermediate in the sidecar's files %v after it started; %d token renewals", len(gens), strings.Join(at, ", "), minted.Round(time.Second), renewals)
	if len(gens) != 3 {
		t.Errorf("%d generates (at %s), want 3: the init container's, the sidecar's at its start, and one at the render interval", len(gens), strings.Join(at, ", "))
	}
	if renewals == 0 {
		t.Errorf("the sidecar never renewed its token: the run proves nothing about renewals")
	}
	select {
	case err := <-sidecar.done:
		t.Errorf("the sidecar agent exited: %v", err)
	default:
	}
	istiod.proc.stop()
	return rotation{keys: []string{first.key, next.key}, logs: []string{initAgent.log.String(), sidecar.log.String(), istiod.proc.log.String()}}
}
