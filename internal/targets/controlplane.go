package targets

import (
	"fmt"
	"slices"
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
	if err != nil {
		return false, err
	}
	changed = changed || c
	c, err = setControlPlaneGuard(rn, p)
	return changed || c, err
}

// TSB's ControlPlane has no field for a pod volume; its kubeSpec.overlays
// patch the IstioOperator it generates (seed 002), named
// tsb-istiocontrolplane, whose values.pilot.volumes and volumeMounts the
// istiod chart renders (as for an IstioOperator, setOperatorGuard).
const (
	tsbIstioOperator    = "tsb-istiocontrolplane"
	pilotVolumesPatch   = "spec.values.pilot.volumes"
	pilotMountsPatch    = "spec.values.pilot.volumeMounts"
	pilotValuesPatch    = "spec.values.pilot"
	istioOperatorAPIVer = istioInstallGroup + "/v1alpha1"
)

// setControlPlaneGuard writes istiod's guard into the IstioOperator TSB
// generates: into the value of the overlay patches that already set
// values.pilot.volumes, volumeMounts or the whole values.pilot, otherwise as
// patches of their own, in the first overlay on an IstioOperator (one on
// tsb-istiocontrolplane is added when there is none).
func setControlPlaneGuard(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	if p.Guard == nil {
		return false, nil
	}
	kubeSpec, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "components", "istio", "kubeSpec")
	if err != nil || kubeSpec.Kind != yaml.MappingNode {
		return false, errorAt(rn, kubeSpecPath, "is not a mapping")
	}
	overlays, err := yamlnode.LookupCreate(kubeSpec, yaml.SequenceNode, "overlays")
	if err != nil || overlays.Kind != yaml.SequenceNode {
		return false, errorAt(kubeSpec, kubeSpecPath+".overlays", "is not a list")
	}
	// values stands for the IstioOperator's values.pilot: what the patches
	// found set there, so that setValuesGuard sees and fills both lists.
	found := map[string]*yaml.Node{} // the last patch of each list wins, as TSB applies them in order
	changed := false
	first, err := operatorPatches(overlays, func(patch *yaml.Node, at string) error {
		pth, _ := stringValue(yamlnode.Lookup(patch, "path"))
		_, v := yamlnode.Field(patch, "value")
		switch pth {
		case pilotVolumesPatch, pilotMountsPatch:
			if v == nil || v.Tag == yamlnode.NullTag {
				return errorAt(patch, at, "removes %s, with %s: remove this patch", pth, guardEntries)
			}
			found[strings.TrimPrefix(pth, pilotValuesPatch+".")] = v
		case pilotValuesPatch:
			if v == nil || v.Kind != yaml.MappingNode {
				return errorAt(patch, at, "replaces %s with something other than a mapping, which drops %s: remove this patch", pth, guardEntries)
			}
			c, err := setValuesGuard(v, at+".value", p)
			changed = changed || c
			return err
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	values := yamlnode.NewMapping()
	missing := map[string]bool{}
	for _, f := range []string{"volumes", "volumeMounts"} {
		if v := found[f]; v != nil {
			values.Content = append(values.Content, yamlnode.NewString(f), v)
		}
		missing[f] = found[f] == nil
	}
	c, err := setValuesGuard(values, kubeSpecPath+".overlays (the patches of "+pilotValuesPatch+")", p)
	if err != nil {
		return false, err
	}
	changed = changed || c
	if !missing["volumes"] && !missing["volumeMounts"] {
		return changed, nil
	}
	patches, err := firstOperatorPatches(overlays, first)
	if err != nil {
		return false, err
	}
	for _, f := range []string{"volumes", "volumeMounts"} {
		if missing[f] {
			patch := yamlnode.NewMapping()
			setString(patch, "path", pilotValuesPatch+"."+f)
			yamlnode.SetField(patch, "value", yamlnode.Lookup(values, f))
			patches.Content = append(patches.Content, patch)
		}
	}
	return true, nil
}

// operatorPatches calls each, in order, on every patch of the kubeSpec
// overlays (a list) on an IstioOperator, with its path for messages, and
// returns the first overlay on an IstioOperator, nil if there is none.
func operatorPatches(overlays *yaml.Node, each func(patch *yaml.Node, at string) error) (*yaml.Node, error) {
	var first *yaml.Node
	for i, ov := range overlays.Content {
		if kind, _ := stringValue(yamlnode.Lookup(ov, "kind")); kind != istioOperatorKind {
			continue
		}
		if first == nil {
			first = ov
		}
		patches := yamlnode.Lookup(ov, "patches")
		if patches == nil || patches.Kind != yaml.SequenceNode {
			continue
		}
		for j, patch := range patches.Content {
			if err := each(patch, fmt.Sprintf("%s.overlays[%d].patches[%d]", kubeSpecPath, i, j)); err != nil {
				return nil, err
			}
		}
	}
	return first, nil
}

// firstOperatorPatches is the patches list of first, the first overlay on
// an IstioOperator; nil first is one on tsb-istiocontrolplane, added.
func firstOperatorPatches(overlays, first *yaml.Node) (*yaml.Node, error) {
	if first == nil {
		first = yamlnode.NewMapping()
		setString(first, "apiVersion", istioOperatorAPIVer)
		setString(first, "kind", istioOperatorKind)
		setString(first, "name", tsbIstioOperator)
		overlays.Content = append(overlays.Content, first)
	}
	patches, err := yamlnode.LookupCreate(first, yaml.SequenceNode, "patches")
	if err != nil || patches.Kind != yaml.SequenceNode {
		return nil, errorAt(first, kubeSpecPath+".overlays[].patches", "is not a list")
	}
	return patches, nil
}

// applyOverlayPatches adds the plan to every IstioOperator overlay patch
// that replaces the pilot's env list or podAnnotations map.
func applyOverlayPatches(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	overlays := yamlnode.Lookup(rn, "spec", "components", "istio", "kubeSpec", "overlays")
	if overlays == nil || overlays.Kind != yaml.SequenceNode {
		return false, nil
	}
	changed := false
	_, err := operatorPatches(overlays, func(patch *yaml.Node, at string) error {
		path, _ := stringValue(yamlnode.Lookup(patch, "path"))
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
		changed = changed || c
		return err
	})
	return changed && err == nil, err
}

// isTSBIstiod: the names TSB's istiod Deployment has, for every revision;
// the ControlPlane does not say which revision TSB installs.
func isTSBIstiod(name string) bool {
	return name == "istiod" || strings.HasPrefix(name, "istiod-")
}
