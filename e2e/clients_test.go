package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// The clients users reach the tool through, each the real binary, on the
// same istiod manifests: each must give istiod exactly what the
// post-renderer gives it.

// renderedChart is the real istio-discovery chart rendered by the real helm.
func renderedChart(t *testing.T, helmArgs ...string) []byte {
	t.Helper()
	helm := os.Getenv("HELM3_BIN")
	if helm == "" {
		t.Fatal("HELM3_BIN is not set: run with `make e2e`")
	}
	args := append([]string{"template", "istiod", istioDiscoveryChart(t), "-n", "istio-system"}, helmArgs...)
	out, err := exec.Command(helm, args...).Output()
	must(t, err)
	return out
}

// postRendered is the reference: the tool as a post-renderer on the
// manifests of an example folder.
func postRendered(t *testing.T, dir string) *appsv1.Deployment {
	t.Helper()
	cfg := filepath.Join(dir, "vaultca.yaml")
	in, err := os.ReadFile(filepath.Join(dir, "istiod.yaml"))
	must(t, err)
	out, stderr, code := tool(t, in, nil, "--config", cfg)
	if code != 0 {
		t.Fatal(stderr)
	}
	return istiodFrom(t, out)
}

// sameVaultSettings compares what the tool is for: the pod annotations and
// the containers (env in name order: a strategic merge puts new entries
// first, the post-renderer last).
func sameVaultSettings(t *testing.T, client string, got, want *appsv1.Deployment) {
	t.Helper()
	for _, d := range []*appsv1.Deployment{got, want} {
		for _, c := range d.Spec.Template.Spec.Containers {
			sort.Slice(c.Env, func(i, j int) bool { return c.Env[i].Name < c.Env[j].Name })
		}
	}
	if !reflect.DeepEqual(got.Spec.Template.Annotations, want.Spec.Template.Annotations) {
		t.Errorf("%s: pod annotations differ from the post-renderer's:\n got %v\nwant %v", client, got.Spec.Template.Annotations, want.Spec.Template.Annotations)
	}
	if !reflect.DeepEqual(got.Spec.Template.Spec.Containers, want.Spec.Template.Spec.Containers) {
		t.Errorf("%s: containers differ from the post-renderer's", client)
	}
}

// copyExample copies an example folder, points its exec function at the
// binary under test, and puts the real chart's rendering in its istiod.yaml.
func copyExample(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join("../examples", name, "*"))
	must(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		b = []byte(strings.ReplaceAll(string(b), "../../bin/istio-vault-ca", toolBin))
		must(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644))
	}
	must(t, os.WriteFile(filepath.Join(dir, "istiod.yaml"), renderedChart(t), 0o644))
	return dir
}

func TestKustomizeExecFunction(t *testing.T) {
	kustomize := os.Getenv("KUSTOMIZE_BIN")
	if kustomize == "" {
		t.Fatal("KUSTOMIZE_BIN is not set: run with `make e2e`")
	}
	dir := copyExample(t, "kustomize")
	out, err := exec.Command(kustomize, "build", "--enable-alpha-plugins", "--enable-exec", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "config.kubernetes.io/index") || strings.Contains(string(out), "internal.config.kubernetes.io") {
		t.Errorf("KRM bookkeeping annotations leaked into the output")
	}
	sameVaultSettings(t, "kustomize", istiodFrom(t, string(out)), postRendered(t, dir))
}

func TestKptRender(t *testing.T) {
	kpt := checkedTool(t, "KPT_BIN")
	dir := copyExample(t, "kpt")
	cmd := exec.Command(kpt, "fn", "render", ".", "--allow-exec", "-o", "stdout")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kpt fn render: %v", err)
	}
	sameVaultSettings(t, "kpt", istiodFromList(t, out), postRendered(t, dir))

	// kpt fn eval --exec, the one-off form, which rewrites the files.
	eval := exec.Command(kpt, "fn", "eval", "--exec", toolBin, "--fn-config", "vaultca.yaml", ".")
	eval.Dir = dir
	if out, err := eval.CombinedOutput(); err != nil {
		t.Fatalf("kpt fn eval: %v\n%s", err, out)
	}
	written, err := os.ReadFile(filepath.Join(dir, "istiod.yaml"))
	must(t, err)
	sameVaultSettings(t, "kpt fn eval", istiodFrom(t, string(written)), postRendered(t, dir))
}

