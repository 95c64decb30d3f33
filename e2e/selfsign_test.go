package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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
//   - empty-volume: an istiod started anyway on an empty volume (no agent
//     ran at all) must not run a CA either.
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

	// Namespaces in which no root may appear, watched together at the end
	// (one window for all, rather than one per case).
	type watch struct {
		name, ns string
		from     time.Time
	}
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
				watched = append(watched, watch{"init-fails/" + fc.name, ns, time.Now()})
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
				watched = append(watched, watch{"incomplete-volume/" + ic.name, ns, time.Now()})
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

	// Last: an istiod that self-signs stores its CA in istio-system, which
	// the cases above check is absent.
	t.Run("empty-volume", func(t *testing.T) {
		pod := e.injectedIstiod(t, kv2Cfg)
		run := e.k8s.runPod(t, pod)
		dir := run.mountDirs(findContainer(pod.Spec.Containers, "discovery"))[secretVolumePath(pod)]
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Fatalf("ROOT_CA_DIR %s is not an empty directory: %v %v", dir, entries, err)
		}
		ns := "selfsign-empty-volume"
		e.k8s.ensureNamespace(t, ns)
		istiod := run.startIstiod(t)
		start := time.Now()
		exited, root, published := watchIstiod(t, istiod, e.k8s, ns, publishWindow)
		if published {
			t.Errorf("SELF-SIGNED: istiod, started on an empty ROOT_CA_DIR, runs its own CA: it published %s; its CA: %s",
				describeRoot(root, vaultRoot), caLines(istiod.proc.log.String()))
		}
		if !exited {
			t.Errorf("istiod did not exit on an empty ROOT_CA_DIR: still running after %v", time.Since(start).Round(100*time.Millisecond))
		} else if !regexp.MustCompile(regexp.QuoteMeta(istiodRefusesCA)).MatchString(istiod.proc.log.String()) {
			t.Errorf("istiod exited without naming the reason (%s):\n%s", istiodRefusesCA, tail(istiod.proc.log.String(), 4<<10))
		}
		noCASecret(t, e.k8s, "istiod on an empty volume")
	})
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
