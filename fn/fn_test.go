package fn

import (
	"bytes"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
)

const resourceList = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: istiod
    namespace: istio-system
    annotations:
      config.kubernetes.io/path: istiod.yaml
      config.kubernetes.io/index: "0"
  spec:
    template:
      metadata:
        labels: {app: istiod}
      spec:
        containers:
        - name: discovery
- apiVersion: v1
  kind: Service
  metadata: {name: istiod}
functionConfig:
  apiVersion: istio-vault-ca.dev/v1alpha1
  kind: VaultCA
  metadata: {name: fn}
  spec:
    vault: {role: istiod}
    source:
      kv: {version: 2, path: ROLE_PATH}
`

func runList(t *testing.T, in string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Run(&kio.ByteReadWriter{Reader: strings.NewReader(in), Writer: &out, KeepReaderAnnotations: true})
	return out.String(), err
}

func TestFunctionWiresIstiod(t *testing.T) {
	out, err := runList(t, strings.Replace(resourceList, "ROLE_PATH", "secret/istiod", 1))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"kind: ResourceList",
		"vault.hashicorp.com/agent-inject-secret-ca-key.pem: secret/data/istiod",
		"name: ROOT_CA_DIR",
		"config.kubernetes.io/path: istiod.yaml", // kept for the orchestrator
		"kind: Service",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFunctionReportsConfigErrorsAsResults(t *testing.T) {
	out, err := runList(t, strings.Replace(resourceList, "ROLE_PATH", `"a\"b"`, 1))
	if err == nil {
		t.Fatal("no error for an injected path")
	}
	for _, want := range []string{"results:", "severity: error", "spec.source.kv.path", "quote or backslash"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vault.hashicorp.com/") {
		t.Errorf("items were changed despite the bad config:\n%s", out)
	}
}

func TestFunctionReportsItemErrorsWithFile(t *testing.T) {
	in := strings.Replace(resourceList, "ROLE_PATH", "secret/istiod", 1)
	in = strings.Replace(in, "- name: discovery", "- name: pilot", 1)
	out, err := runList(t, in)
	if err == nil {
		t.Fatal("no error for istiod without discovery")
	}
	for _, want := range []string{"has no container named", "path: istiod.yaml", "name: istiod", "spec.template.spec.containers"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFunctionWithoutConfig(t *testing.T) {
	in := resourceList[:strings.Index(resourceList, "functionConfig:")]
	out, err := runList(t, in)
	if err == nil || !strings.Contains(out, "no functionConfig") {
		t.Errorf("err %v, out:\n%s", err, out)
	}
}