// An istiod whose pod labels are an alias is istiod to kpt too: kyaml's
// reader hands the function the alias unexpanded, and the function expands
// it as the post-renderer does.
func TestKptEvalAliasedLabels(t *testing.T) {
	kpt, err := exec.LookPath("kpt")
	if err != nil {
		t.Fatal("kpt is not on PATH (the machine image ships it)")
	}
	dir := copyExample(t, "kpt")
	file := filepath.Join(dir, "istiod.yaml")
	chart, err := os.ReadFile(file)
	must(t, err)
	// In the Deployment: its own labels anchored, the pod's an alias of them.
	docs := strings.Split(string(chart), "\n---")
	aliased := 0
	for i, d := range docs {
		if !strings.Contains(d, "\nkind: Deployment\n") {
			continue
		}
		own := regexp.MustCompile(`(?m)^  labels:\n`)
		pod := regexp.MustCompile(`(?m)^      labels:\n(        .*\n)+`)
		if own.MatchString(d) && pod.MatchString(d) {
			d = own.ReplaceAllString(d, "  labels: &l\n")
			docs[i] = pod.ReplaceAllString(d, "      labels: *l\n")
			aliased++
		}
	}
	if aliased != 1 {
		t.Fatalf("%d Deployments given aliased pod labels, want 1", aliased)
	}
	must(t, os.WriteFile(file, []byte(strings.Join(docs, "\n---")), 0o644))
	want := postRendered(t, dir)
	if want.Spec.Template.Annotations["vault.hashicorp.com/agent-inject"] != "true" {
		t.Fatal("the post-renderer did not wire the aliased istiod")
	}

	eval := exec.Command(kpt, "fn", "eval", "--exec", toolBin, "--fn-config", "vaultca.yaml", ".")
	eval.Dir = dir
	if out, err := eval.CombinedOutput(); err != nil {
		t.Fatalf("kpt fn eval: %v\n%s", err, out)
	}
	written, err := os.ReadFile(file)
	must(t, err)
	sameVaultSettings(t, "kpt fn eval, aliased labels", istiodFrom(t, string(written)), want)
}

// istiodFromList finds istiod among the items of a KRM ResourceList.
func istiodFromList(t *testing.T, list []byte) *appsv1.Deployment {
	t.Helper()
	var rl struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	must(t, yaml.Unmarshal(list, &rl))
	for _, item := range rl.Items {
		var d appsv1.Deployment
		if json.Unmarshal(item, &d) == nil && d.Kind == "Deployment" && d.Spec.Template.Labels["app"] == "istiod" {
			return &d
		}
	}
	t.Fatalf("no istiod Deployment in the %s", rl.Kind)
	return nil
}

// A config error run by kpt or kustomize names the line of the user's file
// when kpt says which file it is (a Kptfile's configPath), and no line of
// the ResourceList, which the user never wrote, when it does not
// (kpt fn eval --fn-config, kustomize).
func TestKRMConfigErrorLines(t *testing.T) {
	const msg = "`spec.source.kv.version` must be 1 or 2, got 3"
	breakConfig := func(t *testing.T, dir string) int {
		t.Helper()
		file := filepath.Join(dir, "vaultca.yaml")
		b, err := os.ReadFile(file)
		must(t, err)
		lines := strings.Split(string(b), "\n")
		line := 0
		for i, l := range lines {
			if strings.TrimSpace(l) == "version: 1" {
				lines[i], line = strings.Replace(l, "1", "3", 1), i+1
			}
		}
		if line == 0 {
			t.Fatalf("%s has no `version: 1` line", file)
		}
		must(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644))
		return line
	}
	noListLine := regexp.MustCompile(`functionConfig:\d`)
	run := func(t *testing.T, cmd *exec.Cmd, want string) {
		t.Helper()
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s passed with a bad config:\n%s", cmd.Args, out)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: output lacks %q:\n%s", cmd.Args, want, out)
		}
		if noListLine.Match(out) {
			t.Errorf("%s: a ResourceList line is shown as the config's:\n%s", cmd.Args, out)
		}
	}

	t.Run("kpt fn render", func(t *testing.T) {
		kpt := checkedTool(t, "KPT_BIN")
		dir := copyExample(t, "kpt")
		line := breakConfig(t, dir)
		// From another directory: kpt runs the function from the caller's.
		cmd := exec.Command(kpt, "fn", "render", dir, "--allow-exec", "-o", "stdout")
		cmd.Dir = t.TempDir()
		run(t, cmd, fmt.Sprintf("vaultca.yaml:%d: %s", line, msg))
	})
	t.Run("kpt fn eval --fn-config", func(t *testing.T) {
		kpt := checkedTool(t, "KPT_BIN")
		dir := copyExample(t, "kpt")
		breakConfig(t, dir)
		cmd := exec.Command(kpt, "fn", "eval", "--exec", toolBin, "--fn-config", "vaultca.yaml", ".")
		cmd.Dir = dir
		run(t, cmd, "functionConfig: "+msg)
	})
	t.Run("kustomize", func(t *testing.T) {
		dir := copyExample(t, "kustomize")
		breakConfig(t, dir)
		run(t, exec.Command(checkedTool(t, "KUSTOMIZE_BIN"), "build", "--enable-alpha-plugins", "--enable-exec", dir), "functionConfig: "+msg)
	})
}
