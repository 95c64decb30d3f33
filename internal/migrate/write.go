package migrate

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// DefaultName is metadata.name without a cluster.
const DefaultName = "istio-vault-ca"

// YAML is the VaultCA, with the report as comments above it.
//
// The report is in the file, not only on stderr, because the file is what
// a GitOps user commits: whoever reviews the change sees, next to the new
// config, which old settings were left behind and what is still to do,
// and the record stays with the config instead of in a terminal's
// scrollback. The user deletes each comment once it is dealt with.
func (r *Result) YAML() ([]byte, error) {
	name := DefaultName
	if r.Cluster != "" {
		name = r.Cluster
	}
	vault := pairs("address", str(r.Address))
	if r.AllowPlainHTTP {
		vault = append(vault, str("allowPlainHTTP"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	vault = append(vault, pairs("role", str(r.Role))...)
	if r.AuthPath != "" {
		vault = append(vault, pairs("authPath", str(r.AuthPath))...)
	}
	if r.CACert != "" {
		vault = append(vault, pairs("caCert", str(r.CACert))...)
	}
	td := str(r.TrustDomain)
	if r.TrustDomainDefaulted {
		td.LineComment = "# Istio's default: the input sets none"
	}
	spec := []*yaml.Node{}
	if r.Cluster != "" {
		spec = append(spec, pairs("cluster", str(r.Cluster))...)
	}
	spec = append(spec,
		str("vault"), mapping(vault...),
		str("source"), mapping(str("istioCSR"), mapping(
			str("pki"), mapping(pairs("mount", str(r.PKIMount), "role", str(r.PKIRole))...),
			str("trustDomain"), td)))
	root := mapping(pairs(
		"apiVersion", str(config.APIVersion),
		"kind", str(config.Kind),
		"metadata", mapping(pairs("name", str(name))...),
		"spec", mapping(spec...))...)
	root.HeadComment = r.header()
	return yamlnode.Marshal(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}, false)
}

// header is the report: where the settings came from, what to do, what
// was left behind.
func (r *Result) header() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Migrated by `istio-vault-ca migrate` from Istio 1.1's node agent (CA_PROVIDER=VaultCA), read from %s.\n", r.From)
	b.WriteString("Vault still signs every workload certificate, through cert-manager's Vault issuer and istio-csr\n")
	b.WriteString("(`istio-vault-ca issuer` prints them). Delete each line below once it is dealt with.")
	section := func(title string, notes []Note, sep string) {
		if len(notes) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n\n%s:", title)
		for _, n := range notes {
			fmt.Fprintf(&b, "\n- %s: `%s`%s%s", n.Where, n.Setting, sep, n.Text)
		}
	}
	section("To do", r.Todo, " ")
	section("Not carried over", r.Dropped, ": ")
	return b.String()
}

func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func mapping(content ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: content}
}

// pairs is key, node, key, node... as mapping content.
func pairs(kv ...any) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return out
}
