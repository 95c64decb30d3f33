package fn

import (
	"bytes"
	"fmt"
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

// aliasList is a ResourceList whose istiod reaches its pod labels through
// an alias, as a hand-written manifest may: kyaml's reader expands no
// alias, so the function must, as the stream does.
func aliasList(extra string) string {
	return `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: istiod
    namespace: istio-system
    labels: &l {app: istiod}
  spec:
    template:
      metadata:
        labels: *l
      spec:
        containers:
        - name: discovery
` + extra + `- apiVersion: v1
  kind: ConfigMap
  metadata: {name: other}
  data: {a: &a x, b: *a}
functionConfig:
  apiVersion: istio-vault-ca.dev/v1alpha1
  kind: VaultCA
  metadata: {name: fn}
  spec:
    vault: {role: istiod}
    source:
      kv: {version: 2, path: secret/istiod}
`
}

func TestFunctionExpandsAliases(t *testing.T) {
	out, err := runList(t, aliasList(""))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"vault.hashicorp.com/agent-inject", "name: ROOT_CA_DIR", "data: {a: &a x, b: *a}"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The stream's checks and limits hold for the items: a duplicate key or an
// alias bomb in a target is an error result, and the list still comes out.
func TestFunctionRefusesWhatTheStreamRefuses(t *testing.T) {
	bomb := "    x0: &x0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 10; i++ {
		bomb += fmt.Sprintf("    x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d, ", i-1), 10), ", "))
	}
	for name, tc := range map[string]struct{ in, want string }{
		"alias bomb":    {strings.Replace(aliasList(""), "  spec:\n", "  spec:\n"+bomb, 1), "its aliases expand to more than 100000 nodes"},
		"duplicate key": {strings.Replace(aliasList(""), "    name: istiod\n", "    name: istiod\n    name: other\n", 1), `key "name" is already defined`},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runList(t, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			for _, want := range []string{"kind: ResourceList", "severity: error", "name: istiod", tc.want} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "vault.hashicorp.com/") {
				t.Errorf("the refused istiod was changed:\n%s", out)
			}
		})
	}
}
