package yamlnode

import (
	"bytes"

	yaml "go.yaml.in/yaml/v3"
)

// Parse reads the first document of src: its document node, or io.EOF
// when src holds no document (only comments, or nothing).
func Parse(src []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// Root is the node a document holds, nil if it holds none; any other node
// is its own root.
func Root(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

// Marshal writes a node as kyaml does: two-space indentation, sequences
// inside a mapping at the key's indentation (compact, as kubectl and helm
// write them) or, when wide, two spaces further in.
func Marshal(n *yaml.Node, wide bool) ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if wide {
		e.DefaultSeqIndent()
	} else {
		e.CompactSeqIndent()
	}
	if err := e.Encode(n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
