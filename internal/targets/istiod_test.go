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

// The plan's variables in the order ForIstiod gives them: ROOT_CA_DIR
// refers to the one before it.
var guardedVars = []wiring.Pair{
	{Name: "VAULT_AGENT_INJECT_STATUS", FieldPath: "metadata.annotations['vault.hashicorp.com/agent-inject-status']"},
	{Name: "ROOT_CA_DIR", Value: "/v/$(VAULT_AGENT_INJECT_STATUS)"},
	{Name: "AUTO_RELOAD_PLUGIN_CERTS", Value: "true"},
}

// TestSetEnvOrder: Kubernetes expands $(VAR) only for a variable defined
// before, so the status variable must come before ROOT_CA_DIR wherever
// either already is; the other variables stay where they are.
func TestSetEnvOrder(t *testing.T) {
	const (
		status = "- name: VAULT_AGENT_INJECT_STATUS\n  valueFrom:\n    fieldRef:\n      apiVersion: v1\n      fieldPath: metadata.annotations['vault.hashicorp.com/agent-inject-status']\n"
		root   = "- name: ROOT_CA_DIR\n  value: /v/$(VAULT_AGENT_INJECT_STATUS)\n"
		reload = "- name: AUTO_RELOAD_PLUGIN_CERTS\n  value: \"true\"\n"
		a, b   = "- name: A\n  value: a\n", "- name: B\n  value: b\n"
	)
	for name, tc := range map[string]struct{ in, want string }{
		"absent":                       {"name: c\n", "name: c\nenv:\n" + status + root + reload},
		"after the others":             {"env:\n" + a + b, "env:\n" + a + b + status + root + reload},
		"ROOT_CA_DIR already there":    {"env:\n" + a + "- name: ROOT_CA_DIR\n  value: /old\n" + b, "env:\n" + a + status + root + b + reload},
		"status after ROOT_CA_DIR":     {"env:\n" + root + a + status + b, "env:\n" + status + root + a + b + reload},
		"status a plain value":         {"env:\n- name: VAULT_AGENT_INJECT_STATUS\n  value: injected\n" + root + reload, "env:\n" + status + root + reload},
		"status from another field":    {"env:\n- name: VAULT_AGENT_INJECT_STATUS\n  valueFrom:\n    fieldRef:\n      fieldPath: metadata.name\n" + root + reload, "env:\n" + status + root + reload},
		"converged":                    {"env:\n" + a + status + b + root + reload, "env:\n" + a + status + b + root + reload},
		"API server's (no apiVersion)": {"env:\n" + strings.Replace(status, "      apiVersion: v1\n", "", 1) + root + reload, "env:\n" + strings.Replace(status, "      apiVersion: v1\n", "", 1) + root + reload},
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, tc.in)
			changed, err := setEnv(c, "c", guardedVars)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustString(t, c); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if changed != (tc.in != tc.want) {
				t.Errorf("changed = %v", changed)
			}
			if again, _ := setEnv(c, "c", guardedVars); again {
				t.Errorf("a second run changed the env again")
			}
		})
	}
}

// TestSetGuard: the guard volume and its mount are added once, a stale one
// of the guard's name is replaced in place, and the mount overlap check
// passes the guard's own mount but no other.
func TestSetGuard(t *testing.T) {
	g := &wiring.Guard{Volume: "istio-vault-ca-guard", MountPath: "/v", Items: []wiring.GuardItem{{Path: "ca-cert.pem", FieldPath: "metadata.annotations['g']"}}}
	spec := mustParse(t, "containers:\n- name: discovery\n  volumeMounts:\n  - {name: istio-vault-ca-guard, mountPath: /old}\nvolumes:\n- {name: x, emptyDir: {}}\n- {name: istio-vault-ca-guard, emptyDir: {}}\n")
	c := yamlnode.Lookup(spec, "containers").Content[0]
	p := &wiring.Plan{VolumePath: "/v", VolumeSetting: "spec.secretVolumePath", Guard: g}
	if err := checkMounts(c, "c", p); err != nil {
		t.Fatalf("the guard's own mount is refused: %v", err)
	}
	changed, err := setGuard(spec, c, "c", g)
	if err != nil || !changed {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	want := "containers:\n- name: discovery\n  volumeMounts:\n  - name: istio-vault-ca-guard\n    mountPath: /v\n    readOnly: true\n" +
		"volumes:\n- {name: x, emptyDir: {}}\n- name: istio-vault-ca-guard\n  downwardAPI:\n    items:\n    - path: ca-cert.pem\n      fieldRef:\n        apiVersion: v1\n        fieldPath: metadata.annotations['g']\n"
	if got := mustString(t, spec); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again, _ := setGuard(spec, c, "c", g); again {
		t.Errorf("a second run changed the guard again")
	}
	other := mustParse(t, "volumeMounts:\n- {name: mine, mountPath: /v}\n")
	if err := checkMounts(other, "c", p); err == nil {
		t.Errorf("another volume mounted at the guard's path is accepted")
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
