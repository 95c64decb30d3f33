package transform

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Parse reads one document of a stream as the transformer reads its
// candidates, for a reader that must see what the transformer sees (the
// lint): its root mapping, nil for a document that holds no mapping, a
// *DocError for malformed YAML or a duplicate key, aliases and merge keys
// expanded within lim.
func Parse(d *stream.Doc, lim *Limits) (*yaml.Node, error) {
	return parse(d, lim)
}

// DocPlace is how a message names a document of a stream: "document N
// (Kind namespace/name)", N counted from 1, as editors count and as a user
// reads the stream, the parenthesis left out when neither kind nor name is
// known.
func DocPlace(index int, kind, namespace, name string) string {
	var b strings.Builder
	b.WriteString("document " + strconv.Itoa(index+1))
	if kind != "" || name != "" {
		b.WriteString(" (" + kind)
		if name != "" {
			b.WriteString(" ")
			if namespace != "" {
				b.WriteString(namespace + "/")
			}
			b.WriteString(name)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Expanded is a parsed resource as the transformer reads a document, for
// a reader that must not change it (the KRM function's lint of its items):
// n itself when it holds no alias or merge key, else a copy of it with
// them expanded within lim. It fails as the transformer would on the
// document (a duplicate key, an alias bomb).
func (lim *Limits) Expanded(n *yaml.Node) (*yaml.Node, error) {
	if !hasAliasOrMerge(n) {
		// Nothing to expand: expand only checks, and changes nothing.
		if _, err := lim.expand(n); err != nil {
			return nil, err
		}
		return n, nil
	}
	c := yamlnode.Copy(n)
	if _, err := lim.expand(c); err != nil {
		return nil, err
	}
	return c, nil
}
