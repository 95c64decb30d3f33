package transform

import (
	"errors"
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// What one input (a stream, or a KRM ResourceList) may cost beyond its own
// size. Parsing and writing cost about what the input's bytes do; these
// bound the two ways a small input could cost far more.
const (
	// maxAliasNodes and maxAliasBytes bound what aliases and merge keys
	// may add to the documents that are parsed, all documents of an input
	// together: 100 bytes of aliases, each to ten of the one before, would
	// otherwise make a tree of millions of nodes, and one anchored string
	// repeated by its aliases megabytes of output. Repeated labels or env
	// entries in an istiod Deployment add hundreds of nodes. An added node
	// costs about 600 bytes of memory until the document is written (most
	// of it the serialiser's, which keeps every event of a document), so
	// the most aliases can add stays under 100 MB.
	maxAliasNodes = 100_000
	maxAliasBytes = 8 << 20
	// maxHeldBytes bounds the changed documents held for the second pass
	// (see Edits), all of them together. The API server takes an object of
	// at most 1.5 MiB, so this is more than twenty of the largest ones.
	maxHeldBytes = 32 << 20
)

// Limits is what is left of one input's allowances; its documents share
// it. The zero value allows nothing: use NewLimits.
type Limits struct {
	alias yamlnode.Budget
	held  int64
	// targets counts the documents that were targets, changed or not, so
	// a front end can say that a stream had none.
	targets int
	// csrIstiod and injector: the stream, in the istioCSR mode, held
	// istiod's Deployment, and the sidecar injector's ConfigMap.
	csrIstiod, injector bool
	caAddress           string
}

// Warnings are what a front end should say on stderr about a stream that
// transformed fine: istiod's Deployment in the istioCSR mode with no
// injector ConfigMap, whose values point the proxies at istio-csr. Charts
// split across apps are legitimate, so it is no error; but istiod's CA is
// off now, and proxies injected with the old values keep asking it.
func (l *Limits) Warnings() []string {
	if !l.csrIstiod || l.injector {
		return nil
	}
	return []string{fmt.Sprintf("istiod's Deployment now runs with ENABLE_CA_SERVER=false (spec.source.istioCSR), but the stream holds no istio-sidecar-injector ConfigMap, whose values give every proxy its CA_ADDR: until they point at istio-csr the proxies keep asking istiod, whose CA is off. Where the injector is rendered, set its chart value global.caAddress=%s (the injector values' global.caAddress), or pass that ConfigMap through istio-vault-ca too", l.caAddress)}
}

// seen records, of a resource the config applied to, what Warnings needs.
func (l *Limits) seen(rn *yaml.Node, ps *targets.Plans) {
	if ps.Istiod == nil || ps.Istiod.CSR == nil {
		return
	}
	l.caAddress = ps.Istiod.CSR.CAAddress
	switch {
	case targets.IsIstiod(rn):
		l.csrIstiod = true
	case targets.IsInjectorConfigMap(rn):
		l.injector = true
	}
}

// Targets is how many documents of the input were targets (changed or
// already converged).
func (l *Limits) Targets() int { return l.targets }

// NewLimits returns the allowances of one input.
func NewLimits() *Limits {
	return &Limits{alias: yamlnode.Budget{Nodes: maxAliasNodes, Bytes: maxAliasBytes}, held: maxHeldBytes}
}

// Resource applies the config to one resource that is parsed already, an
// item of a KRM ResourceList, in place, and reports whether it changed. A
// resource that could be a target is first checked and expanded as a
// stream's document is (see expand), within lim.
func (t *Transformer) Resource(rn *yaml.Node, lim *Limits) (bool, error) {
	if !t.mayBeTarget(rn) {
		return false, nil
	}
	if _, err := lim.expand(rn); err != nil {
		return false, err
	}
	changed, err := t.Node(rn)
	if err == nil {
		lim.seen(rn, &t.plans)
	}
	return changed, err
}

// mayBeTarget is, for a parsed resource, what isCandidate is for bytes:
// its kind is a target's, or cannot be read plainly (an alias, a merge
// key that may bring one, two kind keys).
func (t *Transformer) mayBeTarget(rn *yaml.Node) bool {
	if rn.Kind == yaml.AliasNode {
		return true
	}
	if rn.Kind != yaml.MappingNode {
		return false
	}
	kinds := 0
	for i := 0; i+1 < len(rn.Content); i += 2 {
		k, v := rn.Content[i], rn.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag == yamlnode.MergeTag:
			return true
		case k.Value == "kind":
			kinds++
			if v.Kind != yaml.ScalarNode {
				return true
			}
			if k := targets.KindNamed([]byte(v.Value)); k != nil && (k.MayBeNode == nil || k.MayBeNode(rn, &t.plans)) {
				return true
			}
		}
	}
	return kinds > 1
}

