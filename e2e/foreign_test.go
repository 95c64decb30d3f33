package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault-k8s/agent-inject/agent"
	corev1 "k8s.io/api/core/v1"
)

// TestForeignInjectorAnnotations shows, with the Vault Agent Injector's own
// mutation code, what an annotation left on istiod's pod template does to
// the agent the tool configures, and that the tool refuses each one (so
// `check` cannot call such a file converged).
func TestForeignInjectorAnnotations(t *testing.T) {
	cfgFile := writeTestConfig(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: t}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`)
	rendered := renderedIstiod(t, cfgFile)

	// templates are the templates of the init agent the injector adds.
	templates := func(pod *corev1.Pod) []map[string]any {
		var out []map[string]any
		for _, tpl := range agentConfig(t, &inject(t, pod, "http://127.0.0.1:8200").Spec.InitContainers[0])["template"].([]any) {
			out = append(out, tpl.(map[string]any))
		}
		return out
	}
	const key = "/vault/secrets/injected/ca-key.pem" // where the agent renders istiod's files
	for _, tc := range []struct {
		annotation string
		// effect runs the injector on the pod and says what the annotation
		// did to it, "" if nothing.
		effect func(pod *corev1.Pod) string
	}{
		{`vault.hashicorp.com/agent-inject-file-ca-key.pem: moved/ca-key.pem`, func(pod *corev1.Pod) string {
			for _, tpl := range templates(pod) {
				if d := tpl["destination"].(string); strings.HasSuffix(d, "/moved/ca-key.pem") {
					return "the key is written to " + d + ", and istiod finds no ca-key.pem"
				}
			}
			return ""
		}},
		{`vault.hashicorp.com/agent-inject-command-ca-key.pem: "sh -c 'cat /vault/secrets/ca-key.pem'"`, func(pod *corev1.Pod) string {
			for _, tpl := range templates(pod) {
				if c, ok := tpl["command"]; ok && strings.Contains(toJSON(t, c), "cat /vault/secrets/ca-key.pem") {
					return "the agent runs a command that prints the key into its log"
				}
			}
			return ""
		}},
		{`vault.hashicorp.com/agent-inject-token: "true"`, func(pod *corev1.Pod) string {
			cfg := agentConfig(t, &inject(t, pod, "http://127.0.0.1:8200").Spec.InitContainers[0])
			for _, s := range cfg["auto_auth"].(map[string]any)["sink"].([]any) {
				if p := s.(map[string]any)["config"].(map[string]any)["path"].(string); strings.HasPrefix(p, "/vault/secrets/") {
					return "the Vault token is written to " + p + ", beside the key"
				}
			}
			return ""
		}},
		// Another secret, read by the same agent with istiod's role.
		{"vault.hashicorp.com/agent-inject-secret-x: secret/data/istio/cacerts\n        vault.hashicorp.com/agent-inject-file-x: ca-key.pem\n        vault.hashicorp.com/agent-inject-perms-x: \"0644\"", func(pod *corev1.Pod) string {
			return secondKey(templates(pod), key, "0644")
		}},
		{"vault.hashicorp.com/agent-inject-secret-x: secret/data/istio/cacerts", func(pod *corev1.Pod) string {
			for _, tpl := range templates(pod) {
				if tpl["destination"] == "/vault/secrets/injected/x" && strings.Contains(tpl["contents"].(string), `secret "secret/data/istio/cacerts"`) {
					return "the whole bundle, key included, is also written to /vault/secrets/injected/x with the default mode"
				}
			}
			return ""
		}},
		{"vault.hashicorp.com/agent-inject-secret-x: secret/data/istio/cacerts\n        vault.hashicorp.com/agent-inject-command-x: cat /vault/secrets/ca-key.pem", func(pod *corev1.Pod) string {
			for _, tpl := range templates(pod) {
				if tpl["destination"] == "/vault/secrets/injected/x" && tpl["command"] == "cat /vault/secrets/ca-key.pem" {
					return "after rendering x the agent cats the key into its log"
				}
			}
			return ""
		}},
		// The injector lowercases secret names.
		{"vault.hashicorp.com/agent-inject-template-CA-KEY.PEM: '{{ with secret \"secret/data/istio/cacerts\" }}{{ .Data.data.ca_key }}{{ end }}'\n        vault.hashicorp.com/agent-inject-perms-CA-KEY.PEM: \"0644\"", func(pod *corev1.Pod) string {
			return secondKey(templates(pod), key, "0644")
		}},
		// No agent at all.
		{`vault.hashicorp.com/agent-pre-populate: "false"`, func(pod *corev1.Pod) string {
			out := inject(t, pod, "http://127.0.0.1:8200")
			discovery := findContainer(out.Spec.Containers, "discovery")
			if len(out.Spec.InitContainers) != 0 || findContainer(out.Spec.Containers, "vault-agent") != nil || discovery == nil {
				return ""
			}
			for _, m := range discovery.VolumeMounts {
				if m.MountPath == "/vault/secrets/injected" {
					return "no agent container at all, yet discovery mounts " + m.MountPath + " (" + m.Name + "), which stays empty: istiod self-signs"
				}
			}
			return ""
		}},
		{`vault.hashicorp.com/agent-inject-status: injected`, func(pod *corev1.Pod) string {
			should, err := agent.ShouldInject(pod)
			must(t, err)
			if should {
				return ""
			}
			return "the injector's webhook skips the pod: no agent, and istiod starts without its CA"
		}},
	} {
		name := tc.annotation[len("vault.hashicorp.com/"):strings.Index(tc.annotation, ":")]
		t.Run(name, func(t *testing.T) {
			doc := withAnnotation(t, rendered, tc.annotation)
			effect := tc.effect(podFor(t, []byte(doc)))
			if effect == "" {
				t.Fatalf("the injector ignores %s: the case shows nothing", tc.annotation)
			}
			t.Log("with the real injector: " + effect)
			stdout, stderr, code := tool(t, []byte(doc), nil, "--config", cfgFile)
			if code != 2 || stdout != "" || !strings.Contains(stderr, name+"`:") {
				t.Errorf("the tool let it through: exit %d, stderr %q", code, stderr)
			}
		})
	}
	// Without the annotations, the same checks see nothing: they are not
	// true of every injected istiod.
	pod := podFor(t, []byte(rendered))
	if secondKey(templates(pod), key, "0644") != "" {
		t.Fatal("the tool's own pod already has a second key")
	}
	if should, err := agent.ShouldInject(pod); err != nil || !should {
		t.Fatalf("the tool's own pod is not injected: %v", err)
	}
}

