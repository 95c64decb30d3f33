package yamlnode

import (
	"errors"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// DeAnchor replaces every alias in a tree with a copy of what it points to,
// applies merge keys (<<) and clears anchors, as kyaml's RNode.DeAnchor does:
// a pod template reached through an alias or a merge key is still the pod
// template. Keys of the mapping itself win over merged ones, and of several
// merged mappings the first wins. It returns the new root (an alias root
// becomes a copy).
func DeAnchor(n *yaml.Node) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	if n.Anchor != "" {
		if n.Kind == yaml.AliasNode {
			return nil, fmt.Errorf("anchor %q defined using alias %v", n.Anchor, n.Alias)
		}
		n.Anchor = ""
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n, nil
	case yaml.AliasNode:
		target, err := DeAnchor(n.Alias)
		if err != nil {
			return nil, err
		}
		return Copy(target), nil
	case yaml.MappingNode:
		sources, err := takeMergeSources(n)
		if err != nil {
			return nil, err
		}
		merge(n, sources)
		fallthrough
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			d, err := DeAnchor(c)
			if err != nil {
				return nil, err
			}
			n.Content[i] = d
		}
		return n, nil
	default:
		return nil, fmt.Errorf("cannot expand aliases in a node of kind %v", n.Kind)
	}
}

// Copy is a deep copy of a tree (an alias still points where it did).
func Copy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, item := range n.Content {
			c.Content[i] = Copy(item)
		}
	}
	return &c
}

// takeMergeSources removes a mapping's merge key and returns the mappings
// it names, last first (the order merge applies them in, so the first wins).
func takeMergeSources(m *yaml.Node) ([]*yaml.Node, error) {
	var value *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Tag == MergeTag {
			if value != nil {
				return nil, errors.New("duplicate merge key")
			}
			value = m.Content[i+1]
		}
	}
	sources, err := mergeSources(value)
	if err != nil {
		return nil, err
	}
	Clear(m, "<<")
	return sources, nil
}

func mergeSources(n *yaml.Node) ([]*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{n}, nil
	case yaml.AliasNode:
		if n.Alias != nil && n.Alias.Kind != yaml.MappingNode {
			return nil, errors.New("invalid map merge: received alias for a non-map value")
		}
		return []*yaml.Node{n.Alias}, nil
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range n.Content {
			if c.Kind == yaml.SequenceNode {
				return nil, errors.New("invalid map merge: received a nested sequence")
			}
			s, err := mergeSources(c)
			if err != nil {
				return nil, err
			}
			out = append(s, out...)
		}
		return out, nil
	default:
		return nil, errors.New("map merge requires map or sequence of maps as the value")
	}
}

// merge sets, on a copy of m, every entry of each source and then m's own,
// each replacing the entry of its key or added at the end, and makes m that
// copy.
func merge(m *yaml.Node, sources []*yaml.Node) {
	out := Copy(m)
	for _, s := range append(sources, m) {
		s = Copy(s)
		for i := 0; i+1 < len(s.Content); i += 2 {
			// kyaml visits each key name and takes its first entry.
			k, v := Field(s, s.Content[i].Value)
			setEntry(out, k, v)
		}
	}
	*m = *out
}

// setEntry is kyaml's MapEntrySetter, which names a key by its value as
// GetValue reads it: "" for a null key.
func setEntry(m, k, v *yaml.Node) {
	name := Value(k)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			m.Content[i], m.Content[i+1] = k, v
			return
		}
	}
	m.Content = append(m.Content, k, v)
}
