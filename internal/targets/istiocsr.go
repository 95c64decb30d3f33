package targets

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// The istioCSR mode (wiring.CSR): istiod is no CA and serves with
// istiod-tls; every proxy sends its CSR to istio-csr. Where each kind of
// input carries that:
//   - a rendered chart: istiod's Deployment (ENABLE_CA_SERVER, and the
//     istiod-tls volumes charts before Istio 1.16 lack), the injector's
//     values ConfigMap (global.caAddress, which the injection template
//     turns into every sidecar's CA_ADDR) and a gateway Deployment that
//     sets CA_ADDR itself (the legacy gateway charts);
//   - an IstioOperator: k8s.env and values.global.caAddress, as
//     istio-csr's own examples write them;
//   - a ControlPlane: kubeSpec.deployment.env, and overlay patches on the
//     IstioOperator TSB generates, none by list index.

// applyCSRIstiod writes the plan into istiod's Deployment.
func applyCSRIstiod(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	tmpl := yamlnode.Lookup(rn, "spec", "template")
	if tmpl == nil || tmpl.Kind != yaml.MappingNode {
		return false, errorAt(rn, "spec.template", "is missing or not a mapping")
	}
	c, err := findContainer(tmpl, p.Container)
	if err != nil {
		return false, err
	}
	// A template this tool gave istiod's CA from Vault keeps the agent
	// and the guard: rendered again from the chart, it has neither.
	if _, g := yamlnode.Field(yamlnode.Lookup(tmpl, "metadata", "annotations"), wiring.GuardAnnotation); g != nil {
		return false, errorAt(g, "spec.template.metadata.annotations."+wiring.GuardAnnotation,
			"is there: istio-vault-ca wrote this istiod for a CA from Vault (spec.source.kv or pki), whose agent and guard the istioCSR mode does not remove; run it on the chart's own render")
	}
	cpath := "spec.template.spec.containers[" + p.Container + "]"
	changed, err := setEnv(c, cpath, p.Env)
	if err != nil {
		return false, err
	}
	// Charts since Istio 1.16 mount istiod-tls already (optional, under
	// the chart's names); an older one gets the same volumes, and the
	// flags its istiod needs to read them.
	spec := yamlnode.Lookup(tmpl, "spec")
	if e, _ := listEntry(yamlnode.Lookup(spec, "volumes"), "name", p.CSR.TLSVolumes[0].Name); e != nil {
		return changed, nil
	}
	vc, err := setVolumes(spec, c, cpath, p.CSR.TLSVolumes)
	if err != nil {
		return false, err
	}
	ac, err := setArgs(c, cpath, p.CSR.TLSArgs)
	return changed || vc || ac, err
}

// setVolumes adds each volume to the pod spec and its mount to c.
func setVolumes(spec, c *yaml.Node, cpath string, vols []wiring.Volume) (bool, error) {
	list, err := yamlnode.LookupCreate(spec, yaml.SequenceNode, "volumes")
	if err != nil || list.Kind != yaml.SequenceNode {
		return false, errorAt(spec, "spec.template.spec.volumes", "is not a list")
	}
	mounts, err := yamlnode.LookupCreate(c, yaml.SequenceNode, "volumeMounts")
	if err != nil || mounts.Kind != yaml.SequenceNode {
		return false, errorAt(c, cpath+".volumeMounts", "is not a list")
	}
	changed := false
	for _, v := range vols {
		for _, m := range mounts.Content {
			if _, mp := yamlnode.Field(m, "mountPath"); mp != nil && overlaps(yamlnode.Value(mp), v.MountPath) && yamlnode.Value(yamlnode.Lookup(m, "name")) != v.Name {
				return false, errorAt(mp, cpath+".volumeMounts", "has a mount at %s, where istiod reads the istiod-tls certificate (%s): remove it", yamlnode.Value(mp), v.MountPath)
			}
		}
		changed = setListEntry(list, "name", VolumeNode(v)) || changed
		changed = setListEntry(mounts, "name", MountNode(v)) || changed
	}
	return changed, nil
}

// VolumeNode is a volume as Kubernetes reads it: an optional Secret or
// ConfigMap.
func VolumeNode(v wiring.Volume) *yaml.Node {
	src, key, field := "configMap", "name", v.ConfigMap
	if v.Secret != "" {
		src, key, field = "secret", "secretName", v.Secret
	}
	inner := yamlnode.NewMapping()
	yamlnode.SetField(inner, key, StringNode(field))
	yamlnode.SetField(inner, "optional", boolNode(true))
	n := yamlnode.NewMapping()
	yamlnode.SetField(n, "name", StringNode(v.Name))
	yamlnode.SetField(n, src, inner)
	return n
}

