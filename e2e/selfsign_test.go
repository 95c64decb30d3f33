package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// publishWindow is how long a namespace is watched for a root nobody should
// publish. It is not a performance bound: the working case first shows
// that a real istiod, started on this machine, publishes Vault's root in a
// namespace within it; a window that short proves nothing and fails the
// test. Generous, because the machine is shared.
const publishWindow = 60 * time.Second

// istiodRefusesCA is what istiod logs when it refuses the files in
// ROOT_CA_DIR: NewServer fails in createIstioCA (pilot/pkg/bootstrap).
const istiodRefusesCA = `failed to create discovery service: failed to create CA: failed to create an istiod CA: `

// TestNeverSelfSigned shows, on the real control plane with the real
// istiod process of the whole istio-discovery chart, that when Vault's CA
// does not reach istiod no istiod serves another CA: no root is published
// in a new namespace (the istio-ca-root-cert ConfigMap) and no self-signed
// CA is stored (the istio-ca-secret Secret in istio-system).
//
//   - init-fails: Vault denies the agent, or a field is missing. The
//     init agent fails naming the cause; the kubelet starts no container of
//     a pod whose init container failed, so istiod never runs.
//   - incomplete-volume: an istiod started anyway on some of the files (as
//     if the agent had rendered only some): it exits, naming the reason.
//   - empty-volume/not-injected: istiod's pod created without the Vault
//     injector's mutation (its webhook fails open while the injector is
//     down): istiod exits, naming the incomplete bundle the tool's guard
//     volume holds, instead of becoming a self-signed CA.
func TestNeverSelfSigned(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	kv2, tls := layouts()[1], layouts()[3]
	kv2Cfg, _ := e.setup(t, kv2)
	tlsCfg, _ := e.setup(t, tls)

	// The working case measures the window: the namespace exists before
	// istiod starts, so the time includes istiod's start, as it would for
	// an istiod started when an init agent exits.
	vaultRoot := func() string {
		pod := e.injectedIstiod(t, kv2Cfg)
		run := e.k8s.runPod(t, pod)
		agent := run.startAgent(t, checkInjectedPod(t, pod, false), secretVolumePath(pod), 60*time.Second)
		if err := agent.wait(); err != nil {
			t.Fatalf("vault-agent-init of the working case: %v", err)
		}
		root, _ := renderedCA(t, agent, pod)
		ns := "selfsign-working"
		e.k8s.ensureNamespace(t, ns)
		start := time.Now()
		istiod := run.startIstiod(t)
		exited, got, published := watchIstiod(t, istiod, e.k8s, ns, publishWindow)
		took := time.Since(start)
		if exited || !published {
			t.Fatalf("the working istiod published no root within %v (exited=%v): the window proves nothing", publishWindow, exited)
		}
		if got != root {
			t.Fatalf("the working istiod publishes a root other than Vault's:\n%s", got)
		}
		t.Logf("the working istiod published Vault's root %v after it started (window %v)", took.Round(time.Second), publishWindow)
		// Stopped as the kubelet would, so it gives up its leases and
		// publishes nothing in the namespaces below.
		istiod.proc.stop()
		noCASecret(t, e.k8s, "the working istiod")
		return root
	}()

	// Namespaces in which no root may appear, checked together at the end.
	type watch struct{ name, ns string }
	var watched []watch

	t.Run("init-fails", func(t *testing.T) {
		for _, fc := range failCases() {
			t.Run(fc.name, func(t *testing.T) {
				cfgFile := e.setupFailCase(t, fc)
				pod := e.injectedIstiod(t, cfgFile)
				agent := e.k8s.runPod(t, pod).initFails(t, fc)
				if _, complete := istiodBundle(agent.dir); complete {
					t.Errorf("a complete bundle was rendered despite the failure")
				}
				// Here the kubelet would have started istiod, had the
				// init container succeeded. It does not: the pod's
				// containers start only once every init container exited 0.
				ns := "selfsign-" + fc.name
				e.k8s.ensureNamespace(t, ns)
				watched = append(watched, watch{"init-fails/" + fc.name, ns})
				noCASecret(t, e.k8s, fc.name)
			})
		}
	})

	t.Run("incomplete-volume", func(t *testing.T) {
		for _, ic := range []struct {
			name    string
			cfgFile string
			remove  []string // of the files the agent rendered
		}{
			// What the missing-field case leaves when the agent rendered
			// the other files before it failed.
			{"no-root-cert", kv2Cfg, []string{"root-cert.pem"}},
			{"no-key", kv2Cfg, []string{"ca-key.pem"}},
			{"root-only", kv2Cfg, []string{"ca-key.pem", "ca-cert.pem", "cert-chain.pem"}},
			{"tls-no-key", tlsCfg, []string{"tls.key"}},
		} {
			t.Run(ic.name, func(t *testing.T) {
				pod := e.injectedIstiod(t, ic.cfgFile)
				run := e.k8s.runPod(t, pod)
				agent := run.startAgent(t, checkInjectedPod(t, pod, false), secretVolumePath(pod), 60*time.Second)
				if err := agent.wait(); err != nil {
					t.Fatalf("vault-agent-init: %v", err)
				}
				for _, f := range ic.remove {
					must(t, os.Remove(filepath.Join(agent.dir, f)))
				}
				ns := "selfsign-" + ic.name
				e.k8s.ensureNamespace(t, ns)
				istiod := run.startIstiod(t)
				start := time.Now()
				exited, root, published := watchIstiod(t, istiod, e.k8s, ns, publishWindow)
				if !exited {
					t.Errorf("istiod did not exit on an incomplete ROOT_CA_DIR (%v removed): running after %v; its CA: %s",
						ic.remove, time.Since(start).Round(time.Second), caLines(istiod.proc.log.String()))
				}
				if exited && istiod.proc.err == nil {
					t.Errorf("istiod exited 0")
				}
				if published {
					t.Errorf("istiod published a root in %s: %s", ns, describeRoot(root, vaultRoot))
				}
				if want := regexp.QuoteMeta(istiodRefusesCA + "incomplete signing CA bundle detected"); !regexp.MustCompile(want).MatchString(istiod.proc.log.String()) {
					t.Errorf("istiod's log does not name the reason (%s):\n%s", want, tail(istiod.proc.log.String(), 4<<10))
				} else {
					t.Logf("istiod exited after %v: %s", time.Since(start).Round(100*time.Millisecond), caLines(istiod.proc.log.String()))
				}
				watched = append(watched, watch{"incomplete-volume/" + ic.name, ns})
				noCASecret(t, e.k8s, ic.name)
			})
		}
	})

	t.Run("nothing-published", func(t *testing.T) {
		if len(watched) == 0 {
			t.Fatal("no case reached the point where istiod would start")
		}
		// No istiod runs any more: the working one was stopped, the others
		// exited. What is checked is that none of them left a root behind.
		for _, w := range watched {
			if root, published := publishedNow(t, e.k8s, w.ns); published {
				t.Errorf("%s: a root was published in %s: %s", w.name, w.ns, describeRoot(root, vaultRoot))
			}
		}
		noCASecret(t, e.k8s, "after every case")
	})

	// Last, since it stops the injector: pods the injector never mutated.
	t.Run("empty-volume", func(t *testing.T) {
		e.injectorDownFailingOpen(t)
		for _, c := range []struct {
			name, cfgFile string
			edit          func(*corev1.Container)
		}{
			{"not-injected", kv2Cfg, nil},
			// The guard holds tls.crt, so istiod looks for that layout.
			{"not-injected-kubernetes-tls", tlsCfg, nil},
			// ROOT_CA_DIR moved before the variable it refers to (a later
			// patch of the Deployment, say): Kubernetes leaves
			// $(VAULT_AGENT_INJECT_STATUS) as written, a directory the
			// guard also holds.
			{"reference-unexpanded", kv2Cfg, func(c *corev1.Container) {
				i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "ROOT_CA_DIR" })
				root := c.Env[i]
				c.Env = append([]corev1.EnvVar{root}, slices.Delete(c.Env, i, i+1)...)
			}},
		} {
			t.Run(c.name, func(t *testing.T) { e.notInjected(t, c.cfgFile, vaultRoot, c.edit) })
		}
	})
}

