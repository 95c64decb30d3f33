package yamlnode

import (
	"bytes"
	"errors"
	"math"

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
	return MarshalWithin(n, wide, math.MaxInt)
}

// ErrTooLong is MarshalWithin's error for a node that does not fit.
var ErrTooLong = errors.New("written out, the node is longer than allowed")

// MarshalWithin is Marshal that stops with ErrTooLong once the text would
// be longer than max bytes, having held no more than that: the serialiser
// writes as it goes.
func MarshalWithin(n *yaml.Node, wide bool, max int) ([]byte, error) {
	w := &cappedWriter{max: max}
	e := yaml.NewEncoder(w)
	e.SetIndent(2)
	if wide {
		e.DefaultSeqIndent()
	} else {
		e.CompactSeqIndent()
	}
	if err := e.Encode(n); err != nil {
		if w.over {
			return nil, ErrTooLong
		}
		return nil, err
	}
	return w.b, nil
}

type cappedWriter struct {
	b    []byte
	max  int
	over bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(p) > w.max-len(w.b) {
		w.over = true
		return 0, ErrTooLong
	}
	if len(w.b)+len(p) > cap(w.b) {
		// Grow as append would, but never past max.
		grown := make([]byte, len(w.b), min(max(2*cap(w.b), len(w.b)+len(p), 512), w.max))
		copy(grown, w.b)
		w.b = grown
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