// secondKey says whether the agent renders the key file twice, once with
// the given mode.
func secondKey(templates []map[string]any, key, perms string) string {
	n, loose := 0, false
	for _, tpl := range templates {
		if tpl["destination"] == key {
			n++
			loose = loose || tpl["perms"] == perms
		}
	}
	if n < 2 || !loose {
		return ""
	}
	return "the agent renders " + key + " twice, once with mode " + perms
}

// renderedIstiod is the istiod Deployment the tool makes of the istiod
// chart with a config, as text.
func renderedIstiod(t *testing.T, cfgFile string) string {
	t.Helper()
	return istiodDoc(t, renderedStream(t, cfgFile))
}

// renderedStream is the whole stream the tool makes of the istiod chart.
func renderedStream(t *testing.T, cfgFile string) string {
	t.Helper()
	in, err := os.ReadFile(istiodManifests)
	must(t, err)
	out, stderr, code := tool(t, in, nil, "--config", cfgFile)
	if code != 0 {
		t.Fatalf("istio-vault-ca: exit %d: %s", code, stderr)
	}
	return out
}

// withAnnotation adds one pod annotation (a "key: value" line) beside the
// tool's agent-inject in a rendered istiod.
func withAnnotation(t *testing.T, doc, annotation string) string {
	t.Helper()
	const at = "        vault.hashicorp.com/agent-inject: \"true\"\n"
	out := strings.Replace(doc, at, at+"        "+annotation+"\n", 1)
	if out == doc {
		t.Fatal("no agent-inject annotation to add beside")
	}
	return out
}

