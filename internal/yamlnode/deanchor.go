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
//
// The result is kyaml's, quirks included (FuzzDeAnchorMatchesKyaml holds
// it to that): kyaml expands an anchor again at each of its aliases, and a
// mapping merged in keeps its own merge key unexpanded. What differs is the
// cost. kyaml rebuilds every mapping as a deep copy with a linear lookup per
// key, so one wide mapping is quadratic and nesting multiplies the copying;
// here a mapping without a merge key keeps its nodes, lookups are indexed,
// and a subtree is copied only where an alias could see the difference.
func DeAnchor(n *yaml.Node) (*yaml.Node, error) {
	return DeAnchorWithin(n, nil)
}

// Budget bounds what expanding aliases may add to a tree, so that a small
// document cannot make a huge one (a YAML alias bomb). What DeAnchorWithin
// adds is taken off it.
type Budget struct {
	Nodes int   // nodes that may still be added
	Bytes int64 // bytes of scalar text that may still be added
}

// ErrNodeBudget and ErrByteBudget say which part of a Budget ran out.
var (
	ErrNodeBudget = errors.New("the expanded tree would exceed its node budget")
	ErrByteBudget = errors.New("the expanded tree would exceed its byte budget")
)

// DeAnchorWithin is DeAnchor within a budget: it fails with ErrNodeBudget or
// ErrByteBudget when the expanded tree would be larger than the original by
// more than b allows, and takes what it adds off b. A nil b is no limit.
//
// What every alias would expand to is counted before anything is changed,
// so a bomb is refused with the tree as it was. Only kyaml's own quirks can
// grow a tree past that count (a null key it adds again at each expansion):
// the expansion is then stopped part way, once it has copied more nodes
// than such a tree could need.
func DeAnchorWithin(n *yaml.Node, b *Budget) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	d := &deAnchorer{b: b}
	nodes, bytes := d.survey(n)
	if b != nil {
		b.Nodes, b.Bytes = max(b.Nodes, 0), max(b.Bytes, 0)
		limit := size{nodes + b.Nodes, bytes + b.Bytes}
		if err := limit.check(expandedSize(n, map[*yaml.Node]size{}, limit)); err != nil {
			return nil, err
		}
		d.nodes, d.bytes = 2*b.Nodes+nodes, 2*b.Bytes+bytes
	}
	out, err := d.node(n)
	if err != nil {
		return nil, err
	}
	if b != nil {
		// A mapping kyaml builds can hold one node in two places, so what
		// was copied is not all that was added: the tree is measured as it
		// would be written out.
		limit := size{nodes + b.Nodes, bytes + b.Bytes}
		var memo map[*yaml.Node]size // only a tree with shared nodes needs one
		if d.exact {
			memo = map[*yaml.Node]size{}
		}
		got := treeSize(out, memo, limit)
		if err := limit.check(got); err != nil {
			return nil, err
		}
		b.Nodes -= max(got.nodes-nodes, 0)
		b.Bytes -= max(got.bytes-bytes, 0)
	}
	return out, nil
}

// size is a tree's nodes and the bytes of their values.
type size struct {
	nodes int
	bytes int64
}

// add is s and t, counted to just past limit at most.
func (s size) add(t, limit size) size {
	return size{min(s.nodes+t.nodes, limit.nodes+1), min(s.bytes+t.bytes, limit.bytes+1)}
}

func (limit size) check(s size) error {
	switch {
	case s.nodes > limit.nodes:
		return ErrNodeBudget
	case s.bytes > limit.bytes:
		return ErrByteBudget
	}
	return nil
}

// expandedSize is the size of n with every alias replaced by what it points
// to, each target counted once (memo) and past limit not at all.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]size, limit size) size {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if s, ok := memo[n.Alias]; ok {
			return s
		}
		memo[n.Alias] = size{limit.nodes + 1, 0} // an alias that reaches itself
		s := expandedSize(n.Alias, memo, limit)
		memo[n.Alias] = s
		return s
	}
	s := size{1, int64(len(n.Value))}
	for _, c := range n.Content {
		if s = s.add(expandedSize(c, memo, limit), limit); limit.check(s) != nil {
			break
		}
	}
	return s
}

// treeSize is the size of a tree as written out, a node held in two places
// counted twice.
func treeSize(n *yaml.Node, memo map[*yaml.Node]size, limit size) size {
	if s, ok := memo[n]; ok {
		return s
	}
	s := size{1, int64(len(n.Value))}
	for _, c := range n.Content {
		if s = s.add(treeSize(c, memo, limit), limit); limit.check(s) != nil {
			break
		}
	}
	if memo != nil && len(n.Content) > 0 {
		memo[n] = s
	}
	return s
}

