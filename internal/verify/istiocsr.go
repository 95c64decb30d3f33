package verify

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// The istioCSR mode: istiod reads nothing from Vault, cert-manager's
// issuer has Vault sign at <mount>/sign/<role>. What can make that fail
// without a word until the first workload asks is the PKI role (its
// settings, as Vault answers them, istio-csr#80, #215) and a mount whose
// chain ends at an intermediate that istio-csr would hand out as the
// root (istio-csr#105).

// csrPlan checks the PKI role and the mount's chain of an istioCSR plan.
func (v *run) csrPlan(p *wiring.Plan, plans []*wiring.Plan) {
	role := p.CSR.PKIRole
	what := "PKI role " + role.Path
	if v.opts.JWT != "" {
		// Logged in as the issuer: its policy grants the sign request
		// only, so ask what the token may do there, and leave the role
		// to a VAULT_TOKEN that may read it.
		sign := p.APIPaths()[0].Path
		caps, err := v.client.Sys().CapabilitiesSelfWithContext(v.ctx, sign)
		switch {
		case err != nil:
			v.add(Fail, "sign "+sign, "could not ask Vault what the issuer's token may do: %v", err)
		case !slices.Contains(caps, wiring.Update) && !slices.Contains(caps, "root"):
			v.add(Fail, "sign "+sign, "the issuer's token may %s, not update: role %s's policy %s should grant update (istio-vault-ca policy prints it)", strings.Join(caps, ", "), p.Role, p.Policy)
		default:
			v.add(Pass, "sign "+sign, "the issuer's token may update (sign)")
		}
		v.add(Skip, what, "not read with the issuer's token, which may only sign; run verify without --jwt, with a VAULT_TOKEN that may read it")
		v.csrChain(p, plans)
		return
	}
	v.csrAuthRole(p, plans)
	r := v.get(role.Path, p, plans)
	if r.err != nil {
		v.add(Fail, what, "%v (istio-vault-ca policy --output commands writes it)", r.err)
	} else {
		problems := pkiRoleProblems(r.data, role)
		for _, msg := range problems {
			v.add(Fail, what, "%s", msg)
		}
		if len(problems) == 0 {
			v.add(Pass, what, "signs a workload CSR (no CN, SPIFFE URI SAN, RSA or ECDSA key) and istiod-tls")
		}
	}
	v.csrChain(p, plans)
}

// want is a role setting the plan writes.
func want(role wiring.PKIRole, name string) string {
	for _, p := range role.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// pkiRoleProblems names each setting of a PKI role (data as Vault reads
// it) that makes signing fail, with what Vault answers then.
func pkiRoleProblems(data map[string]any, role wiring.PKIRole) []string {
	var out []string
	if b, _ := data[wiring.RoleRequireCN].(bool); b {
		out = append(out, "require_cn is true: istio-agent's CSR has no CN and Vault answers \"the common_name field is required\"; set require_cn=false")
	}
	uris := stringList(data[wiring.RoleAllowedURISANs])
	sample := strings.TrimSuffix(want(role, wiring.RoleAllowedURISANs), "*") + "ns/default/sa/default"
	switch {
	case len(uris) == 0:
		out = append(out, fmt.Sprintf("allowed_uri_sans is empty: Vault refuses a workload's URI SAN (%s); set allowed_uri_sans=%s", sample, want(role, wiring.RoleAllowedURISANs)))
	case !anyGlob(uris, sample):
		out = append(out, fmt.Sprintf("allowed_uri_sans is %s, which does not allow %s: Vault refuses the workload's URI SAN; set allowed_uri_sans=%s", strings.Join(uris, ","), sample, want(role, wiring.RoleAllowedURISANs)))
	}
	switch kt, _ := data[wiring.RoleKeyType].(string); kt {
	case "any":
	case "rsa":
		out = append(out, "key_type is rsa: with ECC_SIGNATURE_ALGORITHM=ECDSA istio-agent sends a P-256 key and Vault answers \"role requires keys of type rsa\"; set key_type=any")
	default:
		out = append(out, fmt.Sprintf("key_type is %q: istio-agent sends RSA keys by default and P-256 with ECC_SIGNATURE_ALGORITHM=ECDSA, so one of them is refused; set key_type=any", kt))
	}
	if anyName, _ := data["allow_any_name"].(bool); !anyName {
		var missing []string
		for _, name := range strings.Split(want(role, wiring.RoleAllowedDomains), ",") {
			if !domainAllowed(data, name) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("does not allow %s: istiod-tls (istiod's serving certificate) or istio-csr's own serving certificate is refused; set allowed_domains=%s allow_bare_domains=true", strings.Join(missing, ", "), want(role, wiring.RoleAllowedDomains)))
		}
	}
	if n, ok := data[wiring.RoleMaxTTL].(json.Number); ok {
		if s, err := n.Int64(); err == nil && s > 0 && time.Duration(s)*time.Second < time.Hour {
			out = append(out, fmt.Sprintf("max_ttl is %s: istio-csr asks for 1h certificates by default; set max_ttl=%s", time.Duration(s)*time.Second, want(role, wiring.RoleMaxTTL)))
		}
	}
	return out
}

