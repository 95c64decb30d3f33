package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"istio.io/istio/operator/pkg/manifest"
	"istio.io/istio/operator/pkg/render"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

const operatorCorpus = "../../shared/corpus/istio-operator"

// operatorConfig binds every namespace and revision the corpus installs
// istiod with, so each file is judged on what istioctl renders.
const operatorConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: operator}
spec:
  vault: {role: istiod}
  istiod: {namespaces: [istio-system, istio-control], revisions: [default, test-rev]}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`

// renderIstiod runs istioctl's manifest generation (offline, with the
// charts built into the istio module) and returns the istiod Deployment,
// nil if it renders none. ok is false when istioctl refuses the input.
// A file holding several IstioOperators is given as one file each, as
// `istioctl manifest generate -f a -f b` merges them.
func renderIstiod(t *testing.T, file string) (d *appsv1.Deployment, ok bool) {
	t.Helper()
	content, err := os.ReadFile(file)
	must(t, err)
	var files []string
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(content), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		f := filepath.Join(t.TempDir(), strconv.Itoa(i)+".yaml")
		must(t, os.WriteFile(f, []byte(doc), 0o644))
		files = append(files, f)
	}
	sets, _, err := render.GenerateManifest(files, nil, true, nil, nil)
	if err != nil {
		return nil, false
	}
	for _, set := range sets {
		for _, m := range set.Manifests {
			if d := istiodDeployment(t, m); d != nil {
				return d, true
			}
		}
	}
	return nil, true
}

func istiodDeployment(t *testing.T, m manifest.Manifest) *appsv1.Deployment {
	if m.GetKind() != "Deployment" {
		return nil
	}
	var d appsv1.Deployment
	must(t, yaml.Unmarshal([]byte(m.Content), &d))
	if d.Spec.Template.Labels["app"] != "istiod" {
		return nil
	}
	return &d
}

// vaultSettings is what the tool is for, as a rendered Deployment carries it.
func vaultSettings(d *appsv1.Deployment) (map[string]string, map[string]string) {
	anns := map[string]string{}
	for k, v := range d.Spec.Template.Annotations {
		if strings.HasPrefix(k, "vault.hashicorp.com/") {
			anns[k] = v
		}
	}
	env := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "discovery" {
			continue
		}
		for _, e := range c.Env {
			if e.Name == "ROOT_CA_DIR" || e.Name == "AUTO_RELOAD_PLUGIN_CERTS" {
				if _, dup := env[e.Name]; dup {
					env[e.Name] = "DUPLICATE"
					continue
				}
				env[e.Name] = e.Value
			}
		}
	}
	return anns, env
}

// TestOperatorCorpusThroughIstioctl runs every upstream IstioOperator input
// through the tool and then through istioctl's own manifest generation.
// Where istioctl renders an istiod, it must carry exactly the Vault settings
// the tool gives a raw istiod Deployment; where it renders none, the file
// must come out unchanged.
func TestOperatorCorpusThroughIstioctl(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(operatorCorpus, "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s", operatorCorpus)
	}
	cfgFile := filepath.Join(t.TempDir(), "vaultca.yaml")
	must(t, os.WriteFile(cfgFile, []byte(operatorConfig), 0o644))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			must(t, err)
			out, stderr, code := tool(t, in, nil, "--config", cfgFile)
			if code != 0 {
				t.Fatalf("istio-vault-ca: exit %d: %s", code, stderr)
			}
			again, _, _ := tool(t, []byte(out), nil, "--config", cfgFile)
			if again != out {
				t.Errorf("not idempotent")
			}
			var v any
			for _, doc := range strings.Split(out, "\n---") {
				if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
					t.Errorf("output does not parse: %v", err)
				}
			}

			before, ok := renderIstiod(t, file)
			if !ok {
				t.Skip("istioctl refuses this input as it is")
			}
			changed := !bytes.Equal(in, []byte(out))
			if (before != nil) != changed {
				t.Fatalf("istioctl renders an istiod: %v, the tool changed the file: %v", before != nil, changed)
			}
			if before == nil {
				return
			}
			transformed := filepath.Join(t.TempDir(), "iop.yaml")
			must(t, os.WriteFile(transformed, []byte(out), 0o644))
			after, ok := renderIstiod(t, transformed)
			if !ok || after == nil {
				t.Fatalf("istioctl renders no istiod from the tool's output (ok=%v)", ok)
			}

			// The raw-Deployment path: the tool on istiod as istioctl renders it.
			raw, err := yaml.Marshal(before)
			must(t, err)
			direct, stderr, code := tool(t, raw, nil, "--config", cfgFile)
			if code != 0 {
				t.Fatalf("istio-vault-ca on the rendered Deployment: %s", stderr)
			}
			var want appsv1.Deployment
			must(t, yaml.Unmarshal([]byte(direct), &want))

			gotAnns, gotEnv := vaultSettings(after)
			wantAnns, wantEnv := vaultSettings(&want)
			if len(wantAnns) == 0 || !reflect.DeepEqual(gotAnns, wantAnns) {
				t.Errorf("annotations via IstioOperator differ from the raw-Deployment path:\n got %v\nwant %v", gotAnns, wantAnns)
			}
			if !reflect.DeepEqual(gotEnv, wantEnv) {
				t.Errorf("env via IstioOperator %v, raw-Deployment path %v", gotEnv, wantEnv)
			}
		})
	}
}
