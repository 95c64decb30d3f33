// Package config holds the VaultCA resource: the one declarative file every
// front end reads. It owns defaulting, validation and the error messages that
// name the offending field; nothing here knows about manifests.
package config

import yaml "go.yaml.in/yaml/v3"

// APIVersion and Kind identify a VaultCA resource (a KRM functionConfig too).
const (
	APIVersion = "istio-vault-ca.dev/v1alpha1"
	Kind       = "VaultCA"
)

// VaultCA is the whole configuration of the tool.
type VaultCA struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// warnings are what Load found risky but valid, located in the file.
	warnings Errors
	// file and root are where Load read the config, so that a later
	// check of a field (a file it names, one that needs the plans) can
	// say file:line too.
	file string
	root *yaml.Node
	// values are the tagged values, found once by Load for the expansion
	// and the checks: every value is changed in place, so the pointers
	// stay good.
	values []templateValue
}

// Metadata is the part of ObjectMeta a config file needs.
type Metadata struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// FileLayout names the set of files istiod finds in ROOT_CA_DIR.
type FileLayout string

const (
	// LayoutIstio is istiod's own format: ca-key.pem, ca-cert.pem, cert-chain.pem, root-cert.pem.
	LayoutIstio FileLayout = "istio"
	// LayoutKubernetesTLS is the kubernetes.io/tls format istiod also accepts: tls.key, tls.crt, ca.crt.
	LayoutKubernetesTLS FileLayout = "kubernetes-tls"
)

// Spec is what the user configures.
type Spec struct {
	// Cluster is substituted for {{ .Cluster }} in paths, role and auth path.
	Cluster string `json:"cluster,omitempty"`
	Vault   Vault  `json:"vault"`
	// SecretVolumePath is istiod's directory for the CA: the agent renders the
	// files into SecretVolumePath/injected, the guard volume is mounted here,
	// and ROOT_CA_DIR is SecretVolumePath/$(VAULT_AGENT_INJECT_STATUS).
	SecretVolumePath string `json:"secretVolumePath,omitempty"`
	// FileLayout selects the file names istiod reads.
	FileLayout FileLayout `json:"fileLayout,omitempty"`
	// Rotation keeps the agent running as a sidecar so new material in Vault is re-rendered.
	Rotation bool   `json:"rotation,omitempty"`
	Agent    Agent  `json:"agent"`
	Source   Source `json:"source"`
	Istiod   Istiod `json:"istiod"`
	// OnConflict decides what happens when an installer input (IstioOperator,
	// ControlPlane) already sets one of the values with another value.
	OnConflict OnConflict `json:"onConflict,omitempty"`
	// Gateways get TLS certificates rendered from Vault into a memory volume
	// their proxy reads, with no Kubernetes Secret in between.
	Gateways []Gateway `json:"gateways,omitempty"`
	// RootRotation adds roots to the one istiod publishes, to change the
	// root without breaking the mesh.
	RootRotation *RootRotation `json:"rootRotation,omitempty"`
}

// RootRotation makes istiod's root file (root-cert.pem, or ca.crt in the
// kubernetes-tls layout) the source's own root followed by ExtraRoots, the
// roots being added or retired, each PEM once. Workloads then trust
// certificates under any of them, and istiod (from Istio 1.20, with
// ISTIO_MULTIROOT_MESH=true, which the plan sets) takes the new bundle
// while it runs, as long as the old and new bundles are a subset or
// superset of each other. The chain file stays the source's own.
type RootRotation struct {
	ExtraRoots []ExtraRoot `json:"extraRoots,omitempty"`
	// Next is the CA to rotate to, in spec.source's shape (kv, pki or
	// mint): `rotate-plan --config FILE` ends with it as spec.source when
	// no --next is given. The transform only checks it; nothing reads it
	// until the rotation's steps are applied.
	Next *Source `json:"next,omitempty"`
}

// ExtraRoot is one more root certificate, read only, from exactly one of
// KV (a field of a secret) or PKI (a mount's CA certificate, <mount>/cert/ca, or
// one issuer's).
type ExtraRoot struct {
	KV  *RootKV  `json:"kv,omitempty" vault:"source"`
	PKI *RootPKI `json:"pki,omitempty" vault:"source"`
}

// RootKV reads a root certificate from one field of a KV secret.
type RootKV struct {
	KVSecret
	// Field defaults to the layout's root field (root_cert, or ca.crt for
	// kubernetes-tls), so a CA bundle stored the way source.kv reads one
	// can give its root as it is.
	Field string `json:"field,omitempty" vault:"template"`
}

