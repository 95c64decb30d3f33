package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// istioInjectorWebhook is the name of the istio-discovery chart's
// MutatingWebhookConfiguration for the default revision.
const istioInjectorWebhook = "istio-sidecar-injector"

// webhooksConfig is one config for istiod's CA and a KV-only gateway (also
// TestGatewayRootProxyReadsItsKey's): a gateway certificate with neither
// rotation nor PKI, so the gateway's pod gets vault-agent-init and no
// sidecar.
const webhooksConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: webhooks}
spec:
  cluster: cluster1
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: shop
      kv: {version: 2, path: "secret/gateways/{{ .Cluster }}/shop"}
`

// gatewayMountPath is webhooksConfig's gateway mountPath.
const gatewayMountPath = "/etc/istio/ingress-certs"

// gatewayChart is the gateway chart of the istiod binary's version,
// rendered as `helm install istio-ingressgateway -n istio-ingress` would
// (the release name gives the pods the label istio: ingressgateway).
func gatewayChart(t *testing.T) string {
	t.Helper()
	chartsMu.Lock()
	defer chartsMu.Unlock()
	if out, ok := charts["gateway"]; ok {
		return out
	}
	dir := filepath.Join(filepath.Dir(istioDiscoveryChart(t)), "..", "gateway")
	out, err := exec.Command(checkedTool(t, "HELM3_BIN"), "template", "istio-ingressgateway", dir, "-n", "istio-ingress").Output()
	if err != nil {
		t.Fatalf("helm template %s: %v", dir, err)
	}
	charts["gateway"] = string(out)
	return string(out)
}

// TestGatewayThroughBothWebhooks creates a gateway pod from the gateway
// chart's Deployment (istio-proxy with image: auto) through both real
// injectors: the real istiod's sidecar injector, registered with the
// istio-discovery chart's MutatingWebhookConfiguration as the tool's output
// has it (rules, selectors, reinvocationPolicy), and the Vault injector.
// The API server calls mutating webhook configurations in the order of
// their names; each order is a subtest, and the API server's audit log
// shows it called them in that order. Either way the stored pod's
// istio-proxy is Istio's proxy and mounts Vault's secret volume at the
// gateway's mountPath.
func TestGatewayThroughBothWebhooks(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA webhooks", 50)
	cfgFile, _ := e.setup(t, layout{name: "webhooks", config: webhooksConfig, seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "istio/cacerts", ca.fields())
	}})

	// istiod, as TestChain runs it: its pod from the tool's output, its CA
	// files rendered from Vault by the pod's own vault-agent-init.
	pod := e.injectedIstiod(t, cfgFile)
	initC := checkInjectedPod(t, pod, false)
	run := e.k8s.runPod(t, pod)
	agent := run.startAgent(t, initC, secretVolumePath(pod), 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("istiod's vault-agent-init failed: %v", err)
	}
	root, _ := renderedCA(t, agent, pod)
	// The API server calls the injector at https://127.0.0.1:<port>, not at
	// istiod.istio-system.svc: with no kubelet, no endpoints back the
	// Service. ISTIOD_CUSTOM_HOST adds names to the certificate istiod
	// signs for its webhook and gRPC servers (getDNSNames in
	// pilot/pkg/bootstrap, and an IP becomes an IP SAN): here it stands in
	// for the Service's DNS name.
	istiod := run.startIstiod(t, "ISTIOD_CUSTOM_HOST=127.0.0.1")
	istiod.waitReady(t)
	e.k8s.serveIstioInjector(t, istiod, root)
	wantImage := proxyImage(t, e.k8s)

	out, stderr, code := tool(t, []byte(gatewayChart(t)), nil, "--config", cfgFile)
	if code != 0 {
		t.Fatalf("istio-vault-ca on the gateway chart: exit %d: %s", code, stderr)
	}
	e.k8s.apply(t, []byte(out), applyOptions{})

	vaultWebhook := vaultInjectorWebhook
	for _, order := range []struct {
		name         string
		vaultWebhook string
		vaultFirst   bool
	}{
		// The two charts' own names: Istio's sorts first.
		{"istio first", vaultInjectorWebhook, false},
		// A Vault release named to sort before Istio's configuration.
		{"vault first", "aaa-" + vaultInjectorWebhook, true},
	} {
		t.Run(order.name, func(t *testing.T) {
			if (order.vaultWebhook < istioInjectorWebhook) != order.vaultFirst {
				t.Fatalf("%q does not sort %s %q", order.vaultWebhook, map[bool]string{true: "before", false: "after"}[order.vaultFirst], istioInjectorWebhook)
			}
			if vaultWebhook != order.vaultWebhook {
				// One Vault injector at a time, as one release would be: the
				// last one stopped and its configuration deleted.
				e.injector.proc.stop()
				must(t, e.k8s.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), vaultWebhook, metav1.DeleteOptions{}))
				e.injector = e.k8s.startVaultInjector(t, e.vault.addr, order.vaultWebhook)
				vaultWebhook = order.vaultWebhook
			}

			before := len(e.k8s.podAdmissions(t, "istio-ingress"))
			gw := e.k8s.mustPodFromDeployment(t, "istio-ingress", "istio-ingressgateway")
			checkGatewayPod(t, gw, wantImage)

			want := []string{istioInjectorWebhook, order.vaultWebhook}
			if order.vaultFirst {
				want = []string{order.vaultWebhook, istioInjectorWebhook}
			}
			calls := e.k8s.admittedBy(t, "istio-ingress", before)
			var got []string
			for _, c := range calls {
				if c.Mutated {
					got = append(got, c.Configuration)
				}
			}
			t.Logf("webhook calls: %+v", calls)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("the API server's mutating calls were %v, want %v (each once, in that order)", calls, want)
			}
		})
	}
}

// serveIstioInjector points the istio-discovery chart's
// MutatingWebhookConfiguration, as the tool's output applied it, at the
// running istiod: every webhook's clientConfig.service becomes a loopback
// url with the service's path, and nothing else is changed (name, labels,
// rules, selectors, reinvocationPolicy stay the chart's). The caBundle is
// cleared, and istiod's own webhook patcher (it patches the configurations
// labelled with its revision) must fill it in with Vault's root, which its
// serving certificate chains to.
func (cp *controlPlane) serveIstioInjector(t *testing.T, ir *istiodRun, root string) {
	t.Helper()
	ctx := context.Background()
	mwcs := cp.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg, err := mwcs.Get(ctx, istioInjectorWebhook, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range cfg.Webhooks {
			cc := &cfg.Webhooks[i].ClientConfig
			if cc.Service == nil || cc.Service.Path == nil {
				t.Fatalf("webhook %s of the chart's %s has no service path: %+v", cfg.Webhooks[i].Name, istioInjectorWebhook, cc)
			}
			url := "https://" + ir.httpsAddr + *cc.Service.Path
			*cc = admissionv1.WebhookClientConfig{URL: &url}
		}
		_, err = mwcs.Update(ctx, cfg, metav1.UpdateOptions{})
		return err
	})
	must(t, err)
	waitFor(t, 60*time.Second, "istiod to patch Vault's root into its webhooks' caBundle", func() bool {
		if err := ir.proc.running(); err != nil {
			t.Fatal(err)
		}
		cfg, err := mwcs.Get(ctx, istioInjectorWebhook, metav1.GetOptions{})
		must(t, err)
		for _, wh := range cfg.Webhooks {
			if strings.TrimSpace(string(wh.ClientConfig.CABundle)) != strings.TrimSpace(root) {
				return false
			}
		}
		return true
	})
	// The admission plugin reads configurations through an informer: a
	// dry-run probe pod Istio's injector must change tells when it has.
	// (A pod that declares no istio-proxy gets it as a native sidecar, an
	// init container.)
	cp.waitMutates(t, func(p *corev1.Pod) bool {
		return findContainer(p.Spec.Containers, "istio-proxy") != nil || findContainer(p.Spec.InitContainers, "istio-proxy") != nil
	},
		nil, map[string]string{"sidecar.istio.io/inject": "true"})
}

// proxyImage is the image Istio's injector puts in istio-proxy, from the
// values of the chart's injector ConfigMap: hub/image:tag (ProxyImage in
// pkg/kube/inject).
func proxyImage(t *testing.T, cp *controlPlane) string {
	t.Helper()
	cm, err := cp.client.CoreV1().ConfigMaps("istio-system").Get(context.Background(), istioInjectorWebhook, metav1.GetOptions{})
	must(t, err)
	var values struct {
		Global struct {
			Hub     string `json:"hub"`
			Tag     any    `json:"tag"`
			Variant string `json:"variant"`
			Proxy   struct {
				Image string `json:"image"`
			} `json:"proxy"`
		} `json:"global"`
	}
	must(t, json.Unmarshal([]byte(cm.Data["values"]), &values))
	g := values.Global
	if g.Hub == "" || g.Proxy.Image == "" || g.Tag == nil || g.Variant != "" {
		t.Fatalf("the injector's values give no plain proxy image: %+v", g)
	}
	return fmt.Sprintf("%s/%s:%v", g.Hub, g.Proxy.Image, g.Tag)
}

// checkGatewayPod asserts what both injectors made of the gateway's pod:
// Istio filled in istio-proxy, Vault's vault-agent-init runs first, and
// istio-proxy mounts the volume vault-agent-init renders into, at the
// gateway's mountPath.
func checkGatewayPod(t *testing.T, pod *corev1.Pod, wantImage string) {
	t.Helper()
	proxy := findContainer(pod.Spec.Containers, "istio-proxy")
	if proxy == nil {
		t.Fatalf("the gateway pod has no istio-proxy: %v", pod.Spec.Containers)
	}
	if proxy.Image != wantImage {
		t.Errorf("istio-proxy's image is %q, want Istio's proxy %q", proxy.Image, wantImage)
	}
	if _, ok := pod.Annotations["sidecar.istio.io/status"]; !ok {
		t.Errorf("Istio's injector did not mark the pod injected: %v", pod.Annotations)
	}
	if len(pod.Spec.InitContainers) == 0 || pod.Spec.InitContainers[0].Name != "vault-agent-init" {
		t.Fatalf("vault-agent-init is not the first init container: %v", pod.Spec.InitContainers)
	}
	if got := secretVolumePath(pod); got != gatewayMountPath {
		t.Errorf("the secret volume path is %s, want the gateway's mountPath %s", got, gatewayMountPath)
	}
	mountAt := func(c *corev1.Container) string {
		for _, m := range c.VolumeMounts {
			if m.MountPath == gatewayMountPath {
				return m.Name
			}
		}
		return ""
	}
	rendered := mountAt(&pod.Spec.InitContainers[0])
	if rendered == "" {
		t.Errorf("vault-agent-init does not mount %s: %v", gatewayMountPath, pod.Spec.InitContainers[0].VolumeMounts)
	}
	if got := mountAt(proxy); got == "" || got != rendered {
		t.Errorf("istio-proxy mounts %q at %s, want vault-agent-init's volume %q: %v", got, gatewayMountPath, rendered, proxy.VolumeMounts)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == rendered && v.EmptyDir == nil {
			t.Errorf("volume %s is not an emptyDir: %+v", rendered, v.VolumeSource)
		}
	}
}

// webhookCall is one call of a mutating webhook while a pod was admitted,
// from the API server's audit annotation
// mutation.webhook.admission.k8s.io/round_<r>_index_<i>, or, for a call
// that failed and was ignored (failurePolicy Ignore), failed-open.<that>,
// whose value is the webhook's name.
type webhookCall struct {
	Round, Index  int
	Configuration string `json:"configuration"`
	Webhook       string `json:"webhook"`
	Mutated       bool   `json:"mutated"`
	FailedOpen    bool   `json:"-"`
}

// podAdmissions reads the audit log: for every pod created in namespace,
// in the order created, the mutating webhooks called (round, then index:
// the order the API server called them in).
func (cp *controlPlane) podAdmissions(t *testing.T, namespace string) [][]webhookCall {
	t.Helper()
	f, err := os.Open(cp.auditLog())
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	defer f.Close()
	var all [][]webhookCall
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Stage     string `json:"stage"`
			Verb      string `json:"verb"`
			ObjectRef struct {
				Resource, Namespace, Subresource string
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
			Annotations map[string]string `json:"annotations"`
		}
		must(t, json.Unmarshal(sc.Bytes(), &ev))
		if ev.Stage != "ResponseComplete" || ev.Verb != "create" || ev.ObjectRef.Resource != "pods" ||
			ev.ObjectRef.Subresource != "" || ev.ObjectRef.Namespace != namespace {
			continue
		}
		var calls []webhookCall
		for k, v := range ev.Annotations {
			var c webhookCall
			if _, err := fmt.Sscanf(k, "failed-open.mutation.webhook.admission.k8s.io/round_%d_index_%d", &c.Round, &c.Index); err == nil {
				c.Webhook, c.FailedOpen = v, true
				calls = append(calls, c)
				continue
			}
			if _, err := fmt.Sscanf(k, "mutation.webhook.admission.k8s.io/round_%d_index_%d", &c.Round, &c.Index); err != nil {
				continue
			}
			must(t, json.Unmarshal([]byte(v), &c))
			calls = append(calls, c)
		}
		sort.Slice(calls, func(i, j int) bool {
			if calls[i].Round != calls[j].Round {
				return calls[i].Round < calls[j].Round
			}
			return calls[i].Index < calls[j].Index
		})
		all = append(all, calls)
	}
	must(t, sc.Err())
	return all
}

// admittedBy waits for the audit event of the pod created in namespace
// after the first `before` ones and returns its webhook calls. The event
// is written as the request completes, which may be just after the
// client has its answer.
func (cp *controlPlane) admittedBy(t *testing.T, namespace string, before int) []webhookCall {
	t.Helper()
	var all [][]webhookCall
	waitFor(t, 10*time.Second, "the pod's audit event", func() bool {
		all = cp.podAdmissions(t, namespace)
		return len(all) > before
	})
	if len(all) != before+1 {
		t.Fatalf("%d pods created in %s, want 1", len(all)-before, namespace)
	}
	return all[before]
}
