// Package issuer builds the cert-manager side of the istioCSR mode: the
// Vault Issuer that istio-csr's CertificateRequests go to, the service
// account it logs in to Vault as, the RBAC that lets cert-manager request
// that account's tokens, and the istio-csr Helm values that match. There
// is no AppRole secret-id and no Secret: cert-manager logs in with a
// short-lived token of the issuer's service account (TokenRequest).
package issuer

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// Group is cert-manager's API group.
const Group = "cert-manager.io"

// RootCAFile is where istio-csr reads the mesh's root when the signing
// mount is an intermediate, from the ConfigMap RootCAConfigMap.
const (
	RootCAFile      = "/var/run/secrets/istio-csr/root-cert.pem"
	RootCAConfigMap = "istio-csr-root-ca"
	rootCAKey       = "root-cert.pem"
)

type meta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   meta   `json:"metadata"`
	Rules      []rule `json:"rules,omitempty"`
	RoleRef    *ref   `json:"roleRef,omitempty"`
	Subjects   []ref  `json:"subjects,omitempty"`
	Spec       *spec  `json:"spec,omitempty"`
}

type rule struct {
	APIGroups     []string `json:"apiGroups"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames"`
	Verbs         []string `json:"verbs"`
}

type ref struct {
	APIGroup  string `json:"apiGroup,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type spec struct {
	Vault vault `json:"vault"`
}

type vault struct {
	Server    string `json:"server"`
	Path      string `json:"path"`
	Namespace string `json:"namespace,omitempty"`
	CABundle  []byte `json:"caBundle,omitempty"`
	Auth      auth   `json:"auth"`
}

type auth struct {
	Kubernetes kubernetesAuth `json:"kubernetes"`
}

type kubernetesAuth struct {
	Role              string `json:"role"`
	MountPath         string `json:"mountPath"`
	ServiceAccountRef meta   `json:"serviceAccountRef"`
}

// Resources are the ServiceAccount, Role, RoleBinding and Issuer of a
// loaded istioCSR config, as one YAML stream. readFile reads
// spec.vault.caCert, the PEM of the CA of Vault's certificate.
func Resources(cfg *config.VaultCA, readFile func(string) ([]byte, error)) ([]byte, error) {
	s := cfg.Spec
	c := s.Source.IstioCSR
	if c == nil {
		return nil, errors.New("`spec.source` does not set istioCSR: the issuer is what that mode needs")
	}
	ns := c.Issuer.Namespace
	token := c.Issuer.Name + "-token"
	issuerMeta := meta{Name: c.Issuer.Name, Namespace: ns}
	if c.Issuer.Kind == config.ClusterIssuerKind {
		issuerMeta.Namespace = ""
	}
	v := vault{Server: s.Vault.Address, Path: c.PKI.Mount + "/sign/" + c.PKI.Role, Namespace: s.Vault.Namespace,
		Auth: auth{Kubernetes: kubernetesAuth{Role: s.Vault.Role, MountPath: "/v1/" + s.Vault.AuthPath,
			ServiceAccountRef: meta{Name: c.Issuer.ServiceAccount}}}}
	if s.Vault.CACert != "" {
		b, err := readFile(s.Vault.CACert)
		if err != nil {
			return nil, cfg.FieldError("spec.vault.caCert", "reading the CA of Vault's certificate for the issuer's caBundle: %v", err)
		}
		if err := checkCertificates(b); err != nil {
			return nil, cfg.FieldError("spec.vault.caCert", "(%s): %v", s.Vault.CACert, err)
		}
		v.CABundle = b
	}
	objs := []object{
		{APIVersion: "v1", Kind: "ServiceAccount", Metadata: meta{Name: c.Issuer.ServiceAccount, Namespace: ns}},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role", Metadata: meta{Name: token, Namespace: ns},
			Rules: []rule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{c.Issuer.ServiceAccount}, Verbs: []string{"create"}}}},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding", Metadata: meta{Name: token, Namespace: ns},
			RoleRef:  &ref{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: token},
			Subjects: []ref{{Kind: "ServiceAccount", Name: c.CertManager.Name, Namespace: c.CertManager.Namespace}}},
		{APIVersion: Group + "/v1", Kind: c.Issuer.Kind, Metadata: issuerMeta, Spec: &spec{Vault: v}},
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# Written by istio-vault-ca for VaultCA %q: cert-manager's Vault issuer for istio-csr.\n", cfg.Metadata.Name)
	for i, o := range objs {
		b, err := sigsyaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// checkCertificates: b is PEM holding certificates only, at least one.
func checkCertificates(b []byte) error {
	n := 0
	for rest := bytes.TrimSpace(b); len(rest) > 0; rest = bytes.TrimSpace(rest) {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return errors.New("is not PEM: give the file holding the PEM certificate of the CA that signed Vault's TLS certificate")
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a %s block: only certificates go into a caBundle", blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("holds a certificate that does not parse: %v", err)
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no certificate")
	}
	return nil
}

// Values are the istio-csr Helm values that match the issuer.
func Values(cfg *config.VaultCA) ([]byte, error) {
	s := cfg.Spec
	c := s.Source.IstioCSR
	if c == nil {
		return nil, errors.New("`spec.source` does not set istioCSR: istio-csr's values are for that mode")
	}
	clusterID := s.Cluster
	if clusterID == "" {
		clusterID = "Kubernetes" // istiod's default CLUSTER_ID
	}
	tls := map[string]any{"trustDomain": c.TrustDomain}
	// istio-csr creates its CertificateRequests here: an Issuer is found
	// only in its own namespace; for a ClusterIssuer, istiod's.
	crNamespace := c.Issuer.Namespace
	if c.Issuer.Kind == config.ClusterIssuerKind {
		crNamespace = s.Istiod.Namespaces[0]
	}
	app := map[string]any{
		"certmanager": map[string]any{
			"namespace": crNamespace,
			"issuer":    map[string]any{"name": c.Issuer.Name, "kind": c.Issuer.Kind, "group": Group},
		},
		"tls":    tls,
		"server": map[string]any{"clusterID": clusterID},
		"istio":  map[string]any{"revisions": s.Istiod.Revisions, "namespace": s.Istiod.Namespaces[0]},
	}
	values := map[string]any{"app": app}
	var head strings.Builder
	fmt.Fprintf(&head, "# Written by istio-vault-ca for VaultCA %q: istio-csr's Helm values for the issuer %s %s.\n", cfg.Metadata.Name, c.Issuer.Kind, c.Issuer.Name)
	if c.PKI.RootMount != "" {
		// The mount is an intermediate: without the root, istio-csr
		// would hand proxies the intermediate as their trust anchor
		// (istio-csr#105).
		tls["rootCAFile"] = RootCAFile
		values["volumes"] = []any{map[string]any{"name": "root-ca", "configMap": map[string]any{"name": RootCAConfigMap}}}
		values["volumeMounts"] = []any{map[string]any{"name": "root-ca", "mountPath": strings.TrimSuffix(RootCAFile, "/"+rootCAKey), "readOnly": true}}
		fmt.Fprintf(&head, "# %s is an intermediate: give istio-csr the root of %s first:\n", c.PKI.Mount, c.PKI.RootMount)
		fmt.Fprintf(&head, "#   vault read -field=certificate %s/cert/ca > %s\n", c.PKI.RootMount, rootCAKey)
		fmt.Fprintf(&head, "#   kubectl -n %s create configmap %s --from-file=%s\n", c.CertManager.Namespace, RootCAConfigMap, rootCAKey)
	}
	b, err := sigsyaml.Marshal(values)
	if err != nil {
		return nil, err
	}
	return append([]byte(head.String()), b...), nil
}
