package targets

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

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
			c := yaml.MustParse(tc.in)
			changed, err := setEnv(c, "c", []wiring.Pair{{Name: "ROOT_CA_DIR", Value: "/vault/secrets"}})
			if err != nil {
				t.Fatal(err)
			}
			got := c.MustString()
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
		if got := IsIstiod(yaml.MustParse(in)); got != want {
			t.Errorf("IsIstiod(%s) = %v", strings.ReplaceAll(in, "\n", " "), got)
		}
	}
}
