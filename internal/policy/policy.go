// Package policy turns the Vault paths the plans read into the Vault policies
// and Kubernetes-auth roles that allow exactly those requests. The paths come
// from wiring.Plan, the same value the annotations are written from, so a
// policy cannot forget a path an agent reads.
//
// Every role gets a policy of its own holding only its plans' paths: a
// gateway's token must never read istiod's CA key, nor istiod's token a
// gateway's key.
package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Set is what `istio-vault-ca policy` prints: the policies and the roles
// that carry them, istiod's first.
type Set struct {
	Config    string // metadata.name of the VaultCA, for the headers
	Namespace string // Vault Enterprise namespace everything is written in
	Policies  []Policy
	Roles     []Role
	// PKIRoles are the PKI roles the config signs with (the istioCSR
	// mode): --output commands writes them too.
	PKIRoles []wiring.PKIRole
}

// Policy is one Vault policy: exactly the capability each path needs.
type Policy struct {
	Name  string
	Role  string // the path of the role that carries it, for the header
	Rules []wiring.PathCapability
}

// Role is the body of <authPath>/role/<name> for the Kubernetes auth method.
type Role struct {
	Path                          string   `json:"-"`
	Name                          string   `json:"-"`
	BoundServiceAccountNames      []string `json:"bound_service_account_names"`
	BoundServiceAccountNamespaces []string `json:"bound_service_account_namespaces"`
	TokenPolicies                 []string `json:"token_policies"`
	Audience                      string   `json:"audience,omitempty"`
	TokenPeriod                   string   `json:"token_period,omitempty"`
}

// For builds the policies of a config from the plans its targets use. Plans
// that log in with the same role share it: its bindings, and its policy's
// paths, are merged.
func For(cfg *config.VaultCA, plans ...*wiring.Plan) *Set {
	set := &Set{Config: cfg.Metadata.Name, Namespace: cfg.Spec.Vault.Namespace}
	rules := map[string]map[string]wiring.PathCapability{} // policy -> path -> rule
	for _, plan := range plans {
		if rules[plan.Policy] == nil {
			rules[plan.Policy] = map[string]wiring.PathCapability{}
			set.Policies = append(set.Policies, Policy{Name: plan.Policy, Role: plan.RolePath()})
		}
		for _, pc := range plan.APIPaths() {
			if rules[plan.Policy][pc.Path].Capability != wiring.Update { // update covers what a read needs here
				rules[plan.Policy][pc.Path] = pc
			}
		}
		set.addRole(plan, cfg.Spec.Vault)
		if plan.CSR != nil {
			set.PKIRoles = append(set.PKIRoles, plan.CSR.PKIRole)
		}
	}
	for i := range set.Policies {
		p := &set.Policies[i]
		for _, r := range rules[p.Name] {
			p.Rules = append(p.Rules, r)
		}
		sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].Path < p.Rules[j].Path })
	}
	return set
}

