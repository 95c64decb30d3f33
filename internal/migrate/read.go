package migrate

import (
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// setting is one environment variable of Istio 1.1's node agent, as the
// input sets it.
type setting struct {
	// key is how the input names it, for messages: nodeagent.env.VAULT_ROLE
	// in a values file, env VAULT_ROLE in a manifest.
	key, name, value string
	line             int
	// fromRef: the manifest takes the value from a ConfigMap, Secret or
	// field (valueFrom), which migrate cannot read.
	fromRef bool
}

// agent is one place that configures a node agent with CA_PROVIDER=VaultCA:
// a values file, or one container of a manifest.
type agent struct {
	// where locates it in messages: "line 14" or "document 3 (DaemonSet
	// istio-system/istio-nodeagent), container nodeagent".
	where string
	// doc is the document prefix of where ("document 3 (...)", or "" for a
	// values file), for messages about one setting.
	doc         string
	env         []setting
	trustDomain *setting
	// trustDomainKey names where the trust domain would be set, and
	// emptyTrustDomain is the line that sets it empty, if one does.
	trustDomainKey   string
	emptyTrustDomain int
	// others are the settings around the agent that have no counterpart:
	// nodeagent.image, global.sds.*.
	others []setting
}

// at locates a line of the agent's input.
func (a *agent) at(line int) string {
	if a.doc == "" {
		return fmt.Sprintf("line %d", line)
	}
	return fmt.Sprintf("%s, line %d", a.doc, line)
}

// aliasBudget bounds what aliases may add to a document, as the transform's
// limits do: a small input must not expand into a huge tree.
var aliasBudget = yamlnode.Budget{Nodes: 1 << 16, Bytes: 1 << 22}

type document struct {
	index int // 1-based, as messages count
	root  *yaml.Node
	// lineOffset turns a node's line into the stream's.
	lineOffset int
}

// parse splits the input into its non-empty documents.
func parse(data []byte) ([]document, error) {
	var docs []document
	for _, d := range stream.Split(data) {
		n, err := yamlnode.Parse(d.Source())
		if errors.Is(err, io.EOF) {
			continue
		}
		offset := d.Line - 1
		if !stream.IsBareMarker(d.Marker) && len(d.Marker) > 0 {
			offset-- // Source starts at the marker's line
		}
		if err != nil {
			return nil, fmt.Errorf("document %d (from line %d): not YAML: %v", d.Index+1, d.Line, err)
		}
		b := aliasBudget
		n, err = yamlnode.DeAnchorWithin(n, &b)
		if err != nil {
			return nil, fmt.Errorf("document %d (from line %d): %v", d.Index+1, d.Line, err)
		}
		root := yamlnode.Root(n)
		if yamlnode.IsEmpty(root) {
			continue
		}
		docs = append(docs, document{index: d.Index + 1, root: root, lineOffset: offset})
	}
	return docs, nil
}

// read finds the node agents the input configures. It tells the two input
// forms apart: manifests are documents with apiVersion and kind; a values
// file is one document without them.
func read(data []byte) ([]*agent, error) {
	docs, err := parse(data)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("holds no YAML document: give an Istio 1.1 values file (nodeagent.env) or rendered manifests")
	}
	manifests := false
	for _, d := range docs {
		if yamlnode.Kind(d.root) != "" && yamlnode.APIVersion(d.root) != "" {
			manifests = true
		}
	}
	if manifests {
		return readManifests(docs)
	}
	if len(docs) > 1 {
		return nil, fmt.Errorf("document %d: neither a values file (one document) nor manifests (no document has apiVersion and kind): give an Istio 1.1 values file or rendered manifests", docs[1].index)
	}
	return readValues(docs[0])
}

