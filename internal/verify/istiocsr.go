package verify

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
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
		problems = append(problems, v.issuerRefProblems(r.data, p, plans)...)
		for _, msg := range problems {
			v.add(Fail, what, "%s", msg)
		}
		for _, msg := range pkiRoleWarnings(r.data) {
			v.add(Warn, what, "%s", msg)
		}
		if len(problems) == 0 {
			// Nothing is signed here (that would be a write): the line
			// says which settings were read.
			v.add(Pass, what, "read: require_cn=false, allowed_uri_sans, key_type=any, istiod's DNS names, max_ttl, server_flag, client_flag, use_csr_sans and issuer_ref are as a workload CSR (no CN, SPIFFE URI SAN, RSA or ECDSA key) and istiod-tls need")
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
	// Vault's defaults are true; a role read back carries each flag, a
	// role absent from the answer is left to the checks above.
	for _, f := range []struct{ name, why string }{
		{"server_flag", "istiod-tls and istio-csr's serving certificate are then no server certificates (no serverAuth extended key usage), and proxies refuse them"},
		{"client_flag", "workload certificates are then no client certificates (no clientAuth extended key usage), and mTLS between proxies fails"},
		{"use_csr_sans", "Vault then drops the CSR's SPIFFE URI SAN and DNS names, so workload certificates carry no identity"},
	} {
		if b, ok := data[f.name].(bool); ok && !b {
			out = append(out, fmt.Sprintf("%s is false: %s; set %s=true", f.name, f.why, f.name))
		}
	}
	if n, ok := data[wiring.RoleMaxTTL].(json.Number); ok {
		if s, err := n.Int64(); err == nil && s > 0 && time.Duration(s)*time.Second < time.Hour {
			out = append(out, fmt.Sprintf("max_ttl is %s: istio-csr asks for 1h certificates by default; set max_ttl=%s", time.Duration(s)*time.Second, want(role, wiring.RoleMaxTTL)))
		}
	}
	return out
}

// pkiRoleWarnings names settings of a PKI role that sign, but not as
// istio-csr expects.
func pkiRoleWarnings(data map[string]any) []string {
	if na, _ := data["not_after"].(string); na != "" {
		return []string{fmt.Sprintf("not_after is %s: every certificate ends then, whatever TTL istio-csr asks for, and signing fails once it is near; unset it (not_after=\"\")", na)}
	}
	return nil
}

// issuerRefProblems: a role whose issuer_ref names no issuer of the mount
// is read back fine, and Vault answers 500 at every sign.
func (v *run) issuerRefProblems(data map[string]any, p *wiring.Plan, plans []*wiring.Plan) []string {
	ref, _ := data["issuer_ref"].(string)
	if ref == "" || ref == "default" {
		return nil // the mount's default issuer: the chain check reads it
	}
	mount := v.cfg.Spec.Source.IstioCSR.PKI.Mount
	if r := v.get(mount+"/issuer/"+ref, p, plans); r.err != nil {
		return []string{fmt.Sprintf("issuer_ref is %q, which is no issuer of mount %s (%v): Vault answers 500 at every sign; set issuer_ref=default or to an issuer of %s (vault list %s/issuers)", ref, mount, r.err, mount, mount)}
	}
	return nil
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
		if i := slices.IndexFunc(got, func(s string) bool { return strings.Contains(s, "*") }); i >= 0 {
			// Whoever logs in there may have any workload certificate
			// signed: a wildcard is the mesh's CA handed to every pod.
			problems = append(problems, fmt.Sprintf("%s is %s: the wildcard %q lets service accounts other than the issuer's log in and have any mesh identity signed; bind %s only", field, strings.Join(got, ","), got[i], want))
		} else if !slices.Contains(got, want) {
			problems = append(problems, fmt.Sprintf("%s is %s, without %s: the issuer's login is refused", field, strings.Join(got, ","), want))
		}
	}
	binds("bound_service_account_names", p.ServiceAccounts[0])
	binds("bound_service_account_namespaces", p.Namespaces[0])
	if aud, _ := r.data["audience"].(string); aud != "" && aud != p.Audience && aud != v.cfg.Spec.Vault.Address {
		problems = append(problems, fmt.Sprintf("audience is %q, which cert-manager's token does not carry (it asks for %s and the issuer's server): the login is refused", aud, p.Audience))
	}
	got := stringList(r.data["token_policies"])
	if !slices.Contains(got, p.Policy) {
		problems = append(problems, fmt.Sprintf("token_policies is %s, without %s: the issuer logs in but may not sign", strings.Join(got, ","), p.Policy))
	}
	if extra := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s == p.Policy }); len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("token_policies has %s beside %s: the issuer's token gets more than the sign request; set token_policies=%s", strings.Join(extra, ","), p.Policy, p.Policy))
	}
	for _, msg := range problems {
		v.add(Fail, what, "%s", msg)
	}
	if len(problems) == 0 {
		v.add(Pass, what, "binds %s/%s for audience %s with policy %s", p.Namespaces[0], p.ServiceAccounts[0], p.Audience, p.Policy)
	}
	v.csrPolicy(p, plans)
}