// RootPKI reads the CA certificate of a PKI mount: a root mount's own root,
// the mount's default issuer's (<mount>/cert/ca) or, with Issuer, that
// issuer's (<mount>/issuer/<issuer>/json): since Vault 1.11 a mount holds
// several, and a new root is often a second issuer of the same mount.
type RootPKI struct {
	Mount  string `json:"mount" vault:"template,expand,name"`
	Issuer string `json:"issuer,omitempty" vault:"template,expand,name"`
}

// Path is the Vault path the extra root is read from.
func (pki *RootPKI) Path() string {
	if pki.Issuer == "" {
		return pki.Mount + "/cert/ca"
	}
	return pki.Mount + "/issuer/" + pki.Issuer + "/json"
}

// Gateway selects gateway workloads and says which certificates they get.
type Gateway struct {
	// Selector matches the pod template labels the gateway charts set
	// (e.g. istio: ingressgateway); every pair must match.
	Selector map[string]string `json:"selector"`
	// Role is the Kubernetes-auth role of the gateway's service account;
	// default: the gateway's first service account's name. It must never be
	// istiod's role: a gateway pod's token would then read istiod's CA key.
	Role string `json:"role,omitempty" vault:"template,expand,name"`
	// Policy is the name of the Vault policy the gateway's role gets, holding
	// only the gateway's paths; default <role>-certs, with -<cluster> when
	// spec.cluster is set (policies are global to a Vault, roles are per
	// auth mount).
	Policy string `json:"policy,omitempty" vault:"template,expand,name"`
	// AuthPath defaults to spec.vault.authPath.
	AuthPath string `json:"authPath,omitempty" vault:"template,expand,name"`
	// MountPath is where the proxy reads the files.
	MountPath string `json:"mountPath"`
	// Container is the proxy container; default istio-proxy.
	Container string `json:"container,omitempty"`
	// Rotation re-renders KV certificates while the gateway runs; default
	// spec.rotation. PKI certificates always keep the agent running, to renew.
	Rotation *bool `json:"rotation,omitempty"`
	// ServiceAccounts and Namespaces are what the gateway's Vault role binds
	// (istio-vault-ca policy); defaults: the selector's app label, else
	// istio-<istio label> (as the gateway chart names it), and the same name
	// with -service-account (as the legacy charts and istioctl name it); and
	// spec.istiod.namespaces with istio-ingress and istio-egress.
	ServiceAccounts []string      `json:"serviceAccounts,omitempty"`
	Namespaces      []string      `json:"namespaces,omitempty"`
	Certificates    []Certificate `json:"certificates"`
}

// Certificate is one server certificate from exactly one of KV (files
// <name>.crt, <name>.key and, with caField, <name>-ca.crt) or PKI (one file
// <name>.pem holding certificate, chain and key from one issuance).
type Certificate struct {
	Name string          `json:"name" vault:"template"`
	KV   *CertificateKV  `json:"kv,omitempty" vault:"source"`
	PKI  *CertificatePKI `json:"pki,omitempty" vault:"source"`
}

// CertificateKV reads a certificate and key stored in a KV secret.
type CertificateKV struct {
	KVSecret
	CertField string `json:"certField,omitempty" vault:"template"`
	KeyField  string `json:"keyField,omitempty" vault:"template"`
	CAField   string `json:"caField,omitempty" vault:"template"`
}

// CertificatePKI issues a leaf from a PKI role; the agent renews it.
type CertificatePKI struct {
	Mount      string   `json:"mount" vault:"template,expand,name"`
	Role       string   `json:"role" vault:"template,expand,name"`
	CommonName string   `json:"commonName" vault:"template,expand"`
	AltNames   []string `json:"altNames,omitempty" vault:"template,expand"`
	TTL        string   `json:"ttl,omitempty" vault:"template"`
}

// OnConflict is error (the default) or override.
type OnConflict string

const (
	ConflictError    OnConflict = "error"
	ConflictOverride OnConflict = "override"
)

// Istiod says which istiod service accounts the Vault role binds: istiod
// runs as "istiod" for the default revision and "istiod-<rev>" otherwise.
type Istiod struct {
	Namespaces []string `json:"namespaces,omitempty"`
	Revisions  []string `json:"revisions,omitempty"`
	// ServiceAccounts are further names istiod runs as, e.g. TSB's
	// istiod-service-account.
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
}

// DefaultRevision is the revision whose service account has no suffix.
const DefaultRevision = "default"

// BoundServiceAccounts are the names istiod runs as: one per revision, then the extra ones.
func (i Istiod) BoundServiceAccounts() []string {
	var out []string
	for _, r := range i.Revisions {
		if r == DefaultRevision || r == "" {
			out = append(out, "istiod")
		} else {
			out = append(out, "istiod-"+r)
		}
	}
	return append(out, i.ServiceAccounts...)
}

