package e2e

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestRootRotation changes istiod's root on the real control plane, in the
// three steps of Istio's own tests/integration/security/cacert_rotation,
// with one istiod process that is never restarted: the injected agent runs
// as a sidecar, and each step is one write to Vault that it renders.
//
// The config stays the same throughout (a new config would change the pod
// template, and so roll out a new pod): source secret/rr/ca, and one extra
// root, secret/rr/next. root-cert.pem is the source's root_cert, then the
// extra root, each distinct PEM once:
//
//	before:  ca = old bundle,                       next = old root  -> old
//	step 1:                                         next = new root  -> old, new
//	step 2:  ca = new key, cert, chain; root old                     -> old, new
//	step 3:  ca root_cert = new root                                 -> new
//
// istiod (ISTIO_MULTIROOT_MESH=true, which the tool sets) takes each root
// file while it runs, as each is a subset or superset of the one before.
func TestRootRotation(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	oldRoot, oldRootKey, oldRootPEM := newRootCA(t, "Old Root CA", 41)
	newRoot, newRootKey, newRootPEM := newRootCA(t, "New Root CA", 42)
	oldCA, _, _, _ := newCA(t, oldRoot, oldRootKey, oldRootPEM, "Old Intermediate CA", 43)
	nextCA, _, _, _ := newCA(t, newRoot, newRootKey, newRootPEM, "New Intermediate CA", 44)
	putCA := func(ca caBundle, rootPEM string) {
		f := ca.fields()
		f["root_cert"] = rootPEM
		kvPut(t, e.vault.client, 2, "secret", "rr/ca", f)
	}
	putNext := func(rootPEM string) {
		kvPut(t, e.vault.client, 2, "secret", "rr/next", map[string]any{"root_cert": rootPEM})
	}
	l := layout{
		name: "root-rotation",
		config: `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: root-rotation}
spec:
  vault: {role: istiod, authPath: auth/k8s-root-rotation, policy: root-rotation}
  rotation: true
  agent: {staticSecretRenderInterval: 1s}
  source:
    kv: {version: 2, path: secret/rr/ca}
  rootRotation:
    extraRoots:
    - kv: {version: 2, path: secret/rr/next, field: root_cert}
`,
		// Before the rotation the extra root is the root in use: the
		// root file holds it once.
		seed: func(t *testing.T, _ *api.Client) { putCA(oldCA, oldRootPEM); putNext(oldRootPEM) },
	}
	cfgFile, _ := e.setup(t, l)
	if out, code := e.verify(t, cfgFile); code != 0 || !strings.Contains(out, "(extra root): CN=Old Root CA,O=Istio is a self-signed CA") {
		t.Fatalf("verify exit %d:\n%s", code, out)
	}
	rp := e.startRotatingIstiod(t, cfgFile, 10*time.Minute, func(initAgent *agentRun) {
		if got := initAgent.read(t, "root-cert.pem"); got != oldRootPEM {
			t.Fatalf("with the extra root the same as the source's, root-cert.pem is:\n%s\nwant the old root once:\n%s", got, oldRootPEM)
		}
	})
	sidecar, istiod := rp.sidecar, rp.istiod
	if v := containerEnv(rp.pod, "discovery", "ISTIO_MULTIROOT_MESH"); v != "true" {
		t.Fatalf("ISTIO_MULTIROOT_MESH=%q, want true: istiod would refuse every new root file", v)
	}
	pid := istiod.proc.pid
	if got := istiod.publishedRoot(t, e.k8s, "e2e-rr-before"); got != oldRootPEM {
		t.Fatalf("istiod publishes:\n%s\nwant the old root:\n%s", got, oldRootPEM)
	}

	sa := serviceAccount{Namespace: "e2e-workload", Name: "workload"}
	token := e.k8s.token(t, sa, "istio-ca")
	spiffe := fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", sa.Namespace, sa.Name)
	both := certPool(t, []byte(oldRootPEM+newRootPEM))
	// sign has istiod sign a CSR and returns the leaf and which
	// intermediate istiod sent with it; the leaf must be that one's.
	sign := func() (leaf *x509.Certificate, sent string, err error) {
		chain, err := istiod.sign(t, both, token, workloadCSR(t, spiffe))
		if err != nil {
			return nil, "", err
		}
		if len(chain) < 2 {
			return nil, "", fmt.Errorf("istiod sent a chain of %d certificates", len(chain))
		}
		switch {
		case chain[1].Equal(oldCA.cert):
			sent = "old"
		case chain[1].Equal(nextCA.cert):
			sent = "new"
		default:
			sent = chain[1].Subject.String()
		}
		if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
			t.Errorf("a served mismatch: the leaf is not signed by the %s intermediate istiod sent with it", sent)
		}
		return chain[0], sent, nil
	}
	oldLeaf, sent, err := sign()
	if err != nil || sent != "old" {
		t.Fatalf("before the rotation istiod signs with %s (err %v), want the old intermediate", sent, err)
	}
	// stillVerifies: a workload certificate verifies, with its own
	// intermediate, to the roots istiod publishes in the namespace.
	stillVerifies := func(what string, leaf *x509.Certificate, inter caBundle, published string) {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AddCert(inter.cert)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: certPool(t, []byte(published)), Intermediates: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: a workload certificate from the %s does not verify to the published roots: %v", what, inter.cert.Subject.CommonName, err)
		}
	}
	// signsWith: istiod signs with the intermediate want, and the leaf
	// verifies to the published roots.
	signsWith := func(step, want string, inter caBundle, published string) {
		t.Helper()
		if leaf, sent, err := sign(); err != nil || sent != want {
			t.Errorf("%s: istiod signs with %s (err %v), want the %s intermediate", step, sent, err, want)
		} else {
			stillVerifies(step, leaf, inter, published)
		}
	}
	// publishes: istio-ca-root-cert holds exactly roots, updated in the
	// namespace that had it and new in a new one; it returns it.
	publishes := func(step, newNamespace string, roots ...*x509.Certificate) string {
		t.Helper()
		published := waitPublished(t, e, "e2e-rr-before", roots...)
		if got := istiod.publishedRoot(t, e.k8s, newNamespace); !sameCerts(t, got, roots...) {
			t.Errorf("%s: a new namespace gets:\n%s\nwant %v", step, got, subjects(roots))
		}
		return published
	}
	sameIstiod := func(step string) {
		t.Helper()
		if err := istiod.proc.running(); err != nil || istiod.proc.pid != pid {
			t.Fatalf("%s: istiod (pid %d) exited or was replaced: %v", step, pid, err)
		}
		select {
		case err := <-sidecar.done:
			t.Fatalf("%s: the sidecar agent exited: %v", step, err)
		default:
		}
	}

	// Step 1: the old key and certificates with the old and the new root.
	putNext(newRootPEM)
	waitFor(t, 60*time.Second, "the sidecar to render both roots", func() bool {
		return sidecar.tryRead("root-cert.pem") == oldRootPEM+newRootPEM
	})
	published := publishes("step 1", "e2e-rr-step1", oldRoot, newRoot)
	stillVerifies("step 1", oldLeaf, oldCA, published)
	signsWith("step 1", "old", oldCA, published)
	sameIstiod("step 1")

	// Step 2: the new key, certificate and chain; the source's root field
	// still holds the old root, the extra root the new one.
	putCA(nextCA, oldRootPEM)
	waitFor(t, 60*time.Second, "the sidecar to render the new intermediate", func() bool {
		return sidecar.tryRead("ca-cert.pem") == nextCA.certPEM && sidecar.tryRead("ca-key.pem") == nextCA.keyPEM &&
			sidecar.tryRead("cert-chain.pem") == nextCA.chainPEM
	})
	if got := sidecar.tryRead("root-cert.pem"); got != oldRootPEM+newRootPEM {
		t.Errorf("step 2: root-cert.pem changed:\n%s", got)
	}
	var newLeaf *x509.Certificate
	deadline := time.Now().Add(60 * time.Second)
	seen := map[string]int{}
	for newLeaf == nil {
		leaf, sent, err := sign()
		switch {
		case err != nil:
			seen["error: "+err.Error()]++
		case sent == "new":
			newLeaf = leaf
		default:
			seen[sent]++
		}
		if time.Now().After(deadline) {
			t.Fatalf("step 2: istiod does not sign with the new intermediate 60s after the sidecar rendered it; answers: %v\n%s", seen, tail(istiod.proc.log.String(), 8<<10))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for answer, n := range seen {
		if strings.HasPrefix(answer, "error: ") {
			t.Errorf("step 2: %d call(s) to istiod failed while it reloaded: %s", n, answer)
		}
	}
	inter := x509.NewCertPool()
	inter.AddCert(nextCA.cert)
	if _, err := newLeaf.Verify(x509.VerifyOptions{Roots: certPool(t, []byte(newRootPEM)), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("step 2: a new workload certificate does not chain to the new root: %v", err)
	}
	published = waitPublished(t, e, "e2e-rr-before", oldRoot, newRoot)
	stillVerifies("step 2", oldLeaf, oldCA, published)
	stillVerifies("step 2", newLeaf, nextCA, published)
	sameIstiod("step 2")

	// Step 3: the new root alone.
	putCA(nextCA, newRootPEM)
	waitFor(t, 60*time.Second, "the sidecar to render the new root alone", func() bool {
		return sidecar.tryRead("root-cert.pem") == newRootPEM
	})
	published = publishes("step 3", "e2e-rr-step3", newRoot)
	stillVerifies("step 3", newLeaf, nextCA, published)
	signsWith("step 3", "new", nextCA, published)
	sameIstiod("step 3")

	log := istiod.proc.log.String()
	t.Logf("istiod pid %d: %d root file(s) taken (Updating new ROOT-CA), %d refused, %d reload(s) taken",
		pid, strings.Count(log, "Updating new ROOT-CA\n"), strings.Count(log, "ROOT-CA not supported"),
		strings.Count(log, "Istiod has detected the newly added intermediate CA"))
	if strings.Contains(log, "ROOT-CA not supported") {
		t.Errorf("istiod refused a root file:\n%s", tail(log, 8<<10))
	}
}

// newRootCA is a self-signed root of its own name.
func newRootCA(t *testing.T, cn string, serial int64) (*x509.Certificate, crypto.Signer, string) {
	t.Helper()
	key := newKey(t)
	tmpl := caTemplate(cn, serial)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return cert, key, pemCert(der)
}

// waitPublished waits until istio-ca-root-cert in an existing namespace
// holds exactly want, as istiod updates it, and returns it.
func waitPublished(t *testing.T, e *env, namespace string, want ...*x509.Certificate) string {
	t.Helper()
	var got string
	deadline := time.Now().Add(60 * time.Second)
	for {
		cm, err := e.k8s.client.CoreV1().ConfigMaps(namespace).Get(context.Background(), "istio-ca-root-cert", metav1.GetOptions{})
		if err == nil {
			got = cm.Data["root-cert.pem"]
			if sameCerts(t, got, want...) {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("istio-ca-root-cert in %s is, 60s on:\n%s\nwant %d root(s): %v", namespace, got, len(want), subjects(want))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sameCerts: the PEM holds exactly the certificates want, in any order.
func sameCerts(t *testing.T, pemText string, want ...*x509.Certificate) bool {
	t.Helper()
	var got []*x509.Certificate
	for rest := []byte(pemText); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		must(t, err)
		got = append(got, c)
	}
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, w.Equal) {
			return false
		}
	}
	return true
}

func subjects(cs []*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Subject.String())
	}
	return out
}

// TestRotatePlan applies the three configs `istio-vault-ca rotate-plan`
// prints, as a user would: each names other Vault paths, so each is a new
// istiod pod (the Deployment's template changes; the test creates the pod
// as the ReplicaSet controller would, and, as a rolling update does, stops
// the old istiod once the new one is ready). Each step's policy and verify
// pass, and across the pods the mesh keeps working: step 1 publishes both
// roots and signs with the old intermediate; step 2 publishes both and
// signs with the new, and step 1's workload certificates still verify;
// step 3 publishes the new root alone, and step 2's still verify.
func TestRotatePlan(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	oldRoot, oldRootKey, oldRootPEM := newRootCA(t, "Old Root CA", 51)
	newRoot, newRootKey, newRootPEM := newRootCA(t, "New Root CA", 52)
	oldCA, _, _, _ := newCA(t, oldRoot, oldRootKey, oldRootPEM, "Old Intermediate CA", 53)
	nextCA, _, _, _ := newCA(t, newRoot, newRootKey, newRootPEM, "New Intermediate CA", 54)
	const head = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: rotate-plan}
spec:
  vault: {role: istiod, authPath: auth/k8s-rotate-plan, policy: rotate-plan}
  source:
`
	current := writeTestConfig(t, head+"    kv: {version: 2, path: secret/rp/old}\n")
	next := writeTestConfig(t, head+"    kv: {version: 2, path: secret/rp/new}\n")
	dir := t.TempDir()
	if _, stderr, code := tool(t, nil, nil, "rotate-plan", "--config", current, "--next", next, "--output-dir", dir); code != 0 {
		t.Fatalf("rotate-plan: exit %d: %s", code, stderr)
	}
	step := func(i int) string { return filepath.Join(dir, fmt.Sprintf("step-%d.yaml", i)) }
	e.setup(t, layout{name: "rotate-plan", config: mustRead(t, step(1)), seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "rp/old", oldCA.fields())
		kvPut(t, v, 2, "secret", "rp/new", nextCA.fields())
	}})
	sa := serviceAccount{Namespace: "e2e-workload", Name: "workload"}
	token := e.k8s.token(t, sa, "istio-ca")
	spiffe := fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", sa.Namespace, sa.Name)
	both := certPool(t, []byte(oldRootPEM+newRootPEM))

	var prev *istiodRun
	var prevLeaf *x509.Certificate
	var prevCA caBundle
	for i, want := range []struct {
		roots  []*x509.Certificate
		signer caBundle
	}{
		{[]*x509.Certificate{oldRoot, newRoot}, oldCA},
		{[]*x509.Certificate{oldRoot, newRoot}, nextCA},
		{[]*x509.Certificate{newRoot}, nextCA},
	} {
		name := fmt.Sprintf("step %d", i+1)
		e.applyPolicy(t, step(i+1))
		if out, code := e.verify(t, step(i+1)); code != 0 {
			t.Fatalf("%s: verify exit %d:\n%s", name, code, out)
		}
		pod := e.injectedIstiod(t, step(i+1))
		initC := checkInjectedPod(t, pod, false)
		run := e.k8s.runPod(t, pod)
		initAgent := run.startAgent(t, initC, secretVolumePath(pod), 60*time.Second)
		if err := initAgent.wait(); err != nil {
			t.Fatalf("%s: vault-agent-init failed: %v", name, err)
		}
		istiod := run.startIstiod(t)
		istiod.waitReady(t)
		if prev != nil {
			prev.proc.stop() // the rolling update's end: the old pod goes
		}
		published := istiod.publishedRoot(t, e.k8s, fmt.Sprintf("e2e-rp-step%d", i+1))
		if !sameCerts(t, published, want.roots...) {
			t.Errorf("%s: istiod publishes:\n%s\nwant %v", name, published, subjects(want.roots))
		}
		chain, err := istiod.sign(t, both, token, workloadCSR(t, spiffe))
		if err != nil || len(chain) < 2 || !chain[1].Equal(want.signer.cert) || chain[0].CheckSignatureFrom(want.signer.cert) != nil {
			t.Fatalf("%s: istiod does not sign with %s (err %v)", name, want.signer.cert.Subject.CommonName, err)
		}
		roots := certPool(t, []byte(published))
		for _, c := range []struct {
			leaf *x509.Certificate
			ca   caBundle
		}{{chain[0], want.signer}, {prevLeaf, prevCA}} {
			if c.leaf == nil {
				continue
			}
			inter := x509.NewCertPool()
			inter.AddCert(c.ca.cert)
			if _, err := c.leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s: a workload certificate from the %s does not verify to the published roots: %v", name, c.ca.cert.Subject.CommonName, err)
			}
		}
		prev, prevLeaf, prevCA = istiod, chain[0], want.signer
	}
}

func mustRead(t *testing.T, file string) string { return string(mustReadBytes(t, file)) }

func mustReadBytes(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	must(t, err)
	return b
}

// TestRootsTemplateInVaultAgent renders the root file's template with the
// real Vault Agent, once (exit_after_auth): the source's root, then the
// extra roots, each distinct PEM once; and a missing field fails the
// agent, naming field and path. The unit test of templates/ executes it
// with stand-ins for the agent's functions; this is the agent's own.
func TestRootsTemplateInVaultAgent(t *testing.T) {
	v := startVault(t)
	// The template as the tool writes it, from istiod's Deployment.
	cfg := writeTestConfig(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: roots}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/roots/ca}
  rootRotation:
    extraRoots:
    - kv: {version: 2, path: secret/roots/next}
    - kv: {version: 2, path: secret/roots/retired}
`)
	out, stderr, code := tool(t, mustReadBytes(t, istiodManifests), nil, "--config", cfg)
	if code != 0 {
		t.Fatalf("istio-vault-ca: exit %d: %s", code, stderr)
	}
	tmpl := ""
	for _, doc := range strings.Split(out, "\n---\n") {
		var d appsv1.Deployment
		if yaml.Unmarshal([]byte(doc), &d) == nil && d.Kind == "Deployment" && d.Name == "istiod" {
			tmpl = d.Spec.Template.Annotations["vault.hashicorp.com/agent-inject-template-root-cert.pem"]
		}
	}
	if !strings.Contains(tmpl, "sprig_uniq") {
		t.Fatalf("istiod's Deployment has no root file template of several roots: %q", tmpl)
	}
	render := func(next, value string) (string, string, error) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "token"), []byte(rootToken), 0o600))
		must(t, os.WriteFile(filepath.Join(dir, "roots.ctmpl"), []byte(tmpl), 0o600))
		must(t, os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(fmt.Sprintf(`vault { address = "%s" }
exit_after_auth = true
auto_auth {
  method "token_file" { config = { token_file_path = "%s/token" } }
}
template_config { exit_on_retry_failure = true }
template {
  source      = "%s/roots.ctmpl"
  destination = "%s/root-cert.pem"
}
`, v.addr, dir, dir, dir)), 0o600))
		kvPut(t, v.client, 2, "secret", "roots/next", map[string]any{next: value})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, vaultBinary(t), "agent", "-config", filepath.Join(dir, "agent.hcl"))
		cmd.Env = append(os.Environ(), "HOME="+dir, "VAULT_DISABLE_MLOCK=true")
		out, err := cmd.CombinedOutput()
		got, _ := os.ReadFile(filepath.Join(dir, "root-cert.pem"))
		return string(got), string(out), err
	}
	pem := func(s string) string { return "-----BEGIN CERTIFICATE-----\n" + s + "\n-----END CERTIFICATE-----" }
	oldRoot, newRoot := pem("OLD ROOT"), pem("NEW ROOT")
	kvPut(t, v.client, 2, "secret", "roots/ca", map[string]any{"root_cert": oldRoot + "\n"})
	kvPut(t, v.client, 2, "secret", "roots/retired", map[string]any{"root_cert": oldRoot})
	if got, log, err := render("root_cert", newRoot); err != nil || got != oldRoot+"\n"+newRoot+"\n" {
		t.Errorf("the agent rendered %q (err %v), want the old root then the new, once each:\n%s", got, err, tail(log, 4<<10))
	}
	const missing = "istio-vault-ca: field root_cert is missing or empty in secret/data/roots/next"
	// A private key in an extra root's field never reaches the root file,
	// which istiod publishes to every namespace: the render fails.
	const notCert = "istio-vault-ca: field root_cert in secret/data/roots/next is not only PEM CERTIFICATE blocks"
	for _, bad := range []string{"-----BEGIN RSA PRIVATE KEY-----\nKEY\n-----END RSA PRIVATE KEY-----", newRoot + "\n-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----"} {
		if got, log, err := render("root_cert", bad); err == nil || got != "" || !strings.Contains(log, notCert) {
			t.Errorf("with a key in the extra root's field the agent rendered %q (err %v), want it to fail with %q:\n%s", got, err, notCert, tail(log, 4<<10))
		}
	}
	if got, log, err := render("other", newRoot); err == nil || got != "" || !strings.Contains(log, missing) {
		t.Errorf("with the extra root's field missing the agent rendered %q (err %v), want it to fail with %q:\n%s", got, err, missing, tail(log, 4<<10))
	}
}
