package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// istioDiscoveryChart is the real istio-discovery chart, shipped in the
// istio.io/istio module this module already depends on.
func istioDiscoveryChart(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio").Output()
	must(t, err)
	return filepath.Join(strings.TrimSpace(string(out)), "manifests", "charts", "istio-control", "istio-discovery")
}

// helmReference renders the chart with helm and no post-renderer, then runs
// the tool on it: what every helm path must produce. It returns the config.
func helmReference(t *testing.T, helm, chart string) (string, string) {
	t.Helper()
	cfg, err := filepath.Abs("../examples/demo/vaultca.yaml")
	must(t, err)
	plain, err := exec.Command(helm, "template", "istiod", chart, "-n", "istio-system").Output()
	must(t, err)
	want, stderr, code := tool(t, plain, nil, "--config", cfg)
	if code != 0 {
		t.Fatal(stderr)
	}
	return cfg, want
}

// Helm 3 runs the tool as a post-renderer: arguments only through
// --post-renderer-args, or the config from the environment.
func TestHelm3PostRenderer(t *testing.T) {
	helm := os.Getenv("HELM3_BIN")
	if helm == "" {
		t.Fatal("HELM3_BIN is not set: run with `make e2e`, which builds helm")
	}
	chart := istioDiscoveryChart(t)
	cfg, want := helmReference(t, helm, chart)
	for name, run := range map[string]*exec.Cmd{
		"--post-renderer-args": exec.Command(helm, "template", "istiod", chart, "-n", "istio-system",
			"--post-renderer", toolBin, "--post-renderer-args", "--config="+cfg),
		"ISTIO_VAULT_CA_CONFIG": exec.Command(helm, "template", "istiod", chart, "-n", "istio-system",
			"--post-renderer", toolBin),
	} {
		run.Env = append(os.Environ(), "ISTIO_VAULT_CA_CONFIG="+cfg)
		out, err := run.Output()
		if err != nil {
			t.Fatalf("%s: helm template: %v", name, err)
		}
		sameVaultSettings(t, "helm 3 ("+name+")", istiodFrom(t, string(out)), istiodFrom(t, want))
	}

	// A bad config stops helm, and the user sees why.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	must(t, os.WriteFile(bad, []byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec: {vault: {rol: x}}\n"), 0o644))
	out, err := exec.Command(helm, "template", "istiod", chart, "--post-renderer", toolBin, "--post-renderer-args", "--config="+bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "`spec.vault.rol` is not a known field") {
		t.Errorf("helm with a bad config: err %v, output:\n%s", err, out)
	}
}

// helm4WithPlugin installs examples/helm4 into a Helm 4 of the test's own
// (data, config, cache and plugin homes in a temp dir, the tool on PATH) and
// returns the helm binary and that environment.
func helm4WithPlugin(t *testing.T) (string, []string) {
	t.Helper()
	helm := os.Getenv("HELM4_BIN")
	if helm == "" {
		t.Fatal("HELM4_BIN is not set: run with `make e2e`, which builds helm 4")
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"HELM_DATA_HOME="+filepath.Join(home, "data"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_PLUGINS="+filepath.Join(home, "data", "plugins"),
		"XDG_CACHE_HOME="+filepath.Join(home, "xdg"),
		"PATH="+filepath.Dir(toolBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	install := exec.Command(helm, "plugin", "install", "../examples/helm4")
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm plugin install: %v\n%s", err, out)
	}
	return helm, env
}

// Helm 4 runs the tool as a postrenderer/v1 plugin, installed from
// examples/helm4, with the binary found on PATH.
func TestHelm4Plugin(t *testing.T) {
	helm, env := helm4WithPlugin(t)
	helmRun := func(args ...string) ([]byte, error) {
		cmd := exec.Command(helm, args...)
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	chart := istioDiscoveryChart(t)
	cfg, want := helmReference(t, helm, chart)
	cmd := exec.Command(helm, "template", "istiod", chart, "-n", "istio-system", "--post-renderer", "istio-vault-ca", "--post-renderer-args", "--config="+cfg)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template with the plugin: %v", err)
	}
	got := string(out)
	sameVaultSettings(t, "helm 4", istiodFrom(t, got), istiodFrom(t, want))
	if strings.Contains(got, "postrenderer.helm.sh/postrender-filename") {
		t.Errorf("Helm's bookkeeping annotation leaked into the output")
	}

	// A bad config: Helm hides the plugin's stderr; explain shows it.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	must(t, os.WriteFile(bad, []byte("apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec: {vault: {rol: x}}\n"), 0o644))
	if out, err := helmRun("template", "istiod", chart, "--post-renderer", "istio-vault-ca", "--post-renderer-args", "--config="+bad); err == nil {
		t.Fatalf("helm succeeded with a bad config:\n%s", out)
	}
	explain := exec.Command(toolBin, "explain")
	explain.Env = env
	msg, err := explain.Output()
	if err != nil || !strings.Contains(string(msg), "`spec.vault.rol` is not a known field") {
		t.Errorf("explain after the failed plugin run: %v\n%s", err, msg)
	}
}

// Helm 4 sends hooks through the post-renderer too, each tagged with its
// file name, and maps every document back by that annotation: a chart with a
// hook must come through whole.
func TestHelm4Hooks(t *testing.T) {
	helm, env := helm4WithPlugin(t)
	chart := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(chart, "templates"), 0o755))
	must(t, os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte("apiVersion: v2\nname: hooked\nversion: 0.1.0\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(chart, "templates", "istiod.yaml"), []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system}
spec:
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec: {serviceAccountName: istiod, containers: [{name: discovery, image: pilot}]}
`), 0o644))
	must(t, os.WriteFile(filepath.Join(chart, "templates", "hook.yaml"), []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: pre-install-check
  annotations: {"helm.sh/hook": pre-install}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: check, image: busybox}]}
`), 0o644))
	cfg, err := filepath.Abs("../examples/demo/vaultca.yaml")
	must(t, err)
	cmd := exec.Command(helm, "template", "hooked", chart, "--post-renderer", "istio-vault-ca", "--post-renderer-args", "--config="+cfg)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "name: pre-install-check") || !strings.Contains(string(out), "vault.hashicorp.com/agent-inject") {
		t.Errorf("the hook or the Vault settings are missing:\n%s", out)
	}
}
