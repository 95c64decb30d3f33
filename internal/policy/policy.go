// Package policy turns the Vault paths a plan reads into the Vault policy and
// Kubernetes-auth role that allow exactly those reads. The paths come from
// wiring.Plan, the same value the annotations are written from, so the
// policy cannot forget a path the agent reads.
package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Policy is what `istio-vault-ca policy` prints.
type Policy struct {
	Name     string   // the Vault policy's name
	Paths    []string // API paths granted read
	AuthPath string   // e.g. auth/kubernetes-cluster1
	Role     Role
	Config   string // metadata.name of the VaultCA, for the header
}

// Role is the body of auth/<path>/role/<name> for the Kubernetes auth method.
type Role struct {
	Name                          string   `json:"-"`
	BoundServiceAccountNames      []string `json:"bound_service_account_names"`
	BoundServiceAccountNamespaces []string `json:"bound_service_account_namespaces"`
	TokenPolicies                 []string `json:"token_policies"`
}

// For builds the policy of a config from the plans its targets use.
func For(cfg *config.VaultCA, plans ...*wiring.Plan) *Policy {
	seen := map[string]bool{}
	var paths []string
	for _, p := range plans {
		for _, path := range p.APIPaths() {
			if !seen[path] {
				seen[path] = true
				paths = append(paths, path)
			}
		}
	}
	sort.Strings(paths)
	s := cfg.Spec
	return &Policy{
		Name: s.Vault.Policy, Paths: paths, AuthPath: s.Vault.AuthPath, Config: cfg.Metadata.Name,
		Role: Role{
			Name:                          s.Vault.Role,
			BoundServiceAccountNames:      s.Istiod.BoundServiceAccounts(),
			BoundServiceAccountNamespaces: s.Istiod.Namespaces,
			TokenPolicies:                 []string{s.Vault.Policy},
		},
	}
}

// HCL is the policy document: read on each path, nothing else.
func (p *Policy) HCL() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Vault policy %q, written by istio-vault-ca for VaultCA %q.\n", p.Name, p.Config)
	b.WriteString("# Read-only, on exactly the paths the injected Vault Agent reads.\n")
	for _, path := range p.Paths {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [\"read\"]\n}\n", path)
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
	for _, path := range p.Paths {
		doc.Path[path] = caps{Capabilities: []string{"read"}}
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return string(out) + "\n"
}

// RolePath is where the role is written.
func (p *Policy) RolePath() string {
	return p.AuthPath + "/role/" + p.Role.Name
}

// RoleJSON is the body to write at RolePath.
func (p *Policy) RoleJSON() string {
	out, _ := json.MarshalIndent(p.Role, "", "  ")
	return string(out) + "\n"
}

// Commands is a shell script of `vault` CLI commands that write both.
func (p *Policy) Commands() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by istio-vault-ca: the policy and Kubernetes-auth role for istiod.\nset -e\n")
	fmt.Fprintf(&b, "vault policy write %s - <<'EOF'\n%sEOF\n", shellQuote(p.Name), p.HCL())
	fmt.Fprintf(&b, "vault write %s \\\n  bound_service_account_names=%s \\\n  bound_service_account_namespaces=%s \\\n  token_policies=%s\n",
		shellQuote(p.RolePath()),
		shellQuote(strings.Join(p.Role.BoundServiceAccountNames, ",")),
		shellQuote(strings.Join(p.Role.BoundServiceAccountNamespaces, ",")),
		shellQuote(strings.Join(p.Role.TokenPolicies, ",")))
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
