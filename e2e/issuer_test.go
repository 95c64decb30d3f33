package e2e

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// `istio-vault-ca issuer` prints resources a real API server with
// cert-manager's CRDs (from the cert-manager module e2e/certmanagerbin
// builds) accepts as they are, and whose RBAC lets cert-manager's
// controller request the issuer's service-account token, for that account
// only.
func TestIssuerResourcesAccepted(t *testing.T) {
	cp := startControlPlane(t)
	cp.apply(t, certManagerCRDs(t, certManagerModule(t)), applyOptions{})
	cfg := writeTestConfig(t, strings.Replace(csrVerifyConfig, "MOUNT", "istioca", 1))
	out, stderr, code := tool(t, nil, nil, "issuer", "--config", cfg)
	if code != 0 {
		t.Fatalf("issuer exit %d: %s", code, stderr)
	}
	applied := cp.apply(t, []byte(out), applyOptions{})
	var kinds []string
	for _, o := range applied {
		kinds = append(kinds, o.GetKind())
	}
	if got := strings.Join(kinds, ","); got != "ServiceAccount,Role,RoleBinding,Issuer" {
		t.Fatalf("applied %s, want ServiceAccount,Role,RoleBinding,Issuer", got)
	}
	iss, err := cp.dyn.Resource(gvrIssuer).Namespace("istio-system").Get(context.Background(), "istio-ca", metav1.GetOptions{})
	must(t, err)
	for _, f := range []struct {
		path []string
		want string
	}{
		{[]string{"spec", "vault", "server"}, "https://vault.example.com:8200"},
		{[]string{"spec", "vault", "path"}, "istioca/sign/istio-cluster1"},
		{[]string{"spec", "vault", "auth", "kubernetes", "role"}, "istio-csr"},
		{[]string{"spec", "vault", "auth", "kubernetes", "mountPath"}, "/v1/auth/kubernetes-cluster1"},
		{[]string{"spec", "vault", "auth", "kubernetes", "serviceAccountRef", "name"}, "istio-ca-vault"},
	} {
		if got, _, _ := unstructured.NestedString(iss.Object, f.path...); got != f.want {
			t.Errorf("stored Issuer %s = %q, want %q", strings.Join(f.path, "."), got, f.want)
		}
	}

	// A ClusterIssuer with a caBundle (spec.vault.caCert, a PEM file)
	// is accepted too.
	ca, _ := selfSignedCA(t, "e2e Vault TLS CA")
	caFile := filepath.Join(t.TempDir(), "vault-ca.pem")
	must(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644))
	cluster := writeTestConfig(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: mesh}
spec:
  vault: {address: https://vault.example.com:8200, role: istio-csr, caCert: `+caFile+`}
  source:
    istioCSR:
      pki: {mount: istioca, role: istio}
      issuer: {kind: ClusterIssuer, name: vault-mesh-ca}
`)
	out, stderr, code = tool(t, nil, nil, "issuer", "--config", cluster)
	if code != 0 {
		t.Fatalf("issuer (ClusterIssuer) exit %d: %s", code, stderr)
	}
	cp.apply(t, []byte(out), applyOptions{})
	gvrClusterIssuer := schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	ci, err := cp.dyn.Resource(gvrClusterIssuer).Get(context.Background(), "vault-mesh-ca", metav1.GetOptions{})
	must(t, err)
	if b, _, _ := unstructured.NestedString(ci.Object, "spec", "vault", "caBundle"); b == "" {
		t.Errorf("stored ClusterIssuer has no caBundle")
	}

	// cert-manager's controller, as its chart names it, with nothing but
	// the printed Role: the token of the issuer's account, and no other.
	cm := serviceAccount{Namespace: "cert-manager", Name: "cert-manager"}
	asCM := rest.CopyConfig(cp.rest)
	asCM.BearerToken = cp.token(t, cm)
	client, err := kubernetes.NewForConfig(asCM)
	must(t, err)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"vault://istio-system/istio-ca"}}}
	tok, err := client.CoreV1().ServiceAccounts("istio-system").CreateToken(context.Background(), "istio-ca-vault", req, metav1.CreateOptions{})
	if err != nil || tok.Status.Token == "" {
		t.Fatalf("cert-manager could not request the issuer's token: %v", err)
	}
	cp.ensureServiceAccount(t, serviceAccount{Namespace: "istio-system", Name: "istiod"})
	if _, err := client.CoreV1().ServiceAccounts("istio-system").CreateToken(context.Background(), "istiod", req, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("cert-manager requested istiod's token: got %v, want forbidden (the Role names the issuer's account only)", err)
	}
}
