package targets

import (
	"maps"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// SelectedGateway returns the gateway plan whose selector matches a
// workload's pod template labels, nil if none does. Two plans selecting the
// same workload would mount two volumes over each other: an error.
func SelectedGateway(rn *yaml.Node, plans []*wiring.Plan) (*wiring.Plan, error) {
	if !hasKind(rn, deploymentKind, appsGroup) {
		return nil, nil
	}
	labels := stringMap(yamlnode.Lookup(rn, "spec", "template", "metadata", "labels"))
	return selectOne(labels, plans, rn, "spec.template.metadata.labels")
}

func selectOne(labels map[string]string, plans []*wiring.Plan, n *yaml.Node, at string) (*wiring.Plan, error) {
	var found *wiring.Plan
	for _, p := range plans {
		if !matches(labels, p.Selector) {
			continue
		}
		if found != nil {
			return nil, errorAt(n, at, "match the selectors of two gateways (%v and %v): make the selectors exclusive", found.Selector, p.Selector)
		}
		found = p
	}
	return found, nil
}

func matches(labels, selector map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// applyOperatorGateways writes gateway plans into the ingressGateways and
// egressGateways of an IstioOperator. istioctl labels a gateway with its
// chart's labels (app: istio-ingressgateway, istio: ingressgateway for
// every ingress gateway, whatever its name) under its label map; the
// selector is matched against those. A gateway only the profile declares
// is not in the file: list it by name to select it.
func applyOperatorGateways(rn *yaml.Node, plans []*wiring.Plan) (bool, error) {
	changed := false
	for _, list := range []string{"ingressGateways", "egressGateways"} {
		gws := yamlnode.Lookup(rn, "spec", "components", list)
		if gws == nil || gws.Kind != yaml.SequenceNode {
			continue
		}
		for _, gw := range gws.Content {
			if enabled, set := boolValue(yamlnode.Lookup(gw, "enabled")); set && !enabled {
				continue
			}
			name, _ := stringValue(yamlnode.Lookup(gw, "name"))
			labels := maps.Clone(operatorGatewayCharts[list].labels)
			for k, v := range stringMap(yamlnode.Lookup(gw, "label")) {
				labels[k] = v
			}
			at := "spec.components." + list + "[" + name + "]"
			p, err := selectOne(labels, plans, gw, at)
			if err != nil {
				return false, err
			}
			if p == nil {
				continue
			}
			if err := checkOperatorGateway(rn, gw, at, list, p); err != nil {
				return false, err
			}
			anns, err := yamlnode.LookupCreate(gw, yaml.MappingNode, "k8s", "podAnnotations")
			if err != nil {
				return false, errorAt(gw, at+".k8s.podAnnotations", "is not a mapping")
			}
			c, err := setOwnedAnnotations(anns, at+".k8s.podAnnotations", p, nil)
			if err != nil {
				return false, err
			}
			oc, err := applyDeploymentOverlays(yamlnode.Lookup(gw, "k8s", "overlays"), at+".k8s.overlays", func(n string) bool { return n == name }, p)
			if err != nil {
				return false, err
			}
			changed = changed || c || oc
		}
	}
	return changed, nil
}

// stringMap reads a mapping of scalars, such as labels; nil for anything else.
func stringMap(n *yaml.Node) map[string]string {
	out := map[string]string{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	c := n.Content
	for i := 0; i+1 < len(c); i += 2 {
		if c[i+1].Kind == yaml.ScalarNode {
			out[c[i].Value] = c[i+1].Value
		}
	}
	return out
}
