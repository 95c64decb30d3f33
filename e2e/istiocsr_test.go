package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/security"
	pkiutil "istio.io/istio/security/pkg/pki/util"
	"istio.io/istio/security/pkg/server/ca/authenticate/kubeauth"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The istioCSR mode (issue 19) end to end: Vault signs every workload
// certificate, and istiod's, through cert-manager's Vault issuer, and istiod
// is no CA. Every hop is the real program but one: istio-csr, whose module
// is not served. The test plays its part, each time where istio-csr would
// act and as its code does:
//   - a workload's request (pkg/server): the caller's token is authenticated
//     with istio's own KubeJWTAuthenticator, the code istio-csr's server
//     calls (a TokenReview with the API server); the CSR is refused with a
//     CN, DNS or IP SANs, or URI SANs other than the caller's identities;
//     the CertificateRequest is the one pkg/certmanager creates (see
//     createCertificateRequest);
//   - istiod's serving certificate: the Certificate its chart creates
//     (templates/certificate.yaml), which cert-manager issues into istiod-tls;
//   - the root: istio-csr publishes its root CA in istio-ca-root-cert in every
//     namespace. istiod with ENABLE_CA_SERVER=false has no CA, so its own
//     namespace controller does not run (pilot/pkg/bootstrap,
//     shouldStartNsController): nobody else would.

