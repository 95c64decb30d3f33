package e2e

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
)

// TestRotation is rotation on the real control plane. istiod's pod, from
// the tool's output for the istio-discovery chart with rotation: true, is
// mutated by the real injector and run as the kubelet would run it:
// vault-agent-init to completion, then the vault-agent sidecar, then the
// real istiod from the discovery container. istiod signs a workload CSR
// sent over its gRPC CA API with intermediate v1. A v2 under the same root
// is then written to Vault: the running sidecar renders it, and the same
// istiod process, never restarted, signs the next CSR with v2 and still
// publishes the same root.
//
// istiod reloads by itself: with a plugged-in CA it watches ROOT_CA_DIR
// with fsnotify (initCACertsAndCRLWatcher in pilot/pkg/bootstrap) and, 100ms
// after the first write or create it sees, reads the files again and keeps
// them only if they verify (the certificate chains to the root it already
// has, and key and certificate match); a new root is refused. The agent
// writes the files one at a time (each atomically: a temporary file renamed
// over it), so that read may come between two of them. A key and
// certificate that do not match are refused, and the next file's event
// reloads again; a new key and certificate with the old cert-chain.pem
// verify (the root signs both intermediates), so istiod could, until the
// chain's own event reloads it, send the old intermediate as the chain of
// leaves the new one signed, its own serving certificate among them (then no
// client verifies istiod at all). The injector orders the templates as Go
// ranges over a map, so which file comes last differs from pod to pod. Every
// answer below is checked for that; the writes are logged, as they are
// usually a few milliseconds apart, well inside istiod's 100ms.
//
// The library-level loader (istiodSigns) is not used here: the real
// process shows all it did, and the reload it cannot.
func TestRotation(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	first, root, rootKey, rootPEM := newCA(t, nil, nil, "", "Intermediate CA v1", 20)
	put := func(t *testing.T, v *api.Client, ca caBundle) {
		kvPut(t, v, 2, "secret", "rotating", ca.fields())
	}
	l := layout{
		name: "rotation",
		config: `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: rotation}
spec:
  vault: {role: istiod, authPath: auth/k8s-rotation, policy: rotation}
  rotation: true
  agent: {staticSecretRenderInterval: 1s}
  source:
    kv: {version: 2, path: secret/rotating}
`,
		seed: func(t *testing.T, v *api.Client) { put(t, v, first) },
	}
	cfgFile, _ := e.setup(t, l)
	rp := e.startRotatingIstiod(t, cfgFile, 5*time.Minute, func(initAgent *agentRun) {
		if got := initAgent.read(t, "ca-cert.pem"); got != first.certPEM {
			t.Fatalf("vault-agent-init rendered ca-cert.pem:\n%s\nwant v1:\n%s", got, first.certPEM)
		}
	})
	sidecar, istiod := rp.sidecar, rp.istiod
	// The istiod this module requires no longer reads the flag (its release
	// notes: "Removed the AUTO_RELOAD_PLUGIN_CERTS feature flag"; the watcher
	// is always on), so nothing below depends on it: it is checked for the
	// older istiods that reload only with it.
	if reload := containerEnv(rp.pod, "discovery", "AUTO_RELOAD_PLUGIN_CERTS"); reload != "true" {
		t.Errorf("AUTO_RELOAD_PLUGIN_CERTS=%q, want true: an older istiod would not reload the new files", reload)
	}
	pid := istiod.proc.pid
	if got := istiod.publishedRoot(t, e.k8s, "e2e-before"); got != rootPEM {
		t.Fatalf("istiod publishes a root other than Vault's:\n%s\nwant:\n%s", got, rootPEM)
	}
	istiod.workloadSigned(t, e.k8s, rootPEM, first.certPEM)

	second, _, _, _ := newCA(t, root, rootKey, rootPEM, "Intermediate CA v2", 21)
	sa := serviceAccount{Namespace: "e2e-workload", Name: "workload"}
	token := e.k8s.token(t, sa, "istio-ca")
	roots := certPool(t, []byte(rootPEM))
	spiffe := fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", sa.Namespace, sa.Name)
	which := func(c *x509.Certificate) string {
		switch {
		case c == nil:
			return "none"
		case c.Equal(first.cert):
			return "v1"
		case c.Equal(second.cert):
			return "v2"
		}
		return c.Subject.String()
	}
	// signed has istiod sign a CSR and says which intermediate signed the
	// leaf and which one istiod sent as its chain; the two must agree, and
	// the chain must verify to the root.
	signed := func() (signer, sent string, err error) {
		chain, err := istiod.sign(t, roots, token, workloadCSR(t, spiffe))
		if err != nil {
			return "", "", err
		}
		if len(chain) < 2 {
			return "", "", fmt.Errorf("istiod sent a chain of %d certificates", len(chain))
		}
		leaf := chain[0]
		signer = "unknown"
		for _, ca := range []caBundle{first, second} {
			if leaf.CheckSignatureFrom(ca.cert) == nil {
				signer = which(ca.cert)
			}
		}
		sent = which(chain[1])
		if signer != sent {
			t.Errorf("a served mismatch: istiod signed the leaf with %s but sent %s as its chain", signer, sent)
		}
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("the leaf signed by %s does not verify to the root with the chain istiod sent: %v", signer, err)
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != spiffe {
			t.Errorf("the workload certificate is for %v, want %s", leaf.URIs, spiffe)
		}
		return signer, sent, nil
	}
	if signer, sent, err := signed(); err != nil || signer != "v1" || sent != "v1" {
		t.Fatalf("before rotation istiod signs with %s and sends %s (err %v), want v1", signer, sent, err)
	}

	put(t, e.vault.client, second)
	waitFor(t, 60*time.Second, "the sidecar to render the new intermediate", func() bool {
		return sidecar.tryRead("ca-cert.pem") == second.certPEM && sidecar.tryRead("ca-key.pem") == second.keyPEM &&
			sidecar.tryRead("cert-chain.pem") == second.chainPEM
	})

	// In which order, and how far apart, the sidecar wrote the files (each
	// file's time is its temporary file's last write, kept by the rename):
	// istiod reads once 100ms after the first event, so a read between two
	// writes needs them further apart than that. Logged, not asserted.
	var order []string
	var firstWrite time.Time
	for _, f := range sortedByModTime(t, sidecar.dir, "ca-key.pem", "ca-cert.pem", "cert-chain.pem") {
		if firstWrite.IsZero() {
			firstWrite = f.ModTime()
		}
		order = append(order, fmt.Sprintf("%s +%v", f.Name(), f.ModTime().Sub(firstWrite)))
	}
	t.Logf("the sidecar's files by modification time: %s", strings.Join(order, ", "))

	// Bounded: the reload is 100ms after the sidecar's writes, but this
	// machine is shared and loaded.
	deadline := time.Now().Add(60 * time.Second)
	seen := map[string]int{}
	for {
		if err := istiod.proc.running(); err != nil {
			t.Fatalf("istiod exited during rotation: %v", err)
		}
		signer, sent, err := signed()
		if err != nil {
			seen["error: "+err.Error()]++
		} else {
			seen[signer+" sent "+sent]++
			if signer == "v2" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("istiod still does not sign with v2 60s after the sidecar rendered it; answers: %v", seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("answers while istiod reloaded: %v", seen)
	// istiod's listeners stay up through a reload, so a failed call is not
	// a moment of unavailability to ride out: it is what a read between the
	// agent's writes would cause (istiod's own serving certificate, signed
	// by the new intermediate, sent with the old cert-chain.pem, which no
	// client can verify).
	for answer, n := range seen {
		if strings.HasPrefix(answer, "error: ") {
			t.Errorf("%d call(s) to istiod failed while it reloaded: %s", n, answer)
		}
	}
	if signer, sent, err := signed(); err != nil || signer != "v2" || sent != "v2" {
		t.Errorf("after rotation istiod signs with %s and sends %s (err %v), want v2", signer, sent, err)
	}

	if err := istiod.proc.running(); err != nil {
		t.Fatalf("istiod exited: %v", err)
	}
	if got := istiod.publishedRoot(t, e.k8s, "e2e-after"); got != rootPEM {
		t.Errorf("after rotation istiod publishes another root:\n%s\nwant:\n%s", got, rootPEM)
	}
	if got := istiod.publishedRoot(t, e.k8s, "e2e-before"); got != rootPEM {
		t.Errorf("after rotation istio-ca-root-cert in e2e-before is:\n%s\nwant:\n%s", got, rootPEM)
	}
	select {
	case err := <-sidecar.done:
		t.Fatalf("the sidecar agent exited: %v", err)
	default:
	}
	// What istiod says it did: every reload it attempted, and those it
	// refused (a read between two of the agent's writes, or a new root).
	log := istiod.proc.log.String()
	t.Logf("istiod pid %d: %d reload(s) attempted, %d refused as not verifying, %d for a new root, %d taken",
		pid, strings.Count(log, "Update Istiod cacerts"), strings.Count(log, "Failed to update new Plug-in CA certs"),
		strings.Count(log, "new ROOT-CA not supported"), strings.Count(log, "Istiod has detected the newly added intermediate CA"))
}

// rotatingIstiod is an injected istiod pod with rotation: true, running.
type rotatingIstiod struct {
	pod     *corev1.Pod
	sidecar *agentRun
	istiod  *istiodRun
}

// startRotatingIstiod runs istiod's pod from the tool's output for the
// chart with cfgFile, as the kubelet would: one pod, its vault-agent-init
// to completion (its files checked, then by rendered), then its containers
// (the vault-agent sidecar, for sidecarFor, then istiod) on the same
// volumes; it returns once istiod is ready.
func (e *env) startRotatingIstiod(t *testing.T, cfgFile string, sidecarFor time.Duration, rendered func(*agentRun)) rotatingIstiod {
	t.Helper()
	pod := e.injectedIstiod(t, cfgFile)
	initC := checkInjectedPod(t, pod, true)
	sidecarC := findContainer(pod.Spec.Containers, "vault-agent")
	if sidecarC == nil {
		t.Fatal("no vault-agent sidecar: nothing would render what Vault holds next")
	}
	volumePath := secretVolumePath(pod)
	run := e.k8s.runPod(t, pod)
	initAgent := run.startAgent(t, initC, volumePath, 60*time.Second)
	if err := initAgent.wait(); err != nil {
		t.Fatalf("vault-agent-init failed: %v", err)
	}
	checkFiles(t, initAgent, pod)
	rendered(initAgent)
	rp := rotatingIstiod{pod: pod, sidecar: run.startAgent(t, sidecarC, volumePath, sidecarFor), istiod: run.startIstiod(t)}
	rp.istiod.waitReady(t)
	return rp
}

// containerEnv is the value of a variable in a container of the pod.
func containerEnv(pod *corev1.Pod, container, name string) string {
	for _, ev := range findContainer(pod.Spec.Containers, container).Env {
		if ev.Name == name {
			return ev.Value
		}
	}
	return ""
}

// sortedByModTime stats files in dir, oldest first.
func sortedByModTime(t *testing.T, dir string, names ...string) []os.FileInfo {
	t.Helper()
	var out []os.FileInfo
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(dir, n))
		must(t, err)
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModTime().Before(out[j].ModTime()) })
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
