package targets

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

func mustParse(t *testing.T, in string) *yaml.Node {
	t.Helper()
	doc, err := yamlnode.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	return yamlnode.Root(doc)
}

func mustString(t *testing.T, n *yaml.Node) string {
	t.Helper()
	out, err := yamlnode.Marshal(n, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestSetEnv(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"absent":           {"name: discovery\n", "name: discovery\nenv:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n"},
		"null":             {"name: discovery\nenv: null\n", "name: discovery\nenv:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n"},
		"same value":       {"env:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n", "env:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n"},
		"other value":      {"env:\n- name: ROOT_CA_DIR\n  value: /etc/cacerts\n", "env:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n"},
		"valueFrom":        {"env:\n- name: ROOT_CA_DIR\n  valueFrom: {configMapKeyRef: {name: a, key: b}}\n", "env:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n"},
		"duplicates":       {"env:\n- name: ROOT_CA_DIR\n  value: a\n- name: X\n  value: x\n- name: ROOT_CA_DIR\n  value: b\n", "env:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n- name: X\n  value: x\n"},
		"non-string value": {"env:\n- name: ROOT_CA_DIR\n  value: 1\n", "env:\n- name: ROOT_CA_DIR\n  value: /vault/secrets\n"},
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, tc.in)
			changed, err := setEnv(c, "c", []wiring.Pair{{Name: "ROOT_CA_DIR", Value: "/vault/secrets"}})
			if err != nil {
				t.Fatal(err)
			}
			got := mustString(t, c)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if changed != (tc.in != tc.want) {
				t.Errorf("changed = %v", changed)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"/etc/cacerts", "/etc/cacerts", true},
		{"/etc/cacerts", "/etc/cacerts/vault", true},
		{"/etc", "/etc/cacerts", true},
		{"/etc/cacerts", "/etc/cacerts-vault", false},
		{"/var/run/secrets/tokens", "/vault/secrets", false},
	} {
		if got := overlaps(tc.a, tc.b); got != tc.want {
			t.Errorf("overlaps(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestIsIstiod(t *testing.T) {
	for in, want := range map[string]bool{
		"apiVersion: apps/v1\nkind: Deployment\nspec: {template: {metadata: {labels: {app: istiod}}}}":                            true,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\nspec: {template: {metadata: {labels: {app: reviews}}}}": false,
		"apiVersion: apps/v1\nkind: DaemonSet\nspec: {template: {metadata: {labels: {app: istiod}}}}":                             false,
		"apiVersion: v1\nkind: ConfigMap\ndata: {app: istiod}":                                                                    false,
		"apiVersion: apps/v1\nkind: Deployment\nspec: {template: null}":                                                           false,
	} {
		if got := IsIstiod(mustParse(t, in)); got != want {
			t.Errorf("IsIstiod(%s) = %v", strings.ReplaceAll(in, "\n", " "), got)
		}
	}
}
