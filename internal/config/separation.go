package config

import (
	"fmt"
	"slices"
)

// separationErrors keeps istiod and the gateways apart in Vault. A gateway
// faces the internet; if its pod's token could read what istiod reads, a
// compromised gateway would hold the mesh's CA key. So a gateway never logs
// in with istiod's role, never gets istiod's policy, and its role never binds
// a service account istiod runs as (istiod's token would then read the
// gateway's keys). Gateways with different roles get different policies, so
// each role's policy holds only that role's paths.
func (c *VaultCA) separationErrors() Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	s := &c.Spec
	istiodAccounts := s.Istiod.BoundServiceAccounts()
	policyRole := map[string]string{} // gateway policy -> the role path that first took it
	for i, g := range s.Gateways {
		at := fmt.Sprintf("spec.gateways[%d]", i)
		if g.Role != "" && g.AuthPath == s.Vault.AuthPath && g.Role == s.Vault.Role {
			add(at+".role", "is istiod's role (%s/role/%s): the gateway pod's token would read istiod's CA key; give the gateway a role of its own (or leave role unset)", g.AuthPath, g.Role)
		}
		if g.Policy != "" && g.Policy == s.Vault.Policy {
			add(at+".policy", "is istiod's policy %q: the gateway pod's token would read istiod's CA key; give the gateway a policy of its own (or leave policy unset)", g.Policy)
		}
		for _, sa := range g.ServiceAccounts {
			if slices.Contains(istiodAccounts, sa) && sharesAny(g.Namespaces, s.Istiod.Namespaces) {
				add(at+".serviceAccounts", "binds %q, which istiod runs as: istiod's token would read the gateway's keys; bind only the gateway's own service account", sa)
			}
		}
		rolePath := g.AuthPath + "/role/" + g.Role
		if other, ok := policyRole[g.Policy]; ok && other != rolePath && g.Policy != "" {
			add(at+".policy", "%q is also the policy of %s: each role gets a policy of its own, holding only its paths", g.Policy, other)
		} else if !ok {
			policyRole[g.Policy] = rolePath
		}
	}
	return errs
}

func sharesAny(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
