package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// cert-manager's own controllers for a Vault Issuer, as a process
// (e2e/certmanagerbin, built from the cert-manager module by `make
// controlplane`): the issuers controller checks the Issuer against Vault
// (its Setup logs in with Kubernetes auth), the approver approves each
// CertificateRequest as cert-manager does with no policy engine installed,
// and the Vault CertificateRequest controller has Vault sign it. istio-csr
// is not run (its module is not served): the test creates the
// CertificateRequest from the workload's CSR, as istio-csr would.

var (
	gvrIssuer = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	gvrCR     = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}
)

// certManagerModule is the directory of the cert-manager module that
// e2e/certmanagerbin requires: its CRDs and chart are the same version as
// the controllers the process runs.
func certManagerModule(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager")
	cmd.Dir = "certmanagerbin"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list the cert-manager module in e2e/certmanagerbin: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// certManagerCRDs is deploy/crds of the module: the cert-manager.io and
// acme.cert-manager.io CustomResourceDefinitions.
func certManagerCRDs(t testing.TB, module string) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(module, "deploy", "crds", "*.yaml"))
	must(t, err)
	if len(files) == 0 {
		t.Fatalf("no CRDs in %s/deploy/crds", module)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		all = append(append(all, "\n---\n"...), b...)
	}
	return all
}

// certManagerRBAC is the controller's ServiceAccount (cert-manager in
// namespace cert-manager) and its RBAC, rendered from the module's own
// chart: the permissions the controller has in a Helm install, no more.
func certManagerRBAC(t *testing.T, module string) []byte {
	t.Helper()
	out, err := exec.Command(checkedTool(t, "HELM3_BIN"), "template", "cert-manager",
		filepath.Join(module, "deploy", "charts", "cert-manager"), "-n", "cert-manager",
		"--kube-version", "1.36.0", // the chart requires >= 1.22; helm template assumes 1.20
		"--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("helm template cert-manager's chart: %v\n%s", err, out)
	}
	return out
}

// certManager is the controllers' process, watching one namespace.
type certManager struct {
	proc *process
}

// startCertManager installs cert-manager's CRDs and the chart's RBAC and
// starts the controllers with a kubeconfig holding a token of the chart's
// ServiceAccount, for namespace ns.
func (cp *controlPlane) startCertManager(t *testing.T, ns string) *certManager {
	t.Helper()
	bin := builtTool(t, "CERT_MANAGER_BIN")
	module := certManagerModule(t)
	cp.apply(t, certManagerCRDs(t, module), applyOptions{})
	cp.apply(t, certManagerRBAC(t, module), applyOptions{})
	dir := t.TempDir()
	kubeconfig := cp.kubeconfig(t, dir, cp.token(t, serviceAccount{Namespace: "cert-manager", Name: "cert-manager"}))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig="+kubeconfig, "--namespace="+ns, "-v=2")
	return &certManager{proc: startProcess(t, "cert-manager", cmd, cancel)}
}

