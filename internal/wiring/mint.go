package wiring

import (
	"strconv"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/templates"
)

// Mint: istiod's intermediate made by Vault at every agent start
// (mint.tmpl). The key, the certificate and the chain come from one
// generate at csrPath and one sign at caPath, which every template makes
// with the same arguments; root-cert.pem is the certificate of the issuer
// that signs at caPath (Mint.RootPath, pki.tmpl). The policy pins every argument (PathCapability.Params).
func init() {
	bundleSourceFor(mintBundleFile)
}

func mintBundleFile(s config.Spec, m *config.Mint, part Part) (File, error) {
	generate, sign := MintRequests(m)
	// Whoever may generate at the intermediate's mount, or sign with the
	// root, mints a CA that chains to the mesh's root.
	reach := []string{MintMount(m.CSRPath) + "/", m.RootMount + "/", m.CSRPath, m.CAPath}
	if part == PartRoot {
		f := File{SecretRead: SecretRead{APIPath: m.RootPath(), Keys: []string{"certificate"}, Capability: Read, Reach: reach}}
		var err error
		f.Template, err = templates.Render(templates.PKI, templates.Data{APIPath: f.APIPath})
		return f, err
	}
	f := File{SecretRead: SecretRead{APIPath: m.CAPath, Keys: []string{"certificate"}, Capability: Update, Reach: reach,
		Requests: []PathCapability{generate, sign}}}
	if part == PartKey {
		f.APIPath, f.Keys, f.Requests = m.CSRPath, []string{"private_key"}, f.Requests[:1]
	}
	var err error
	f.Template, err = templates.Render(templates.Mint, templates.Data{
		APIPath: generate.Path, Params: generate.Params.args(),
		SignPath: sign.Path, SignParams: sign.Params[1:].args(), // the CSR comes from the generate's response
		Part: string(part)})
	return f, err
}

// MintRequests are the generate and the sign a minted intermediate takes,
// with every argument the templates send: the policy allows these values
// only, so istiod's token cannot mint an intermediate of another name,
// lifetime or key. The sign's first argument is the CSR, any value.
func MintRequests(m *config.Mint) (generate, sign PathCapability) {
	generate = PathCapability{Path: m.CSRPath, Capability: Update, Params: Params{
		{"common_name", m.CommonName}, {"key_type", m.KeyType}, {"key_bits", strconv.Itoa(m.KeyBits)}}}
	sign = PathCapability{Path: m.CAPath, Capability: Update, Params: Params{
		{"csr", ""}, {"common_name", m.CommonName}, {"ttl", m.TTL}, {"format", "pem"},
		// A CA that can sign leaves only: istiod signs workload
		// certificates, never a sub-CA, and without this pin the token
		// could mint an intermediate that issues further CAs.
		{"max_path_length", "0"}}}
	return generate, sign
}

// MintMount is the PKI mount of a generate endpoint: what precedes
// /intermediate/generate/exported (or /issuers/generate/intermediate/exported).
func MintMount(csrPath string) string { return config.MintCSRMount(csrPath) }

// Param is one argument of a write request; an empty Value allows any.
type Param struct{ Name, Value string }

// Params are the arguments of one write request, in the order sent.
type Params []Param

// args are the params as the agent's secret function takes them, key=value.
func (ps Params) args() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name + "=" + p.Value
	}
	return out
}
