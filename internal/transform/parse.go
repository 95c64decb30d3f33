package transform

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// Parse reads one document of a stream as the transformer reads its
// candidates, for a reader that must see what the transformer sees (the
// lint): its root mapping, nil for a document that holds no mapping, a
// *DocError for malformed YAML or a duplicate key, aliases and merge keys
// expanded within lim.
func Parse(d *stream.Doc, lim *Limits) (*yaml.Node, error) {
	return parse(d, lim)
}
