package lint

import (
	"slices"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// templateKinds are the workload kinds whose pods come from spec.template.
var templateKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

// podTemplate is where a workload's pods are described: the metadata the
// pods get (the Vault Agent Injector reads only the pod's annotations) and
// their spec, with the field path that leads to them.
type podTemplate struct {
	path           string // "spec.template", or "" for a Pod
	metadata, spec *yaml.Node
	// ownMetadata are the metadata a pod does not get: the workload's own
	// (and a CronJob's job template's), with their paths.
	ownMetadata []meta
}

type meta struct {
	path string
	node *yaml.Node
}

// podTemplateOf is the pod template of a workload of a known kind, nil for
// anything else.
func podTemplateOf(r *resource) *podTemplate {
	rn := r.node
	switch {
	case r.kind == "Pod":
		return &podTemplate{metadata: yamlnode.Lookup(rn, "metadata"), spec: yamlnode.Lookup(rn, "spec")}
	case r.kind == "CronJob":
		return &podTemplate{
			path:     "spec.jobTemplate.spec.template",
			metadata: yamlnode.Lookup(rn, "spec", "jobTemplate", "spec", "template", "metadata"),
			spec:     yamlnode.Lookup(rn, "spec", "jobTemplate", "spec", "template", "spec"),
			ownMetadata: []meta{
				{"metadata", yamlnode.Lookup(rn, "metadata")},
				{"spec.jobTemplate.metadata", yamlnode.Lookup(rn, "spec", "jobTemplate", "metadata")},
			},
		}
	case isTemplateKind(r.kind):
		return &podTemplate{
			path:        "spec.template",
			metadata:    yamlnode.Lookup(rn, "spec", "template", "metadata"),
			spec:        yamlnode.Lookup(rn, "spec", "template", "spec"),
			ownMetadata: []meta{{"metadata", yamlnode.Lookup(rn, "metadata")}},
		}
	}
	return nil
}

func isTemplateKind(kind string) bool { return slices.Contains(templateKinds, kind) }

// field is the path of a field under the pod template.
func (t *podTemplate) field(rest string) string {
	if t.path == "" {
		return rest
	}
	return t.path + "." + rest
}

// annotations is the mapping of the annotations the pods get (nil when
// there is none).
func (t *podTemplate) annotations() *yaml.Node {
	return yamlnode.Lookup(t.metadata, "annotations")
}

// annotation is the value of one of the pods' annotations, and whether it
// is set.
func (t *podTemplate) annotation(name string) (*yaml.Node, string, bool) {
	k, v := yamlnode.Field(t.annotations(), name)
	if k == nil {
		return nil, "", false
	}
	return k, yamlnode.Value(v), true
}

// injects reports whether the pods ask the Vault Agent Injector for an
// agent: agent-inject set to a true value, as the injector parses it.
func (t *podTemplate) injects() bool {
	_, v, ok := t.annotation(vaultPrefix + "agent-inject")
	b, err := strconv.ParseBool(v)
	return ok && err == nil && b
}

// container is one container of the pod spec, with its field path.
type container struct {
	path string // spec.template.spec.containers[discovery]
	name string
	node *yaml.Node
}

// containers are the pod's containers and init containers.
func (t *podTemplate) containers() []container {
	var cs []container
	for _, list := range []string{"initContainers", "containers"} {
		seq := yamlnode.Lookup(t.spec, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range seq.Content {
			name := yamlnode.Value(yamlnode.Lookup(c, "name"))
			cs = append(cs, container{path: t.field("spec." + list + "[" + name + "]"), name: name, node: c})
		}
	}
	return cs
}

// envVar is one entry of a container's env list.
type envVar struct {
	name, value string
	valueFrom   bool // from a ConfigMap, Secret or field: value unknown here
	node        *yaml.Node
}

// env is a container's env list; of a name set twice, the last wins, as
// the kubelet reads it.
func (c container) env() map[string]envVar {
	vars := map[string]envVar{}
	seq := yamlnode.Lookup(c.node, "env")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return vars
	}
	for _, e := range seq.Content {
		name := yamlnode.Value(yamlnode.Lookup(e, "name"))
		if name == "" {
			continue
		}
		vars[name] = envVar{name: name, value: yamlnode.Value(yamlnode.Lookup(e, "value")),
			valueFrom: yamlnode.Lookup(e, "valueFrom") != nil, node: e}
	}
	return vars
}
