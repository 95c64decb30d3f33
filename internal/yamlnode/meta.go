package yamlnode

import yaml "go.yaml.in/yaml/v3"

// A resource's identity, read as kyaml reads it: kind and apiVersion are
// their entries' values whatever they hold, name and namespace are "" when
// metadata or the entry is null or empty.

func Kind(rn *yaml.Node) string       { return topValue(rn, "kind") }
func APIVersion(rn *yaml.Node) string { return topValue(rn, "apiVersion") }
func Name(rn *yaml.Node) string       { return metaValue(rn, "name") }
func Namespace(rn *yaml.Node) string  { return metaValue(rn, "namespace") }

func topValue(rn *yaml.Node, key string) string {
	if _, v := Field(rn, key); v != nil {
		return v.Value
	}
	return ""
}

func metaValue(rn *yaml.Node, key string) string {
	_, md := Field(rn, "metadata")
	if IsEmpty(md) {
		return ""
	}
	if _, v := Field(md, key); !IsEmpty(v) {
		return v.Value
	}
	return ""
}

// IsEmpty is kyaml's IsYNodeNilOrEmpty: nil, null, an empty collection, or
// a node with nothing set.
func IsEmpty(n *yaml.Node) bool {
	return n == nil || n.Tag == NullTag ||
		(n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0 ||
		n.Kind == 0 && n.Style == 0 && n.Tag == "" && n.Value == "" && n.Anchor == "" && n.Alias == nil && len(n.Content) == 0
}
