package wiring

import (
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// istioCSR: Vault signs every workload certificate, through cert-manager's
// Vault issuer and istio-csr. istiod renders no files and gets no Vault
// annotation: it stops being a CA, and serves with the istiod-tls
// certificate istio-csr issues it. The one Vault path is the issuer's
// sign request, which the policy grants to the issuer's role.

func init() { planSourceFor(forIstioCSR) }

// Env names of istiod and the proxies in this mode.
const (
	EnvEnableCAServer = "ENABLE_CA_SERVER"
	EnvCAAddr         = "CA_ADDR"
)

// The istiod-tls certificate, mounted where istiod looks for it
// (pilot/pkg/bootstrap hasCustomTLSCerts: ./var/run/secrets/istiod/tls
// and ./var/run/secrets/istiod/ca), as the istiod chart since Istio 1.16
// mounts it, under the chart's volume names.
var istiodTLS = []Volume{
	{Name: "istio-csr-dns-cert", MountPath: "/var/run/secrets/istiod/tls", Secret: "istiod-tls"},
	{Name: "istio-csr-ca-configmap", MountPath: "/var/run/secrets/istiod/ca", ConfigMap: "istio-ca-root-cert"},
}

// istiodTLSArgs name the files for istiods that do not look at those
// paths themselves (before Istio 1.16), as istio-csr's own examples do.
var istiodTLSArgs = []Pair{
	{Name: "--tlsCertFile", Value: "/var/run/secrets/istiod/tls/tls.crt"},
	{Name: "--tlsKeyFile", Value: "/var/run/secrets/istiod/tls/tls.key"},
	{Name: "--caCertFile", Value: "/var/run/secrets/istiod/ca/root-cert.pem"},
}

// The same for an installer whose chart version is not in the stream (a
// TSB ControlPlane): volumes of names and paths of their own, which no
// chart mounts, and the flags that point istiod at them, as istio-csr's
// examples and seed 002 write them.
var overlayTLS = []Volume{
	{Name: "cert-manager-istiod-tls", MountPath: "/etc/cert-manager/tls", Secret: "istiod-tls"},
	{Name: "cert-manager-istio-ca", MountPath: "/etc/cert-manager/ca", ConfigMap: "istio-ca-root-cert"},
}

var overlayTLSArgs = []Pair{
	{Name: "--tlsCertFile", Value: "/etc/cert-manager/tls/tls.crt"},
	{Name: "--tlsKeyFile", Value: "/etc/cert-manager/tls/tls.key"},
	{Name: "--caCertFile", Value: "/etc/cert-manager/ca/root-cert.pem"},
}

// CSR is what a target writes in the istioCSR mode instead of files.
type CSR struct {
	// CAAddress is istio-csr's address: every proxy's CA_ADDR, which the
	// injector takes from its values' global.caAddress.
	CAAddress string
	// TLSVolumes serve istiod with istiod-tls; TLSArgs name their files.
	TLSVolumes []Volume
	TLSArgs    []Pair
	// OverlayVolumes and OverlayArgs are the same for installers.
	OverlayVolumes []Volume
	OverlayArgs    []Pair
	// PKIRole is the PKI role the issuer signs with, as signing needs it.
	PKIRole PKIRole
}

// PKIRole is the body of <mount>/roles/<role>: what a workload's CSR (no
// CN, one SPIFFE URI SAN, an RSA or ECDSA key) and istiod-tls (istiod's
// DNS names) need, in a fixed order.
type PKIRole struct {
	Path   string
	Params []Pair
}

// Names of the PKI role settings signing depends on.
const (
	RoleRequireCN      = "require_cn"
	RoleAllowedURISANs = "allowed_uri_sans"
	RoleKeyType        = "key_type"
	RoleAllowedDomains = "allowed_domains"
	RoleAllowBare      = "allow_bare_domains"
	RoleMaxTTL         = "max_ttl"
)

// pkiRole: istio-agent sends no CN (Vault's default role answers "the
// common_name field is required") and, with ECC_SIGNATURE_ALGORITHM=ECDSA,
// a P-256 key (the default key_type=rsa answers "role requires keys of
// type rsa"); istiod-tls carries istiod's service names, one per
// revision and namespace (istiod.istio-system.svc, istiod-canary...).
func pkiRole(s config.Spec, c *config.IstioCSR) PKIRole {
	var domains []string
	for _, ns := range s.Istiod.Namespaces {
		for _, sa := range (config.Istiod{Revisions: s.Istiod.Revisions}).BoundServiceAccounts() {
			domains = append(domains, sa+"."+ns+".svc")
		}
	}
	return PKIRole{Path: c.PKI.Mount + "/roles/" + c.PKI.Role, Params: []Pair{
		{Name: RoleRequireCN, Value: "false"},
		{Name: RoleAllowedURISANs, Value: "spiffe://" + c.TrustDomain + "/*"},
		{Name: RoleKeyType, Value: "any"},
		{Name: RoleAllowedDomains, Value: strings.Join(domains, ",")},
		{Name: RoleAllowBare, Value: "true"},
		{Name: RoleMaxTTL, Value: c.PKI.MaxTTL},
	}}
}

// Volume is a pod volume from a Secret or a ConfigMap, both optional (the
// pod starts before istio-csr has issued istiod-tls), mounted read-only.
type Volume struct {
	Name, MountPath   string
	Secret, ConfigMap string
}

func forIstioCSR(cfg *config.VaultCA, c *config.IstioCSR) *Plan {
	s := cfg.Spec
	sign := c.PKI.Mount + "/sign/" + c.PKI.Role
	reach := []string{c.PKI.Mount + "/"}
	if c.PKI.RootMount != "" {
		reach = append(reach, c.PKI.RootMount+"/")
	}
	audience := "vault://" + c.Issuer.Namespace + "/" + c.Issuer.Name
	if c.Issuer.Kind == config.ClusterIssuerKind {
		audience = "vault://" + c.Issuer.Name
	}
	return &Plan{
		Container: IstiodContainer,
		// Whoever may sign at the mount mints the mesh's certificates.
		Files: []File{{APIPath: sign, Capability: Update, Reach: reach}},
		Env:   []Pair{{Name: EnvEnableCAServer, Value: "false"}},
		// The Vault role binds the issuer's service account, which
		// cert-manager requests tokens of, never istiod's.
		ServiceAccounts: []string{c.Issuer.ServiceAccount}, Namespaces: []string{c.Issuer.Namespace},
		Override: s.OnConflict == config.ConflictOverride, Role: s.Vault.Role, AuthPath: s.Vault.AuthPath,
		Policy: s.Vault.Policy, VaultNamespace: s.Vault.Namespace, Setting: "spec.source.istioCSR",
		Audience: audience,
		CSR: &CSR{CAAddress: c.Address, TLSVolumes: istiodTLS, TLSArgs: istiodTLSArgs,
			OverlayVolumes: overlayTLS, OverlayArgs: overlayTLSArgs, PKIRole: pkiRole(s, c)},
	}
}
