package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// renderDeployments runs istioctl's manifest generation (offline, with the
// charts built into the istio module) and returns the Deployments it
// renders. ok is false when istioctl refuses the input. A file holding
// several IstioOperators is given as one file each, as
// `istioctl manifest generate -f a -f b` merges them.
func renderDeployments(t *testing.T, file string) (ds []*appsv1.Deployment, ok bool) {
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
			if d := deployment(t, m); d != nil {
				ds = append(ds, d)
			}
		}
	}
	return ds, true
}

// renderIstiod is the istiod Deployment istioctl renders from a file, nil
// if it renders none.
func renderIstiod(t *testing.T, file string) (d *appsv1.Deployment, ok bool) {
	t.Helper()
	ds, ok := renderDeployments(t, file)
	for _, d := range ds {
		if d.Spec.Template.Labels["app"] == "istiod" {
			return d, ok
		}
	}
	return nil, ok
}

func deployment(t *testing.T, m manifest.Manifest) *appsv1.Deployment {
	if m.GetKind() != "Deployment" {
		return nil
	}
	var d appsv1.Deployment
	must(t, yaml.Unmarshal([]byte(m.Content), &d))
	return &d
}

// vaultSettings is what the tool is for, as a rendered Deployment carries
// it: the pod's annotations of the injector and the tool, and, keyed by
// name, discovery's variables of the tool (a downward-API one as its field
// path), whether the status variable comes before ROOT_CA_DIR (Kubernetes
// expands $(VAR) only for a variable defined before), and the guard's
// volume and mount.
func vaultSettings(d *appsv1.Deployment) (map[string]string, map[string]string) {
	anns := map[string]string{}
	for k, v := range d.Spec.Template.Annotations {
		if strings.HasPrefix(k, "vault.hashicorp.com/") || strings.HasPrefix(k, "istio-vault-ca.dev/") {
			anns[k] = v
		}
	}
	env := map[string]string{}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "discovery" {
			continue
		}
		for _, e := range c.Env {
			switch e.Name {
			case "ROOT_CA_DIR", "AUTO_RELOAD_PLUGIN_CERTS", "VAULT_AGENT_INJECT_STATUS":
				if _, dup := env[e.Name]; dup {
					env[e.Name] = "DUPLICATE"
					continue
				}
				env[e.Name] = e.Value
				if f := e.ValueFrom; f != nil {
					env[e.Name] = "valueFrom"
					if f.FieldRef != nil {
						env[e.Name] = "fieldRef " + f.FieldRef.FieldPath
					}
				}
				if e.Name == "ROOT_CA_DIR" {
					_, before := env["VAULT_AGENT_INJECT_STATUS"]
					env["status before ROOT_CA_DIR"] = fmt.Sprint(before)
				}
			}
		}
		for _, m := range c.VolumeMounts {
			if m.Name == "istio-vault-ca-guard" {
				env["guard mount"] = fmt.Sprintf("%s ro=%v", m.MountPath, m.ReadOnly)
			}
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "istio-vault-ca-guard" {
			b, _ := json.Marshal(v)
			env["guard volume"] = string(b)
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
	cfgFile := writeTestConfig(t, operatorConfig)
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

const goldenDir = "../testdata/golden"

// toolOnGolden runs the tool on a golden case's input with its config.
func toolOnGolden(t *testing.T, c string, in []byte) (string, string, int) {
	t.Helper()
	if in == nil {
		var err error
		in, err = os.ReadFile(filepath.Join(goldenDir, c, "input.yaml"))
		must(t, err)
	}
	return tool(t, in, nil, "--config", filepath.Join(goldenDir, c, "config.yaml"))
}

// renderYAML writes a manifest to a file and renders it with istioctl.
func renderYAML(t *testing.T, content string) []*appsv1.Deployment {
	t.Helper()
	f := filepath.Join(t.TempDir(), "iop.yaml")
	must(t, os.WriteFile(f, []byte(content), 0o644))
	ds, ok := renderDeployments(t, f)
	if !ok {
		t.Fatalf("istioctl refuses:\n%s", content)
	}
	return ds
}

// istiodOf finds istiod by its name, which an overlay cannot take away as
// it can the label.
func istiodOf(t *testing.T, ds []*appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	for _, d := range ds {
		if d.Name == "istiod" || strings.HasPrefix(d.Name, "istiod-") {
			return d
		}
	}
	t.Fatal("istioctl renders no istiod")
	return nil
}

// TestOperatorOverlaysThroughIstioctl: istioctl applies an IstioOperator's
// k8s.overlays last. Where the tool reconciles them, the istiod istioctl
// renders from its output must carry exactly the Vault settings of the
// raw-Deployment path; where it refuses them, the overlay must really undo
// them: the tool's output for the file without the overlay, with the overlay
// put back, renders an istiod whose Vault settings are no longer the tool's
// (lost, changed, or joined by one that undoes them).
func TestOperatorOverlaysThroughIstioctl(t *testing.T) {
	for _, c := range []string{"iop-overlays", "iop-overlay-override"} {
		t.Run(c, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(goldenDir, c, "input.yaml"))
			must(t, err)
			out, stderr, code := toolOnGolden(t, c, in)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			before := istiodOf(t, renderYAML(t, string(in)))
			raw, err := yaml.Marshal(before)
			must(t, err)
			direct, stderr, code := toolOnGolden(t, c, raw)
			if code != 0 {
				t.Fatalf("istio-vault-ca on the rendered Deployment: %s", stderr)
			}
			var want appsv1.Deployment
			must(t, yaml.Unmarshal([]byte(direct), &want))

			after := istiodOf(t, renderYAML(t, out))
			gotAnns, gotEnv := vaultSettings(after)
			wantAnns, wantEnv := vaultSettings(&want)
			if len(wantAnns) == 0 || !reflect.DeepEqual(gotAnns, wantAnns) {
				t.Errorf("annotations istioctl renders from the output differ from the raw-Deployment path:\n got %v\nwant %v", gotAnns, wantAnns)
			}
			if wantEnv["ROOT_CA_DIR"] == "" || !reflect.DeepEqual(gotEnv, wantEnv) {
				t.Errorf("env istioctl renders from the output %v, raw-Deployment path %v", gotEnv, wantEnv)
			}
			// What the overlays are for stays.
			if c == "iop-overlays" {
				if after.Spec.Template.Annotations["team"] != "mesh" || !hasEnv(after, "PILOT_TRACE_SAMPLING") {
					t.Errorf("the overlays' own annotation and variable are gone: %v", after.Spec.Template.Annotations)
				}
			}
		})
	}

	for _, c := range []string{"err-iop-overlay-env", "err-iop-overlay-annotation", "err-iop-overlay-removes",
		"err-iop-overlay-template", "err-iop-overlay-env-list", "err-iop-overlay-env-index", "err-iop-overlay-foreign", "err-iop-overlay-volume-index",
		"err-iop-overlay-container-name", "err-iop-overlay-mount-path"} {
		t.Run(c, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(goldenDir, c, "input.yaml"))
			must(t, err)
			out, stderr, code := toolOnGolden(t, c, in)
			if code != 2 || out != "" || !strings.Contains(stderr, "spec.components.pilot.k8s.overlays[") {
				t.Fatalf("exit %d, %d bytes out, stderr %s: want a refusal naming the overlay", code, len(out), stderr)
			}
			if c == "err-iop-overlay-env-index" {
				return // refused for what it could do: which entry it hits depends on the chart
			}
			var iop map[string]any
			must(t, yaml.Unmarshal(in, &iop))
			k8s := iop["spec"].(map[string]any)["components"].(map[string]any)["pilot"].(map[string]any)["k8s"].(map[string]any)
			overlays := k8s["overlays"]
			delete(k8s, "overlays")
			without, err := yaml.Marshal(iop)
			must(t, err)
			out, stderr, code = toolOnGolden(t, c, without)
			if code != 0 {
				t.Fatalf("without the overlay: exit %d: %s", code, stderr)
			}
			good := istiodOf(t, renderYAML(t, out))
			must(t, yaml.Unmarshal([]byte(out), &iop))
			iop["spec"].(map[string]any)["components"].(map[string]any)["pilot"].(map[string]any)["k8s"].(map[string]any)["overlays"] = overlays
			with, err := yaml.Marshal(iop)
			must(t, err)
			bad := istiodOf(t, renderYAML(t, string(with)))
			if c == "err-iop-overlay-mount-path" {
				// It undoes no setting but the pod: discovery gets a mount
				// where the injector adds the agent's, a second one there.
				if !hasMount(bad, "/vault/secrets/injected") || hasMount(good, "/vault/secrets/injected") {
					t.Errorf("the overlay puts no mount of discovery at /vault/secrets/injected, yet it is refused")
				}
				return
			}
			goodAnns, goodEnv := vaultSettings(good)
			badAnns, badEnv := vaultSettings(bad)
			if goodEnv["ROOT_CA_DIR"] == "" || len(goodAnns) == 0 {
				t.Fatalf("the tool's output without the overlay renders no Vault settings: %v %v", goodAnns, goodEnv)
			}
			if reflect.DeepEqual(goodAnns, badAnns) && reflect.DeepEqual(goodEnv, badEnv) {
				t.Errorf("the overlay undoes nothing of what the tool writes, yet it is refused")
			}
		})
	}
}

