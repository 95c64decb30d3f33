package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
)

// gatewayManifests is the gateway chart rendered by helm template.
const gatewayManifests = "../testdata/golden/gateway-chart/input.yaml"

var gatewaySA = serviceAccount{Namespace: "istio-ingress", Name: "istio-ingressgateway"}

// The issue's gateway config, as written, with a short PKI TTL so that a
// renewal happens while the test watches.
const gatewayConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: gateways}
spec:
  cluster: cluster1
  vault: {role: istiod, policy: gateways}
  gateways:
  - selector: {istio: ingressgateway}
    role: istio-ingressgateway
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: bookinfo
      kv: {version: 2, path: "secret/gateways/{{ .Cluster }}/bookinfo", certField: tls.crt, keyField: tls.key, caField: ca.crt}
    - name: api
      pki: {mount: pki_int, role: gateway, commonName: api.example.com, ttl: 20s}
  source:
    kv: {version: 2, path: secret/istio/cacerts}
`

// injectedGateway runs the tool on gateway manifests, applies the output
// and creates the pod of the one Deployment in it: the pod as the API
// server stored it, after the real injector's webhook.
func (e *env) injectedGateway(t *testing.T, manifests []byte, cfgFile string) *corev1.Pod {
	t.Helper()
	out, stderr, code := tool(t, manifests, nil, "--config", cfgFile)
	if code != 0 {
		t.Fatalf("istio-vault-ca: %s", stderr)
	}
	for _, o := range decodeObjects(t, []byte(out)) {
		if o.GetKind() == "Deployment" {
			return e.admitted(t, out, o.GetNamespace(), o.GetName())
		}
	}
	t.Fatal("no gateway Deployment in the output")
	return nil
}

// leaf issues a server certificate for name from a test CA.
func leaf(t *testing.T, ca caBundle, caKeyPEM, name string) (certPEM, keyPEM string) {
	t.Helper()
	blk, _ := pem.Decode([]byte(caKeyPEM))
	caKey, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	must(t, err)
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), caKey)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	return pemCert(der), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// servingPair loads a certificate and key file as the proxy would, checks
// they are one key pair, and verifies the certificate to roots for dns.
func servingPair(t *testing.T, dir, certFile, keyFile, dns string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatalf("%s and %s are not one key pair: %v", certFile, keyFile, err)
	}
	certs := make([]*x509.Certificate, len(pair.Certificate))
	for i, der := range pair.Certificate {
		certs[i], err = x509.ParseCertificate(der)
		must(t, err)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: dns, Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("%s does not verify for %s: %v", certFile, dns, err)
	}
	return certs[0]
}

func TestGatewayCertificates(t *testing.T) {
	e := newEnv(t)
	gwJWT := e.k8s.token(t, gatewaySA)
	v := e.vault.client

	// KV: a certificate issued by some CA, stored with its key and CA.
	ca, _, _, _ := newCA(t, nil, nil, "", "Gateway CA", 40)
	crt, key := leaf(t, ca, ca.keyPEM, "bookinfo.example.com")
	l := layout{name: "gateways", config: gatewayConfig, seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "istio/cacerts", ca.fields())
		kvPut(t, v, 2, "secret", "gateways/cluster1/bookinfo", map[string]any{"tls.crt": crt + ca.certPEM, "tls.key": key, "ca.crt": ca.rootPEM})
		// PKI: a CA in pki_int and a role that issues short leaves.
		must(t, v.Sys().Mount("pki_int", &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "8760h"}}))
		_, err := v.Logical().Write("pki_int/root/generate/internal", map[string]any{"common_name": "Gateway PKI CA", "ttl": "8760h"})
		must(t, err)
		_, err = v.Logical().Write("pki_int/roles/gateway", map[string]any{
			"allowed_domains": "example.com", "allow_subdomains": true, "max_ttl": "1h", "not_before_duration": "1s",
		})
		must(t, err)
	}}
	cfgFile, _ := e.setup(t, l)
	pkiCA, err := v.Logical().Read("pki_int/cert/ca")
	must(t, err)
	pkiRoots, kvRoots := x509.NewCertPool(), x509.NewCertPool()
	pkiRoots.AppendCertsFromPEM([]byte(pkiCA.Data["certificate"].(string)))
	kvRoots.AppendCertsFromPEM([]byte(ca.rootPEM))

	in, err := os.ReadFile(gatewayManifests)
	must(t, err)
	pod := e.injectedGateway(t, in, cfgFile)
	mountPath := pod.Annotations["vault.hashicorp.com/secret-volume-path"]
	proxy := findContainer(pod.Spec.Containers, "istio-proxy")
	mounted := false
	for _, m := range proxy.VolumeMounts {
		mounted = mounted || m.MountPath == mountPath
	}
	if !mounted {
		t.Errorf("istio-proxy does not mount %s: %v", mountPath, proxy.VolumeMounts)
	}
	sidecar := findContainer(pod.Spec.Containers, "vault-agent")
	if sidecar == nil {
		t.Fatal("no vault-agent sidecar: a PKI leaf would never be renewed")
	}

	run := e.k8s.runPod(t, pod)
	init := run.startAgent(t, &pod.Spec.InitContainers[0], mountPath, 60*time.Second)
	if err := init.wait(); err != nil {
		t.Fatalf("vault-agent-init: %v", err)
	}
	servingPair(t, init.dir, "bookinfo.crt", "bookinfo.key", "bookinfo.example.com", kvRoots)
	first := servingPair(t, init.dir, "api.pem", "api.pem", "api.example.com", pkiRoots)
	checkFiles(t, init, pod)

	// The sidecar keeps the leaf fresh: a new issuance before expiry, again
	// certificate and key of one pair.
	agent := run.startAgent(t, sidecar, mountPath, 2*time.Minute)
	serial := func() *big.Int {
		pair, err := tls.LoadX509KeyPair(filepath.Join(agent.dir, "api.pem"), filepath.Join(agent.dir, "api.pem"))
		if err != nil {
			return nil
		}
		c, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil
		}
		return c.SerialNumber
	}
	waitFor(t, 30*time.Second, "the sidecar's first leaf", func() bool { return serial() != nil })
	running := servingPair(t, agent.dir, "api.pem", "api.pem", "api.example.com", pkiRoots)
	waitFor(t, 90*time.Second, "the running agent to renew the leaf", func() bool {
		s := serial()
		return s != nil && s.Cmp(running.SerialNumber) != 0
	})
	// When the new leaf was issued, not when this loaded machine got round
	// to looking: Vault back-dates NotBefore by the role's 1s.
	renewed := servingPair(t, agent.dir, "api.pem", "api.pem", "api.example.com", pkiRoots)
	if issued := renewed.NotBefore.Add(time.Second); issued.After(running.NotAfter) {
		t.Errorf("the leaf was renewed at %v, only after it expired at %v", issued, running.NotAfter)
	}
	if renewed.NotAfter.Before(running.NotAfter) {
		t.Errorf("the renewed leaf expires before the one it replaced")
	}
	t.Logf("init leaf %x; sidecar leaf %x renewed as %x before its expiry", first.SerialNumber, running.SerialNumber, renewed.SerialNumber)
	select {
	case err := <-agent.done:
		t.Fatalf("the sidecar agent exited: %v", err)
	default:
	}

	t.Run("separate issue templates", func(t *testing.T) {
		naiveIssueTemplates(t, e, gwJWT, pod)
	})
}

// naiveIssueTemplates checks, with the real injector and agent, what the
// obvious annotations do: one template for the certificate and one for the
// key, each `secret "<mount>/issue/<role>" ...`. Seen with Vault 1.21's
// agent: identical arguments share one request (the agent keys dependencies
// by path and data), so the pair matches; arguments that differ at all (here
// only a ttl on one of them) make two issue requests, and the key belongs to
// another certificate. The tool writes a leaf as one pkiCert file, which is
// one request whatever the arguments, and renews it.
func naiveIssueTemplates(t *testing.T, e *env, jwt string, _ *corev1.Pod) {
	for _, tc := range []struct {
		name, keyArgs string
		match         bool
	}{
		{"identical arguments", "", true},
		{"arguments that differ", ` "ttl=30m"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const issue = `{{ with secret "pki_int/issue/gateway" "common_name=api.example.com"`
			pod := e.admitted(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: naive, namespace: istio-ingress}
