package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// Flux HelmRelease post-renderers take only kustomize patches. The patches
// the tool prints, applied by the real kustomize, must give the istiod
// Deployment exactly what the post-renderer gives it.
func TestPatchesThroughKustomizeEqualPostRenderer(t *testing.T) {
	kustomize := os.Getenv("KUSTOMIZE_BIN")
	if kustomize == "" {
		t.Fatal("KUSTOMIZE_BIN is not set: run with `make e2e`, which installs kustomize")
	}
	for name, helmArgs := range map[string][]string{
		"chart defaults": nil,
		// The chart's envVarFrom sets ROOT_CA_DIR from a ConfigMap: the
		// post-renderer drops that valueFrom, so the patch must remove it too.
		"ROOT_CA_DIR from a ConfigMap": {"--set", "pilot.envVarFrom[0].name=ROOT_CA_DIR",
			"--set", "pilot.envVarFrom[0].valueFrom.configMapKeyRef.name=ca-dir",
			"--set", "pilot.envVarFrom[0].valueFrom.configMapKeyRef.key=dir"},
		// The chart's env holds ROOT_CA_DIR among its own variables: the
		// status variable ROOT_CA_DIR refers to must still come before it.
		"ROOT_CA_DIR in the chart's env": {"--set", "pilot.env.ROOT_CA_DIR=/etc/cacerts"},
	} {
		t.Run(name, func(t *testing.T) { patchesEqualPostRenderer(t, kustomize, renderedChart(t, helmArgs...)) })
	}
}

func patchesEqualPostRenderer(t *testing.T, kustomize string, in []byte) {
	cfg := "../examples/demo/vaultca.yaml"
	rendered, stderr, code := tool(t, in, nil, "--config", cfg)
	if code != 0 {
		t.Fatal(stderr)
	}
	patches, stderr, code := tool(t, in, nil, "patches", "--config", cfg)
	if code != 0 {
		t.Fatal(stderr)
	}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "istiod.yaml"), in, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "vault-patches.yaml"), []byte(patches), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [istiod.yaml]\npatches:\n- path: vault-patches.yaml\n"), 0o644))
	out, err := exec.Command(kustomize, "build", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, out)
	}
	got, want := istiodFrom(t, string(out)), istiodFrom(t, rendered)
	// A strategic-merge patch puts new env entries first, the post-renderer
	// last. Only one order matters: ROOT_CA_DIR refers to
	// VAULT_AGENT_INJECT_STATUS, which Kubernetes expands only if it is
	// defined before; past that, the order of entries does not matter.
	for what, d := range map[string]*appsv1.Deployment{"kustomize": got, "post-renderer": want} {
		status, root := -1, -1
		for i, e := range findContainer(d.Spec.Template.Spec.Containers, "discovery").Env {
			switch e.Name {
			case "VAULT_AGENT_INJECT_STATUS":
				status = i
			case "ROOT_CA_DIR":
				root = i
			}
		}
		if status < 0 || root < status {
			t.Errorf("%s: VAULT_AGENT_INJECT_STATUS at %d, ROOT_CA_DIR at %d: the reference would not be expanded", what, status, root)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			sort.Slice(c.Env, func(i, j int) bool { return c.Env[i].Name < c.Env[j].Name })
			sort.Slice(c.VolumeMounts, func(i, j int) bool { return c.VolumeMounts[i].MountPath < c.VolumeMounts[j].MountPath })
		}
		sort.Slice(d.Spec.Template.Spec.Volumes, func(i, j int) bool {
			return d.Spec.Template.Spec.Volumes[i].Name < d.Spec.Template.Spec.Volumes[j].Name
		})
	}
	if !reflect.DeepEqual(got.Spec.Template.Spec.Volumes, want.Spec.Template.Spec.Volumes) {
		t.Errorf("pod volumes differ:\n kustomize %+v\npost-render %+v", got.Spec.Template.Spec.Volumes, want.Spec.Template.Spec.Volumes)
	}
	if !reflect.DeepEqual(got.Spec.Template.Annotations, want.Spec.Template.Annotations) {
		t.Errorf("pod annotations differ:\n kustomize %v\npost-render %v", got.Spec.Template.Annotations, want.Spec.Template.Annotations)
	}
	if !reflect.DeepEqual(got.Spec.Template.Spec.Containers, want.Spec.Template.Spec.Containers) {
		t.Errorf("containers differ:\n kustomize %+v\npost-render %+v", got.Spec.Template.Spec.Containers, want.Spec.Template.Spec.Containers)
	}
}

func istiodFrom(t *testing.T, stream string) *appsv1.Deployment {
	t.Helper()
	for _, doc := range strings.Split(stream, "\n---\n") {
		var d appsv1.Deployment
		if strings.Contains(doc, "kind: Deployment") && yaml.Unmarshal([]byte(doc), &d) == nil && d.Kind == "Deployment" && d.Spec.Template.Labels["app"] == "istiod" {
			return &d
		}
	}
	t.Fatal("no istiod Deployment")
	return nil
}

// examples/flux/helmrelease.yaml carries the patch the tool prints; it must
// not drift from it.
func TestFluxExampleIsCurrent(t *testing.T) {
	raw, err := os.ReadFile("../examples/flux/helmrelease.yaml")
	must(t, err)
	var hr struct {
		Spec struct {
			PostRenderers []struct {
				Kustomize struct {
					Patches []struct{ Patch string } `json:"patches"`
				} `json:"kustomize"`
			} `json:"postRenderers"`
		} `json:"spec"`
	}
	must(t, yaml.Unmarshal(raw, &hr))
	in, err := os.ReadFile(istiodManifests)
	must(t, err)
	want, stderr, code := tool(t, in, nil, "patches", "--config", "../examples/demo/vaultca.yaml")
	if code != 0 {
		t.Fatal(stderr)
	}
	if len(hr.Spec.PostRenderers) != 1 || len(hr.Spec.PostRenderers[0].Kustomize.Patches) != 1 || hr.Spec.PostRenderers[0].Kustomize.Patches[0].Patch != want {
		t.Errorf("examples/flux/helmrelease.yaml does not carry the current patch; regenerate it (examples/flux/README.md)")
	}
}
