package e2e

import (
	"os"
	"strings"
	"testing"
)

// namesConfig is a gateway with one certificate; NAME is replaced.
const namesConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: names}
spec:
  vault: {role: istiod}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: NAME
      kv: {version: 2, path: secret/gateways/shop}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`

// gatewayAnnotated renders the gateway chart with a certificate named
// shop and returns its Deployment with every annotation renamed as the
// tool wrote it for a certificate named `name` before such names were
// refused: the name is only ever in the annotations' names, never in
// their values, so this is byte for byte what it wrote.
func gatewayAnnotated(t *testing.T, name string) string {
	t.Helper()
	cfg := writeTestConfig(t, strings.Replace(namesConfig, "NAME", "shop", 1))
	in, err := os.ReadFile(gatewayManifests)
	must(t, err)
	out, stderr, code := tool(t, in, nil, "--config", cfg)
	if code != 0 {
		t.Fatalf("istio-vault-ca: %s", stderr)
	}
	for _, doc := range strings.Split(out, "\n---\n") {
		if strings.Contains(doc, "\nkind: Deployment\n") {
			for _, suffix := range []string{".crt:", ".key:"} {
				doc = strings.ReplaceAll(doc, "-shop"+suffix, "-"+name+suffix)
			}
			return doc
		}
	}
	t.Fatal("no gateway Deployment in the output")
	return ""
}

// refused runs the tool with the certificate named name: it must refuse it.
func refused(t *testing.T, name, want string) {
	t.Helper()
	cfg := writeTestConfig(t, strings.Replace(namesConfig, "NAME", name, 1))
	in, err := os.ReadFile(gatewayManifests)
	must(t, err)
	out, stderr, code := tool(t, in, nil, "--config", cfg)
	if code != 2 || out != "" || !strings.Contains(stderr, want) {
		t.Errorf("certificate %q: exit %d, %d bytes on stdout, stderr:\n%s", name, code, len(out), stderr)
	}
}

// A certificate named file-shop wrote the annotation
// agent-inject-template-file-shop.crt, which the real injector takes for
// the template *file* of a secret shop.crt: the agent gets a template whose
// source is the template text as a path, and cannot start. Library level
// (the injector's mutation code, no cluster): the phantom template is in
// the agent config the code generates, which is all the case needs.
func TestInjectorReadsFilePrefixAsTemplateFile(t *testing.T) {
	pod := inject(t, podFor(t, []byte(gatewayAnnotated(t, "file-shop"))), "https://vault.example.com:8200")
	init := findContainer(pod.Spec.InitContainers, "vault-agent-init")
	if init == nil {
		t.Fatal("no vault-agent-init")
	}
	phantom := false
	for _, tmpl := range agentConfig(t, init)["template"].([]any) {
		m := tmpl.(map[string]any)
		dest, _ := m["destination"].(string)
		if src, ok := m["source"].(string); ok && (strings.HasSuffix(dest, "/shop.crt") || strings.HasSuffix(dest, "/shop.key")) {
			phantom = true
			if !strings.Contains(src, "with secret") {
				t.Errorf("%s: source %q is not the template text", dest, src)
			}
		}
	}
	if !phantom {
		t.Fatal("the injector made no phantom shop.crt or shop.key from file-shop's annotations (the premise of the fix)")
	}
	refused(t, "file-shop", "must not start with file-")
}

// A 60-character certificate name wrote annotation names the API server
// refuses: shown with a real kube-apiserver, by a server-side dry-run apply
// of the Deployment (its own validation, as run on every pod template).
func TestAPIServerRefusesLongAnnotationNames(t *testing.T) {
	cp := startControlPlane(t)
	dryRun := func(doc string) error {
		objs := decodeObjects(t, []byte(doc))
		cp.ensureNamespace(t, objs[0].GetNamespace())
		_, err := cp.applyObject(t, objs[0], applyOptions{dryRun: true})
		return err
	}
	name := strings.Repeat("a", 60)
	if err := dryRun(gatewayAnnotated(t, name)); err == nil || !strings.Contains(err.Error(), "name part must be no more than 63") {
		t.Fatalf("the API server accepts the annotations of a %d-character name (the premise of the fix): %v", len(name), err)
	}
	refused(t, name, "Kubernetes allows 63")
	// The longest name accepted writes annotations the API server accepts.
	longest := strings.Repeat("a", 37)
	if err := dryRun(gatewayAnnotated(t, longest)); err != nil {
		t.Errorf("a %d-character name: %v", len(longest), err)
	}
}
