package targets

import (
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// IsControlPlane reports whether a resource is a Tetrate TSB ControlPlane.
func IsControlPlane(rn *yaml.Node) bool {
	return hasKind(rn, controlPlaneKind, tetrateInstallGroup)
}

// TSBIstiodServiceAccount is the service account TSB runs istiod as.
const TSBIstiodServiceAccount = "istiod-service-account"

const (
	kubeSpecPath       = "spec.components.istio.kubeSpec"
	pilotEnvPatch      = "spec.components.pilot.k8s.env"
	pilotAnnsPatch     = "spec.components.pilot.k8s.podAnnotations"
	pilotOverlaysPatch = "spec.components.pilot.k8s.overlays"
)

// ApplyControlPlane writes a plan where TSB reads istiod settings: the
// istio component's kubeSpec.deployment env and podAnnotations (seed 001).
// TSB applies kubeSpec.overlays on the IstioOperator it generates after
// that, and an overlay patch that sets the pilot's whole env list or
// podAnnotations map (seed 002) would drop ours: such patches get the plan's
// entries too.
func ApplyControlPlane(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	if err := checkChartMounts(rn, p.VolumePath); err != nil {
		return false, err
	}
	// The Deployment TSB renders is not in the stream to check, but its
	// service account is known: a role that does not bind it leaves an
	// istiod whose agent can never log in, stuck in Init.
	if !slices.Contains(p.ServiceAccounts, TSBIstiodServiceAccount) {
		return false, errorAt(rn, "kind", "ControlPlane: TSB runs istiod as %q, which the Vault role does not bind (it binds %s): add %q to spec.istiod.serviceAccounts",
			TSBIstiodServiceAccount, strings.Join(p.ServiceAccounts, ", "), TSBIstiodServiceAccount)
	}
	dep, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "components", "istio", "kubeSpec", "deployment")
	if err != nil || dep.Kind != yaml.MappingNode {
		return false, errorAt(rn, kubeSpecPath+".deployment", "is not a mapping")
	}
	anns, err := yamlnode.LookupCreate(dep, yaml.MappingNode, "podAnnotations")
	if err != nil || anns.Kind != yaml.MappingNode {
		return false, errorAt(dep, kubeSpecPath+".deployment.podAnnotations", "is not a mapping")
	}
	changed, err := setOwnedAnnotations(anns, kubeSpecPath+".deployment.podAnnotations", p, nil)
	if err != nil {
		return false, err
	}
	c, err := setOwnedEnv(dep, kubeSpecPath+".deployment", p.Env, p.Override, nil, "")
	if err != nil {
		return false, err
	}
	changed = changed || c
	c, err = applyOverlayPatches(rn, p)
	return changed || c, err
}

// applyOverlayPatches adds the plan to every IstioOperator overlay patch
// that replaces the pilot's env list or podAnnotations map.
func applyOverlayPatches(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	overlays := yamlnode.Lookup(rn, "spec", "components", "istio", "kubeSpec", "overlays")
	if overlays == nil || overlays.Kind != yaml.SequenceNode {
		return false, nil
	}
	changed := false
	for i, ov := range overlays.Content {
		if kind, _ := stringValue(yamlnode.Lookup(ov, "kind")); kind != "IstioOperator" {
			continue
		}
		patches := yamlnode.Lookup(ov, "patches")
		if patches == nil || patches.Kind != yaml.SequenceNode {
			continue
		}
		for j, patch := range patches.Content {
			path, _ := stringValue(yamlnode.Lookup(patch, "path"))
			at := kubeSpecPath + ".overlays[" + strconv.Itoa(i) + "].patches[" + strconv.Itoa(j) + "]"
			var c bool
			var err error
			switch path {
			case pilotEnvPatch:
				c, err = reconcileEnvPatch(patch, at, p)
			case pilotAnnsPatch:
				c, err = reconcileAnnotationsPatch(patch, at, p)
			case pilotOverlaysPatch:
				// The generated IstioOperator's own overlays on istiod,
				// which istioctl applies last of all.
				c, err = applyDeploymentOverlays(yamlnode.Lookup(patch, "value"), at+".value", isTSBIstiod, p)
			}
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
	}
	return changed, nil
}

// isTSBIstiod: the names TSB's istiod Deployment has, for every revision;
// the ControlPlane does not say which revision TSB installs.
func isTSBIstiod(name string) bool {
	return name == "istiod" || strings.HasPrefix(name, "istiod-")
}
