// Package yamlnode holds the operations the core needs on YAML node trees:
// finding, creating, setting and removing mapping entries, reading a
// resource's kind and name, parsing and writing a document.
//
// The core works on go.yaml.in/yaml/v3 nodes, the same type kyaml's RNode
// wraps, instead of on kyaml itself: kyaml's yaml package initialises
// kube-openapi, gnostic and protobuf registries at start-up, about 1 ms of
// every post-renderer run, for nothing the core uses. kyaml stays where its
// protocol code is needed, in the KRM function. Where the core relied on
// kyaml's behaviour (which entry of a key wins, how a set value takes the old
// one's style), these functions keep it; the tests compare them with kyaml.
package yamlnode

import (
	"errors"
	"reflect"
	"strings"

	yaml1 "go.yaml.in/yaml/v2"
	yaml "go.yaml.in/yaml/v3"
)

// Tags the core reads.
const (
	NullTag   = "!!null"
	StringTag = "!!str"
	MergeTag  = "!!merge"
)

// Field returns the key and value of a mapping's first entry named key; nil
// if m is not a mapping or has no such entry.
func Field(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// Lookup follows a path of mapping keys and returns the node at its end,
// which may be an explicit null; nil if a key is missing or a node on the way
// is not a mapping.
func Lookup(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Tag == NullTag {
			return nil
		}
		_, n = Field(n, key)
	}
	return n
}

// LookupCreate follows a path of mapping keys, adding what is missing at the
// end of its mapping: mappings on the way, a node of kind at the end. An
// explicit null on the way (what a chart renders for `env:` with nothing
// under it, or an IstioOperator's bare `spec:`) is replaced by the node
// needed. It fails where a node on the way is something else.
func LookupCreate(n *yaml.Node, kind yaml.Kind, path ...string) (*yaml.Node, error) {
	if n.Kind != yaml.MappingNode || n.Tag == NullTag {
		return nil, errors.New("not a mapping")
	}
	cur := n
	for i, key := range path {
		want := yaml.MappingNode
		if i == len(path)-1 {
			want = kind
		}
		if _, v := Field(cur, key); v != nil && v.Tag == NullTag {
			Clear(cur, key)
		}
		_, next := Field(cur, key)
		if next == nil {
			next = &yaml.Node{Kind: want}
			cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, next)
		}
		if i < len(path)-1 && next.Kind != yaml.MappingNode {
			return nil, &notMappingError{path[:i+1]}
		}
		cur = next
	}
	return cur, nil
}

type notMappingError struct{ path []string }

func (e *notMappingError) Error() string {
	return strings.Join(e.path, ".") + " is not a mapping"
}

// SetField sets key in mapping m to v, as kyaml's FieldSetter does: an
// existing entry keeps its place and its value's style (its node is
// overwritten, so whoever holds it sees the new value), a new one goes at the
// end, and a string that YAML 1.1 would read as something else (yes, on,
// 0x1F) is double-quoted unless it has a style. A null v removes the entry.
func SetField(m *yaml.Node, key string, v *yaml.Node) {
	if IsString(v) && v.Style == 0 && isYAML11NonString(v.Value) {
		v.Style = yaml.DoubleQuotedStyle
	}
	if v.Tag == NullTag {
		Clear(m, key)
		return
	}
	if _, old := Field(m, key); old != nil {
		v.Style = old.Style
		*old = *v
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

// Clear removes a mapping's first entry named key and returns its value, nil
// if there is none.
func Clear(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			m.Content = append(m.Content[:i:i], m.Content[i+2:]...)
			return v
		}
	}
	return nil
}

// Value is a node's scalar value: "" for nil, an explicit null or a
// collection.
func Value(n *yaml.Node) string {
	if n == nil || n.Tag == NullTag {
		return ""
	}
	return n.Value
}

// IsString reports whether n is a string scalar, tagged or plain untagged.
func IsString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && (n.Tag == StringTag || n.Tag == "")
}

// NewString is a string scalar; a multi-line one is written as a literal
// block.
func NewString(value string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode}
	n.SetString(value)
	return n
}

// NewMapping is an empty block mapping.
func NewMapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

// NewSequence is a block sequence of the given nodes.
func NewSequence(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// isYAML11NonString reports whether a plain scalar would be read as
// something other than a string by a YAML 1.1 parser, such as the API
// server's.
func isYAML11NonString(value string) bool {
	if value == "" || strings.Contains(value, "\n") {
		return false
	}
	var v any
	if err := yaml1.Unmarshal([]byte(value), &v); err != nil {
		return false
	}
	return reflect.TypeOf(v) != reflect.TypeOf("")
}
