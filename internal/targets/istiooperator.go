package targets

import (
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// IsIstioOperator reports whether a resource is an istioctl IstioOperator.
func IsIstioOperator(rn *yaml.Node) bool {
	return hasKind(rn, "IstioOperator", "install.istio.io")
}

// InstallsIstiod mirrors istioctl's decision whether an IstioOperator
// renders an istiod Deployment: the pilot component is enabled (by the
// profile, where only "empty" disables it, or explicitly), resources are
// rendered at namespace scope, and the istiod chart is not in remote mode
// (profile or values.profile "remote", or values.istiodRemote.enabled)
// unless a local injector istiod is asked for. The e2e tests check this
// against istioctl's own manifest generation for every corpus file.
func InstallsIstiod(rn *yaml.Node) bool {
	profile, _ := stringValue(yamlnode.Lookup(rn, "spec", "profile"))
	enabled := profile != "empty"
	if v, set := boolValue(yamlnode.Lookup(rn, "spec", "components", "pilot", "enabled")); set {
		enabled = v
	}
	if !enabled {
		return false
	}
	if scope, _ := stringValue(yamlnode.Lookup(rn, "spec", "values", "global", "resourceScope")); scope != "" && scope != "all" && scope != "namespace" {
		return false
	}
	remote := profile == "remote"
	if vp, ok := stringValue(yamlnode.Lookup(rn, "spec", "values", "profile")); ok && vp != "" {
		remote = vp == "remote"
	}
	if v, set := boolValue(yamlnode.Lookup(rn, "spec", "values", "istiodRemote", "enabled")); set {
		remote = v
	}
	local, _ := boolValue(yamlnode.Lookup(rn, "spec", "values", "istiodRemote", "enabledLocalInjectorIstiod"))
	return !remote || local
}

// ApplyIstioOperator writes istiod's plan into the pilot component's k8s
// settings, which istioctl applies to the istiod Deployment it renders, and
// each gateway plan into the gateways it selects.
func ApplyIstioOperator(rn *yaml.Node, istiod *wiring.Plan, gateways []*wiring.Plan) (bool, error) {
	changed := false
	if InstallsIstiod(rn) {
		c, err := applyOperatorPilot(rn, istiod)
		if err != nil {
			return false, err
		}
		changed = c
	}
	c, err := applyOperatorGateways(rn, gateways)
	return changed || c, err
}

// applyOperatorPilot: values the user already set under spec.values.pilot
// are reconciled, never doubled.
func applyOperatorPilot(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	if err := checkOperatorIdentity(rn, p); err != nil {
		return false, err
	}
	if err := checkChartMounts(rn, p.VolumePath); err != nil {
		return false, err
	}
	k8s, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "components", "pilot", "k8s")
	if err != nil || k8s.Kind != yaml.MappingNode {
		return false, errorAt(rn, "spec.components.pilot.k8s", "is not a mapping")
	}
	anns, err := yamlnode.LookupCreate(k8s, yaml.MappingNode, "podAnnotations")
	if err != nil || anns.Kind != yaml.MappingNode {
		return false, errorAt(k8s, "spec.components.pilot.k8s.podAnnotations", "is not a mapping")
	}
	changed, err := setOwnedAnnotations(anns, "spec.components.pilot.k8s.podAnnotations", p,
		map[string]*yaml.Node{"spec.values.pilot.podAnnotations": yamlnode.Lookup(rn, "spec", "values", "pilot", "podAnnotations")})
	if err != nil {
		return false, err
	}
	if err := checkEnvVarFrom(rn, p); err != nil {
		return false, err
	}
	envChanged, err := setOwnedEnv(k8s, "spec.components.pilot.k8s", p.Env, p.Override,
		yamlnode.Lookup(rn, "spec", "values", "pilot", "env"), "spec.values.pilot.env")
	return changed || envChanged, err
}

// checkEnvVarFrom refuses a values.pilot.envVarFrom entry for one of the
// plan's variables: the chart renders it after ours.
func checkEnvVarFrom(rn *yaml.Node, p *wiring.Plan) error {
	list := yamlnode.Lookup(rn, "spec", "values", "pilot", "envVarFrom")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	for _, e := range list.Content {
		name, _ := stringValue(yamlnode.Lookup(e, "name"))
		for _, v := range p.Env {
			if name == v.Name {
				return errorAt(e, "spec.values.pilot.envVarFrom["+name+"]", "sets %s from a reference but istio-vault-ca needs %q: remove it", name, v.Value)
			}
		}
	}
	return nil
}

// checkOperatorIdentity: istioctl runs istiod as istiod-<revision> in the
// pilot component's namespace; the Vault role must bind both.
func checkOperatorIdentity(rn *yaml.Node, p *wiring.Plan) error {
	sa := "istiod"
	if rev, _ := stringValue(yamlnode.Lookup(rn, "spec", "revision")); rev != "" && rev != "default" {
		sa = "istiod-" + rev
		if !slices.Contains(p.ServiceAccounts, sa) {
			return errorAt(yamlnode.Lookup(rn, "spec", "revision"), "spec.revision",
				"is %q, so istiod runs as %s, but the Vault role binds only %s: add %q to spec.istiod.revisions", rev, sa, strings.Join(p.ServiceAccounts, ", "), rev)
		}
	} else if !slices.Contains(p.ServiceAccounts, sa) {
		return errorAt(rn, "spec.revision", "is the default revision, so istiod runs as istiod, but the Vault role binds only %s: add \"default\" to spec.istiod.revisions", strings.Join(p.ServiceAccounts, ", "))
	}
	ns := "istio-system"
	for _, path := range [][]string{{"spec", "values", "global", "istioNamespace"}, {"spec", "namespace"}, {"spec", "components", "pilot", "namespace"}} {
		if v, _ := stringValue(yamlnode.Lookup(rn, path...)); v != "" {
			ns = v
		}
	}
	if !slices.Contains(p.Namespaces, ns) {
		return errorAt(rn, "spec.components.pilot.namespace", "istiod is installed in %q but the Vault role binds only namespaces %s: add it to spec.istiod.namespaces", ns, strings.Join(p.Namespaces, ", "))
	}
	return nil
}
