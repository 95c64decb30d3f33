package transform

import (
	"bytes"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Lists. `kubectl get -o yaml` writes a kind: List whose items are the
// resources, and `kubectl apply` takes one (as it takes any *List kind with
// items). The tool changes top-level resources only: a target inside a
// List would pass through unchanged and istiod keep its Secret, so such a
// List is refused, and one with no target passes through untouched.

// IsListKind reports whether a kind is a list of resources as kubectl
// reads one: List, or any kind ending in List (DeploymentList, ...).
func IsListKind(kind string) bool { return strings.HasSuffix(kind, "List") }

// mayHoldTarget tells from the bytes of a List document whether an item
// could be a target: only one that names a target kind.
func mayHoldTarget(body []byte) bool {
	for _, k := range targets.Kinds() {
		if bytes.Contains(body, []byte(k.Name)) {
			return true
		}
	}
	return false
}

// ListItems are the items of a List resource, nil for any other.
func ListItems(rn *yaml.Node) []*yaml.Node {
	if rn == nil || rn.Kind != yaml.MappingNode || !IsListKind(yamlnode.Kind(rn)) {
		return nil
	}
	items := yamlnode.Lookup(rn, "items")
	if items == nil || items.Kind != yaml.SequenceNode {
		return nil
	}
	return items.Content
}

// refuseList refuses a List one of whose items is a target, naming the
// item and its line.
func (t *Transformer) refuseList(rn *yaml.Node) error {
	for i, it := range ListItems(rn) {
		if it.Kind != yaml.MappingNode || !t.isTarget(it) {
			continue
		}
		return &targets.Error{Line: it.Line, Path: fmt.Sprintf("items[%d]", i), Msg: fmt.Sprintf(
			"is %s inside a %s: the tool changes top-level resources only, so it would pass through unchanged; split the List into documents first, e.g. `kubectl get ... -o yaml | yq '.items[] | split_doc'`, and run the tool on those",
			itemPlace(it), yamlnode.Kind(rn))}
	}
	return nil
}

// itemPlace is an item as an error names it: Kind namespace/name.
func itemPlace(it *yaml.Node) string {
	s := yamlnode.Kind(it)
	if n := yamlnode.Name(it); n != "" {
		if ns := yamlnode.Namespace(it); ns != "" {
			n = ns + "/" + n
		}
		s += " " + n
	}
	return s
}
