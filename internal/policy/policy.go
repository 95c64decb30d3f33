// Package policy turns the Vault paths the plans read into the Vault policy
// and Kubernetes-auth roles that allow exactly those requests. The paths come
// from wiring.Plan, the same value the annotations are written from, so the
// policy cannot forget a path an agent reads.
package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Policy is what `istio-vault-ca policy` prints.
type Policy struct {
	Name   string // the Vault policy's name
	Rules  []wiring.PathCapability
	Roles  []Role // istiod's first, then each gateway's
	Config string // metadata.name of the VaultCA, for the header
}

// Role is the body of <authPath>/role/<name> for the Kubernetes auth method.
type Role struct {
	Path                          string   `json:"-"`
	BoundServiceAccountNames      []string `json:"bound_service_account_names"`
	BoundServiceAccountNamespaces []string `json:"bound_service_account_namespaces"`
	TokenPolicies                 []string `json:"token_policies"`
}

// For builds the policy of a config from the plans its targets use. Plans
// that log in with the same role share it: its bindings are merged.
func For(cfg *config.VaultCA, plans ...*wiring.Plan) *Policy {
	p := &Policy{Name: cfg.Spec.Vault.Policy, Config: cfg.Metadata.Name}
	rules := map[string]string{}
	roles := map[string]*Role{}
	for _, plan := range plans {
		for _, pc := range plan.APIPaths() {
			if rules[pc.Path] != wiring.Update { // update covers what a read needs here
				rules[pc.Path] = pc.Capability
			}
		}
		path := plan.AuthPath + "/role/" + plan.Role
		r, ok := roles[path]
		if !ok {
			r = &Role{Path: path, TokenPolicies: []string{p.Name}}
			roles[path] = r
			p.Roles = append(p.Roles, Role{Path: path})
		}
		r.BoundServiceAccountNames = union(r.BoundServiceAccountNames, plan.ServiceAccounts)
		r.BoundServiceAccountNamespaces = union(r.BoundServiceAccountNamespaces, plan.Namespaces)
	}
	for i := range p.Roles {
		p.Roles[i] = *roles[p.Roles[i].Path]
	}
	for path, c := range rules {
		p.Rules = append(p.Rules, wiring.PathCapability{Path: path, Capability: c})
	}
	sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].Path < p.Rules[j].Path })
	return p
}

// union appends to a what b holds that a does not, in b's order.
func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// HCL is the policy document: exactly the capability each path needs.
func (p *Policy) HCL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Vault policy %q, written by istio-vault-ca for VaultCA %q.\n", p.Name, p.Config)
	b.WriteString("# Exactly the requests the injected Vault Agents make: read, or update to issue a certificate.\n")
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%q]\n}\n", r.Path, r.Capability)
	}
	return b.String()
}

// JSON is the policy in Vault's JSON policy syntax.
func (p *Policy) JSON() string {
	type caps struct {
		Capabilities []string `json:"capabilities"`
	}
	doc := struct {
		Path map[string]caps `json:"path"`
	}{Path: map[string]caps{}}
	for _, r := range p.Rules {
		doc.Path[r.Path] = caps{Capabilities: []string{r.Capability}}
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return string(out) + "\n"
}

// RolesJSON maps each role's path to the body to write there.
func (p *Policy) RolesJSON() string {
	m := map[string]Role{}
	for _, r := range p.Roles {
		m[r.Path] = r
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	return string(out) + "\n"
}

// Commands is a shell script of `vault` CLI commands that write all of it.
func (p *Policy) Commands() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by istio-vault-ca: the policy and the Kubernetes-auth roles that use it.\nset -e\n")
	fmt.Fprintf(&b, "vault policy write %s - <<'EOF'\n%sEOF\n", shellQuote(p.Name), p.HCL())
	for _, r := range p.Roles {
		fmt.Fprintf(&b, "vault write %s \\\n  bound_service_account_names=%s \\\n  bound_service_account_namespaces=%s \\\n  token_policies=%s\n",
			shellQuote(r.Path),
			shellQuote(strings.Join(r.BoundServiceAccountNames, ",")),
			shellQuote(strings.Join(r.BoundServiceAccountNamespaces, ",")),
			shellQuote(strings.Join(r.TokenPolicies, ",")))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