// csrConfig is the config of issue 19 as written there, with the test
// Vault's address.
func csrConfig(vaultAddr string) string {
	return fmt.Sprintf(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cluster1}
spec:
  cluster: cluster1
  vault: {address: %s, role: istio-csr, authPath: auth/kubernetes-cluster1}
  source:
    istioCSR:
      pki: {mount: istioca, role: "istio-{{ .Cluster }}"}   # Vault signs at istioca/sign/istio-cluster1
      trustDomain: cluster.local
`, vaultAddr)
}

// What csrConfig names, as Vault and the API server see it.
const (
	csrMount, csrAuthPath, csrAuthRole = "istioca", "auth/kubernetes-cluster1", "istio-csr"
	csrTrustDomain, csrClusterID       = "cluster.local", "cluster1"
	istioNS                            = "istio-system"
	// istiod's name on its serving certificate, and the one a proxy dials.
	istiodHost = "istiod.istio-system.svc"
)

var gvrCertificate = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}

// csrVault is the one-time set-up of Vault for this mode: the Kubernetes
// auth method reviewing tokens with the API server (the script checks it
// is there, and stops before writing anything if not), then the script
// `istio-vault-ca policy --output commands` prints, run with the vault
// CLI: it enables the PKI mount, writes the signing policy, the
// Kubernetes-auth role bound to the Issuer's ServiceAccount with
// cert-manager's audience, and the PKI role. The CA is the one step by
// hand, as the script's comment says. It returns Vault's root.
func (e *env) csrVault(t *testing.T, cfgFile string) string {
	t.Helper()
	v := e.vault.client
	must(t, v.Sys().EnableAuthWithOptions(strings.TrimPrefix(csrAuthPath, "auth/"), &api.EnableAuthOptions{Type: "kubernetes"}))
	_, err := v.Logical().Write(csrAuthPath+"/config", e.k8s.vaultAuthConfig())
	must(t, err)
	e.applyPolicy(t, cfgFile)
	root, err := v.Logical().Write(csrMount+"/root/generate/internal", map[string]any{
		"common_name": "e2e Vault mesh root", "ttl": "87600h", "key_type": "ec", "key_bits": 256,
	})
	must(t, err)
	return root.Data["certificate"].(string)
}

// csrIssuer applies what `istio-vault-ca issuer --config FILE` prints (the
// Issuer of type Vault, its ServiceAccount, the Role and RoleBinding that
// let cert-manager request its tokens) and returns the Issuer's name and
// its ServiceAccount.
func (e *env) csrIssuer(t *testing.T, cfgFile string) (string, serviceAccount) {
	t.Helper()
	out, stderr, code := tool(t, nil, nil, "issuer", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("issuer: exit %d: %s", code, stderr)
	}
	var issuer string
	var sa serviceAccount
	for _, o := range e.k8s.apply(t, []byte(out), applyOptions{}) {
		if o.GetKind() == "Issuer" {
			issuer = o.GetName()
			name, _, _ := unstructured.NestedString(o.Object, "spec", "vault", "auth", "kubernetes", "serviceAccountRef", "name")
			sa = serviceAccount{Namespace: o.GetNamespace(), Name: name}
		}
	}
	if issuer == "" || sa.Name == "" || sa.Namespace != istioNS {
		t.Fatalf("issuer printed no Issuer in %s with a serviceAccountRef:\n%s", istioNS, out)
	}
	return issuer, sa
}

// fixedMesh is a mesh config that never changes, as istio-csr builds one
// for its authenticator (the default, with its trust domain).
type fixedMesh struct{ m *meshconfig.MeshConfig }

func (f fixedMesh) Mesh() *meshconfig.MeshConfig { return f.m }

// csrMesh is one Vault, one control plane and cert-manager's controllers,
// set up for csrConfig.
type csrMesh struct {
	*env
	cm      *certManager
	cfgFile string
	rootPEM string
	issuer  string
}

// istioCSRSign does with a workload's CSR and token what istio-csr's
// CreateCertificate does, up to the signed CertificateRequest, which it
// returns with its final Ready condition.
func (m *csrMesh) istioCSRSign(t *testing.T, token string, csrPEM []byte) (*unstructured.Unstructured, map[string]any) {
	t.Helper()
	cfg := mesh.DefaultMeshConfig()
	cfg.TrustDomain = csrTrustDomain
	auth := kubeauth.NewKubeJWTAuthenticator(fixedMesh{cfg}, m.k8s.client, csrClusterID, nil, nil)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
	caller, err := auth.Authenticate(security.AuthContext{GrpcContext: ctx})
	if err != nil {
		t.Fatalf("istio's KubeJWTAuthenticator refused the workload's token: %v", err)
	}
	csr, err := pkiutil.ParsePemEncodedCSR(csrPEM)
	must(t, err)
	var uris []string
	for _, u := range csr.URIs {
		uris = append(uris, u.String())
	}
	slices.Sort(uris)
	ids := slices.Sorted(slices.Values(caller.Identities))
	if len(csr.DNSNames) > 0 || len(csr.IPAddresses) > 0 || csr.Subject.CommonName != "" || !slices.Equal(uris, ids) {
		t.Fatalf("istio-csr would refuse this CSR: DNS %v, IPs %v, CN %q, URIs %v for identities %v",
			csr.DNSNames, csr.IPAddresses, csr.Subject.CommonName, uris, ids)
	}
	name := createCertificateRequest(t, m.k8s, istioNS, m.issuer, strings.Join(caller.Identities, ","), csrPEM)
	return m.cm.waitCondition(t, m.k8s, gvrCR, istioNS, name, "Ready", func(c map[string]any) bool {
		return c["status"] == "True" || c["reason"] == "Failed"
	})
}

// pemCerts are the certificates of a PEM text, in order.
func pemCerts(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return certs
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		must(t, err)
		certs = append(certs, c)
	}
}

// verifiesForBoth checks a chain (leaf first) verifies to root, for a client
// and for a server: istio-csr checks each chain it returns for either
// usage, and a mesh certificate is used as both.
func verifiesForBoth(t *testing.T, what string, chain []*x509.Certificate, rootPEM string) {
	t.Helper()
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		opts := x509.VerifyOptions{Roots: certPool(t, []byte(rootPEM)), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{u}}
		if _, err := chain[0].Verify(opts); err != nil {
			t.Errorf("%s does not verify to Vault's root for usage %v: %v", what, u, err)
		}
	}
}

// TestIstioCSRVaultSignsMesh is the whole path of the istioCSR mode on the
// real control plane, from the tool's own outputs: the PKI role, policy and
// Kubernetes-auth role from `policy --output commands`, the Issuer from
// `issuer`, istiod's Deployment from the tool's output for the
// istio-discovery chart. cert-manager's real controllers log in to Vault
// with the token they request for the Issuer's ServiceAccount (Vault
// reviews it with the API server); workload CSRs as istio-agent makes them
// (RSA, and ECDSA P-256 as with ECC_SIGNATURE_ALGORITHM=ECDSA) are signed by
// Vault through CertificateRequests; istiod-tls is issued the same way; and
// the real istiod, started from the pod the API server returns, serves
// istiod-tls on its xDS and webhook ports and has no CA to sign with.
func TestIstioCSRVaultSignsMesh(t *testing.T) {
	e := &env{vault: startVault(t), k8s: startControlPlane(t)}
	audit := filepath.Join(t.TempDir(), "audit.log")
	must(t, e.vault.client.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": audit}}))
	m := &csrMesh{env: e, cfgFile: writeTestConfig(t, csrConfig(e.vault.addr))}
	m.rootPEM = e.csrVault(t, m.cfgFile)
	e.k8s.ensureNamespace(t, istioNS)
	m.cm = e.k8s.startCertManager(t, istioNS)
	issuer, issuerSA := e.csrIssuer(t, m.cfgFile)
	m.issuer = issuer

	// The issuers controller logs in to Vault before it sets Ready.
	_, ready := m.cm.waitCondition(t, e.k8s, gvrIssuer, istioNS, issuer, "Ready", func(c map[string]any) bool { return c["status"] == "True" })
	if ready["reason"] != "VaultVerified" {
		t.Errorf("Issuer Ready for reason %v (%v), want VaultVerified", ready["reason"], ready["message"])
	}

	for _, alg := range []struct {
		name    string
		options pkiutil.CertOptions // what istio-agent passes to GenCSR
		key     func(any) bool
	}{
		{"rsa", pkiutil.CertOptions{RSAKeySize: 2048}, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
		{"ecdsa-p256", pkiutil.CertOptions{ECSigAlg: pkiutil.EcdsaSigAlg, ECCCurve: pkiutil.P256Curve},
			func(k any) bool { ec, ok := k.(*ecdsa.PublicKey); return ok && ec.Curve == elliptic.P256() }},
	} {
		t.Run("workload-"+alg.name, func(t *testing.T) {
			sa := serviceAccount{Namespace: "default", Name: "x"}
			spiffe := "spiffe://" + csrTrustDomain + "/ns/" + sa.Namespace + "/sa/" + sa.Name
			opts := alg.options
			opts.Host = spiffe
			csrPEM, _, err := pkiutil.GenCSR(opts)
			must(t, err)
			signed, c := m.istioCSRSign(t, e.k8s.token(t, sa, security.TokenAudiences...), csrPEM)
			if c["status"] != "True" || c["reason"] != "Issued" {
				t.Fatalf("CertificateRequest %s not issued: %v: %v", signed.GetName(), c["reason"], c["message"])
			}
			chain := pemCerts(t, statusPEM(t, signed, "certificate"))
			if len(chain) == 0 {
				t.Fatal("the CertificateRequest's status.certificate holds no certificate")
			}
			leaf := chain[0]
			verifiesForBoth(t, "the workload certificate", chain, m.rootPEM)
			if got := statusPEM(t, signed, "ca"); !samePEM(string(got), m.rootPEM) {
				t.Errorf("status.ca is not Vault's root:\n%s", got)
			}
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != spiffe || leaf.Subject.CommonName != "" || len(leaf.DNSNames) != 0 {
				t.Errorf("the workload certificate has URIs %v, CN %q, DNS names %v; want only %s", leaf.URIs, leaf.Subject.CommonName, leaf.DNSNames, spiffe)
			}
			if !alg.key(leaf.PublicKey) {
				t.Errorf("the workload certificate's key is a %T, not the CSR's %s key", leaf.PublicKey, alg.name)
			}
		})
	}

	// cert-manager logged in with tokens it requested for the Issuer's
	// ServiceAccount, through the Kubernetes-auth role the script wrote.
	logins := vaultLogins(t, audit, strings.TrimPrefix(csrAuthPath, "auth/"))
	if len(logins) == 0 {
		t.Fatalf("Vault's audit log has no login at %s/login", csrAuthPath)
	}
	for _, l := range logins {
		if l["service_account_name"] != issuerSA.Name || l["service_account_namespace"] != issuerSA.Namespace || l["role"] != csrAuthRole {
			t.Errorf("a login at %s/login as %v, want ServiceAccount %s/%s with role %s", csrAuthPath, l, issuerSA.Namespace, issuerSA.Name, csrAuthRole)
		}
	}

	var tlsSecret *corev1.Secret
	t.Run("istiod-tls", func(t *testing.T) { tlsSecret = m.istiodTLS(t) })
	if tlsSecret == nil {
		t.Fatal("no istiod-tls: istiod cannot be started")
	}
	t.Run("istiod", func(t *testing.T) { m.istiodServesIstiodTLS(t, tlsSecret) })
	t.Run("refusing-pki-role", m.refusingRole)
}

// refusingRole breaks the PKI role the script wrote one setting at a time
// (badRoles: require_cn=true, no URI SANs): `verify` names the setting, and
// a workload's CertificateRequest fails with Vault's refusal, which
// cert-manager reports on it. The role is mended after each.
func (m *csrMesh) refusingRole(t *testing.T) {
	role := csrMount + "/roles/istio-cluster1"
	cfg := csrConfig(m.vault.addr)
	if out, code := verifyConfigWith(t, cfg, m.vault.addr); code != 0 {
		t.Fatalf("verify of the PKI role the script wrote: exit %d\n%s", code, out)
	}
	written, err := m.vault.client.Logical().Read(role)
	must(t, err)
	sa := serviceAccount{Namespace: "default", Name: "x"}
	spiffe := "spiffe://" + csrTrustDomain + "/ns/default/sa/x"
	for _, bad := range badRoles {
		_, err := m.vault.client.Logical().JSONMergePatch(context.Background(), role, bad.edit)
		must(t, err)
		out, code := verifyConfigWith(t, cfg, m.vault.addr)
		if code != 1 || !strings.Contains(out, bad.verify) {
			t.Errorf("verify with %v: exit %d, want 1 naming %q:\n%s", bad.edit, code, bad.verify, out)
		}
		csrPEM, _, err := pkiutil.GenCSR(pkiutil.CertOptions{Host: spiffe, RSAKeySize: 2048})
		must(t, err)
		failed, c := m.istioCSRSign(t, m.k8s.token(t, sa, security.TokenAudiences...), csrPEM)
		msg, _ := c["message"].(string)
		if c["reason"] != "Failed" || !strings.HasPrefix(msg, "Vault failed to sign certificate") || !strings.Contains(msg, bad.want) {
			t.Errorf("with %v the CertificateRequest is Ready=%v %v: %q, want Failed with Vault's %q", bad.edit, c["status"], c["reason"], msg, bad.want)
		}
		if s, _, _ := unstructured.NestedString(failed.Object, "status", "certificate"); s != "" {
			t.Errorf("with %v the refused CertificateRequest has a certificate", bad.edit)
		}
		t.Logf("with %v: verify names %q; cert-manager reports %s: %s", bad.edit, bad.verify, c["reason"], msg)
		mend := map[string]any{}
		for k := range bad.edit {
			mend[k] = written.Data[k]
		}
		_, err = m.vault.client.Logical().JSONMergePatch(context.Background(), role, mend)
		must(t, err)
	}
}

// istiodCertificate is the Certificate istio-csr's chart creates for istiod
// (deploy/charts/istio-csr/templates/certificate.yaml, default values, the
// default revision), for an issuer.
func istiodCertificate(issuer string) string {
	return fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: istiod, namespace: %[2]s}
spec:
  commonName: %[3]s
  dnsNames: [%[3]s]
  uris: [spiffe://%[4]s/ns/%[2]s/sa/istiod-service-account]
  secretName: istiod-tls
  duration: 1h
  renewBefore: 30m
  privateKey: {rotationPolicy: Always, algorithm: RSA, size: 2048}
  revisionHistoryLimit: 1
  issuerRef: {name: %[1]s, kind: Issuer, group: cert-manager.io}
`, issuer, istioNS, istiodHost, csrTrustDomain)
}

