package fn

import (
	"errors"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

// lintList is resourceList with items the lint has something to say
// about: a CA key in a cacerts Secret (error) and a Vault annotation on a
// workload's own metadata beside a pod template that asks for the agent
// (warning).
const lintItems = `- apiVersion: v1
  kind: Secret
  metadata:
    name: cacerts
    namespace: istio-system
    annotations:
      config.kubernetes.io/path: cacerts.yaml
      config.kubernetes.io/index: "1"
  data:
    ca-key.pem: eA==
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: shop
    annotations:
      vault.hashicorp.com/role: shop
      config.kubernetes.io/path: shop.yaml
  spec:
    template:
      metadata:
        annotations:
          vault.hashicorp.com/agent-inject: "true"
      spec:
        containers:
        - name: shop
`

func withItems(items string) string {
	list := strings.Replace(resourceList, "ROLE_PATH", "secret/istiod", 1)
	return strings.Replace(list, "functionConfig:", strings.TrimSuffix(items, "\n")+"\nfunctionConfig:", 1)
}

// The items as written are linted: each finding is a result with its
// severity, resource, field, file and the finding's ID as a tag. An error
// finding fails the function with exit code 1, the list written all the
// same, its istiod transformed.
func TestFunctionReportsLintFindings(t *testing.T) {
	out, err := runList(t, withItems(lintItems))
	if code := ExitCode(err); code != cli.ExitFailed {
		t.Fatalf("exit %d (%v), want %d:\n%s", code, err, cli.ExitFailed, out)
	}
	var list struct {
		Items   []any    `json:"items"`
		Results []Result `json:"results"`
	}
	if err := sigsyaml.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "name: ROOT_CA_DIR") || len(list.Items) != 4 {
		t.Errorf("the items were not written as the config asks:\n%s", out)
	}
	type seen struct{ sev, kind, name, field, file, tag string }
	var got []seen
	for _, r := range list.Results {
		s := seen{sev: r.Severity, tag: r.Tags[lintTag]}
		if r.ResourceRef != nil {
			s.kind, s.name = r.ResourceRef.Kind, r.ResourceRef.Name
		}
		if r.Field != nil {
			s.field = r.Field.Path
		}
		if r.File != nil {
			s.file = r.File.Path
		}
		if !strings.HasPrefix(r.Message, s.tag+": ") {
			t.Errorf("message %q does not start with the finding's ID", r.Message)
		}
		got = append(got, s)
	}
	want := []seen{
		{"error", "Secret", "cacerts", "data[ca-key.pem]", "cacerts.yaml", "ca-key-in-stream"},
		{"warning", "Deployment", "shop", "metadata.annotations[vault.hashicorp.com/role]", "shop.yaml", "vault-annotations-on-workload"},
	}
	if len(got) != len(want) {
		t.Fatalf("results %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A warning does not fail the function: the result is in the list, and
// the exit code is 0. A refusal beside a lint error is bad input, 2.
func TestFunctionLintSeverities(t *testing.T) {
	warning := lintItems[strings.Index(lintItems, "- apiVersion: apps/v1"):]
	out, err := runList(t, withItems(warning))
	if err != nil || ExitCode(err) != cli.ExitOK || !strings.Contains(out, "severity: warning") {
		t.Errorf("a warning only: %v (exit %d)\n%s", err, ExitCode(err), out)
	}
	broken := strings.Replace(withItems(lintItems), "- name: discovery", "- name: pilot", 1)
	if _, err := runList(t, broken); ExitCode(err) != cli.ExitBadInput {
		t.Errorf("a refusal and a lint error: exit %d, want %d (%v)", ExitCode(err), cli.ExitBadInput, err)
	}
	if ExitCode(errors.New("failed to read ResourceList input")) != cli.ExitBadInput {
		t.Error("an unreadable list is not bad input")
	}
}

// An item's aliases are read expanded, as the stream's lint reads them,
// and the item is written as it came; one that cannot be expanded is not
// linted, and a result says so.
func TestFunctionLintsThroughAliases(t *testing.T) {
	aliased := `- apiVersion: v1
  kind: Secret
  metadata: {name: cacerts, namespace: istio-system}
  data: &key
    ca-key.pem: eA==
- apiVersion: v1
  kind: Secret
  metadata: {name: istio-ca-secret, namespace: istio-system}
  data: *key
- apiVersion: v1
  kind: Secret
  metadata: {name: twice}
  data: {a: eA==, a: eA==}
`
	out, err := runList(t, withItems(aliased))
	if ExitCode(err) != cli.ExitFailed {
		t.Fatalf("exit %d (%v):\n%s", ExitCode(err), err, out)
	}
	if n := strings.Count(out, "tags:\n    lint: ca-key-in-stream"); n != 2 {
		t.Errorf("%d ca-key-in-stream results, want 2 (one through the alias):\n%s", n, out)
	}
	if !strings.Contains(out, "data: *key") {
		t.Errorf("the item's alias was not written as it came:\n%s", out)
	}
	if !strings.Contains(out, "message: 'not linted: ") || !strings.Contains(out, "severity: info") {
		t.Errorf("no result says the item with a duplicate key was not linted:\n%s", out)
	}
}

// A List item (kubectl get -o yaml) is linted as a resource: its findings
// name the item and items[N] before the field. A List holding istiod is
// refused, as the stream refuses it.
func TestFunctionLintsListItems(t *testing.T) {
	list := `- apiVersion: v1
  kind: List
  metadata:
    annotations: {config.kubernetes.io/path: got.yaml}
  items:
  - apiVersion: v1
    kind: Secret
    metadata: {name: cacerts, namespace: istio-system}
    data: {ca-key.pem: eA==}
`
	out, err := runList(t, withItems(list))
	if ExitCode(err) != cli.ExitFailed || !strings.Contains(out, "path: items[0].data[ca-key.pem]") || !strings.Contains(out, "lint: ca-key-in-stream") {
		t.Errorf("exit %d (%v), want a ca-key-in-stream result at items[0]:\n%s", ExitCode(err), err, out)
	}
	withIstiod := strings.Replace(withItems(list), "  items:\n", "  items:\n  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}, spec: {template: {metadata: {labels: {app: istiod}}, spec: {containers: [{name: discovery}]}}}}\n", 1)
	out, err = runList(t, withIstiod)
	if ExitCode(err) != cli.ExitBadInput || !strings.Contains(out, "split the List into documents") {
		t.Errorf("a List holding istiod: exit %d (%v), want it refused:\n%s", ExitCode(err), err, out)
	}
}