// addRole adds a plan's bindings to its role, made with the settings every
// role of the config shares.
func (s *Set) addRole(plan *wiring.Plan, v config.Vault) {
	path := plan.RolePath()
	i := slices.IndexFunc(s.Roles, func(r Role) bool { return r.Path == path })
	if i < 0 {
		aud := v.Audience
		if plan.Audience != "" {
			aud = plan.Audience
		}
		s.Roles = append(s.Roles, Role{Path: path, Name: plan.Role, Audience: aud, TokenPeriod: v.TokenPeriod})
		i = len(s.Roles) - 1
	}
	r := &s.Roles[i]
	r.BoundServiceAccountNames = union(r.BoundServiceAccountNames, plan.ServiceAccounts)
	r.BoundServiceAccountNamespaces = union(r.BoundServiceAccountNamespaces, plan.Namespaces)
	r.TokenPolicies = union(r.TokenPolicies, []string{plan.Policy})
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

// RoleNamed is the role a user picks with --role: by name (istiod,
// istio-ingressgateway) or by path; "" is istiod's.
func (s *Set) RoleNamed(name string) (*Role, error) {
	if name == "" {
		return &s.Roles[0], nil
	}
	var found []*Role
	for i, r := range s.Roles {
		if r.Path == name || r.Name == name {
			found = append(found, &s.Roles[i])
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no role %q in the config; its roles are %s", name, strings.Join(s.rolePaths(), ", "))
	}
	return nil, fmt.Errorf("%q names more than one role: give the path, one of %s", name, strings.Join(s.rolePaths(), ", "))
}

func (s *Set) rolePaths() []string {
	var out []string
	for _, r := range s.Roles {
		out = append(out, r.Path)
	}
	return out
}

// PoliciesOf are the policies a role's tokens get.
func (s *Set) PoliciesOf(r *Role) []Policy {
	var out []Policy
	for _, p := range s.Policies {
		if slices.Contains(r.TokenPolicies, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// HCL is the policy document.
func (s *Set) HCL(p Policy) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Vault policy %q for %s, written by istio-vault-ca for VaultCA %q.\n", p.Name, p.Role, s.Config)
	if len(s.PKIRoles) > 0 {
		b.WriteString("# Exactly the request cert-manager's Vault issuer makes: update, to have a CSR signed.\n")
	} else {
		b.WriteString("# Exactly the requests the injected Vault Agents make: read, or update to issue a certificate.\n")
	}
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%q]\n", r.Path, r.Capability)
		if r.Params != nil {
			b.WriteString("  # Only these arguments, each required; a listed value is the only one allowed.\n")
			fmt.Fprintf(&b, "  required_parameters = [%s]\n  allowed_parameters = {\n", strings.Join(quotedAll(paramNames(r.Params)), ", "))
			for _, pm := range r.Params {
				fmt.Fprintf(&b, "    %q = [%s]\n", pm.Name, strings.Join(quotedAll(allowedValues(pm)), ", "))
			}
			b.WriteString("  }\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// A pinned rule's parameters as Vault's policy syntax takes them: the
// names required, and for each the values allowed, none meaning any.

func paramNames(ps wiring.Params) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func allowedValues(p wiring.Param) []string {
	if p.Value == "" {
		return []string{}
	}
	return []string{p.Value}
}

func quotedAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// JSON is the policy in Vault's JSON policy syntax.
func (p Policy) JSON() string {
	type caps struct {
		Capabilities       []string            `json:"capabilities"`
		RequiredParameters []string            `json:"required_parameters,omitempty"`
		AllowedParameters  map[string][]string `json:"allowed_parameters,omitempty"`
	}
	doc := struct {
		Path map[string]caps `json:"path"`
	}{Path: map[string]caps{}}
	for _, r := range p.Rules {
		c := caps{Capabilities: []string{r.Capability}}
		if r.Params != nil {
			c.RequiredParameters, c.AllowedParameters = paramNames(r.Params), map[string][]string{}
			for _, pm := range r.Params {
				c.AllowedParameters[pm.Name] = allowedValues(pm)
			}
		}
		doc.Path[r.Path] = c
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return string(out) + "\n"
}

// JSON is the body to write at the role's path, as
// `vault write <path> -` reads it.
func (r *Role) JSON() string {
	out, _ := json.MarshalIndent(r, "", "  ")
	return string(out) + "\n"
}

// Commands is a shell script of `vault` CLI commands that write all of it,
// in the config's Vault namespace.
func (s *Set) Commands() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by istio-vault-ca: one policy per Kubernetes-auth role, and the roles.\n")
	// The roles need their auth method; on a fresh Vault writing one fails
	// with "no handler for route", which says nothing of the cause.
	var mounts []string
	for _, r := range s.Roles {
		if m, _, ok := strings.Cut(r.Path, "/role/"); ok && !slices.Contains(mounts, m) {
			mounts = append(mounts, m)
		}
	}
	ns := ""
	if s.Namespace != "" {
		ns = "-namespace=" + shellQuote(s.Namespace) + " "
	}
	for _, m := range mounts {
		fmt.Fprintf(&b, "# Needs the Kubernetes auth method at %s: vault auth enable %s-path=%s kubernetes\n", m, ns, strings.TrimPrefix(m, "auth/"))
	}
	b.WriteString("set -e\n")
	// Checked before anything is written: a script that stops halfway
	// leaves policies without their roles.
	for _, m := range mounts {
		name := strings.TrimPrefix(m, "auth/")
		fmt.Fprintf(&b, "vault auth list %s-format=json | grep -qF %s || { echo %s >&2; exit 1; }\n", ns, shellQuote(`"`+name+`/"`),
			shellQuote(fmt.Sprintf("istio-vault-ca: Vault has no auth method at %s: enable and configure it first (vault auth enable %s-path=%s kubernetes; vault write %s/config kubernetes_host=...); nothing was written", m, ns, name, m)))
	}
	// The PKI mount the issuer signs at is enabled when absent; its CA
	// is the user's to give.
	var pkiMounts []string
	for _, r := range s.PKIRoles {
		if mount, _, _ := strings.Cut(r.Path, "/roles/"); !slices.Contains(pkiMounts, mount) {
			pkiMounts = append(pkiMounts, mount)
			fmt.Fprintf(&b, "# The PKI mount %s is enabled if absent, with a maximum lease of %s (to cover pki.maxTTL and a CA made there).\n", mount, maxLease(r))
			fmt.Fprintf(&b, "# Its CA is yours to give, after this script: a root (vault write %s/root/generate/internal common_name=... ttl=87600h),\n", mount)
			fmt.Fprintf(&b, "# or an intermediate (%s/intermediate/generate/internal, its CSR signed by your root, then %s/intermediate/set-signed).\n", mount, mount)
			fmt.Fprintf(&b, "vault secrets list %s-format=json | grep -qF %s || vault secrets enable %s-path=%s -max-lease-ttl=%s pki\n",
				ns, shellQuote(`"`+mount+`/"`), ns, shellQuote(mount), shellQuote(maxLease(r)))
		}
	}
	for _, p := range s.Policies {
		fmt.Fprintf(&b, "vault policy write %s%s - <<'EOF'\n%sEOF\n", ns, shellQuote(p.Name), s.HCL(p))
	}
	for _, r := range s.Roles {
		fmt.Fprintf(&b, "vault write %s%s \\\n  bound_service_account_names=%s \\\n  bound_service_account_namespaces=%s \\\n  token_policies=%s",
			ns, shellQuote(r.Path),
			shellQuote(strings.Join(r.BoundServiceAccountNames, ",")),
			shellQuote(strings.Join(r.BoundServiceAccountNamespaces, ",")),
			shellQuote(strings.Join(r.TokenPolicies, ",")))
		if r.Audience != "" {
			fmt.Fprintf(&b, " \\\n  audience=%s", shellQuote(r.Audience))
		}
		if r.TokenPeriod != "" {
			fmt.Fprintf(&b, " \\\n  token_period=%s", shellQuote(r.TokenPeriod))
		}
		b.WriteString("\n")
	}
	for _, r := range s.PKIRoles {
		mount, _, _ := strings.Cut(r.Path, "/roles/")
		fmt.Fprintf(&b, "# The PKI role signing needs, at the PKI mount %s: written whole, so settings a role there had and this does not name are reset.\n", mount)
		fmt.Fprintf(&b, "vault write %s%s", ns, shellQuote(r.Path))
		for _, p := range r.Params {
			fmt.Fprintf(&b, " \\\n  %s=%s", p.Name, shellQuote(p.Value))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// minCALease is the maximum lease a PKI mount the script enables gets at
// least: Vault caps a CA generated on the mount, as every certificate, at
// it, and the default (768h) would make a root of a month.
const minCALease = 87600 * time.Hour

// maxLease is the mount's maximum lease: minCALease, or the role's max_ttl
// when longer.
func maxLease(r wiring.PKIRole) string {
	for _, p := range r.Params {
		if d, err := time.ParseDuration(p.Value); p.Name == wiring.RoleMaxTTL && err == nil && d > minCALease {
			return p.Value
		}
	}
	return "87600h"
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