// injectorDownFailingOpen makes the Vault injector's webhook what vault-helm
// registers, failurePolicy Ignore, and stops the injector: the API server
// then creates every pod unmutated.
func (e *env) injectorDownFailingOpen(t *testing.T) {
	ctx := context.Background()
	hooks := e.k8s.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cfg, err := hooks.Get(ctx, vaultInjectorWebhook, metav1.GetOptions{})
	must(t, err)
	for i := range cfg.Webhooks {
		cfg.Webhooks[i].FailurePolicy = ptrTo(admissionv1.Ignore)
	}
	_, err = hooks.Update(ctx, cfg, metav1.UpdateOptions{})
	must(t, err)
	e.injector.proc.stop()
	// Until the API server's informer has the new failurePolicy, the stopped
	// injector fails a pod's creation: a dry-run probe that asks for
	// injection tells when one is created, unmutated.
	e.k8s.waitMutates(t, func(p *corev1.Pod) bool { return len(p.Spec.InitContainers) == 0 },
		map[string]string{"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "probe"}, nil)
}

// notInjected: istiod's pod created without the Vault injector's mutation,
// as production gets it: vault-helm registers the injector's webhook with
// failurePolicy Ignore, so while the injector is down (or slow, or its
// selector misses the pod) the API server creates the pod unmutated: no
// agent, no secret volume, no agent-inject-status annotation. Unguarded,
// ROOT_CA_DIR is then an empty or absent directory and the real istiod
// silently becomes a self-signed CA. The tool's guard makes ROOT_CA_DIR
// <secretVolumePath>/ there, which holds one file of the bundle: istiod
// must exit naming the incomplete bundle, and publish and store nothing.
//
// An injected pod whose agent did not run is not a case of its own: the
// agent is then its first init container, and the kubelet starts no
// container of a pod before its init containers exit 0 (init-fails).
func (e *env) notInjected(t *testing.T, cfgFile, vaultRoot string, edit func(*corev1.Container)) {
	out, stderr, code := tool(t, []byte(istiodChart(t)), nil, "--config", cfgFile)
	if code != 0 {
		t.Fatalf("istio-vault-ca: exit %d: %s", code, stderr)
	}
	e.k8s.apply(t, []byte(out), applyOptions{})
	if edit != nil {
		deps := e.k8s.client.AppsV1().Deployments("istio-system")
		d, err := deps.Get(context.Background(), "istiod", metav1.GetOptions{})
		must(t, err)
		edit(findContainer(d.Spec.Template.Spec.Containers, "discovery"))
		_, err = deps.Update(context.Background(), d, metav1.UpdateOptions{})
		must(t, err)
	}
	before := len(e.k8s.podAdmissions(t, "istio-system"))
	pod := e.k8s.mustPodFromDeployment(t, "istio-system", "istiod")
	calls := e.k8s.admittedBy(t, "istio-system", before)
	failedOpen := false
	for _, c := range calls {
		failedOpen = failedOpen || c.FailedOpen && c.Webhook == "vault.hashicorp.com"
	}
	if !failedOpen {
		t.Errorf("the API server did not fail open on the Vault injector's webhook for this pod: %+v", calls)
	}
	if len(pod.Spec.InitContainers) != 0 || pod.Annotations["vault.hashicorp.com/agent-inject-status"] != "" {
		t.Fatalf("the pod was mutated after all: init containers %v, status %q", pod.Spec.InitContainers, pod.Annotations["vault.hashicorp.com/agent-inject-status"])
	}

	run := e.k8s.runPod(t, pod)
	discovery := findContainer(pod.Spec.Containers, "discovery")
	var rootCADir string
	for _, kv := range run.env(t, discovery) {
		if v, ok := strings.CutPrefix(kv, "ROOT_CA_DIR="); ok {
			rootCADir = v
		}
	}
	// Unguarded, ROOT_CA_DIR is no directory of the pod at all: istiod is
	// started anyway, to show what it does then.
	var names []string
	entries, err := os.ReadDir(rootCADir)
	for _, en := range entries {
		names = append(names, en.Name())
	}
	t.Logf("ROOT_CA_DIR without the injector's mutation holds %v (%v)", names, err)
	if _, complete := istiodBundle(rootCADir); complete {
		t.Fatalf("ROOT_CA_DIR %s holds a complete bundle", rootCADir)
	}

	ns := "selfsign-" + t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	e.k8s.ensureNamespace(t, ns)
	istiod := run.startIstiod(t)
	start := time.Now()
	exited, root, published := watchIstiod(t, istiod, e.k8s, ns, publishWindow)
	log := istiod.proc.log.String()
	if published {
		t.Errorf("SELF-SIGNED: istiod, in a pod the Vault injector did not mutate, runs its own CA: it published %s; its CA: %s",
			describeRoot(root, vaultRoot), caLines(log))
	}
	if !exited {
		t.Errorf("istiod did not exit in a pod the Vault injector did not mutate: still running after %v; its CA: %s", time.Since(start).Round(100*time.Millisecond), caLines(log))
	} else if istiod.proc.err == nil {
		t.Errorf("istiod exited 0")
	}
	if want := regexp.QuoteMeta(istiodRefusesCA + "incomplete signing CA bundle detected"); !regexp.MustCompile(want).MatchString(log) {
		t.Errorf("istiod's log does not name the reason (%s):\n%s", want, tail(log, 4<<10))
	} else {
		t.Logf("istiod exited after %v: %s", time.Since(start).Round(100*time.Millisecond), caLines(log))
	}
	if root, published := publishedNow(t, e.k8s, ns); published {
		t.Errorf("a root was published in %s: %s", ns, describeRoot(root, vaultRoot))
	}
	noCASecret(t, e.k8s, "istiod in a pod the Vault injector did not mutate")
}

// watchIstiod watches a started istiod for at most window: until it exits,
// or a root appears in the namespace ns. It returns whether istiod exited
// and whether it published a root in ns, and which.
func watchIstiod(t *testing.T, ir *istiodRun, cp *controlPlane, ns string, window time.Duration) (exited bool, root string, published bool) {
	t.Helper()
	deadline := time.Now().Add(window)
	for {
		exited = ir.proc.running() != nil
		// Read after the exit too: what it published before.
		if root, published = publishedNow(t, cp, ns); published || exited || time.Now().After(deadline) {
			return exited, root, published
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// publishedNow is the root published in ns, if any.
func publishedNow(t *testing.T, cp *controlPlane, ns string) (root string, published bool) {
	t.Helper()
	cm, err := cp.client.CoreV1().ConfigMaps(ns).Get(context.Background(), "istio-ca-root-cert", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", false
	}
	must(t, err)
	return cm.Data["root-cert.pem"], true
}

// noCASecret asserts istio-system holds no istio-ca-secret: the Secret in
// which istiod's self-signed CA keeps its key and root.
func noCASecret(t *testing.T, cp *controlPlane, after string) {
	t.Helper()
	s, err := cp.client.CoreV1().Secrets("istio-system").Get(context.Background(), "istio-ca-secret", metav1.GetOptions{})
	if err == nil {
		t.Errorf("%s: istio-system holds istio-ca-secret, a self-signed CA (%s)", after, describeRoot(string(s.Data["ca-cert.pem"]), ""))
		return
	}
	if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// caLines are the lines of istiod's log on the CA it chose, or on why it
// refused to run one.
func caLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "signing ca files") || strings.Contains(l, "CA certificate") ||
			strings.Contains(l, "CASecret") || strings.Contains(l, "failed to create") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, " | ")
}

// describeRoot names a published root and says whether it is Vault's.
func describeRoot(root, vaultRoot string) string {
	var certs []*x509.Certificate
	for rest := []byte(root); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return fmt.Sprintf("no certificate (%q)", root)
	}
	c := certs[0]
	whose := "not Vault's root"
	if vaultRoot != "" && root == vaultRoot {
		whose = "Vault's root"
	}
	return fmt.Sprintf("%d certificate(s), the first subject %q issuer %q: %s", len(certs), c.Subject, c.Issuer, whose)
}
