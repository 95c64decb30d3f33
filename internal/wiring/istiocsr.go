package wiring

import (
	"net"
	"slices"
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

// istiodTLS is the istiod-tls certificate (Secret istiod-tls) and the
// root istiod publishes (ConfigMap istio-ca-root-cert) as volumes of those
// names mounted in those directories, and the flags that name the files
// in them (tls.crt, tls.key, root-cert.pem).
func istiodTLS(tlsName, tlsDir, caName, caDir string) ([]Volume, []Pair) {
	return []Volume{
			{Name: tlsName, MountPath: tlsDir, Secret: "istiod-tls"},
			{Name: caName, MountPath: caDir, ConfigMap: "istio-ca-root-cert"},
		}, []Pair{
			{Name: "--tlsCertFile", Value: tlsDir + "/tls.crt"},
			{Name: "--tlsKeyFile", Value: tlsDir + "/tls.key"},
			{Name: "--caCertFile", Value: caDir + "/root-cert.pem"},
		}
}

// chartTLS is where istiod looks for istiod-tls itself (pilot/pkg/bootstrap
// hasCustomTLSCerts: ./var/run/secrets/istiod/tls and
// ./var/run/secrets/istiod/ca), under the names the istiod chart since
// Istio 1.16 mounts them with; its flags are for istiods that do not look
// there (before 1.16), as istio-csr's own examples set them.
func chartTLS() ([]Volume, []Pair) {
	return istiodTLS("istio-csr-dns-cert", "/var/run/secrets/istiod/tls", "istio-csr-ca-configmap", "/var/run/secrets/istiod/ca")
}

// overlayTLS is the same for an installer whose chart version is not in
// the stream (a TSB ControlPlane): names and directories no chart mounts,
// as istio-csr's examples and seed 002 write them, and the flags.
func overlayTLS() ([]Volume, []Pair) {
	return istiodTLS("cert-manager-istiod-tls", "/etc/cert-manager/tls", "cert-manager-istio-ca", "/etc/cert-manager/ca")
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
// revision and namespace (istiod.istio-system.svc, istiod-canary...), and
// istio-csr's serving certificate its service's.
func pkiRole(s config.Spec, c *config.IstioCSR) PKIRole {
	var domains []string
	for _, ns := range s.Istiod.Namespaces {
		for _, sa := range (config.Istiod{Revisions: s.Istiod.Revisions}).BoundServiceAccounts() {
			domains = append(domains, sa+"."+ns+".svc")
		}
	}
	// istio-csr's own serving certificate is signed through the same
	// issuer, for its service's name (its chart's
	// app.tls.certificateDNSNames, the host of address).
	if host, _, err := net.SplitHostPort(c.Address); err == nil && !slices.Contains(domains, host) {
		domains = append(domains, host)
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
	csr := &CSR{CAAddress: c.Address, PKIRole: pkiRole(s, c)}
	csr.TLSVolumes, csr.TLSArgs = chartTLS()
	csr.OverlayVolumes, csr.OverlayArgs = overlayTLS()
	return &Plan{
		Container: IstiodContainer,
		// Whoever may sign at the mount mints the mesh's certificates.
		Files: []File{{SecretRead: SecretRead{APIPath: sign, Capability: Update, Reach: reach}}},
		Env:   []Pair{{Name: EnvEnableCAServer, Value: "false"}},
		// The Vault role binds the issuer's service account, which
		// cert-manager requests tokens of, never istiod's.
		ServiceAccounts: []string{c.Issuer.ServiceAccount}, Namespaces: []string{c.Issuer.Namespace},
		Override: s.OnConflict == config.ConflictOverride, Role: s.Vault.Role, AuthPath: s.Vault.AuthPath,
		Policy: s.Vault.Policy, VaultNamespace: s.Vault.Namespace, Setting: "spec.source.istioCSR",
		Audience: audience,
		CSR:      csr,
	}
}