spec:
  selector: {matchLabels: {app: naive}}
  template:
    metadata:
      labels: {app: naive}
      annotations:
        vault.hashicorp.com/agent-inject: "true"
        vault.hashicorp.com/agent-pre-populate-only: "true"
        vault.hashicorp.com/role: istio-ingressgateway
        vault.hashicorp.com/agent-inject-secret-api.crt: pki_int/issue/gateway
        vault.hashicorp.com/agent-inject-template-api.crt: '`+issue+` }}{{ .Data.certificate }}{{ end }}'
        vault.hashicorp.com/agent-inject-secret-api.key: pki_int/issue/gateway
        vault.hashicorp.com/agent-inject-template-api.key: '`+issue+tc.keyArgs+` }}{{ .Data.private_key }}{{ end }}'
    spec:
      serviceAccountName: istio-ingressgateway
      containers: [{name: app, image: app}]
`, "istio-ingress", "naive")
			agent := e.k8s.runPod(t, pod).startAgent(t, &pod.Spec.InitContainers[0], "/vault/secrets", 60*time.Second)
			if err := agent.wait(); err != nil {
				t.Fatalf("agent: %v", err)
			}
			_, err := tls.LoadX509KeyPair(filepath.Join(agent.dir, "api.crt"), filepath.Join(agent.dir, "api.key"))
			if tc.match && err != nil {
				t.Errorf("identical issue templates no longer share one request: %v", err)
			}
			if !tc.match && (err == nil || !strings.Contains(err.Error(), "private key does not match public key")) {
				t.Errorf("issue templates with different arguments made a matching pair (err %v)", err)
			}
		})
	}
}
