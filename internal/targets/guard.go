package targets

import (
	"fmt"
	"reflect"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// istiod's guard (wiring.Guard) is a volume of the pod and a mount of the
// discovery container: written into a Deployment's pod template, into an
// IstioOperator's values.pilot.volumes and volumeMounts (which the istiod
// chart renders into the Deployment; istioctl ignores k8s.volumes), and
// into the IstioOperator a TSB ControlPlane generates.

// GuardVolume is the guard's volume as Kubernetes reads it: a downwardAPI
// volume whose items hold pod annotations. apiVersion v1 is what the API
// server would default, so the stored pod reads the same.
func GuardVolume(g *wiring.Guard) *yaml.Node {
	items := yamlnode.NewSequence()
	for _, it := range g.Items {
		item := yamlnode.NewMapping()
		yamlnode.SetField(item, "path", StringNode(it.Path))
		yamlnode.SetField(item, "fieldRef", fieldRef(it.FieldPath))
		items.Content = append(items.Content, item)
	}
	dapi := yamlnode.NewMapping()
	yamlnode.SetField(dapi, "items", items)
	v := yamlnode.NewMapping()
	yamlnode.SetField(v, "name", StringNode(g.Volume))
	yamlnode.SetField(v, "downwardAPI", dapi)
	return v
}

// GuardMount mounts the guard read-only at its path.
func GuardMount(g *wiring.Guard) *yaml.Node {
	m := yamlnode.NewMapping()
	yamlnode.SetField(m, "name", StringNode(g.Volume))
	yamlnode.SetField(m, "mountPath", StringNode(g.MountPath))
	yamlnode.SetField(m, "readOnly", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	return m
}

func fieldRef(fieldPath string) *yaml.Node {
	f := yamlnode.NewMapping()
	yamlnode.SetField(f, "apiVersion", StringNode("v1"))
	yamlnode.SetField(f, "fieldPath", StringNode(fieldPath))
	return f
}

// sameTree reports whether two nodes hold the same data, whatever their
// style, key order or position.
func sameTree(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	var x, y any
	if a.Decode(&x) != nil || b.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// listEntry is the first mapping of a list whose field key holds value,
// and its index; -1 when there is none.
func listEntry(list *yaml.Node, key, value string) (*yaml.Node, int) {
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, -1
	}
	for i, e := range list.Content {
		if e.Kind != yaml.MappingNode {
			continue
		}
		if _, n := yamlnode.Field(e, key); n != nil && yamlnode.IsString(n) && n.Value == value {
			return e, i
		}
	}
	return nil, -1
}

// setListEntry makes the entry of a list whose field key is want's the
// same as want: appended when there is none, left alone when it holds the
// same, otherwise replaced (its node overwritten, so it keeps its place).
// It reports whether the list changed.
func setListEntry(list *yaml.Node, key string, want *yaml.Node) bool {
	_, kv := yamlnode.Field(want, key)
	e, _ := listEntry(list, key, kv.Value)
	switch {
	case e == nil:
		list.Content = append(list.Content, want)
	case sameTree(e, want):
		return false
	default:
		*e = *want
	}
	return true
}

// setGuard writes the guard volume into a pod spec and its mount into the
// container c (at cpath). checkMounts has refused any other mount at or
// around the guard's path.
func setGuard(podSpec, c *yaml.Node, cpath string, g *wiring.Guard) (bool, error) {
	vols, err := yamlnode.LookupCreate(podSpec, yaml.SequenceNode, "volumes")
	if err != nil || vols.Kind != yaml.SequenceNode {
		return false, errorAt(podSpec, "spec.template.spec.volumes", "is not a list")
	}
	// setListEntry replaces the first volume of the guard's name only; a
	// second one would stay, and the API server rejects a pod whose
	// volume names repeat.
	if first, i := listEntry(vols, "name", g.Volume); first != nil {
		rest := &yaml.Node{Kind: yaml.SequenceNode, Content: vols.Content[i+1:]}
		if e, j := listEntry(rest, "name", g.Volume); e != nil {
			return false, errorAt(e, fmt.Sprintf("spec.template.spec.volumes[%d]", i+1+j), "is a second volume named %s, which the API server rejects (volume names must be unique in a pod): remove it (only the first volume of that name is the guard, which istio-vault-ca writes)", g.Volume)
		}
	}
	mounts, err := yamlnode.LookupCreate(c, yaml.SequenceNode, "volumeMounts")
	if err != nil || mounts.Kind != yaml.SequenceNode {
		return false, errorAt(c, cpath+".volumeMounts", "is not a list")
	}
	changed := setListEntry(vols, "name", GuardVolume(g))
	return setListEntry(mounts, "name", GuardMount(g)) || changed, nil
}

// EnvEntry is a plan variable as an env entry: its value, or its
// downward-API reference.
func EnvEntry(v wiring.Pair) *yaml.Node {
	e := yamlnode.NewMapping()
	setString(e, "name", v.Name)
	if v.FieldPath != "" {
		vf := yamlnode.NewMapping()
		yamlnode.SetField(vf, "fieldRef", fieldRef(v.FieldPath))
		yamlnode.SetField(e, "valueFrom", vf)
		return e
	}
	setString(e, "value", v.Value)
	return e
}

// envEntryIs reports whether an env entry sets its variable as v does.
func envEntryIs(e *yaml.Node, v wiring.Pair) bool {
	_, val := yamlnode.Field(e, "value")
	_, vf := yamlnode.Field(e, "valueFrom")
	if v.FieldPath == "" {
		return vf == nil && val != nil && yamlnode.IsString(val) && val.Value == v.Value
	}
	if val != nil && yamlnode.Value(val) != "" || vf == nil || vf.Kind != yaml.MappingNode || len(vf.Content) != 2 {
		return false
	}
	ref := yamlnode.Lookup(vf, "fieldRef")
	if ref == nil || yamlnode.Value(yamlnode.Lookup(ref, "fieldPath")) != v.FieldPath {
		return false
	}
	api := yamlnode.Lookup(ref, "apiVersion")
	return api == nil || yamlnode.Value(api) == "v1"
}

// shownEnv is what a plan variable is set to, as a message quotes it.
func shownEnv(v wiring.Pair) string {
	if v.FieldPath != "" {
		return "valueFrom.fieldRef " + v.FieldPath
	}
	return shown(v.Value)
}