// csrPolicy checks the issuer's policy as Vault holds it against what
// istio-vault-ca policy prints: update on the sign path and nothing else.
// A policy that lacks it cannot sign; one that grants more (istioca/*,
// sudo) lets the issuer's token do what only an operator should.
func (v *run) csrPolicy(p *wiring.Plan, plans []*wiring.Plan) {
	what := "policy " + p.Policy
	sp := policy.For(v.cfg, plans...)
	i := slices.IndexFunc(sp.Policies, func(x policy.Policy) bool { return x.Name == p.Policy })
	if i < 0 {
		return
	}
	want := sp.Policies[i]
	secret, err := v.client.Logical().ReadWithContext(v.ctx, "sys/policy/"+p.Policy)
	if err != nil {
		v.add(Warn, what, "could not be checked: %s", explainAPIError(err, "VAULT_TOKEN may not read sys/policy/"+p.Policy))
		return
	}
	rules := ""
	if secret != nil && secret.Data != nil {
		rules, _ = secret.Data["rules"].(string)
	}
	if rules == "" {
		v.add(Fail, what, "Vault has no policy %s: the issuer's token may not sign; write it (istio-vault-ca policy --output commands)", p.Policy)
		return
	}
	if sameRules(rules, sp.HCL(want)) || sameRules(rules, want.JSON()) {
		v.add(Pass, what, "is exactly what istio-vault-ca policy prints (update on %s)", want.Rules[0].Path)
		return
	}
	v.add(Fail, what, "its rules are not what istio-vault-ca policy prints (update on %s, nothing else)%s: write it again (istio-vault-ca policy --output commands)", want.Rules[0].Path, pathsDiff(rules, want))
}

// sameRules compares two policy texts without comments, blank lines and
// indentation.
func sameRules(a, b string) bool {
	norm := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

var policyPath = regexp.MustCompile(`path\s+"([^"]*)"|"([^"]+)"\s*:\s*\{\s*"capabilities"`)

// pathsDiff names the paths a policy text grants that the wanted policy
// does not, and the ones it lacks.
func pathsDiff(rules string, want policy.Policy) string {
	var got, wanted []string
	for _, m := range policyPath.FindAllStringSubmatch(rules, -1) {
		got = append(got, m[1]+m[2])
	}
	for _, r := range want.Rules {
		wanted = append(wanted, r.Path)
	}
	var parts []string
	if extra := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return slices.Contains(wanted, s) }); len(extra) > 0 {
		parts = append(parts, "grants paths "+strings.Join(extra, ", ")+" beside the sign path")
	}
	if missing := slices.DeleteFunc(slices.Clone(wanted), func(s string) bool { return slices.Contains(got, s) }); len(missing) > 0 {
		parts = append(parts, "has no rule for "+strings.Join(missing, ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, "the capabilities differ")
	}
	return ": " + strings.Join(parts, "; ")
}
