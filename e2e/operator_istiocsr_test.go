package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"istio.io/istio/operator/pkg/render"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The istioCSR mode on an IstioOperator, through istioctl's own manifest
// generation: the istiod it renders from the tool's output is no CA
// (ENABLE_CA_SERVER=false), mounts istiod-tls where istiod looks for it,
// and the injector's values point every proxy at istio-csr; with the user's
// own values.pilot.env (overridden) alike.
func TestOperatorIstioCSRThroughIstioctl(t *testing.T) {
	for _, c := range []string{"csr-iop", "csr-iop-override"} {
		t.Run(c, func(t *testing.T) {
			out, stderr, code := toolOnGolden(t, c, nil)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			f := filepath.Join(t.TempDir(), "iop.yaml")
			must(t, os.WriteFile(f, []byte(out), 0o644))
			sets, _, err := render.GenerateManifest([]string{f}, nil, true, nil, nil)
			if err != nil {
				t.Fatalf("istioctl refuses the tool's output: %v\n%s", err, out)
			}
			var caAddress *string
			var istiod bool
			for _, set := range sets {
				for _, m := range set.Manifests {
					if d := deployment(t, m); d != nil && d.Spec.Template.Labels["app"] == "istiod" {
						istiod = true
						env := map[string]string{}
						for _, e := range d.Spec.Template.Spec.Containers[0].Env {
							env[e.Name] = e.Value
						}
						if env["ENABLE_CA_SERVER"] != "false" {
							t.Errorf("istiod's ENABLE_CA_SERVER is %q, want false", env["ENABLE_CA_SERVER"])
						}
						if !hasMount(d, "/var/run/secrets/istiod/tls") {
							t.Errorf("istiod does not mount istiod-tls at /var/run/secrets/istiod/tls")
						}
					}
					if m.GetKind() != "ConfigMap" || m.GetName() != "istio-sidecar-injector" {
						continue
					}
					var cm corev1.ConfigMap
					must(t, yaml.Unmarshal([]byte(m.Content), &cm))
					var values struct {
						Global struct {
							CAAddress string `json:"caAddress"`
						} `json:"global"`
					}
					must(t, json.Unmarshal([]byte(cm.Data["values"]), &values))
					caAddress = &values.Global.CAAddress
				}
			}
			if !istiod {
				t.Fatal("istioctl renders no istiod")
			}
			if caAddress == nil || *caAddress != "cert-manager-istio-csr.cert-manager.svc:443" {
				t.Errorf("the injector's global.caAddress is %v, want istio-csr's address", caAddress)
			}
		})
	}
}

// What the istioCSR mode writes into rendered charts (the golden cases'
// output: a 1.30 chart's injector values and istiod, a chart before 1.16
// given istiod-tls's volumes and flags, a legacy gateway's CA_ADDR) is
// accepted by a real API server as it is.
func TestIstioCSRRenderAccepted(t *testing.T) {
	cp := startControlPlane(t)
	cp.ensureNamespace(t, "istio-system")
	for _, c := range []string{"csr-chart", "csr-chart-before-1.16", "csr-legacy-gateway"} {
		t.Run(c, func(t *testing.T) {
			out, stderr, code := toolOnGolden(t, c, nil)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			n := 0
			for _, o := range decodeObjects(t, []byte(out)) {
				if ns := o.GetNamespace(); ns != "" {
					cp.ensureNamespace(t, ns)
				}
				if _, err := cp.applyObject(t, o, applyOptions{dryRun: true}); err != nil {
					t.Errorf("the API server refuses %s %s as the tool wrote it: %v", o.GetKind(), o.GetName(), err)
				}
				n++
			}
			if n == 0 {
				t.Fatal("no object applied")
			}
		})
	}
}
