package config

// The defaults below are documented, with the same values, in defaults.yaml.
const (
	DefaultAuthPath         = "auth/kubernetes"
	DefaultSecretVolumePath = "/vault/secrets"
	DefaultKeyPerms         = "0400"
	// IstiodUID is the uid and gid istiod's image runs as. The agent must
	// write the files as this user, or istiod cannot read a 0400 key.
	IstiodUID              int64 = 1337
	DefaultKVVersion             = 1
	DefaultPKIKeyKVVersion       = 2
	DefaultPKIKeyField           = "ca-key.pem"
	DefaultPolicy                = "istiod-ca"
	DefaultIstiodNamespace       = "istio-system"
)

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
	if s.Vault.Policy == "" {
		s.Vault.Policy = DefaultPolicy
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
	if kv := s.Source.KV; kv != nil {
		if kv.Version == 0 {
			kv.Version = DefaultKVVersion
		}
		def := DefaultFields(s.FileLayout)
		fillEmpty(&kv.Fields.CAKey, def.CAKey)
		fillEmpty(&kv.Fields.CACert, def.CACert)
		fillEmpty(&kv.Fields.CertChain, def.CertChain)
		fillEmpty(&kv.Fields.RootCert, def.RootCert)
	}
	if pki := s.Source.PKI; pki != nil {
		if pki.Key.Version == 0 {
			pki.Key.Version = DefaultPKIKeyKVVersion
		}
		fillEmpty(&pki.Key.Field, DefaultPKIKeyField)
	}
}

func fillEmpty(s *string, def string) {
	if *s == "" {
		*s = def
	}
}