// domainAllowed: a DNS name the role signs, as Vault decides for bare
// domains, subdomains and globs (allowed_domains_template aside).
func domainAllowed(data map[string]any, name string) bool {
	bare, _ := data["allow_bare_domains"].(bool)
	sub, _ := data["allow_subdomains"].(bool)
	globs, _ := data["allow_glob_domains"].(bool)
	for _, d := range stringList(data[wiring.RoleAllowedDomains]) {
		switch {
		case bare && d == name,
			sub && strings.HasSuffix(name, "."+d),
			globs && strings.Contains(d, "*") && glob(d, name):
			return true
		}
	}
	return false
}

// stringList is a Vault list field: a JSON list of strings, or one
// comma-separated string.
func stringList(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}

// glob matches s against a pattern where * is any text, as Vault's
// allowed_uri_sans and glob domains do.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// csrChain checks that the signing mount's chain leads to a root: its own
// (a root mount, or an intermediate whose full chain was imported), or
// the root at pki.rootMount. A chain that ends at an intermediate with no
// root known is what istio-csr#105 hands proxies as their root.
func (v *run) csrChain(p *wiring.Plan, plans []*wiring.Plan) {
	c := v.cfg.Spec.Source.IstioCSR
	what := "chain of " + c.PKI.Mount
	chainPath := c.PKI.Mount + "/cert/ca_chain"
	r := v.get(chainPath, p, plans)
	if r.err != nil {
		v.add(Fail, what, "%v", r.err)
		return
	}
	pemText, _ := r.data["ca_chain"].(string)
	if pemText == "" {
		pemText, _ = r.data["certificate"].(string)
	}
	chain, err := parseCerts(pemText)
	if err != nil {
		v.add(Fail, what, "%s %v", chainPath, err)
		return
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			v.add(Fail, what, "certificate %d (%s) is not signed by the next (%s): %v", i, chain[i].Subject, chain[i+1].Subject, err)
			return
		}
	}
	last := chain[len(chain)-1]
	if selfSigned(last) {
		if c.PKI.RootMount != "" {
			v.add(Warn, what, "ends at a root of its own (%s): pki.rootMount %s is not needed", last.Subject, c.PKI.RootMount)
		} else if len(chain) > 1 {
			v.add(Warn, what, "leads to root %s but pki.mount is an intermediate: set pki.rootMount, so that istio-csr's values carry app.tls.rootCAFile", last.Subject)
		} else {
			v.add(Pass, what, "is a root (%s)", last.Subject)
		}
		return
	}
	if c.PKI.RootMount == "" {
		v.add(Fail, what, "ends at intermediate %s, not a root: istio-csr would hand proxies the intermediate as their root (istio-csr#105); set pki.rootMount to its root's mount, or import the full chain", last.Subject)
		return
	}
	rootPath := c.PKI.RootMount + "/cert/ca"
	rr := v.get(rootPath, p, plans)
	if rr.err != nil {
		v.add(Fail, what, "the root at %v", rr.err)
		return
	}
	s, _ := rr.data["certificate"].(string)
	roots, err := parseCerts(s)
	if err != nil || !selfSigned(roots[0]) {
		v.add(Fail, what, "%s does not hold a self-signed root certificate: %v", rootPath, err)
		return
	}
	if err := last.CheckSignatureFrom(roots[0]); err != nil {
		v.add(Fail, what, "ends at %s, which the root at %s (%s) did not sign: %v", last.Subject, rootPath, roots[0].Subject, err)
		return
	}
	v.add(Pass, what, "leads to the root at %s (%s)", rootPath, roots[0].Subject)
}

func selfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

// csrAuthRole checks the Kubernetes-auth role cert-manager's issuer logs
// in with: it binds the issuer's service account and namespace, accepts
// the audience cert-manager requests the token for (vault://<namespace>/
// <issuer>, or the issuer's server, which the token also carries), and
// gives the policy that may sign.
func (v *run) csrAuthRole(p *wiring.Plan, plans []*wiring.Plan) {
	what := "role " + p.RolePath()
	r := v.get(p.RolePath(), p, plans)
	if r.err != nil {
		v.add(Fail, what, "%v (istio-vault-ca policy --output commands writes it)", r.err)
		return
	}
	var problems []string
	binds := func(field, want string) {
		got := stringList(r.data[field])
		if !slices.Contains(got, want) && !slices.Contains(got, "*") {
			problems = append(problems, fmt.Sprintf("%s is %s, without %s: the issuer's login is refused", field, strings.Join(got, ","), want))
		}
	}
	binds("bound_service_account_names", p.ServiceAccounts[0])
	binds("bound_service_account_namespaces", p.Namespaces[0])
	if aud, _ := r.data["audience"].(string); aud != "" && aud != p.Audience && aud != v.cfg.Spec.Vault.Address {
		problems = append(problems, fmt.Sprintf("audience is %q, which cert-manager's token does not carry (it asks for %s and the issuer's server): the login is refused", aud, p.Audience))
	}
	if got := stringList(r.data["token_policies"]); !slices.Contains(got, p.Policy) {
		problems = append(problems, fmt.Sprintf("token_policies is %s, without %s: the issuer logs in but may not sign", strings.Join(got, ","), p.Policy))
	}
	for _, msg := range problems {
		v.add(Fail, what, "%s", msg)
	}
	if len(problems) == 0 {
		v.add(Pass, what, "binds %s/%s for audience %s with policy %s", p.Namespaces[0], p.ServiceAccounts[0], p.Audience, p.Policy)
	}
}