type deAnchorer struct {
	b *Budget
	// nodes and bytes are what may still be copied: a copy is what an
	// alias or a merge adds to the tree.
	nodes int
	bytes int64
	// kyaml rebuilds every mapping it expands from a deep copy of its
	// content, so an alias always finds its anchor as it was parsed, or as
	// an earlier alias to it left it, never as the expansion of the tree
	// around it changed it. Only nodes an alias can reach need that copy:
	// reach holds them (the targets of aliases and everything under them).
	// holds holds the other nodes with a target under them: a copy of one
	// of those is kept as the node itself, marked pending until what is
	// under it is copied in turn. Of any other node nothing can tell a copy
	// from the node itself, as long as the tree is a tree.
	reach, holds, pending map[*yaml.Node]bool
	// exact is set once the tree holds a node in two places (kyaml's
	// merge sets one entry twice where a null key is spelled out, and then
	// expands it twice): a copy then undoes that sharing where keeping the
	// node would not, so from there on every node kyaml copies is copied,
	// and charged to the budget. No Kubernetes resource gets there: its
	// keys are strings.
	exact bool
}

// survey fills d.reach and d.holds and returns the size of the tree:
// its nodes and the bytes of their values.
func (d *deAnchorer) survey(root *yaml.Node) (nodes int, bytes int64) {
	var targets []*yaml.Node
	var collect func(n *yaml.Node)
	collect = func(n *yaml.Node) {
		nodes++
		bytes += int64(len(n.Value))
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			targets = append(targets, n.Alias)
		}
		for _, c := range n.Content {
			collect(c)
		}
	}
	collect(root)
	if len(targets) == 0 {
		return nodes, bytes
	}
	d.reach, d.holds, d.pending = map[*yaml.Node]bool{}, map[*yaml.Node]bool{}, map[*yaml.Node]bool{}
	var reach func(n *yaml.Node)
	reach = func(n *yaml.Node) {
		if d.reach[n] {
			return
		}
		d.reach[n] = true
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			reach(n.Alias)
		}
		for _, c := range n.Content {
			reach(c)
		}
	}
	for _, t := range targets {
		reach(t)
	}
	var hold func(n *yaml.Node) bool
	hold = func(n *yaml.Node) bool {
		if d.reach[n] {
			return true
		}
		below := false
		for _, c := range n.Content {
			below = hold(c) || below
		}
		if below {
			d.holds[n] = true
		}
		return below
	}
	hold(root)
	return nodes, bytes
}

// standIn returns what takes the place of n in a copy kyaml makes of the
// collection that holds it.
func (d *deAnchorer) standIn(n *yaml.Node) (*yaml.Node, error) {
	switch {
	case d.exact:
		return d.copy(n)
	case d.reach[n]:
		return Copy(n), nil // stands in for nodes the tree no longer holds: not charged
	case d.holds[n]:
		d.pending[n] = true
	}
	return n, nil
}

// standIns replaces a collection's content with its stand-ins.
func (d *deAnchorer) standIns(n *yaml.Node) error {
	for i, c := range n.Content {
		var err error
		if n.Content[i], err = d.standIn(c); err != nil {
			return err
		}
	}
	return nil
}

