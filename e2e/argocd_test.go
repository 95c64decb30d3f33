package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// The Argo CD plugin's generate command, run as Argo CD runs it: sh -c in
// the application directory, with the app's name and namespace in the
// environment and helm and istio-vault-ca on PATH.
func TestArgoCDPluginGenerate(t *testing.T) {
	helm := os.Getenv("HELM3_BIN")
	if helm == "" {
		t.Fatal("HELM3_BIN is not set: run with `make e2e`")
	}
	raw, err := os.ReadFile("../examples/argocd/plugin.yaml")
	must(t, err)
	var plugin struct {
		Spec struct {
			Generate struct {
				Command []string `json:"command"`
				Args    []string `json:"args"`
			} `json:"generate"`
		} `json:"spec"`
	}
	must(t, yaml.Unmarshal(raw, &plugin))

	app := t.TempDir()
	copyTree(t, istioDiscoveryChart(t), app)
	cfg, err := os.ReadFile("../examples/demo/vaultca.yaml")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(app, "vaultca.yaml"), cfg, 0o644))
	bin := t.TempDir()
	must(t, os.Symlink(helm, filepath.Join(bin, "helm")))
	must(t, os.Symlink(toolBin, filepath.Join(bin, "istio-vault-ca")))

	gen := plugin.Spec.Generate
	cmd := exec.Command(gen.Command[0], append(gen.Command[1:], gen.Args...)...)
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "ARGOCD_APP_NAME=istiod", "ARGOCD_APP_NAMESPACE=istio-system",
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	plain, err := exec.Command(helm, "template", "istiod", app, "--namespace", "istio-system").Output()
	must(t, err)
	want, stderr, code := tool(t, plain, nil, "--config", filepath.Join(app, "vaultca.yaml"))
	if code != 0 {
		t.Fatal(stderr)
	}
	sameVaultSettings(t, "argo cd plugin", istiodFrom(t, string(out)), istiodFrom(t, want))
}

// copyTree copies a read-only directory (the module cache) into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	}))
}