// Vault is how the agent reaches and authenticates to Vault.
type Vault struct {
	Role      string `json:"role,omitempty" vault:"template,expand,name"`
	AuthPath  string `json:"authPath,omitempty" vault:"template,expand,name"`
	Namespace string `json:"namespace,omitempty" vault:"template,expand"`
	Address   string `json:"address,omitempty"`
	// AllowPlainHTTP accepts an http:// Address to a host other than
	// loopback. The agent fetches the CA key from Vault: over plain HTTP it
	// crosses the network in clear, so it takes this explicit opt-in.
	AllowPlainHTTP bool `json:"allowPlainHTTP,omitempty"`
	// TLSSecret names a Kubernetes Secret, in each namespace an agent runs
	// in, holding the CA that signed Vault's certificate under the key
	// ca.crt (vault.hashicorp.com/tls-secret): the injector mounts it at
	// TLSSecretMountPath in every agent container it adds, and CACert then
	// defaults to the ca.crt there.
	TLSSecret string `json:"tlsSecret,omitempty"`
	// CACert is the path, in the agent's container, of the CA that signed
	// Vault's certificate (vault.hashicorp.com/ca-cert).
	CACert string `json:"caCert,omitempty"`
	// TLSSkipVerify makes the agent accept any certificate for Vault: a
	// warning on every run, never for outside a lab.
	TLSSkipVerify bool `json:"tlsSkipVerify,omitempty"`
	// Policy is the name of istiod's Vault policy, which `istio-vault-ca
	// policy` writes; default istiod-ca, istiod-ca-<cluster> with a cluster,
	// so clusters that share a Vault do not overwrite each other's.
	Policy string `json:"policy,omitempty" vault:"template,expand,name"`
	// Audience is the audience the Kubernetes-auth roles require of the
	// service-account token (Vault warns about a role without one). It must
	// be one the agent's token carries: the pod's default token is issued
	// for the API server's audiences (--api-audiences, by default its
	// issuer, such as https://kubernetes.default.svc.cluster.local).
	Audience string `json:"audience,omitempty"`
	// TokenPeriod makes the roles issue periodic tokens of this period
	// (seed 001's period=600s), renewed by a running agent.
	TokenPeriod string `json:"tokenPeriod,omitempty"`
}

// Agent tunes the injected Vault Agent containers.
type Agent struct {
	// RunAsUser and RunAsGroup must be istiod's, or istiod cannot read a key
	// the agent wrote with KeyPerms.
	RunAsUser  *int64 `json:"runAsUser,omitempty"`
	RunAsGroup *int64 `json:"runAsGroup,omitempty"`
	KeyPerms   string `json:"keyPerms,omitempty"`
	// StaticSecretRenderInterval is how often a rotating agent re-reads KV
	// secrets (the injector's default is 5m).
	StaticSecretRenderInterval string `json:"staticSecretRenderInterval,omitempty"`
}

// Source says where the CA material lives in Vault: exactly one of KV, PKI
// or Mint.
//
// A secret source is a type: a field tagged vault:"source" here (istiod's CA)
// or in Certificate (a gateway's), whose type checks and defaults its own
// fields (sourceSpec), one template in templates/ and one file in
// internal/wiring that turns it into files. Exactly one source of a struct
// is set: Validate says so, naming the fields by their tags.
type Source struct {
	KV  *KV  `json:"kv,omitempty" vault:"source"`
	PKI *PKI `json:"pki,omitempty" vault:"source"`
	// IstioCSR is the mode where istiod holds no CA at all: Vault signs
	// every workload certificate, through cert-manager's Vault issuer and
	// istio-csr. It renders no files (sources.go, wiring/istiocsr.go).
	IstioCSR *IstioCSR `json:"istioCSR,omitempty" vault:"source"`
	// Mint has Vault mint a new intermediate for istiod at every agent
	// start: the key exists only in the agent's response and istiod's
	// memory volume, never at rest in Vault.
	Mint *Mint `json:"mint,omitempty" vault:"source"`
}

// IstioCSR: proxies and gateways send their CSRs to istio-csr, which
// creates a cert-manager CertificateRequest, which cert-manager's Vault
// issuer has Vault sign at <pki.mount>/sign/<pki.role>. istiod stops being
// a CA (ENABLE_CA_SERVER=false) and serves with the istiod-tls certificate
// istio-csr issues it.
type IstioCSR struct {
	PKI IstioCSRPKI `json:"pki"`
	// TrustDomain is the mesh's: the PKI role allows URI SANs
	// spiffe://<trustDomain>/* only.
	TrustDomain string `json:"trustDomain,omitempty"`
	// Address is istio-csr's gRPC service, the proxies' CA_ADDR.
	Address string `json:"address,omitempty"`
	// Issuer is the cert-manager issuer istio-csr's requests go to.
	Issuer CSRIssuer `json:"issuer"`
	// CertManager is the service account cert-manager's controller runs as:
	// it requests the issuer's service-account token to log in to Vault.
	CertManager ServiceAccountRef `json:"certManager"`
}