// readValues reads a values file: nodeagent.env maps names to values, and
// the nodeagent chart renders each as `value: "{{ $val }}"`.
func readValues(d document) ([]*agent, error) {
	line := func(n *yaml.Node) int { return n.Line + d.lineOffset }
	envKey, env := yamlnode.Field(yamlnode.Lookup(d.root, "nodeagent"), "env")
	if env != nil && env.Kind == yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: `nodeagent.env` is a list: the Istio 1.1 nodeagent chart reads it as a mapping of names to values (CA_PROVIDER: VaultCA); write it so, or give the rendered manifests, where env is a list", line(envKey))
	}
	if env == nil || env.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: neither manifests (no apiVersion and kind) nor an Istio 1.1 values file with a nodeagent.env mapping: give the values file that sets nodeagent.env.CA_PROVIDER: VaultCA, or the manifests rendered from it", line(d.root))
	}
	a := &agent{where: fmt.Sprintf("line %d (nodeagent.env)", line(envKey)), trustDomainKey: "global.trustDomain"}
	for i := 0; i+1 < len(env.Content); i += 2 {
		k, v := env.Content[i], env.Content[i+1]
		s := setting{key: "nodeagent.env." + k.Value, name: k.Value, line: line(k)}
		if v.Kind != yaml.ScalarNode {
			s.fromRef = true // a mapping or list: the chart would render it as Go prints it
		} else {
			s.value = rendered(v.Value)
		}
		a.env = append(a.env, s)
	}
	// The chart adds Trust_Domain from global.trustDomain after the env
	// entries, so it wins over one in nodeagent.env.
	if k, v := yamlnode.Field(yamlnode.Lookup(d.root, "global"), "trustDomain"); v != nil && v.Kind == yaml.ScalarNode {
		if v.Value != "" {
			a.trustDomain = &setting{key: "global.trustDomain", name: "Trust_Domain", value: v.Value, line: line(k)}
		} else {
			a.emptyTrustDomain = line(k)
		}
	}
	if na := yamlnode.Lookup(d.root, "nodeagent"); na != nil {
		for i := 0; i+1 < len(na.Content); i += 2 {
			if k := na.Content[i]; k.Value != "env" {
				a.others = append(a.others, setting{key: "nodeagent." + k.Value, line: line(k)})
			}
		}
	}
	if sds := yamlnode.Lookup(d.root, "global", "sds"); sds != nil && sds.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(sds.Content); i += 2 {
			k := sds.Content[i]
			a.others = append(a.others, setting{key: "global.sds." + k.Value, line: line(k)})
		}
	}
	return []*agent{a}, nil
}

// rendered is a values string as the node agent's environment held it: the
// chart writes it between double quotes, so YAML's escapes (\n in the PEM
// of VAULT_TLS_ROOT_CERT) are read again. A value that would not survive
// that (it holds a double quote) is kept as it is.
func rendered(v string) string {
	if strings.Contains(v, `"`) {
		return v
	}
	var s string
	if err := yaml.Unmarshal([]byte(`"`+v+`"`), &s); err != nil {
		return v
	}
	return s
}

// readManifests finds every container whose env sets CA_PROVIDER=VaultCA,
// in documents of any kind.
func readManifests(docs []document) ([]*agent, error) {
	var agents []*agent
	for _, d := range docs {
		doc := fmt.Sprintf("document %d (%s %s)", d.index, yamlnode.Kind(d.root), objectName(d.root))
		walkContainers(d.root, func(c *yaml.Node) {
			_, env := yamlnode.Field(c, "env")
			if env == nil || env.Kind != yaml.SequenceNode || !setsVaultCA(env) {
				return
			}
			_, name := yamlnode.Field(c, "name")
			a := &agent{where: fmt.Sprintf("%s, container %s", doc, yamlnode.Value(name)), doc: doc, trustDomainKey: "env Trust_Domain"}
			for _, e := range env.Content {
				_, n := yamlnode.Field(e, "name")
				if n == nil || n.Kind != yaml.ScalarNode {
					continue
				}
				s := setting{key: "env " + n.Value, name: n.Value, line: n.Line + d.lineOffset}
				_, v := yamlnode.Field(e, "value")
				_, ref := yamlnode.Field(e, "valueFrom")
				switch {
				case ref != nil && !yamlnode.IsEmpty(ref):
					s.fromRef = true
				case v != nil && v.Kind == yaml.ScalarNode:
					s.value = v.Value
				}
				if s.name == "Trust_Domain" {
					if s.value != "" {
						a.trustDomain = &s
					} else {
						a.trustDomain, a.emptyTrustDomain = nil, s.line
					}
					continue
				}
				a.env = append(a.env, s)
			}
			agents = append(agents, a)
		})
	}
	if len(agents) == 0 {
		return nil, errors.New("no container's env sets CA_PROVIDER=VaultCA: there is no Istio 1.1 Vault CA setting to migrate (give the manifests rendered with values-istio-example-sds-vault.yaml, or that values file)")
	}
	return agents, nil
}

func objectName(root *yaml.Node) string {
	if ns := yamlnode.Namespace(root); ns != "" {
		return ns + "/" + yamlnode.Name(root)
	}
	return yamlnode.Name(root)
}

// walkContainers calls fn on every entry of a containers or initContainers
// list anywhere in the tree: a DaemonSet's pod template, a Pod, a List's
// items alike.
func walkContainers(n *yaml.Node, fn func(*yaml.Node)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if (k.Value == "containers" || k.Value == "initContainers") && v.Kind == yaml.SequenceNode {
				for _, c := range v.Content {
					if c.Kind == yaml.MappingNode {
						fn(c)
					}
				}
				continue
			}
			walkContainers(v, fn)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			walkContainers(c, fn)
		}
	}
}

func setsVaultCA(env *yaml.Node) bool {
	for _, e := range env.Content {
		_, n := yamlnode.Field(e, "name")
		_, v := yamlnode.Field(e, "value")
		if n != nil && n.Value == "CA_PROVIDER" && v != nil && strings.TrimSpace(v.Value) == "VaultCA" {
			return true
		}
	}
	return false
}
