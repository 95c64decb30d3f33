package config

import (
	"fmt"
	"slices"
	"strings"
)

// reservedPolicies are Vault's own policies: `default` is attached to every
// token, so a policy written under that name grants its paths to every
// token in the Vault; `root` and `response-wrapping` cannot be written.
var reservedPolicies = []string{"default", "root", "response-wrapping"}

// separationErrors keeps istiod and the gateways apart in Vault. A gateway
// faces the internet; if its pod's token could read what istiod reads, a
// compromised gateway would hold the mesh's CA key. So a gateway never logs
// in with istiod's role, never gets istiod's policy, and its role never binds
// a service account istiod runs as (istiod's token would then read the
// gateway's keys). Gateways with different roles get different policies, so
// each role's policy holds only that role's paths.
//
// Names are compared as Vault stores them: it lowercases policy names and
// Kubernetes-auth role names, so ISTIOD-CA would overwrite istiod-ca.
func (c *VaultCA) separationErrors() Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	s := &c.Spec
	if slices.Contains(reservedPolicies, vaultName(s.Vault.Policy)) {
		add("spec.vault.policy", "is %q, one of Vault's own policies (default is given to every token): name istiod's policy otherwise", s.Vault.Policy)
	}
	istiodRole := rolePath(s.Vault.AuthPath, s.Vault.Role)
	istiodAccounts := s.Istiod.BoundServiceAccounts()
	// What each gateway role binds, over every gateway that logs in with it:
	// Vault keeps one role, with the union of the bindings.
	boundNamespaces := map[string][]string{}
	for _, g := range s.Gateways {
		r := rolePath(g.AuthPath, g.Role)
		boundNamespaces[r] = append(boundNamespaces[r], g.Namespaces...)
	}
	policyRole := map[string]string{} // gateway policy -> the role path that first took it
	for i, g := range s.Gateways {
		at := fmt.Sprintf("spec.gateways[%d]", i)
		role, policy := rolePath(g.AuthPath, g.Role), vaultName(g.Policy)
		if g.Role != "" && role == istiodRole {
			add(at+".role", "is istiod's role (%s/role/%s): the gateway pod's token would read istiod's CA key; give the gateway a role of its own (or leave role unset)", g.AuthPath, g.Role)
		}
		if g.Policy != "" && policy == vaultName(s.Vault.Policy) {
			add(at+".policy", "is istiod's policy %q: the gateway pod's token would read istiod's CA key; give the gateway a policy of its own (or leave policy unset)", g.Policy)
		}
		if slices.Contains(reservedPolicies, policy) {
			add(at+".policy", "is %q, one of Vault's own policies (default is given to every token): name the gateway's policy otherwise", g.Policy)
		}
		for _, sa := range g.ServiceAccounts {
			if slices.Contains(istiodAccounts, sa) && sharesAny(boundNamespaces[role], s.Istiod.Namespaces) {
				add(at+".serviceAccounts", "binds %q, which istiod runs as (in %s, through role %s, which every gateway with that role shares): istiod's token would read the gateways' keys; bind only the gateway's own service account",
					sa, strings.Join(s.Istiod.Namespaces, ", "), role)
			}
		}
		if other, ok := policyRole[policy]; ok && other != role && policy != "" {
			add(at+".policy", "%q is also the policy of %s: each role gets a policy of its own, holding only its paths", g.Policy, other)
		} else if !ok {
			policyRole[policy] = role
		}
	}
	return errs
}

// rolePath is a Kubernetes-auth role as Vault keys it.
func rolePath(authPath, role string) string {
	return vaultName(strings.TrimSuffix(authPath, "/") + "/role/" + role)
}

// vaultName is a name as Vault stores it: trimmed and lowercased.
func vaultName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func sharesAny(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