// MountNode mounts a volume read-only.
func MountNode(v wiring.Volume) *yaml.Node {
	m := yamlnode.NewMapping()
	yamlnode.SetField(m, "name", StringNode(v.Name))
	yamlnode.SetField(m, "mountPath", StringNode(v.MountPath))
	yamlnode.SetField(m, "readOnly", boolNode(true))
	return m
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// setArgs gives the container each flag (--name=value), replacing one it
// already has in either form (--name=x, or --name x).
func setArgs(c *yaml.Node, cpath string, flags []wiring.Pair) (bool, error) {
	args, err := yamlnode.LookupCreate(c, yaml.SequenceNode, "args")
	if err != nil || args.Kind != yaml.SequenceNode {
		return false, errorAt(c, cpath+".args", "is not a list")
	}
	changed := false
	for _, f := range flags {
		want := f.Name + "=" + f.Value
		found := false
		for i, a := range args.Content {
			v := yamlnode.Value(a)
			switch {
			case v == want:
				found = true
			case strings.HasPrefix(v, f.Name+"="):
				args.Content[i], found, changed = StringNode(want), true, true
			case v == f.Name:
				return false, errorAt(a, cpath+".args", "sets %s as two arguments: write it as %s", f.Name, want)
			}
		}
		if !found {
			args.Content = append(args.Content, StringNode(want))
			changed = true
		}
	}
	return changed, nil
}

// IsInjectorConfigMap is isInjectorConfigMap, for the front ends'
// warning about a stream that lacks it.
func IsInjectorConfigMap(rn *yaml.Node) bool { return isInjectorConfigMap(rn) }

// isInjectorConfigMap: the sidecar injector's ConfigMap of any revision
// (istio-sidecar-injector, istio-sidecar-injector-<rev>) holding the
// values its templates render with.
func isInjectorConfigMap(rn *yaml.Node) bool {
	name := yamlnode.Name(rn)
	return hasKind(rn, configMapKind, coreGroup) && (name == injectorConfigMap || strings.HasPrefix(name, injectorConfigMap+"-")) &&
		yamlnode.Lookup(rn, "data", "values") != nil
}

const injectorConfigMap = "istio-sidecar-injector"

// caAddressJSON is the caAddress key of the values JSON and its string.
var caAddressJSON = regexp.MustCompile(`"caAddress"(\s*:\s*)"((?:[^"\\]|\\.)*)"`)

// applyInjectorValues sets global.caAddress in the injector's values, a
// JSON document in a string, by editing that one string in it: the rest
// of the text stays as the chart wrote it.
func applyInjectorValues(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	v := yamlnode.Lookup(rn, "data", "values")
	var values struct {
		Global map[string]json.RawMessage `json:"global"`
	}
	if v.Kind != yaml.ScalarNode || json.Unmarshal([]byte(v.Value), &values) != nil {
		return false, errorAt(v, "data.values", "is not the JSON document of the injector's values")
	}
	ms := caAddressJSON.FindAllStringSubmatchIndex(v.Value, -1)
	if _, ok := values.Global["caAddress"]; !ok || len(ms) != 1 {
		return false, errorAt(v, "data.values", "has %d caAddress keys, not one global.caAddress: render the chart with --set global.caAddress=%s", len(ms), p.CSR.CAAddress)
	}
	quoted, _ := json.Marshal(p.CSR.CAAddress)
	m := ms[0]
	if v.Value[m[4]-1:m[5]+1] == string(quoted) {
		return false, nil
	}
	yamlnode.SetField(yamlnode.Lookup(rn, "data"), "values", StringNode(v.Value[:m[4]-1]+string(quoted)+v.Value[m[5]+1:]))
	return true, nil
}

// applyCSRGateway points a gateway Deployment whose proxy sets CA_ADDR
// itself (the legacy gateway charts render it) at istio-csr. It reports
// false, nil for a Deployment that sets no CA_ADDR.
func applyCSRGateway(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	c, cpath := proxySettingCAAddr(rn)
	if c == nil {
		return false, nil
	}
	return setEnv(c, cpath, []wiring.Pair{{Name: wiring.EnvCAAddr, Value: p.CSR.CAAddress}})
}

// proxySettingCAAddr is the container (istio-proxy) of a pod template
// whose env sets CA_ADDR, and its path.
func proxySettingCAAddr(rn *yaml.Node) (*yaml.Node, string) {
	cs := yamlnode.Lookup(rn, "spec", "template", "spec", "containers")
	if cs == nil || cs.Kind != yaml.SequenceNode {
		return nil, ""
	}
	for _, c := range cs.Content {
		if yamlnode.Value(yamlnode.Lookup(c, "name")) != "istio-proxy" {
			continue
		}
		if e, _ := listEntry(yamlnode.Lookup(c, "env"), "name", wiring.EnvCAAddr); e != nil {
			return c, "spec.template.spec.containers[istio-proxy]"
		}
	}
	return nil, ""
}

// refuseVaultCA refuses a workload whose container env still sets
// CA_PROVIDER=VaultCA: Istio 1.1's node agent, whose Vault CA client
// Istio removed in 1.9. migrate turns its settings into this tool's config.
func refuseVaultCA(rn *yaml.Node) error {
	tmpl := yamlnode.Lookup(rn, "spec", "template")
	for _, list := range []string{"initContainers", "containers"} {
		cs := yamlnode.Lookup(tmpl, "spec", list)
		if cs == nil || cs.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range cs.Content {
			e, _ := listEntry(yamlnode.Lookup(c, "env"), "name", "CA_PROVIDER")
			if e == nil || yamlnode.Value(yamlnode.Lookup(e, "value")) != "VaultCA" {
				continue
			}
			name := yamlnode.Value(yamlnode.Lookup(c, "name"))
			return errorAt(e, fmt.Sprintf("spec.template.spec.%s[%s].env", list, name),
				"sets CA_PROVIDER=VaultCA, Istio 1.1's node-agent Vault CA, which Istio removed in 1.9: run `istio-vault-ca migrate FILE` on this file (or the values it was rendered from) for the VaultCA config that has Vault sign through cert-manager and istio-csr, and render without the node agent")
		}
	}
	return nil
}

// applyOperatorCSR writes the plan into an IstioOperator that installs
// istiod: ENABLE_CA_SERVER in the pilot's k8s.env and istio-csr's address
// in values.global.caAddress. istioctl renders its own istiod chart, which
// mounts istiod-tls since Istio 1.16.
func applyOperatorCSR(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	// k8s is made only if the env goes there: values.pilot.env may hold it.
	k8s := yamlnode.Lookup(rn, "spec", "components", "pilot", "k8s")
	if k8s != nil && k8s.Kind != yaml.MappingNode {
		return false, errorAt(k8s, "spec.components.pilot.k8s", "is not a mapping")
	}
	holder := k8s
	if holder == nil {
		holder = yamlnode.NewMapping()
	}
	verr := checkEnvVarFrom(rn, p)
	envChanged, eerr := setOwnedEnv(holder, "spec.components.pilot.k8s", p.Env, p.Override,
		yamlnode.Lookup(rn, "spec", "values", "pilot", "env"), "spec.values.pilot.env")
	if k8s == nil && len(holder.Content) > 0 {
		made, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "components", "pilot", "k8s")
		if err != nil || made.Kind != yaml.MappingNode {
			return false, errorAt(rn, "spec.components.pilot", "is not a mapping")
		}
		made.Content = holder.Content
	}
	global, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "values", "global")
	if err != nil || global.Kind != yaml.MappingNode {
		return false, joinErrors(verr, eerr, errorAt(rn, "spec.values.global", "is not a mapping"))
	}
	caChanged, cerr := setOwnedValue(global, "spec.values.global", "caAddress", p.CSR.CAAddress, p.Override)
	if err := joinErrors(verr, eerr, cerr); err != nil {
		return false, err
	}
	return envChanged || caChanged, nil
}

