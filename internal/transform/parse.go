package transform

import (
	"strconv"
	"strings"

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
