package verify

import (
	"errors"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// mintAccess checks what a minted intermediate needs of the token, without
// minting: sys/capabilities-self (which writes nothing) must grant update
// on the generate and the sign and read on the root, and istiod's policy in
// Vault, when the token may read it, must be the one `policy` writes, pins
// and all. A stale policy (another ttl pin, read only) would let verify
// pass and the agent fail with 403 at istiod's next start.
func (v *run) mintAccess(p *wiring.Plan, plans []*wiring.Plan) {
	for _, pc := range p.APIPaths() {
		what := pc.Path + " (" + string(pc.Capability) + ")"
		caps, err := v.client.Sys().CapabilitiesSelfWithContext(v.ctx, pc.Path)
		switch {
		case err != nil:
			v.add(Warn, what, "could not ask Vault what the token may do there (sys/capabilities-self): %s", explainAPIError(err, "the token may not ask"))
		case slices.Contains(caps, "root"):
			v.add(Pass, what, "the token is a root token: run verify --jwt FILE (istiod's service-account token) to check istiod's own capabilities")
		case slices.Contains(caps, string(pc.Capability)):
			v.add(Pass, what, "the token may %s it", pc.Capability)
		default:
			v.add(Fail, what, "the token may %s, not %s: the agent's request would be denied; apply istiod's policy (istio-vault-ca policy --output commands)", capsText(caps), pc.Capability)
		}
	}
	v.mintPolicy(p, plans)
}

func capsText(caps []string) string {
	if len(caps) == 0 || (len(caps) == 1 && caps[0] == "deny") {
		return "do nothing there"
	}
	return "only " + strings.Join(caps, ", ")
}

// mintPolicy compares istiod's policy in Vault with the one the tool
// writes, comments and blank space aside: the pins (name, ttl, format,
// path length, key) are what keep istiod's token from minting another
// intermediate, and a policy with other pins fails the agent's requests.
func (v *run) mintPolicy(p *wiring.Plan, plans []*wiring.Plan) {
	set := policy.For(v.cfg, plans...)
	var want *policy.Policy
	for i := range set.Policies {
		if set.Policies[i].Name == p.Policy {
			want = &set.Policies[i]
		}
	}
	if want == nil {
		return
	}
	what := "policy " + p.Policy
	var got string
	var lastErr error
	for _, at := range []struct{ path, field string }{{"sys/policies/acl/" + p.Policy, "policy"}, {"sys/policy/" + p.Policy, "rules"}} {
		s, err := v.client.Logical().ReadWithContext(v.ctx, at.path)
		if err != nil {
			lastErr = err
			continue
		}
		if s == nil || s.Data == nil {
			v.add(Fail, what, "Vault has no policy %s: istiod's agent could not mint; apply it (istio-vault-ca policy --output commands)", p.Policy)
			return
		}
		got, _ = s.Data[at.field].(string)
		lastErr = nil
		break
	}
	if lastErr != nil {
		var re *api.ResponseError
		if errors.As(lastErr, &re) && re.StatusCode == 403 {
			v.add(Warn, what, "not checked: the token may not read sys/policies/acl/%s; check its pins with a token that may (VAULT_TOKEN), or compare with istio-vault-ca policy --output hcl", p.Policy)
			return
		}
		v.add(Warn, what, "not checked: %s", explainAPIError(lastErr, "the token may not read it"))
		return
	}
	if policyText(got) != policyText(set.HCL(*want)) {
		v.add(Fail, what, "is not the policy istio-vault-ca writes (its paths, capabilities or pins differ: another ttl, name or key, or a missing path): the agent's requests would be denied or allowed otherwise; write it again (istio-vault-ca policy --output commands), and compare with istio-vault-ca policy --output hcl")
		return
	}
	v.add(Pass, what, "is the policy istio-vault-ca writes, pins and all")
}

// policyText is a policy without its comments and blank space.
func policyText(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 && !strings.Contains(line[:i], "\"") {
			line = line[:i]
		}
		b.WriteString(strings.Join(strings.Fields(line), ""))
	}
	return b.String()
}