// setOwnedValue sets key in an installer's mapping, refusing another value
// there unless override.
func setOwnedValue(m *yaml.Node, mpath, key, want string, override bool) (bool, error) {
	if handled, changed, err := reconcileMapEntry(m, mpath, key, want, override); handled || err != nil {
		return changed, err
	}
	return setString(m, key, want), nil
}

const caAddressPatch = "spec.values.global.caAddress"

// applyControlPlaneCSR writes the plan into a TSB ControlPlane: the env
// in kubeSpec.deployment (and in an overlay patch that replaces the
// pilot's env, as seed 002's does), and overlay patches on the
// IstioOperator TSB generates for caAddress and istiod-tls, added to
// those already there.
func applyControlPlaneCSR(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	dep, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "components", "istio", "kubeSpec", "deployment")
	if err != nil || dep.Kind != yaml.MappingNode {
		return false, errorAt(rn, kubeSpecPath+".deployment", "is not a mapping")
	}
	changed, err := setOwnedEnv(dep, kubeSpecPath+".deployment", p.Env, p.Override, nil, "")
	if err != nil {
		return false, err
	}
	overlays, err := yamlnode.LookupCreate(rn, yaml.SequenceNode, "spec", "components", "istio", "kubeSpec", "overlays")
	if err != nil || overlays.Kind != yaml.SequenceNode {
		return false, errorAt(rn, kubeSpecPath+".overlays", "is not a list")
	}
	hasCA, hasOverlays := false, false
	first, err := operatorPatches(overlays, func(patch *yaml.Node, at string) error {
		var c bool
		var err error
		switch pth, _ := stringValue(yamlnode.Lookup(patch, "path")); pth {
		case pilotEnvPatch:
			c, err = reconcileEnvPatch(patch, at, p)
		case caAddressPatch:
			hasCA = true
			c, err = setOwnedValue(patch, at, "value", p.CSR.CAAddress, p.Override)
		case pilotOverlaysPatch:
			hasOverlays = true
			c, err = reconcileIstiodTLSPatch(patch, at, p)
		}
		changed = changed || c
		return err
	})
	if err != nil || hasCA && hasOverlays {
		return changed && err == nil, err
	}
	patches, err := firstOperatorPatches(overlays, first)
	if err != nil {
		return false, err
	}
	if !hasCA {
		patches.Content = append(patches.Content, patchNode(caAddressPatch, StringNode(p.CSR.CAAddress)))
	}
	if !hasOverlays {
		patch := patchNode(pilotOverlaysPatch, yamlnode.NewSequence())
		if _, err := reconcileIstiodTLSPatch(patch, "", p); err != nil {
			return false, err
		}
		patches.Content = append(patches.Content, patch)
	}
	return true, nil
}

