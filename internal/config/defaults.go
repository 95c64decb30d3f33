package config

import "slices"

// The defaults below are documented, with the same values, in defaults.yaml.
const (
	DefaultAuthPath         = "auth/kubernetes"
	DefaultSecretVolumePath = "/vault/secrets"
	DefaultKeyPerms         = "0400"
	// IstiodUID is the uid and gid istiod's image runs as. The agent must
	// write the files as this user, or istiod cannot read a 0400 key.
	IstiodUID               int64 = 1337
	DefaultKVVersion              = 1
	DefaultPKIKeyKVVersion        = 2
	DefaultPKIKeyField            = "ca-key.pem"
	DefaultPolicy                 = "istiod-ca"
	DefaultIstiodNamespace        = "istio-system"
	DefaultGatewayContainer       = "istio-proxy"
	DefaultCertField              = "tls.crt"
	DefaultKeyField               = "tls.key"
	DefaultMintKeyType            = "rsa"
	// A rotating mint agent makes the next intermediate after
	// mintRenewNumerator/mintRenewDenominator of the ttl (2/3).
	mintRenewNumerator   = 2
	mintRenewDenominator = 3
	// TLSSecretMountPath is where vault-k8s (agent-inject/agent,
	// container_volume.go) mounts the Secret of vault.hashicorp.com/tls-secret
	// in the agent containers it adds; it sets no ca-cert of its own, so the
	// tool names the file in it.
	TLSSecretMountPath = "/vault/tls"
	// TLSSecretCAKey is the key of the CA in that Secret, as cert-manager
	// and `kubectl create secret tls` name it.
	TLSSecretCAKey = "ca.crt"
	// GatewayServiceAccountSuffix is what the legacy gateway charts and
	// istioctl add to a gateway's name for its service account.
	GatewayServiceAccountSuffix = "-service-account"
	// istioCSR: istio-csr's chart defaults (its Service in cert-manager,
	// the issuer name istio-ca it looks for), and cert-manager's
	// controller service account as its chart names it.
	DefaultTrustDomain               = "cluster.local"
	DefaultIstioCSRAddress           = "cert-manager-istio-csr.cert-manager.svc:443"
	DefaultIstioCSRMaxTTL            = "24h"
	DefaultIssuerName                = "istio-ca"
	IssuerServiceAccountSuffix       = "-vault"
	DefaultCertManagerServiceAccount = "cert-manager"
	DefaultCertManagerNamespace      = "cert-manager"
	// DefaultIstioCSRPolicy is the issuer's policy: it signs, istiod reads nothing.
	DefaultIstioCSRPolicy = "istio-csr-sign"
)

// DefaultGatewayNamespaces are where Istio's install guides put gateways.
var DefaultGatewayNamespaces = []string{"istio-ingress", "istio-egress"}

// DefaultFields are the KV field names a layout reads when none are given.
func DefaultFields(layout FileLayout) Fields {
	if layout == LayoutKubernetesTLS {
		return Fields{CAKey: "tls.key", CACert: "tls.crt", RootCert: "ca.crt"}
	}
	return Fields{CAKey: "ca_key", CACert: "ca_cert", CertChain: "cert_chain", RootCert: "root_cert"}
}

// Default fills every field the user left empty. It is idempotent.
func (c *VaultCA) Default() {
	s := &c.Spec
	if s.Vault.AuthPath == "" {
		s.Vault.AuthPath = DefaultAuthPath
	}
	// The agent's CA, where the injector mounts the Secret; in the
	// istioCSR mode there is no agent (tlsSecret is warned of as unused),
	// and caCert is a file `issuer` reads on this machine.
	if s.Vault.TLSSecret != "" && s.Vault.CACert == "" && s.Source.IstioCSR == nil {
		s.Vault.CACert = TLSSecretMountPath + "/" + TLSSecretCAKey
	}
	if s.Vault.Policy == "" {
		name := DefaultPolicy
		if s.Source.IstioCSR != nil {
			name = DefaultIstioCSRPolicy
		}
		s.Vault.Policy = perCluster(name, s.Cluster)
	}
	if len(s.Istiod.Namespaces) == 0 {
		s.Istiod.Namespaces = []string{DefaultIstiodNamespace}
	}
	if len(s.Istiod.Revisions) == 0 {
		s.Istiod.Revisions = []string{DefaultRevision}
	}
	if s.OnConflict == "" {
		s.OnConflict = ConflictError
	}
	if s.SecretVolumePath == "" {
		s.SecretVolumePath = DefaultSecretVolumePath
	}
	if s.FileLayout == "" {
		s.FileLayout = LayoutIstio
	}
	if s.Agent.RunAsUser == nil {
		uid := IstiodUID
		s.Agent.RunAsUser = &uid
	}
	if s.Agent.RunAsGroup == nil {
		gid := IstiodUID
		s.Agent.RunAsGroup = &gid
	}
	if s.Agent.KeyPerms == "" {
		s.Agent.KeyPerms = DefaultKeyPerms
	}
	for i := range s.Gateways {
		g := &s.Gateways[i]
		fillEmpty(&g.AuthPath, s.Vault.AuthPath)
		fillEmpty(&g.Container, DefaultGatewayContainer)
		if g.Rotation == nil {
			r := s.Rotation
			g.Rotation = &r
		}
		if len(g.Namespaces) == 0 {
			// Where Istio's docs install gateways, besides istiod's namespaces.
			g.Namespaces = append(slices.Clone(s.Istiod.Namespaces), DefaultGatewayNamespaces...)
		}
		// The gateway chart names the service account after the app label,
		// istio-<istio label>: istio: ingressgateway runs as
		// istio-ingressgateway. The legacy gateway charts and istioctl add
		// -service-account (istio-ingressgateway-service-account).
		if len(g.ServiceAccounts) == 0 {
			name := g.Selector["app"]
			if istio := g.Selector["istio"]; name == "" && istio != "" {
				name = "istio-" + istio
			}
			if name != "" {
				g.ServiceAccounts = []string{name, name + GatewayServiceAccountSuffix}
			}
		}
		// A gateway logs in with a role of its own, never istiod's: the
		// role's policy is what the gateway pod's token can read.
		if g.Role == "" && len(g.ServiceAccounts) > 0 {
			g.Role = g.ServiceAccounts[0]
		}
		if g.Policy == "" && g.Role != "" {
			g.Policy = perCluster(g.Role+"-certs", s.Cluster)
		}
		for j := range g.Certificates {
			defaultSources(&g.Certificates[j], s)
		}
	}
	defaultSources(&s.Source, s)
	for i := range s.ExtraRoots() {
		defaultSources(&s.RootRotation.ExtraRoots[i], s)
	}
	if s.RootRotation != nil && s.RootRotation.Next != nil {
		defaultSources(s.RootRotation.Next, s)
	}
}

// ExtraRoots are the roots spec.rootRotation adds, none without it.
func (s *Spec) ExtraRoots() []ExtraRoot {
	if s.RootRotation == nil {
		return nil
	}
	return s.RootRotation.ExtraRoots
}

// perCluster makes a default name that differs from cluster to cluster:
// Vault policies are global, so two clusters writing the same name would
// replace each other's policy. It is a template, expanded with the rest.
func perCluster(name, cluster string) string {
	if cluster == "" {
		return name
	}
	return name + "-{{ .Cluster }}"
}

func fillEmpty(s *string, def string) {
	if *s == "" {
		*s = def
	}
}