// expand makes a parsed document (or resource) what every mode must see,
// in place: a duplicate key is an error, and aliases and merge keys are
// expanded, within lim. It reports whether it expanded any: the tree then
// no longer matches the bytes. Errors carry the line within what was
// parsed, where there is one.
func (lim *Limits) expand(n *yaml.Node) (bool, error) {
	rn := yamlnode.Root(n)
	// Which of two equal keys would Kubernetes, or the injector, use? Refuse.
	if k := duplicateKey(rn); k != nil {
		return false, &targets.Error{Line: k.Line,
			Msg: fmt.Sprintf("key %q is already defined in this mapping: remove one of the two", k.Value)}
	}
	// A pod template reached through an alias or a merge key is still the
	// pod template: expand them, or such an istiod would silently be missed.
	if !hasAliasOrMerge(rn) {
		return false, nil
	}
	root, err := yamlnode.DeAnchorWithin(n, &lim.alias)
	switch {
	case errors.Is(err, yamlnode.ErrNodeBudget):
		return false, fmt.Errorf("its aliases expand to more than %d nodes beyond its own (the limit for one input, all its documents together): refused (a YAML alias bomb?); write the repeated parts out", maxAliasNodes)
	case errors.Is(err, yamlnode.ErrByteBudget):
		return false, fmt.Errorf("its aliases expand to more than %d MiB of text beyond its own (the limit for one input, all its documents together): refused (a YAML alias bomb?); write the repeated parts out", maxAliasBytes>>20)
	case err != nil:
		return false, fmt.Errorf("cannot expand YAML aliases: %v", err)
	}
	if root != n {
		*n = *root // an alias as the root
	}
	// kyaml's expansion, which DeAnchor follows, leaves the merge key of a
	// mapping merged in as it is: its keys would not be seen.
	if k := mergeKey(yamlnode.Root(n)); k != nil {
		return true, &targets.Error{Line: k.Line,
			Msg: "a merge key (<<) brings in a mapping that has a merge key of its own, which is not expanded: write that mapping's keys out"}
	}
	return true, nil
}

// duplicateKey returns the second occurrence of a key in any mapping.
func duplicateKey(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Value != "<<" {
				if seen[k.Value] {
					return k
				}
				seen[k.Value] = true
			}
		}
	}
	for _, c := range n.Content {
		if d := duplicateKey(c); d != nil {
			return d
		}
	}
	return nil
}

func hasAliasOrMerge(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Tag == yamlnode.MergeTag {
		return true
	}
	for _, c := range n.Content {
		if hasAliasOrMerge(c) {
			return true
		}
	}
	return false
}

// mergeKey returns a merge key left in a mapping.
func mergeKey(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Tag == yamlnode.MergeTag {
				return n.Content[i]
			}
		}
	}
	for _, c := range n.Content {
		if k := mergeKey(c); k != nil {
			return k
		}
	}
	return nil
}

// errHeld is the error of an input whose changed documents would be more
// than is held for the second pass.
var errHeld = fmt.Errorf("the changed documents come to more than %d MiB (the limit for one input, all its documents together, held in memory until the output is written): refused; run the tool on parts of the input", maxHeldBytes>>20)

// hold takes n bytes of changed documents off the allowance, or fails.
func (lim *Limits) hold(n int) error {
	if int64(n) > lim.held {
		lim.held = 0
		return errHeld
	}
	lim.held -= int64(n)
	return nil
}