// waitCondition polls a cert-manager object until done accepts its status
// condition of type typ, and returns the object and that condition; a
// condition one of or accepts ends the wait as well (and is returned). The deadline only bounds a test
// that would otherwise hang: cert-manager retries a failing Issuer, so a
// wrong setup shows as no final condition.
func (cm *certManager) waitCondition(t *testing.T, cp *controlPlane, gvr schema.GroupVersionResource, ns, name, typ string, done func(map[string]any) bool, or ...conditionDone) (*unstructured.Unstructured, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last *unstructured.Unstructured
	for time.Now().Before(deadline) {
		if err := cm.proc.running(); err != nil {
			t.Fatal(err)
		}
		o, err := cp.dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		must(t, err)
		last = o
		if c := condition(o, typ); c != nil && done(c) {
			return o, c
		}
		for _, d := range or {
			if c := condition(o, d.typ); c != nil && d.done(c) {
				return o, c
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	st, _ := json.Marshal(last.Object["status"])
	t.Fatalf("%s %s/%s: no final %s condition after 90s; status: %s", gvr.Resource, ns, name, typ, st)
	return nil, nil
}

// conditionDone is a condition type and what ends a wait on it.
type conditionDone struct {
	typ  string
	done func(map[string]any) bool
}

func condition(o *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

// istioCSRVault is a Vault set up for cert-manager's Vault issuer in the
// shape issue 19 describes: a PKI root mount with the roles named in roles,
// a policy that may sign with each, and a Kubernetes auth mount on the
// control plane whose role binds the Issuer's ServiceAccount with the
// audience cert-manager requests. It returns the root's PEM.
// (The tool's `policy --output commands` for this mode does not exist yet:
// until it does, the test writes the configuration itself.)
func istioCSRVault(t *testing.T, v *vaultServer, cp *controlPlane, mount, authPath, authRole string, issuerSA serviceAccount, issuerName string, roles map[string]map[string]any) string {
	t.Helper()
	must(t, v.client.Sys().Mount(mount, &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	root, err := v.client.Logical().Write(mount+"/root/generate/internal", map[string]any{
		"common_name": "e2e Vault mesh root", "ttl": "87600h", "key_type": "ec", "key_bits": 256,
	})
	must(t, err)
	rootPEM, _ := root.Data["certificate"].(string)
	var policy strings.Builder
	for name, cfg := range roles {
		_, err := v.client.Logical().Write(mount+"/roles/"+name, cfg)
		must(t, err)
		fmt.Fprintf(&policy, "path %q { capabilities = [\"update\"] }\n", mount+"/sign/"+name)
	}
	must(t, v.client.Sys().PutPolicy("istio-csr-sign", policy.String()))

	must(t, v.client.Sys().EnableAuthWithOptions(authPath, &api.EnableAuthOptions{Type: "kubernetes"}))
	_, err = v.client.Logical().Write("auth/"+authPath+"/config", cp.vaultAuthConfig())
	must(t, err)
	_, err = v.client.Logical().Write("auth/"+authPath+"/role/"+authRole, map[string]any{
		"bound_service_account_names":      issuerSA.Name,
		"bound_service_account_namespaces": issuerSA.Namespace,
		// cert-manager requests the token for vault://<namespace>/<issuer>
		// (internal/vault/vault.go, requestTokenWithKubernetesAuth).
		"audience":       "vault://" + issuerSA.Namespace + "/" + issuerName,
		"token_policies": "istio-csr-sign",
		"token_ttl":      "10m",
	})
	must(t, err)
	return rootPEM
}

// spiffeRole is a PKI role that signs what istio-agent sends: no CN, a
// SPIFFE URI SAN, any key type (ECDSA P-256 with
// ECC_SIGNATURE_ALGORITHM=ECDSA, RSA otherwise).
func spiffeRole(trustDomain string) map[string]any {
	return map[string]any{
		"require_cn":         false,
		"allowed_uri_sans":   "spiffe://" + trustDomain + "/*",
		"key_type":           "any",
		"allowed_domains":    "istiod.istio-system.svc",
		"allow_bare_domains": true,
		"max_ttl":            "24h",
	}
}

// vaultIssuer is cert-manager's Issuer of type Vault that issue 19's
// `issuer` command is to print, with the Role and RoleBinding that let
// cert-manager's ServiceAccount request tokens for the Issuer's.
func vaultIssuer(name string, sa serviceAccount, vaultAddr, signPath, authPath, authRole string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: %[2]s, namespace: %[3]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: %[1]s-token, namespace: %[3]s}
rules:
- apiGroups: [""]
  resources: [serviceaccounts/token]
  resourceNames: [%[2]s]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %[1]s-token, namespace: %[3]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: %[1]s-token}
subjects:
- {kind: ServiceAccount, name: cert-manager, namespace: cert-manager}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: %[1]s, namespace: %[3]s}
spec:
  vault:
    server: %[4]s
    path: %[5]s
    auth:
      kubernetes:
        role: %[7]s
        mountPath: /v1/auth/%[6]s
        serviceAccountRef: {name: %[2]s}
`, name, sa.Name, sa.Namespace, vaultAddr, signPath, authPath, authRole)
}

// createCertificateRequest creates the CertificateRequest istio-csr
// creates for a workload's CSR (pkg/certmanager, Sign): named istio-csr-*,
// annotated with the caller's identities (its SPIFFE IDs, comma-separated),
// for client and server auth, not a CA, for the duration asked (capped at
// istio-csr's maximum, 1h by default). It returns its name.
func createCertificateRequest(t *testing.T, cp *controlPlane, ns, issuer, identities string, csrPEM []byte) string {
	t.Helper()
	cr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
		"metadata": map[string]any{"generateName": "istio-csr-", "namespace": ns,
			"annotations": map[string]any{"istio.cert-manager.io/identities": identities}},
		"spec": map[string]any{
			"request":   base64.StdEncoding.EncodeToString(csrPEM),
			"duration":  "1h",
			"isCA":      false,
			"usages":    []any{"client auth", "server auth"},
			"issuerRef": map[string]any{"name": issuer, "kind": "Issuer", "group": "cert-manager.io"},
		},
	}}
	got, err := cp.dyn.Resource(gvrCR).Namespace(ns).Create(context.Background(), cr, metav1.CreateOptions{})
	must(t, err)
	return got.GetName()
}

// statusPEM is a []byte field of a CertificateRequest's status (base64 in
// JSON).
func statusPEM(t *testing.T, o *unstructured.Unstructured, field string) []byte {
	t.Helper()
	s, _, _ := unstructured.NestedString(o.Object, "status", field)
	b, err := base64.StdEncoding.DecodeString(s)
	must(t, err)
	return b
}

// vaultLogins reads Vault's file audit log for successful logins at
// auth/<authPath>/login and returns each login's auth metadata.
func vaultLogins(t *testing.T, auditFile, authPath string) []map[string]any {
	t.Helper()
	f, err := os.Open(auditFile)
	must(t, err)
	defer f.Close()
	var logins []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Type    string `json:"type"`
			Error   string `json:"error"`
			Request struct {
				Path string `json:"path"`
			} `json:"request"`
			Auth struct {
				Metadata map[string]any `json:"metadata"`
			} `json:"auth"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.Type == "response" && e.Error == "" && e.Request.Path == "auth/"+authPath+"/login" {
			logins = append(logins, e.Auth.Metadata)
		}
	}
	must(t, sc.Err())
	return logins
}

// TestCertManagerVaultIssuerSignsSPIFFECSR: cert-manager's Vault issuer
// code, against the real API server and the real Vault, signs a workload's
// CSR as istio-agent sends it (a SPIFFE URI SAN, no CN) through a
// CertificateRequest, logging in to Vault with a token it requested for the
// Issuer's ServiceAccount (reviewed by Vault with the API server's
// TokenReview). A role with require_cn=true, or without URI SANs, makes
// cert-manager report Vault's refusal on the CertificateRequest.
func TestCertManagerVaultIssuerSignsSPIFFECSR(t *testing.T) {
	cp := startControlPlane(t)
	v := startVault(t)
	audit := filepath.Join(t.TempDir(), "audit.log")
	must(t, v.client.Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": audit}}))

	const (
		ns, mount, authPath, authRole = "istio-system", "istioca", "kubernetes-cluster1", "istio-csr"
		issuer                        = "vault-istio-ca"
	)
	roles := map[string]map[string]any{"istio-cluster1": spiffeRole("cluster.local")}
	for _, bad := range badRoles {
		roles[bad.role] = spiffeRole("cluster.local")
		for k, v := range bad.edit {
			roles[bad.role][k] = v
		}
	}
	sa := serviceAccount{Namespace: ns, Name: "vault-issuer"}
	rootPEM := istioCSRVault(t, v, cp, mount, authPath, authRole, sa, issuer, roles)
	cp.ensureNamespace(t, ns)
	cm := cp.startCertManager(t, ns)
	cp.apply(t, []byte(vaultIssuer(issuer, sa, v.addr, mount+"/sign/istio-cluster1", authPath, authRole)), applyOptions{})

	// The issuers controller logs in to Vault before it sets Ready.
	_, ready := cm.waitCondition(t, cp, gvrIssuer, ns, issuer, "Ready", func(c map[string]any) bool { return c["status"] == "True" })
	if ready["reason"] != "VaultVerified" {
		t.Errorf("Issuer Ready for reason %v (%v), want VaultVerified", ready["reason"], ready["message"])
	}
	logins := vaultLogins(t, audit, authPath)
	if len(logins) == 0 {
		t.Fatalf("Vault's audit log has no login at auth/%s/login", authPath)
	}
	for _, m := range logins {
		if m["service_account_name"] != sa.Name || m["service_account_namespace"] != sa.Namespace || m["role"] != authRole {
			t.Errorf("a login at auth/%s/login as %v, want ServiceAccount %s/%s with role %s", authPath, m, sa.Namespace, sa.Name, authRole)
		}
	}

	// The workload's CSR, as istio-agent sends it.
	spiffe := "spiffe://cluster.local/ns/e2e-workload/sa/workload"
	name := createCertificateRequest(t, cp, ns, issuer, spiffe, workloadCSR(t, spiffe))
	approved, _ := cm.waitCondition(t, cp, gvrCR, ns, name, "Approved", func(c map[string]any) bool { return c["status"] == "True" })
	if c := condition(approved, "Approved"); c["reason"] != "cert-manager.io" {
		t.Errorf("CertificateRequest approved for reason %v, want cert-manager.io (cert-manager's approver)", c["reason"])
	}
	signed, c := cm.waitCondition(t, cp, gvrCR, ns, name, "Ready", func(c map[string]any) bool {
		return c["status"] == "True" || c["reason"] == "Failed"
	})
	if c["status"] != "True" || c["reason"] != "Issued" {
		t.Fatalf("CertificateRequest %s not issued: %v: %v", name, c["reason"], c["message"])
	}
	leaf := parsePEMCert(t, statusPEM(t, signed, "certificate"))
	if got := strings.TrimSpace(string(statusPEM(t, signed, "ca"))); got != strings.TrimSpace(rootPEM) {
		t.Errorf("status.ca is not Vault's root:\n%s", got)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: certPool(t, []byte(rootPEM)), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the workload certificate does not verify to Vault's root: %v", err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != spiffe {
		t.Errorf("the workload certificate has URI SANs %v, want [%s]", leaf.URIs, spiffe)
	}
	if leaf.Subject.CommonName != "" || len(leaf.DNSNames) != 0 {
		t.Errorf("the workload certificate has CN %q and DNS names %v, want neither (the CSR had none)", leaf.Subject.CommonName, leaf.DNSNames)
	}

	// Negative: PKI roles that refuse what istio-agent sends, and the
	// failure cert-manager reports on the CertificateRequest (Vault's own
	// words, which `verify` is to anticipate). Each Issuer has a
	// ServiceAccount and a Kubernetes-auth role of its own, as the audience
	// names the Issuer.
	for _, bad := range badRoles {
		iss := "vault-" + bad.role
		badSA := serviceAccount{Namespace: ns, Name: iss}
		_, err := v.client.Logical().Write("auth/"+authPath+"/role/"+bad.role, map[string]any{
			"bound_service_account_names": badSA.Name, "bound_service_account_namespaces": ns,
			"audience": "vault://" + ns + "/" + iss, "token_policies": "istio-csr-sign",
		})
		must(t, err)
		cp.apply(t, []byte(vaultIssuer(iss, badSA, v.addr, mount+"/sign/"+bad.role, authPath, bad.role)), applyOptions{})
		cm.waitCondition(t, cp, gvrIssuer, ns, iss, "Ready", func(c map[string]any) bool { return c["status"] == "True" })
		name := createCertificateRequest(t, cp, ns, iss, spiffe, workloadCSR(t, spiffe))
		failed, c := cm.waitCondition(t, cp, gvrCR, ns, name, "Ready", func(c map[string]any) bool {
			return c["status"] == "True" || c["reason"] == "Failed"
		})
		msg, _ := c["message"].(string)
		if c["reason"] != "Failed" || !strings.HasPrefix(msg, "Vault failed to sign certificate") || !strings.Contains(msg, bad.want) {
			t.Errorf("with role %s the CertificateRequest is Ready=%v %v: %q, want Failed with Vault's %q", bad.role, c["status"], c["reason"], msg, bad.want)
		}
		if s, _, _ := unstructured.NestedString(failed.Object, "status", "certificate"); s != "" {
			t.Errorf("the CertificateRequest role %s refused has a certificate", bad.role)
		}
		t.Logf("cert-manager reports, for role %s: %s: %s", bad.role, c["reason"], msg)
	}
}

// badRoles are PKI roles on which signing a workload's CSR fails (issue
// 19), the words of Vault's refusal (builtin/logical/pki/issuing), and the
// words `verify` names the setting with.
var badRoles = []struct {
	role   string
	edit   map[string]any // over spiffeRole
	want   string
	verify string
}{
	{"require-cn", map[string]any{"require_cn": true}, "the common_name field is required", "require_cn is true"},
	{"no-uri-sans", map[string]any{"allowed_uri_sans": ""}, "URI Subject Alternative Names are not allowed in this role", "allowed_uri_sans is empty"},
}