func (d *deAnchorer) node(n *yaml.Node) (*yaml.Node, error) {
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
		target, err := d.node(n.Alias)
		if err != nil {
			return nil, err
		}
		return d.copy(target)
	case yaml.MappingNode:
		sources, err := takeMergeSources(n)
		if err != nil {
			return nil, err
		}
		if err := d.merge(n, sources); err != nil {
			return nil, err
		}
		fallthrough
	case yaml.DocumentNode, yaml.SequenceNode:
		if d.pending[n] {
			// kyaml holds a copy here, copied with the mapping above it.
			delete(d.pending, n)
			if err := d.standIns(n); err != nil {
				return nil, err
			}
		}
		for i, c := range n.Content {
			e, err := d.node(c)
			if err != nil {
				return nil, err
			}
			n.Content[i] = e
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

// copy is Copy charged to the budget: what it adds to the tree.
func (d *deAnchorer) copy(n *yaml.Node) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	if d.b != nil {
		d.nodes--
		d.bytes -= int64(len(n.Value))
		if d.nodes < 0 {
			return nil, ErrNodeBudget
		}
		if d.bytes < 0 {
			return nil, ErrByteBudget
		}
	}
	c := *n
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, item := range n.Content {
			var err error
			if c.Content[i], err = d.copy(item); err != nil {
				return nil, err
			}
		}
	}
	return &c, nil
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

// merge makes m what kyaml's mergeAll makes it. kyaml starts from a copy
// of m and sets on it every entry of a copy of each source and then of m,
// in order, each replacing the first entry of its key or added at the end.
// It names an entry by its key's value as GetValue reads it ("" for a null
// key), but takes the entry from its copy as the first whose key is
// spelled the same: a null key spelled ~ is looked for as "" and so added
// again, each time.
//
// Without a merge key and with no null key spelled out, that gives m back
// entry for entry, which is where most mappings stop. Otherwise the
// entries are worked out first, by index, and copied once at the end:
// an entry kyaml would hold in two places (the same copy set twice) is one
// node in both, and two copies of one entry are two nodes.
func (d *deAnchorer) merge(m *yaml.Node, sources []*yaml.Node) error {
	copied := d.exact || d.holds[m] || d.reach[m] // what kyaml copies is not all m's own
	delete(d.pending, m)
	if len(sources) == 0 && plainKeys(m) {
		if copied {
			return d.standIns(m)
		}
		return nil
	}
	// An entry is the pair at index i (of pairs) of one of kyaml's copies:
	// src -1 is the copy merging starts from, 0..len(sources)-1 the
	// sources', len(sources) m's own.
	type entry struct{ src, i int }
	own := len(sources)
	pair := func(e entry) []*yaml.Node {
		switch {
		case e.src < 0 || e.src == own:
			return m.Content[2*e.i : 2*e.i+2]
		default:
			return sources[e.src].Content[2*e.i : 2*e.i+2]
		}
	}
	out := make([]entry, len(m.Content)/2)
	ownFirst := firstPlaces(m)
	at := places{first: make(map[string]int, len(ownFirst))} // out's entries by key as spelled
	for j := range out {
		out[j] = entry{-1, j}
		at.add(m.Content[2*j].Value, j)
	}
	for s, src := range append(sources, m) {
		first := ownFirst
		if s != own {
			first = firstPlaces(src)
		}
		for i := 0; 2*i+1 < len(src.Content); i++ {
			e := entry{s, first[src.Content[2*i].Value]}
			k := pair(e)[0]
			name := Value(k)
			j, ok := at.get(name)
			if !ok {
				out = append(out, e)
				at.add(k.Value, len(out)-1)
				continue
			}
			out[j] = e
			if k.Value != name { // the place is now spelled as k is
				at.dropFirst(name)
				at.add(k.Value, j)
			}
		}
	}
	// Copy each entry once. m's own nodes may stand in for the first copy
	// of them, unless an alias could see them.
	made := make(map[entry]int, len(out)) // where in content an entry went
	used := make([]bool, len(m.Content)/2)
	content := make([]*yaml.Node, 0, 2*len(out))
	for _, e := range out {
		if i, ok := made[e]; ok {
			content = append(content, content[i], content[i+1])
			d.exact = true // one entry in two places
			continue
		}
		orig := pair(e)
		k, v := orig[0], orig[1]
		var err error
		switch {
		case e.src >= 0 && e.src != own || used[e.i]:
			// A copy that adds to the tree.
			if k, err = d.copy(k); err == nil {
				v, err = d.copy(v)
			}
		case copied:
			if k, err = d.standIn(k); err == nil {
				v, err = d.standIn(v)
			}
		}
		if err != nil {
			return err
		}
		if e.src < 0 || e.src == own {
			used[e.i] = true
		}
		made[e] = len(content)
		content = append(content, k, v)
	}
	m.Content = content
	return nil
}

// plainKeys reports whether every key of m is named as it is spelled, so
// that kyaml's merge finds each entry where it is.
func plainKeys(m *yaml.Node) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; Value(k) != k.Value {
			return false
		}
	}
	return true
}

// firstPlaces maps each key of m, as spelled, to the index of its first
// entry.
func firstPlaces(m *yaml.Node) map[string]int {
	first := make(map[string]int, len(m.Content)/2)
	for i := 0; 2*i+1 < len(m.Content); i++ {
		if _, ok := first[m.Content[2*i].Value]; !ok {
			first[m.Content[2*i].Value] = i
		}
	}
	return first
}

// places holds, for each key as spelled, the places it has in a list of
// entries, in order: the first in first, any others in rest (most keys
// have one place, and then no slice of their own).
type places struct {
	first map[string]int
	rest  map[string][]int
}

func (p *places) get(k string) (int, bool) {
	j, ok := p.first[k]
	return j, ok
}

func (p *places) add(k string, j int) {
	f, ok := p.first[k]
	switch {
	case !ok:
		p.first[k] = j
		return
	case j < f:
		p.first[k], j = j, f
	}
	if p.rest == nil {
		p.rest = map[string][]int{}
	}
	p.rest[k] = insertSorted(p.rest[k], j)
}

func (p *places) dropFirst(k string) {
	if r := p.rest[k]; len(r) > 0 {
		p.first[k] = r[0]
		p.rest[k] = r[1:]
		return
	}
	delete(p.first, k)
}

func insertSorted(s []int, v int) []int {
	i := len(s)
	for i > 0 && s[i-1] > v {
		i--
	}
	s = append(s, 0)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}
