package e2e

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// With rotation the agent stays as a sidecar: a new intermediate written to
// Vault is rendered again while it runs, and istiod's loader signs with it.
func TestRotation(t *testing.T) {
	e := newEnv(t)
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
	pod := e.injectedPod(t, cfgFile)
	checkInjectedPod(t, pod, true)
	reload := ""
	for _, ev := range findContainer(pod.Spec.Containers, "discovery").Env {
		if ev.Name == "AUTO_RELOAD_PLUGIN_CERTS" {
			reload = ev.Value
		}
	}
	if reload != "true" {
		t.Errorf("AUTO_RELOAD_PLUGIN_CERTS=%q, want true: istiod would not reload the new files", reload)
	}

	sidecar := findContainer(pod.Spec.Containers, "vault-agent")
	agent := e.k8s.runPod(t, pod).startAgent(t, sidecar, secretVolumePath(pod), 3*time.Minute)
	waitFor(t, 60*time.Second, "the first render", func() bool {
		_, complete := istiodBundle(agent.dir)
		return complete && agent.tryRead("ca-cert.pem") == first.certPEM
	})
	if got := istiodSigns(t, agent.dir); !got.Equal(first.cert) {
		t.Fatalf("istiod signs with %s, want %s", got.Subject, first.cert.Subject)
	}

	second, _, _, _ := newCA(t, root, rootKey, rootPEM, "Intermediate CA v2", 21)
	put(t, e.vault.client, second)
	waitFor(t, 60*time.Second, "the new intermediate to be rendered", func() bool {
		return agent.tryRead("ca-cert.pem") == second.certPEM && agent.tryRead("ca-key.pem") == second.keyPEM
	})
	if got := istiodSigns(t, agent.dir); !got.Equal(second.cert) {
		t.Fatalf("after rotation istiod signs with %s, want %s", got.Subject, second.cert.Subject)
	}
	select {
	case err := <-agent.done:
		t.Fatalf("the sidecar agent exited: %v", err)
	default:
	}
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