// hasMount: discovery mounts something at mountPath.
func hasMount(d *appsv1.Deployment, mountPath string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if c.Name == "discovery" && m.MountPath == mountPath {
				return true
			}
		}
	}
	return false
}

func hasEnv(d *appsv1.Deployment, name string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}

// TestOperatorGatewaysThroughIstioctl holds the identity the tool expects
// an IstioOperator's gateway to run as against the one istioctl renders:
// a config binding the rendered service account and namespace must pass,
// and put the Vault annotations on the rendered gateway; one binding
// another service account, or another namespace, must be refused with the
// rendered value to add.
func TestOperatorGatewaysThroughIstioctl(t *testing.T) {
	const head = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n"
	for name, iop := range map[string]string{
		"defaults":                   "spec: {profile: empty, components: {ingressGateways: [{name: istio-ingressgateway, enabled: true}]}}\n",
		"egress":                     "spec: {profile: empty, components: {egressGateways: [{name: istio-egressgateway, enabled: true}]}}\n",
		"metadata namespace":         "metadata: {name: gw, namespace: elsewhere}\nspec: {profile: empty, components: {ingressGateways: [{name: istio-ingressgateway, enabled: true}]}}\n",
		"gateway namespace":          "spec: {profile: empty, components: {ingressGateways: [{name: istio-ingressgateway, namespace: istio-ingress, enabled: true}]}}\n",
		"install namespace":          "spec: {profile: empty, values: {global: {istioNamespace: mesh}}, components: {ingressGateways: [{name: istio-ingressgateway, enabled: true}]}}\n",
		"another name":               "spec: {profile: empty, components: {ingressGateways: [{name: edge-gateway, enabled: true, label: {app: edge-gateway, istio: edge-gateway}}]}}\n",
		"another name, chart labels": "spec: {profile: empty, components: {ingressGateways: [{name: edge-gateway, enabled: true}]}}\n",
		"overlay service account": "spec: {profile: empty, components: {ingressGateways: [{name: istio-ingressgateway, enabled: true, k8s: {overlays: [" +
			"{kind: Deployment, name: istio-ingressgateway, patches: [{path: spec.template.spec.serviceAccountName, value: edge}]}]}}]}}\n",
		"overlay annotations": "spec: {profile: empty, components: {ingressGateways: [{name: istio-ingressgateway, enabled: true, k8s: {overlays: [" +
			"{kind: Deployment, name: istio-ingressgateway, patches: [{path: spec.template.metadata.annotations, value: {team: edge}}]}]}}]}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			in := head + iop
			ds := renderYAML(t, in)
			if len(ds) != 1 {
				t.Fatalf("istioctl renders %d Deployments, want the gateway alone", len(ds))
			}
			gw := ds[0]
			sa, ns, app := gw.Spec.Template.Spec.ServiceAccountName, gw.Namespace, gw.Spec.Template.Labels["app"]
			if sa == "" || ns == "" || app == "" {
				t.Fatalf("rendered gateway: service account %q, namespace %q, app %q", sa, ns, app)
			}
			config := func(sas, nss string) string {
				return writeTestConfig(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: gateways}
spec:
  vault: {role: istiod}
  gateways:
  - selector: {app: `+app+`}
    role: gateway
    serviceAccounts: [`+sas+`]
    namespaces: [`+nss+`]
    mountPath: /etc/istio/gateway-certs
    certificates:
    - name: c
      kv: {version: 2, path: secret/gateways/c}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`)
			}

			out, stderr, code := tool(t, []byte(in), nil, "--config", config(sa, ns))
			if code != 0 {
				t.Fatalf("binding what istioctl renders (%s in %s): exit %d: %s", sa, ns, code, stderr)
			}
			after := renderYAML(t, out)
			if len(after) != 1 || after[0].Spec.Template.Annotations["vault.hashicorp.com/agent-inject"] != "true" ||
				after[0].Spec.Template.Annotations["vault.hashicorp.com/role"] != "gateway" {
				t.Fatalf("the gateway istioctl renders from the output has no Vault annotations: %v", after[0].Spec.Template.Annotations)
			}
			if name == "overlay annotations" && after[0].Spec.Template.Annotations["team"] != "edge" {
				t.Errorf("the overlay's own annotation is gone")
			}

			for what, cfg := range map[string]string{
				`add "` + sa + `" to spec.gateways[0].serviceAccounts`: config("someone-else", ns),
				`add "` + ns + `" to spec.gateways[0].namespaces`:      config(sa, "somewhere-else"),
			} {
				out, stderr, code := tool(t, []byte(in), nil, "--config", cfg)
				if code != 2 || out != "" || !strings.Contains(stderr, what) {
					t.Errorf("exit %d, %d bytes out, stderr %s: want a refusal saying %s", code, len(out), stderr, what)
				}
			}
		})
	}
}

// TestOperatorIstiodIdentityThroughIstioctl holds the identity the tool
// expects istiod to run as against the one istioctl renders, as
// TestOperatorGatewaysThroughIstioctl does for gateways. The revision
// "default" is refused: the tool's output for the file without it, with it
// put back, renders an istiod without the Vault settings.
func TestOperatorIstiodIdentityThroughIstioctl(t *testing.T) {
	const head = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n"
	for name, spec := range map[string]string{
		"defaults":           "spec: {profile: minimal}\n",
		"a revision":         "spec: {profile: minimal, revision: canary}\n",
		"values.revision":    "spec: {profile: minimal, revision: canary, values: {revision: other}}\n",
		"spec.namespace":     "spec: {profile: minimal, namespace: elsewhere}\n",
		"metadata.namespace": "metadata: {name: cp, namespace: elsewhere}\nspec: {profile: minimal}\n",
		"install namespace":  "spec: {profile: minimal, values: {global: {istioNamespace: mesh}}}\n",
		"pilot namespace":    "spec: {profile: minimal, values: {global: {istioNamespace: mesh}}, components: {pilot: {namespace: control}}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			in := head + spec
			d := istiodOf(t, renderYAML(t, in))
			sa, ns := d.Spec.Template.Spec.ServiceAccountName, d.Namespace
			rev := "default"
			if r, ok := strings.CutPrefix(sa, "istiod-"); ok {
				rev = r
			}
			config := func(rev, ns string) string {
				return writeTestConfig(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: istiod}
spec:
  vault: {role: istiod}
  istiod: {namespaces: [`+ns+`], revisions: [`+rev+`]}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`)
			}
			out, stderr, code := tool(t, []byte(in), nil, "--config", config(rev, ns))
			if code != 0 {
				t.Fatalf("binding what istioctl renders (%s in %s): exit %d: %s", sa, ns, code, stderr)
			}
			anns, env := vaultSettings(istiodOf(t, renderYAML(t, out)))
			if anns["vault.hashicorp.com/agent-inject"] != "true" || env["ROOT_CA_DIR"] != "/vault/secrets/$(VAULT_AGENT_INJECT_STATUS)" ||
				env["status before ROOT_CA_DIR"] != "true" || env["guard volume"] == "" || env["guard mount"] != "/vault/secrets ro=true" {
				t.Fatalf("the istiod istioctl renders from the output lacks the Vault settings: %v %v", anns, env)
			}
			other := "default"
			if rev == "default" {
				other = "canary"
			}
			for what, cfg := range map[string]string{
				"so istiod runs as " + sa + ", but":   config(other, ns),
				`istiod is installed in "` + ns + `"`: config(rev, "somewhere-else"),
			} {
				if rev == "default" && strings.HasPrefix(what, "so") {
					what = "add \"default\" to spec.istiod.revisions"
				}
				out, stderr, code := tool(t, []byte(in), nil, "--config", cfg)
				if code != 2 || out != "" || !strings.Contains(stderr, what) {
					t.Errorf("exit %d, %d bytes out, stderr %s: want a refusal saying %s", code, len(out), stderr, what)
				}
			}
		})
	}

	t.Run("revision default", func(t *testing.T) {
		c := "err-iop-revision-default"
		out, stderr, code := toolOnGolden(t, c, nil)
		if code != 2 || out != "" || !strings.Contains(stderr, "`spec.revision`") {
			t.Fatalf("exit %d, %d bytes out, stderr %s: want a refusal naming spec.revision", code, len(out), stderr)
		}
		out, stderr, code = toolOnGolden(t, c, []byte(head+"spec: {}\n"))
		if code != 0 {
			t.Fatalf("without the revision: exit %d: %s", code, stderr)
		}
		var iop map[string]any
		must(t, yaml.Unmarshal([]byte(out), &iop))
		iop["spec"].(map[string]any)["revision"] = "default"
		with, err := yaml.Marshal(iop)
		must(t, err)
		d := istiodOf(t, renderYAML(t, string(with)))
		// The guard comes through values.pilot, which the chart renders
		// whatever the name; the k8s settings do not.
		anns, env := vaultSettings(d)
		delete(env, "guard volume")
		delete(env, "guard mount")
		if len(anns) != 0 || len(env) != 0 {
			t.Errorf("%s renders with the Vault settings %v %v, yet the revision is refused", d.Name, anns, env)
		}
	})
}
