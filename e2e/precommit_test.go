package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The pre-commit hooks, run by the real pre-commit from this repository:
// the check hook fails with a diff while committed manifests lack the
// config's settings, passes once they are rendered, and fails again on a
// lint error; the lint hook fails on it too.
func TestPreCommitHook(t *testing.T) {
	preCommit := checkedTool(t, "PRE_COMMIT_BIN")
	root, err := filepath.Abs("..")
	must(t, err)
	repo := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.email=e2e@example.com", "-c", "user.name=e2e"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	raw := renderedChart(t)
	cfg, err := os.ReadFile("../examples/demo/vaultca.yaml")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(repo, "istiod.yaml"), raw, 0o644))
	must(t, os.WriteFile(filepath.Join(repo, "vaultca.yaml"), cfg, 0o644))
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "helm template output")

	hook := func() (string, error) {
		cmd := exec.Command(preCommit, "try-repo", root, "istio-vault-ca-check", "--files", "istiod.yaml", "vaultca.yaml")
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := hook()
	if err == nil || !strings.Contains(out, "+        vault.hashicorp.com/agent-inject: \"true\"") || !strings.Contains(out, "drifted from the config") {
		t.Fatalf("the hook did not fail with a diff on raw manifests (err %v):\n%s", err, out)
	}

	rendered, stderr, code := tool(t, raw, nil, "--config", filepath.Join(repo, "vaultca.yaml"))
	if code != 0 {
		t.Fatal(stderr)
	}
	must(t, os.WriteFile(filepath.Join(repo, "istiod.yaml"), []byte(rendered), 0o644))
	git("commit", "-qam", "render with istio-vault-ca")
	if out, err := hook(); err != nil || !strings.Contains(out, "Passed") {
		t.Fatalf("the hook does not pass on converged manifests (err %v):\n%s", err, out)
	}

	// A converged file that commits the CA's key is not fine: the check
	// hook's lint fails on it, and so does the lint hook, without a config.
	const cacerts = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: cacerts, namespace: istio-system}\ndata:\n  ca-key.pem: eA==\n"
	must(t, os.WriteFile(filepath.Join(repo, "istiod.yaml"), []byte(rendered+cacerts), 0o644))
	git("commit", "-qam", "the CA key, committed")
	if out, err := hook(); err == nil || !strings.Contains(out, "error ca-key-in-stream: document") || strings.Contains(out, "drifted from the config") {
		t.Fatalf("the check hook did not fail on the CA key alone (err %v):\n%s", err, out)
	}
	cmd := exec.Command(preCommit, "try-repo", root, "istio-vault-ca-lint", "--files", "istiod.yaml")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "istiod.yaml:") || !strings.Contains(string(out), "error ca-key-in-stream") {
		t.Fatalf("the lint hook did not fail on the CA key (err %v):\n%s", err, out)
	}
}
