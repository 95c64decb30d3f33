package wiring

import (
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/templates"
)

// PKI: istiod's CA certificates from the PKI mounts' CA endpoints
// (pki.tmpl), its key, which the PKI engine never returns again, from KV;
// a gateway's leaf issued by a PKI role (pki-cert.tmpl).
func init() {
	bundleSourceFor(pkiBundleFile)
	certificateSourceFor(pkiCertificate)
}

func pkiBundleFile(s config.Spec, pki *config.PKI, part Part) (File, error) {
	if part == PartKey {
		return kvFile(pki.Key.KVSecret, pki.Key.Field)
	}
	// Whoever may issue or sign at the mesh's CA mounts mints certificates
	// that chain to the mesh's root.
	return pkiCAFile(pkiAPIPath(pki, part), pki.Mount+"/", pki.RootMount+"/")
}

// pkiCAFile is a file of a PKI mount's CA endpoint at apiPath; reach are
// the mounts whose power it shows.
func pkiCAFile(apiPath string, reach ...string) (File, error) {
	f := File{SecretRead: SecretRead{APIPath: apiPath, Keys: []string{"certificate"}, Capability: Read, Reach: reach}}
	var err error
	f.Template, err = templates.Render(templates.PKI, templates.Data{APIPath: f.APIPath})
	return f, err
}

func pkiAPIPath(pki *config.PKI, part Part) string {
	switch part {
	case PartChain:
		return pki.Mount + "/cert/ca_chain"
	case PartRoot:
		return pki.RootMount + "/cert/ca"
	}
	return pki.Mount + "/cert/ca"
}

// pkiCertificate issues the leaf once into <name>.pem: certificate, chain
// and key in one file, from one issuance, which the proxy reads as both its
// certificate and its key. The agent stays to renew it.
func pkiCertificate(name string, pki *config.CertificatePKI, keyPerms string) ([]File, bool, error) {
	issue := pki.Mount + "/issue/" + pki.Role
	params := []string{"common_name=" + pki.CommonName}
	if len(pki.AltNames) > 0 {
		params = append(params, "alt_names="+strings.Join(pki.AltNames, ","))
	}
	if pki.TTL != "" {
		params = append(params, "ttl="+pki.TTL)
	}
	bundle, err := templates.Render(templates.PKICert, templates.Data{APIPath: issue, Params: params})
	if err != nil {
		return nil, true, err
	}
	return []File{{Name: name + ".pem", SecretRead: SecretRead{APIPath: issue, Capability: Update}, Template: bundle, Perms: keyPerms, Certificate: name}}, true, nil
}