// IstioCSRPKI is the PKI mount and role that sign.
type IstioCSRPKI struct {
	Mount string `json:"mount" vault:"template,expand,name"`
	Role  string `json:"role" vault:"template,expand,name"`
	// RootMount, set when Mount is an intermediate CA, is the mount of the
	// root it chains to: istio-csr then must be given that root
	// (app.tls.rootCAFile), or proxies would trust the intermediate only
	// (istio-csr#105).
	RootMount string `json:"rootMount,omitempty" vault:"template,expand,name"`
	// MaxTTL is the PKI role's max_ttl: the longest certificate it signs.
	MaxTTL string `json:"maxTTL,omitempty"`
}

// CSRIssuer names the cert-manager issuer and the service account it logs
// in to Vault as.
type CSRIssuer struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Kind is Issuer (in Namespace) or ClusterIssuer.
	Kind string `json:"kind,omitempty"`
	// ServiceAccount is the issuer's identity at Vault's Kubernetes auth:
	// cert-manager requests its token (audience vault://<namespace>/<name>).
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// ServiceAccountRef is a service account in a namespace.
type ServiceAccountRef struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// The kinds of cert-manager issuer.
const (
	IssuerKind        = "Issuer"
	ClusterIssuerKind = "ClusterIssuer"
)

// KV reads all files from fields of one KV secret.
type KV struct {
	KVSecret
	Fields Fields `json:"fields"`
}

// KVSecret addresses one secret in a KV engine.
type KVSecret struct {
	// Version is the KV engine version, 1 or 2.
	Version int `json:"version,omitempty"`
	// Mount is the engine's mount path; by default the first segment of Path.
	Mount string `json:"mount,omitempty" vault:"template,expand,name"`
	// Path is the secret's logical path as `vault kv get` takes it (no data/ segment).
	Path string `json:"path" vault:"template,expand,name"`
}

// Fields are the KV field names of each part of the CA bundle.
type Fields struct {
	CAKey     string `json:"caKey,omitempty" vault:"template"`
	CACert    string `json:"caCert,omitempty" vault:"template"`
	CertChain string `json:"certChain,omitempty" vault:"template"`
	RootCert  string `json:"rootCert,omitempty" vault:"template"`
}

// PKI reads certificates from PKI mounts and the key, which the PKI engine
// never returns again, from a KV secret.
type PKI struct {
	// Mount is the intermediate CA's PKI mount: <mount>/cert/ca and <mount>/cert/ca_chain.
	Mount string `json:"mount" vault:"template,expand,name"`
	// RootMount is the root CA's PKI mount: <rootMount>/cert/ca.
	RootMount string `json:"rootMount" vault:"template,expand,name"`
	Key       PKIKey `json:"key"`
}

// PKIKey is the KV secret and field that hold the intermediate's private key.
type PKIKey struct {
	KVSecret
	Field string `json:"field,omitempty" vault:"template"`
}

// Mint makes istiod's intermediate CA in Vault's PKI engine, as seed 003
// does: generate a key and CSR at CSRPath (exported: the response holds the
// key, which Vault does not keep readable), have the root sign it at
// CAPath, and read the root that signs (Mint.RootPath). One generate and one
// sign give all four files.
type Mint struct {
	// CSRPath is the exported generate endpoint of the intermediate's
	// mount, e.g. pki_int_<cluster>/intermediate/generate/exported.
	CSRPath string `json:"csrPath" vault:"template,expand,name"`
	// CAPath is the root's sign-intermediate endpoint, e.g. pki/root/sign-intermediate.
	CAPath string `json:"caPath" vault:"template,expand,name"`
	// CommonName is the intermediate's subject common name; the policy
	// allows this one only.
	CommonName string `json:"commonName" vault:"template,expand"`
	// TTL is the intermediate's lifetime, asked of the sign and pinned
	// by the policy.
	TTL string `json:"ttl" vault:"template"`
	// RootMount is the root CA's PKI mount: CAPath's mount, its default.
	// root-cert.pem is the certificate of the issuer that signs at CAPath
	// (<rootMount>/cert/ca, or <rootMount>/issuer/<ref>/json).
	RootMount string `json:"rootMount,omitempty" vault:"template,expand,name"`
	// KeyType and KeyBits are the intermediate key's algorithm and size:
	// rsa (2048, 3072, 4096) or ec (256, 384, 521); default rsa 2048,
	// the key of istiod's own CA.
	KeyType string `json:"keyType,omitempty" vault:"template"`
	KeyBits int    `json:"keyBits,omitempty"`
}