// istiodDoc is the istiod Deployment document of a rendered stream, as text.
func istiodDoc(t *testing.T, stream string) string {
	t.Helper()
	for _, doc := range strings.Split(stream, "\n---\n") {
		if strings.Contains(doc, "\nkind: Deployment\n") && strings.Contains(doc, "\n  name: istiod\n") {
			return doc
		}
	}
	t.Fatal("no istiod Deployment in the stream")
	return ""
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

// TestMovedKeyWithARealAgent runs the real agent, logged in to a real
// Vault, on an istiod whose pod template also carries
// agent-inject-file-ca-key.pem: the key lands in moved/, ca-key.pem is
// missing from ROOT_CA_DIR (istiod before 1.27 then silently self-signs),
// which is why the tool refuses the annotation.
func TestMovedKeyWithARealAgent(t *testing.T) {
	e := newEnv(t)
	l := layouts()[0]
	cfgFile, _ := e.setup(t, l)
	rendered := renderedIstiod(t, cfgFile)
	doc := withAnnotation(t, rendered, "vault.hashicorp.com/agent-inject-file-ca-key.pem: moved/ca-key.pem")
	pod := e.admitted(t, doc, "istio-system", "istiod")
	agent := e.k8s.runPod(t, pod).startAgent(t, &pod.Spec.InitContainers[0], secretVolumePath(pod), 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("vault-agent-init: %v", err)
	}
	if agent.tryRead("ca-key.pem") != "" || !strings.Contains(agent.tryRead("moved/ca-key.pem"), "PRIVATE KEY") {
		t.Fatalf("the annotation did not move the key: the case shows nothing")
	}
	t.Log("with the real agent: the key is at moved/ca-key.pem, and ca-key.pem is missing")
	if _, stderr, code := tool(t, []byte(doc), nil, "--config", cfgFile); code != 2 || !strings.Contains(stderr, "agent-inject-file-ca-key.pem`: changes where or how the injector writes ca-key.pem") {
		t.Errorf("the tool let it through: exit %d, %s", code, stderr)
	}
}

// TestOtherSecretWithARealAgent runs the real agent, logged in to a real
// Vault with istiod's role, on an istiod whose pod template also asks for
// another secret at the key's own path: the agent renders the whole
// bundle, key included, to /vault/secrets/injected/x with the agent's default mode,
// which others may read. This is why the tool refuses any secret but its
// own on a target.
func TestOtherSecretWithARealAgent(t *testing.T) {
	e := newEnv(t)
	cfgFile, _ := e.setup(t, layouts()[0])
	rendered := renderedIstiod(t, cfgFile)
	keyPath := podFor(t, []byte(rendered)).Annotations["vault.hashicorp.com/agent-inject-secret-ca-key.pem"]
	if keyPath == "" {
		t.Fatal("the rendered istiod reads no ca-key.pem")
	}
	doc := withAnnotation(t, rendered, "vault.hashicorp.com/agent-inject-secret-x: "+keyPath)
	pod := e.admitted(t, doc, "istio-system", "istiod")
	agent := e.k8s.runPod(t, pod).startAgent(t, &pod.Spec.InitContainers[0], secretVolumePath(pod), 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("vault-agent-init: %v", err)
	}
	fi, err := os.Stat(filepath.Join(agent.dir, "x"))
	if err != nil || !strings.Contains(agent.tryRead("x"), "PRIVATE KEY") || fi.Mode().Perm()&0o004 == 0 {
		t.Fatalf("the other secret did not expose the key: %v", err)
	}
	t.Logf("with the real agent: the key is also in x, mode %v", fi.Mode().Perm())
	if _, stderr, code := tool(t, []byte(doc), nil, "--config", cfgFile); code != 2 || !strings.Contains(stderr, "agent-inject-secret-x`: is for another secret") {
		t.Errorf("the tool let it through: exit %d, %s", code, stderr)
	}
}