func patchNode(path string, value *yaml.Node) *yaml.Node {
	n := yamlnode.NewMapping()
	setString(n, "path", path)
	yamlnode.SetField(n, "value", value)
	return n
}

// discoveryPath is the istiod container in an IstioOperator overlay path.
const discoveryPath = "spec.template.spec.containers.[name:" + wiring.IstiodContainer + "]"

// indexedList: an overlay path that sets a list item by its index, which
// the next chart version moves (seed 002's args[7], volumeMounts[6]).
var indexedList = regexp.MustCompile(`\.(args|volumeMounts|volumes)\[\d+\]`)

// reconcileIstiodTLSPatch gives the overlays that a patch (at) sets on the
// generated IstioOperator's Deployments the istiod-tls volumes, mounts and
// flags, as patches that append (a path ending at the list, which
// istioctl's overlay appends a value to), in the overlay on istiod.
func reconcileIstiodTLSPatch(patch *yaml.Node, at string, p *wiring.Plan) (bool, error) {
	list, err := yamlnode.LookupCreate(patch, yaml.SequenceNode, "value")
	if err != nil || list.Kind != yaml.SequenceNode {
		return false, errorAt(patch, at+".value", "is not a list of overlays")
	}
	var istiod *yaml.Node
	for i, ov := range list.Content {
		name, _ := stringValue(yamlnode.Lookup(ov, "name"))
		if kind, _ := stringValue(yamlnode.Lookup(ov, "kind")); kind != deploymentKind || !isTSBIstiod(name) {
			continue
		}
		if istiod == nil {
			istiod = ov
		}
		ps := yamlnode.Lookup(ov, "patches")
		if ps == nil || ps.Kind != yaml.SequenceNode {
			continue
		}
		for j, q := range ps.Content {
			if pth, _ := stringValue(yamlnode.Lookup(q, "path")); indexedList.MatchString(pth) {
				return false, errorAt(q, fmt.Sprintf("%s.value[%d].patches[%d].path", at, i, j),
					"is %s, a list item by its index, which the next chart version moves: remove this patch (istio-vault-ca mounts istiod-tls and sets istiod's TLS flags with patches that append)", pth)
			}
		}
	}
	if istiod == nil {
		istiod = yamlnode.NewMapping()
		setString(istiod, "apiVersion", "apps/v1")
		setString(istiod, "kind", deploymentKind)
		setString(istiod, "name", "istiod")
		list.Content = append(list.Content, istiod)
	}
	ps, err := yamlnode.LookupCreate(istiod, yaml.SequenceNode, "patches")
	if err != nil || ps.Kind != yaml.SequenceNode {
		return false, errorAt(istiod, at+".value[].patches", "is not a list")
	}
	var want []*yaml.Node
	for _, f := range p.CSR.OverlayArgs {
		want = append(want, patchNode(discoveryPath+".args", StringNode(f.Name+"="+f.Value)))
	}
	for _, v := range p.CSR.OverlayVolumes {
		want = append(want, patchNode(discoveryPath+".volumeMounts", MountNode(v)), patchNode("spec.template.spec.volumes", VolumeNode(v)))
	}
	changed := false
	for _, w := range want {
		found := false
		for _, q := range ps.Content {
			found = found || sameTree(q, w)
		}
		if !found {
			ps.Content = append(ps.Content, w)
			changed = true
		}
	}
	return changed, nil
}