// istiodTLS has cert-manager issue istiod's Certificate and returns the
// Secret istiod-tls, after checking it holds a key and a certificate for
// istiod signed by Vault.
func (m *csrMesh) istiodTLS(t *testing.T) *corev1.Secret {
	t.Helper()
	m.k8s.apply(t, []byte(istiodCertificate(m.issuer)), applyOptions{})
	// Ready, or a failed issuance (which cert-manager retries only after an
	// hour: it shows on the Issuing condition, Ready stays False).
	o, _ := m.cm.waitCondition(t, m.k8s, gvrCertificate, istioNS, "istiod", "Ready", func(c map[string]any) bool {
		return c["status"] == "True"
	}, conditionDone{"Issuing", func(c map[string]any) bool { return c["reason"] == "Failed" }})
	if c := condition(o, "Ready"); c["status"] != "True" {
		c = condition(o, "Issuing")
		t.Fatalf("Certificate istiod not issued: %v: %v", c["reason"], c["message"])
	}
	s, err := m.k8s.client.CoreV1().Secrets(istioNS).Get(context.Background(), "istiod-tls", metav1.GetOptions{})
	must(t, err)
	chain := pemCerts(t, s.Data["tls.crt"])
	if len(chain) == 0 {
		t.Fatalf("istiod-tls holds no certificate: keys %v", keys(s.Data))
	}
	if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
		t.Errorf("istiod-tls: tls.key is not the key of tls.crt: %v", err)
	}
	verifiesForBoth(t, "istiod-tls", chain, m.rootPEM)
	if err := chain[0].VerifyHostname(istiodHost); err != nil {
		t.Errorf("istiod-tls is not for %s: %v", istiodHost, err)
	}
	if !samePEM(string(s.Data["ca.crt"]), m.rootPEM) {
		t.Errorf("istiod-tls ca.crt is not Vault's root:\n%s", s.Data["ca.crt"])
	}
	return s
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// istiodServesIstiodTLS starts the real istiod from the tool's output for
// the istio-discovery chart and checks it is no CA and serves istiod-tls.
func (m *csrMesh) istiodServesIstiodTLS(t *testing.T, tlsSecret *corev1.Secret) {
	t.Helper()
	m.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	pod := m.injectedIstiod(t, m.cfgFile)
	discovery := findContainer(pod.Spec.Containers, "discovery")
	if discovery == nil {
		t.Fatalf("istiod's pod has no discovery container")
	}
	caServer := "unset"
	for _, ev := range discovery.Env {
		if ev.Name == "ENABLE_CA_SERVER" {
			caServer = ev.Value
		}
	}
	if caServer != "false" {
		t.Errorf("discovery's ENABLE_CA_SERVER is %s, want false", caServer)
	}
	for k := range pod.Annotations {
		if strings.HasPrefix(k, "vault.hashicorp.com/") {
			t.Errorf("istiod's pod has the Vault annotation %s: this mode writes none", k)
		}
	}
	// The istiod-tls Secret reaches the discovery container where istiod
	// looks for its serving certificate (./var/run/secrets/istiod/tls, a
	// path relative to its working directory, the container's root).
	if !mountsSecret(pod, discovery, "istiod-tls", "/var/run/secrets/istiod/tls") {
		t.Errorf("discovery does not mount Secret istiod-tls at /var/run/secrets/istiod/tls")
	}

	// istio-csr's part: the root, in istio-ca-root-cert of istiod's
	// namespace, which the chart mounts at /var/run/secrets/istiod/ca.
	_, err := m.k8s.client.CoreV1().ConfigMaps(istioNS).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert"}, Data: map[string]string{"root-cert.pem": m.rootPEM},
	}, metav1.CreateOptions{})
	must(t, err)

	run := m.k8s.runPod(t, pod)
	ir := run.startIstiod(t)
	ir.waitReady(t)
	want := parsePEMCert(t, tlsSecret.Data["tls.crt"])
	for _, port := range []struct{ name, addr string }{
		{"xDS (15012)", ir.secureGRPCAddr},
		{"webhook (15017)", ir.httpsAddr},
	} {
		served := servedChain(t, port.addr, m.rootPEM)
		if len(served) == 0 || !served[0].Equal(want) {
			t.Errorf("istiod's %s port does not serve istiod-tls's certificate", port.name)
			continue
		}
		verifiesForBoth(t, "istiod's "+port.name+" certificate", served, m.rootPEM)
	}
	if log := ir.proc.log.String(); !strings.Contains(log, "adding watcher for certificate ./var/run/secrets/istiod/ca/root-cert.pem") {
		t.Errorf("istiod does not read its CA from istio-ca-root-cert (/var/run/secrets/istiod/ca/root-cert.pem):\n%s", tail(log, 4<<10))
	}

	// No CA: the certificate service is not registered on the secure port.
	sa := serviceAccount{Namespace: "default", Name: "x"}
	csrPEM, _, err := pkiutil.GenCSR(pkiutil.CertOptions{Host: "spiffe://" + csrTrustDomain + "/ns/default/sa/x", RSAKeySize: 2048})
	must(t, err)
	chain, err := ir.sign(t, certPool(t, []byte(m.rootPEM)), m.k8s.token(t, sa, security.TokenAudiences...), csrPEM)
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("istiod's CreateCertificate answered %d certificates, error %v; want Unimplemented (no CA server)", len(chain), err)
	}
}

// mountsSecret reports whether container c mounts, at mountPath, a volume of
// the pod holding Secret name.
func mountsSecret(pod *corev1.Pod, c *corev1.Container, name, mountPath string) bool {
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != mountPath {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == name {
				return true
			}
		}
	}
	return false
}

// servedChain is the certificate chain a TLS server on addr presents to a
// client that dials istiod by its Service name and trusts only Vault's root
// (the handshake fails for any other chain).
func servedChain(t *testing.T, addr, rootPEM string) []*x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{
		RootCAs: certPool(t, []byte(rootPEM)), ServerName: istiodHost, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"},
	})
	if err != nil {
		t.Errorf("TLS to istiod at %s, trusting Vault's root: %v", addr, err)
		return nil
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates
}
