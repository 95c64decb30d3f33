package verify

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

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
	v.mintLifetime(p, plans)
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

// mintLifetime warns when the intermediate's ttl outlives what Vault will
// sign: Vault cuts a certificate at its issuer's expiry (or refuses, with
// leaf_not_after_behavior=err) and at the root mount's max lease TTL, so
// istiod's intermediate would expire before the ttl the config promises.
func (v *run) mintLifetime(p *wiring.Plan, plans []*wiring.Plan) {
	m := v.cfg.Spec.Source.Mint
	if m == nil {
		return
	}
	ttl, err := time.ParseDuration(m.TTL)
	if err != nil {
		return
	}
	what := "spec.source.mint.ttl " + m.TTL
	if r := v.get(m.RootPath(), p, plans); r.err == nil {
		if s, err := value(r.data, []string{"certificate"}); err == nil {
			if certs, err := parseCerts(s); err == nil && len(certs) > 0 {
				if left := certs[0].NotAfter.Sub(v.opts.Now()); left < ttl {
					v.add(Warn, what, "is longer than the root's remaining life (%s, until %s): Vault cuts the intermediate at the root's expiry, or refuses to sign; rotate the root or shorten the ttl", left.Truncate(time.Hour), certs[0].NotAfter.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	tune, err := v.client.Logical().ReadWithContext(v.ctx, "sys/mounts/"+m.RootMount+"/tune")
	if err != nil || tune == nil {
		v.add(Warn, what, "not compared with %s's max lease TTL: the token may not read sys/mounts/%s/tune", m.RootMount, m.RootMount)
		return
	}
	if n, ok := tune.Data["max_lease_ttl"].(json.Number); ok {
		if secs, err := n.Int64(); err == nil && time.Duration(secs)*time.Second < ttl {
			v.add(Warn, what, "is longer than mount %s's max lease TTL (%s): Vault cuts the intermediate to it; raise it (vault secrets tune -max-lease-ttl=%s %s) or shorten the ttl", m.RootMount, time.Duration(secs)*time.Second, m.TTL, m.RootMount)
		}
	}
}
