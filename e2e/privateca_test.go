package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Secret holding Vault's CA, and what vault-k8s (v1.6.2,
// agent-inject/agent/container_volume.go) names its volume and mount.
const (
	vaultTLSSecret    = "vault-tls"
	vaultTLSVolume    = "vault-tls-secrets"
	vaultTLSMountPath = "/vault/tls"
	privateCAConfig   = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: private-ca}
spec:
  vault: {role: istiod, authPath: auth/kubernetes-private-ca, policy: istiod-private-ca%s}
  gateways:
  - selector: {istio: ingressgateway}
    role: istio-ingressgateway
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: bookinfo
      kv: {version: 2, path: secret/gateways/private-ca/bookinfo, certField: tls.crt, keyField: tls.key}
  source:
    kv: {version: 2, path: secret/istio/private-ca}
`
)

// TestVaultBehindPrivateCA is spec.vault.tlsSecret on a real control
// plane: Vault serves TLS only with a certificate from a CA made in the
// test; the tool's output for the istio-discovery chart is applied, the
// real injector mutates istiod's pod, adding the Secret's volume to the
// agent, and the agent, with the Secret read from the API server, trusts
// Vault, renders the files and istiod loads them. Without the Secret the
// pod cannot start, as the kubelet says; without the CA (a config with no
// tlsSecret) the agent names the x509 failure. verify, run outside the pod,
// names the Secret until it is given its CA with --ca-cert.
func TestVaultBehindPrivateCA(t *testing.T) {
	v, ca := startVaultPrivateCA(t)
	e := &env{vault: v, k8s: startControlPlane(t)}
	e.injector = e.k8s.startVaultInjector(t, v.addr, vaultInjectorWebhook)
	e.jwt = e.k8s.token(t, istiodSA)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})

	l := madeCA("private-ca", fmt.Sprintf(privateCAConfig, ", tlsSecret: "+vaultTLSSecret), "Intermediate CA private", 41,
		func(t *testing.T, v *api.Client, ca caBundle) {
			kvPut(t, v, 2, "secret", "istio/private-ca", ca.fields())
			crt, key := leaf(t, ca, ca.keyPEM, "bookinfo.example.com")
			kvPut(t, v, 2, "secret", "gateways/private-ca/bookinfo", map[string]any{"tls.crt": crt + ca.certPEM, "tls.key": key})
		})
	cfgFile, _ := e.setup(t, l)

	// verify runs where /vault/tls/ca.crt is not: it names the Secret,
	// then passes with the Secret's CA.
	out, code := e.verify(t, cfgFile)
	if code != 2 || !strings.Contains(out, "spec.vault.caCert /vault/tls/ca.crt is where the injector mounts the Secret vault-tls (spec.vault.tlsSecret) in the agent's container, not on this machine: pass --ca-cert FILE") ||
		!strings.Contains(out, "kubectl -n istio-system get secret vault-tls") {
		t.Errorf("verify without the CA: exit %d, want 2 naming the Secret:\n%s", code, out)
	}
	if out, code := e.verify(t, cfgFile, "--ca-cert", ca.caFile); code != 0 || !strings.Contains(out, "uses the CA in "+ca.caFile+" (--ca-cert)") {
		t.Fatalf("verify --ca-cert: exit %d\n%s", code, out)
	}

	pod := e.injectedIstiod(t, cfgFile)
	initC := checkInjectedPod(t, pod, false)
	checkTLSSecretMounted(t, pod, initC)

	// No Secret yet: the kubelet cannot mount the injector's volume.
	_, err := e.k8s.mountPod(t, pod)
	if want := `MountVolume.SetUp failed for volume "vault-tls-secrets" : secret "vault-tls" not found`; err == nil || err.Error() != want {
		t.Errorf("the pod without the Secret: %v, want the kubelet's %q", err, want)
	}

	// The Secret with the CA under another key: mounted, but the agent
	// finds no /vault/tls/ca.crt.
	secret := createVaultTLSSecret(t, e.k8s, "istio-system", "vault-ca.pem", ca.pem)
	wrongKey := e.k8s.runPod(t, pod).startAgent(t, initC, secretVolumePath(pod), 30*time.Second)
	waitLog(t, wrongKey, "ca.crt: no such file or directory")
	wrongKey.cancel()

	// The Secret as a user creates it (kubectl create secret generic
	// vault-tls --from-file=ca.crt=vault-ca.pem -n istio-system).
	secret.Data = map[string][]byte{"ca.crt": ca.pem}
	_, err = e.k8s.client.CoreV1().Secrets("istio-system").Update(context.Background(), secret, metav1.UpdateOptions{})
	must(t, err)
	e.rendersAndLoads(t, pod, initC, l, "e2e-private-ca")

	// The gateway's agent, in its own namespace, needs the Secret there.
	// istiod is stopped: its chart's sidecar-injector webhooks, which
	// match the gateway's pod, would fail its creation.
	webhooks := e.k8s.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	list, err := webhooks.List(context.Background(), metav1.ListOptions{})
	must(t, err)
	for _, w := range list.Items {
		if w.Name != vaultInjectorWebhook {
			must(t, webhooks.Delete(context.Background(), w.Name, metav1.DeleteOptions{}))
		}
	}
	in, err := os.ReadFile(gatewayManifests)
	must(t, err)
	gw := e.injectedGateway(t, in, cfgFile)
	gwInit := &gw.Spec.InitContainers[0]
	checkTLSSecretMounted(t, gw, gwInit)
	if _, err := e.k8s.mountPod(t, gw); err == nil || !strings.Contains(err.Error(), `secret "vault-tls" not found`) {
		t.Errorf("the gateway's pod without the Secret in %s: %v", gw.Namespace, err)
	}
	createVaultTLSSecret(t, e.k8s, gw.Namespace, "ca.crt", ca.pem)
	gwAgent := e.k8s.runPod(t, gw).startAgent(t, gwInit, secretVolumePath(gw), 60*time.Second)
	if err := gwAgent.wait(); err != nil {
		t.Fatalf("the gateway's vault-agent-init failed: %v", err)
	}
	root, _ := l.want(t, e.vault.client)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(root))
	servingPair(t, gwAgent.dir, "bookinfo.crt", "bookinfo.key", "bookinfo.example.com", roots)

	// Without tlsSecret the agent trusts only the system's roots: it
	// cannot log in, and says why.
	noCA := writeTestConfig(t, fmt.Sprintf(privateCAConfig, ""))
	pod = e.injectedIstiod(t, noCA)
	initC = checkInjectedPod(t, pod, false)
	if findVolume(pod, vaultTLSVolume) != nil {
		t.Errorf("a config without tlsSecret mounts %s", vaultTLSVolume)
	}
	agent := e.k8s.runPod(t, pod).startAgent(t, initC, secretVolumePath(pod), 60*time.Second)
	waitLog(t, agent, "x509: certificate signed by unknown authority")
	if agent.tryRead("ca-key.pem") != "" {
		t.Errorf("the agent without Vault's CA rendered the key")
	}
	agent.cancel()
}

// checkTLSSecretMounted asserts what the injector made of tls-secret and
// ca-cert: the Secret's volume in the pod, mounted at /vault/tls in the
// agent, whose config trusts /vault/tls/ca.crt.
func checkTLSSecretMounted(t *testing.T, pod *corev1.Pod, agent *corev1.Container) {
	t.Helper()
	vol := findVolume(pod, vaultTLSVolume)
	if vol == nil || vol.Secret == nil || vol.Secret.SecretName != vaultTLSSecret {
		var names []string
		for _, v := range pod.Spec.Volumes {
			names = append(names, v.Name)
		}
		t.Fatalf("the injector added no Secret volume %s of %s; the pod's volumes: %v", vaultTLSVolume, vaultTLSSecret, names)
	}
	mounted := false
	for _, m := range agent.VolumeMounts {
		mounted = mounted || m.Name == vaultTLSVolume && m.MountPath == vaultTLSMountPath
	}
	if !mounted {
		t.Errorf("%s does not mount %s at %s: %+v", agent.Name, vaultTLSVolume, vaultTLSMountPath, agent.VolumeMounts)
	}
	vault, _ := agentConfig(t, agent)["vault"].(map[string]any)
	if vault["ca_cert"] != vaultTLSMountPath+"/ca.crt" {
		t.Errorf("the agent's vault stanza trusts %v, want %s/ca.crt", vault["ca_cert"], vaultTLSMountPath)
	}
}

func findVolume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// waitLog waits for an agent that cannot render to log what stops it.
func waitLog(t *testing.T, agent *agentRun, want string) {
	t.Helper()
	for deadline := time.Now().Add(45 * time.Second); !strings.Contains(agent.log.String(), want); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never said %q:\n%s", want, agent.log.String())
		}
	}
}

// createVaultTLSSecret creates the Secret holding Vault's CA under key in
// namespace, as kubectl create secret generic vault-tls
// --from-file=<key>=vault-ca.pem does.
func createVaultTLSSecret(t *testing.T, cp *controlPlane, namespace, key string, ca []byte) *corev1.Secret {
	t.Helper()
	s, err := cp.client.CoreV1().Secrets(namespace).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: vaultTLSSecret, Namespace: namespace},
		Data:       map[string][]byte{key: ca},
	}, metav1.CreateOptions{})
	must(t, err)
	return s
}

// TestTLSSecretWithTheInjectorsCode runs vault-k8s's own mutation code
// (v1.6.2, in process) on the tool's output for the istiod chart and the
// gateway chart with spec.vault.tlsSecret: every agent container it adds,
// init and sidecar, istiod's and the gateway's, mounts the Secret at
// /vault/tls and trusts /vault/tls/ca.crt; without tlsSecret, none does.
func TestTLSSecretWithTheInjectorsCode(t *testing.T) {
	withSecret := writeTestConfig(t, strings.Replace(fmt.Sprintf(privateCAConfig, ", tlsSecret: "+vaultTLSSecret), "spec:\n", "spec:\n  rotation: true\n", 1))
	without := writeTestConfig(t, fmt.Sprintf(privateCAConfig, ""))
	gatewayChart, err := os.ReadFile(gatewayManifests)
	must(t, err)
	pods := func(cfgFile string) []*corev1.Pod {
		gwOut, stderr, code := tool(t, gatewayChart, nil, "--config", cfgFile)
		if code != 0 {
			t.Fatalf("istio-vault-ca on the gateway chart: exit %d: %s", code, stderr)
		}
		out := []*corev1.Pod{inject(t, podFor(t, []byte(renderedIstiod(t, cfgFile))), "https://127.0.0.1:8200")}
		for _, doc := range strings.Split(gwOut, "\n---\n") {
			if strings.Contains(doc, "\nkind: Deployment\n") {
				out = append(out, inject(t, podFor(t, []byte(doc)), "https://127.0.0.1:8200"))
			}
		}
		if len(out) != 2 {
			t.Fatalf("%d pods, want istiod's and the gateway's", len(out))
		}
		return out
	}
	agents := 0
	for _, pod := range pods(withSecret) {
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			if c.Name == "vault-agent-init" || c.Name == "vault-agent" {
				agents++
				checkTLSSecretMounted(t, pod, &c)
			}
		}
	}
	if agents != 4 {
		t.Errorf("%d agent containers, want an init and a sidecar agent in istiod's and in the gateway's pod", agents)
	}
	for _, pod := range pods(without) {
		if findVolume(pod, vaultTLSVolume) != nil {
			t.Errorf("%s: a config without tlsSecret mounts %s", pod.Name, vaultTLSVolume)
		}
	}
}

// TestVerifyVaultBehindPrivateCA is verify against a real Vault serving
// TLS with a certificate from a CA made in the test, with a config naming
// the Secret that holds it: outside the pod, /vault/tls/ca.crt is not
// there, so verify names the Secret (not a TLS error against the system's
// roots); --ca-cert with the CA passes, another CA fails the handshake.
func TestVerifyVaultBehindPrivateCA(t *testing.T) {
	v, ca := startVaultPrivateCA(t)
	made, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA verify", 42)
	kvPut(t, v.client, 2, "secret", "verify", made.fields())
	cfg := writeTestConfig(t, strings.Replace(verifyConfig, "vault: {role: istiod}", "vault: {role: istiod, tlsSecret: vault-tls}", 1))
	verify := func(args ...string) (string, int) {
		env := []string{"VAULT_ADDR=" + v.addr, "VAULT_TOKEN=" + rootToken, "VAULT_CACERT=", "VAULT_SKIP_VERIFY="}
		out, stderr, code := tool(t, nil, env, append([]string{"verify", "--config", cfg, "--timeout", "10s"}, args...)...)
		return out + stderr, code
	}
	if out, code := verify(); code != 2 || !strings.Contains(out, "is where the injector mounts the Secret vault-tls (spec.vault.tlsSecret)") {
		t.Errorf("without the CA: exit %d, want 2 naming the Secret:\n%s", code, out)
	}
	if out, code := verify("--ca-cert", ca.caFile); code != 0 || !strings.Contains(out, "0 failed") {
		t.Errorf("--ca-cert with Vault's CA: exit %d:\n%s", code, out)
	}
	other, _ := selfSignedCA(t, "not Vault's CA")
	otherFile := writeTestConfig(t, pemCert(other.Raw))
	if out, code := verify("--ca-cert", otherFile); code != 1 || !strings.Contains(out, "x509") || !strings.Contains(out, "TLS handshake failed") {
		t.Errorf("--ca-cert with another CA: exit %d, want 1 and the TLS failure:\n%s", code, out)
	}
}
