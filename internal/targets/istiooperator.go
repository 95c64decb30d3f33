package targets

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// IsIstioOperator reports whether a resource is an istioctl IstioOperator.
func IsIstioOperator(rn *yaml.Node) bool {
	return hasKind(rn, istioOperatorKind, istioInstallGroup)
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
	// Every conflict of annotations and environment is reported at once.
	changed, aerr := setOwnedAnnotations(anns, "spec.components.pilot.k8s.podAnnotations", p,
		map[string]*yaml.Node{"spec.values.pilot.podAnnotations": yamlnode.Lookup(rn, "spec", "values", "pilot", "podAnnotations")})
	verr := checkEnvVarFrom(rn, p)
	envChanged, eerr := setOwnedEnv(k8s, "spec.components.pilot.k8s", p.Env, p.Override,
		yamlnode.Lookup(rn, "spec", "values", "pilot", "env"), "spec.values.pilot.env")
	gChanged, gerr := setOperatorGuard(rn, p)
	if err := joinErrors(aerr, verr, eerr, gerr); err != nil {
		return false, err
	}
	changed = changed || gChanged
	name := operatorIstiodName(rn)
	ovChanged, err := applyDeploymentOverlays(yamlnode.Lookup(k8s, "overlays"), "spec.components.pilot.k8s.overlays",
		func(n string) bool { return n == name }, p)
	return changed || envChanged || ovChanged, err
}

// setOperatorGuard writes istiod's guard (wiring.Guard) into
// values.pilot.volumes and values.pilot.volumeMounts, which the istiod
// chart (since Istio 1.19) renders into the Deployment and the discovery
// container; istioctl does not apply k8s.volumes or k8s.volumeMounts.
func setOperatorGuard(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	if p.Guard == nil {
		return false, nil
	}
	pilot, err := yamlnode.LookupCreate(rn, yaml.MappingNode, "spec", "values", "pilot")
	if err != nil || pilot.Kind != yaml.MappingNode {
		return false, errorAt(rn, "spec.values.pilot", "is not a mapping")
	}
	return setValuesGuard(pilot, "spec.values.pilot", p)
}

// setValuesGuard writes the guard into the volumes and volumeMounts lists of
// an istiod chart's values (at vpath). An entry of the guard's name that
// differs is a conflict unless override; another mount at or around the
// guard's path is refused, as in a Deployment.
func setValuesGuard(values *yaml.Node, vpath string, p *wiring.Plan) (bool, error) {
	g := p.Guard
	changed := false
	var errs []error
	for _, l := range []struct {
		field string
		want  *yaml.Node
	}{{"volumes", GuardVolume(g)}, {"volumeMounts", GuardMount(g)}} {
		list, err := yamlnode.LookupCreate(values, yaml.SequenceNode, l.field)
		if err != nil || list.Kind != yaml.SequenceNode {
			errs = append(errs, errorAt(values, vpath+"."+l.field, "is not a list"))
			continue
		}
		at := vpath + "." + l.field
		if l.field == "volumeMounts" {
			holder := yamlnode.NewMapping()
			yamlnode.SetField(holder, "volumeMounts", list)
			if err := checkMounts(holder, vpath, p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if e, i := listEntry(list, "name", g.Volume); e != nil && !sameTree(e, l.want) && !p.Override {
			errs = append(errs, errorAt(e, fmt.Sprintf("%s[%d]", at, i), "is a %s named %s other than the one istio-vault-ca writes, which makes istiod exit in a pod the Vault injector did not mutate: remove it, or set spec.onConflict: override",
				strings.TrimSuffix(l.field, "s"), g.Volume))
			continue
		}
		changed = setListEntry(list, "name", l.want) || changed
	}
	if err := joinErrors(errs...); err != nil {
		return false, err
	}
	return changed, nil
}

// operatorRevision is the revision istioctl renders istiod with, and the
// field that says so: values.revision wins over spec.revision, which
// istioctl copies there.
func operatorRevision(rn *yaml.Node) (rev, at string, n *yaml.Node) {
	rev, at = "", "spec.revision"
	if n = yamlnode.Lookup(rn, "spec", "revision"); n != nil {
		rev, _ = stringValue(n)
	}
	if v := yamlnode.Lookup(rn, "spec", "values", "revision"); v != nil {
		if vr, ok := stringValue(v); ok {
			rev, at, n = vr, "spec.values.revision", v
		}
	}
	return rev, at, n
}

// operatorIstiodName is the name of the istiod Deployment (and of its
// service account) the istiod chart renders, which is what an overlay
// names: istiod-<revision> for any revision set.
func operatorIstiodName(rn *yaml.Node) string {
	if rev, _, _ := operatorRevision(rn); rev != "" {
		return "istiod-" + rev
	}
	return "istiod"
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
				return errorAt(e, "spec.values.pilot.envVarFrom["+name+"]", "sets %s from a reference but istio-vault-ca needs %s: remove it", name, shownEnv(v))
			}
		}
	}
	return nil
}

// checkOperatorIdentity: istioctl runs istiod as istiod-<revision> in the
// pilot component's namespace, else values.global.istioNamespace
// (istio-system from the profiles; neither spec.namespace nor
// metadata.namespace moves it); the Vault role must bind both.
func checkOperatorIdentity(rn *yaml.Node, p *wiring.Plan) error {
	rev, revAt, revNode := operatorRevision(rn)
	if rev == "default" {
		// The chart names istiod istiod-default, istioctl applies the
		// pilot's k8s settings to a Deployment named istiod.
		return errorAt(revNode, revAt, "is \"default\": istioctl then renders istiod as istiod-default but writes k8s.podAnnotations and k8s.env to a Deployment named istiod, so no Vault setting would reach istiod, which would sign with a CA of its own: leave the revision unset for the default revision, or give it another name")
	}
	sa := operatorIstiodName(rn)
	if rev != "" && !slices.Contains(p.ServiceAccounts, sa) {
		return errorAt(revNode, revAt,
			"is %q, so istiod runs as %s, but the Vault role binds only %s: add %q to spec.istiod.revisions", rev, sa, strings.Join(p.ServiceAccounts, ", "), rev)
	} else if !slices.Contains(p.ServiceAccounts, sa) {
		return errorAt(rn, "spec.revision", "is the default revision, so istiod runs as istiod, but the Vault role binds only %s: add \"default\" to spec.istiod.revisions", strings.Join(p.ServiceAccounts, ", "))
	}
	ns, nsAt, nsNode := "istio-system", "spec.components.pilot.namespace", rn
	for _, path := range [][]string{{"spec", "values", "global", "istioNamespace"}, {"spec", "components", "pilot", "namespace"}} {
		if v := yamlnode.Lookup(rn, path...); yamlnode.Value(v) != "" {
			ns, nsAt, nsNode = v.Value, strings.Join(path, "."), v
		}
	}
	if !slices.Contains(p.Namespaces, ns) {
		return errorAt(nsNode, nsAt, "istiod is installed in %q but the Vault role binds only namespaces %s: add it to spec.istiod.namespaces", ns, strings.Join(p.Namespaces, ", "))
	}
	return nil
}

// operatorGatewayCharts is what the legacy gateway chart of each component
// list renders a gateway with: the name it defaults to, and the pod labels
// whatever the name, which helm merges the component's label map over.
var operatorGatewayCharts = map[string]struct {
	name   string
	labels map[string]string
}{
	"ingressGateways": {"istio-ingressgateway", map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}},
	"egressGateways":  {"istio-egressgateway", map[string]string{"app": "istio-egressgateway", "istio": "egressgateway"}},
}

// checkOperatorGateway refuses a gateway of an IstioOperator (gw, at
// its path, of a component list) selected by plan p, whose
// pod would run as a service account or in a namespace the gateway's Vault
// role does not bind: its agent could not log in, and the pod would hang in
// Init. istioctl renders the gateway charts, which run a gateway named n as
// n-service-account (unless an overlay says otherwise), in the gateway's
// namespace, else the install's: values.global.istioNamespace, which the
// profiles set to istio-system and which istioctl uses over
// metadata.namespace.
func checkOperatorGateway(rn, gw *yaml.Node, at, list string, p *wiring.Plan) error {
	name, _ := stringValue(yamlnode.Lookup(gw, "name"))
	if name == "" {
		name = operatorGatewayCharts[list].name
	}
	sa, saAt, saNode := name+"-service-account", at+".name", yamlnode.Lookup(gw, "name")
	if o, oAt, v := overlayServiceAccount(yamlnode.Lookup(gw, "k8s", "overlays"), at+".k8s.overlays", name); v != nil {
		sa, saAt, saNode = o, oAt, v
	}
	if saNode == nil {
		saNode = gw
	}
	if !slices.Contains(p.ServiceAccounts, sa) {
		return errorAt(saNode, saAt, "istioctl runs this gateway as service account %q, but the Vault role binds only %s: add %q to %s.serviceAccounts (and re-apply the role from istio-vault-ca policy)",
			sa, strings.Join(p.ServiceAccounts, ", "), sa, p.Setting)
	}
	ns, nsAt, nsNode := "istio-system", at+".namespace", gw
	if v := yamlnode.Lookup(rn, "spec", "values", "global", "istioNamespace"); yamlnode.Value(v) != "" {
		ns, nsAt, nsNode = v.Value, "spec.values.global.istioNamespace", v
	}
	if v := yamlnode.Lookup(gw, "namespace"); yamlnode.Value(v) != "" {
		ns, nsAt, nsNode = v.Value, at+".namespace", v
	}
	if !slices.Contains(p.Namespaces, ns) {
		return errorAt(nsNode, nsAt, "istioctl installs this gateway in namespace %q, but the Vault role binds only namespaces %s: add %q to %s.namespaces (and re-apply the role from istio-vault-ca policy)",
			ns, strings.Join(p.Namespaces, ", "), ns, p.Setting)
	}
	return nil
}

// overlayServiceAccount is the service account the last overlay patch on
// a Deployment (named name) sets, with its value node and path; "default",
// which Kubernetes then runs the pod as, if it removes the field.
func overlayServiceAccount(overlays *yaml.Node, at, name string) (string, string, *yaml.Node) {
	var sa, saAt string
	var node *yaml.Node
	_ = deploymentPatches(overlays, at, func(n string) bool { return n == name }, func(patch *yaml.Node, pat string) error {
		raw, _ := stringValue(yamlnode.Lookup(patch, "path"))
		if !slices.Equal(overlayPath(raw), []string{"spec", "template", "spec", "serviceAccountName"}) {
			return nil
		}
		saAt = pat + ".value"
		_, node = yamlnode.Field(patch, "value")
		if sa = yamlnode.Value(node); node == nil || node.Tag == yamlnode.NullTag {
			sa, node = "default", patch
		}
		return nil
	})
	return sa, saAt, node
}

// deploymentPatches calls each with every patch (and its path) of the
// overlays (a k8s.overlays list, at) on a Deployment whose name isTarget
// accepts, in order, until one fails.
func deploymentPatches(overlays *yaml.Node, at string, isTarget func(string) bool, each func(patch *yaml.Node, at string) error) error {
	if overlays == nil || overlays.Kind != yaml.SequenceNode {
		return nil
	}
	for i, ov := range overlays.Content {
		kind, _ := stringValue(yamlnode.Lookup(ov, "kind"))
		name, _ := stringValue(yamlnode.Lookup(ov, "name"))
		patches := yamlnode.Lookup(ov, "patches")
		if kind != deploymentKind || !isTarget(name) || patches == nil || patches.Kind != yaml.SequenceNode {
			continue
		}
		for j, patch := range patches.Content {
			if err := each(patch, fmt.Sprintf("%s[%d].patches[%d]", at, i, j)); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyDeploymentOverlays reconciles the overlays (a k8s.overlays list, at)
// that istioctl applies, after k8s.podAnnotations and k8s.env, to the
// Deployment a plan is written for (isTarget tells its name): each patch
// puts a value at a path of the rendered Deployment, or removes what is
// there when it has none, so one could silently drop the plan. A patch
// replacing the whole pod annotations or the container's whole env gets the
// plan's entries; one that sets an entry of the plan otherwise is refused
// unless override; one that removes an entry, or replaces what holds the
// entries, is refused.
func applyDeploymentOverlays(overlays *yaml.Node, at string, isTarget func(string) bool, p *wiring.Plan) (bool, error) {
	changed := false
	err := deploymentPatches(overlays, at, isTarget, func(patch *yaml.Node, pat string) error {
		c, err := applyOverlayPatch(patch, pat, p)
		changed = changed || c
		return err
	})
	if err != nil {
		return false, err
	}
	return changed, nil
}

func applyOverlayPatch(patch *yaml.Node, at string, p *wiring.Plan) (bool, error) {
	raw, _ := stringValue(yamlnode.Lookup(patch, "path"))
	r := reach(overlayPath(raw), p)
	_, value := yamlnode.Field(patch, "value")
	// istioctl removes the node at the path when the value is unset or null.
	removes := value == nil || value.Tag == yamlnode.NullTag
	switch r.kind {
	case reachesNothing:
		return false, nil
	case reachesHolder:
		verb := "replaces"
		if removes {
			verb = "removes"
		}
		return false, errorAt(patch, at, "path %s %s all of what holds %s, which istio-vault-ca writes: patch only the fields below it that you mean to change",
			raw, verb, r.what)
	case reachesAnnotations:
		if removes {
			return false, errorAt(patch, at, "path %s removes the pod annotations, with the Vault annotations istio-vault-ca writes (k8s.podAnnotations): remove this patch", raw)
		}
		return reconcileAnnotationsPatch(patch, at, p)
	case reachesEnv:
		if removes {
			return false, errorAt(patch, at, "path %s removes the env of container %s, with %s, which istio-vault-ca writes (k8s.env): remove this patch", raw, p.Container, envNames(p))
		}
		return reconcileEnvPatch(patch, at, p)
	case reachesOtherAnnotation:
		if removes || value.Kind != yaml.ScalarNode {
			return false, nil
		}
		if f := p.ForeignAnnotation(r.what, value.Value); f != nil {
			return false, errorAt(value, at+".value", "sets annotation %s, which %s: %s", r.what, f.Why, f.Remedy("remove this patch"))
		}
		return false, nil
	case reachesEnvByIndex:
		return false, errorAt(patch, at, "path %s selects an env entry of container %s by its position, which could be %s, set by istio-vault-ca: select the entry by name ([name:...]) instead",
			raw, p.Container, envNames(p))
	case reachesGuardList:
		verb := "replaces"
		if removes {
			verb = "removes"
		}
		return false, errorAt(patch, at, "path %s %s the %s, with %s: patch only the entries you mean to change (by [name:...])", raw, verb, r.what, guardEntries)
	case reachesGuardByIndex:
		return false, errorAt(patch, at, "path %s selects one of the %s by its position, which could be %s: select the entry by name ([name:...]) instead", raw, r.what, guardEntries)
	case reachesGuard:
		return false, errorAt(patch, at, "path %s changes %s: remove this patch", raw, guardEntries)
	case reachesContainerName:
		if !removes && value.Kind == yaml.ScalarNode && value.Value == p.Container {
			return false, nil
		}
		verb := "renames container " + p.Container
		if removes {
			verb = "removes the name of container " + p.Container
		}
		return false, errorAt(patch, at, "path %s %s, the one the injector mounts the agent's volume into (agent-inject-containers: %s): %s: remove this patch",
			raw, verb, p.Container, renamedContainer(p))
	case reachesMount:
		if removes {
			return false, nil
		}
		return false, checkOverlayMounts(r, value, at+".value", p)
	}
	// The patch is on one entry of the plan.
	want := shownEnv(r.entry)
	if removes {
		return false, errorAt(patch, at, "path %s removes %s, which istio-vault-ca sets to %s: remove this patch", raw, r.what, want)
	}
	if r.kind == reachesBelowEntry {
		return false, errorAt(patch, at, "path %s changes %s, which istio-vault-ca sets to %s: remove this patch", raw, r.what, want)
	}
	var got string
	same := false
	switch {
	case r.kind == reachesEnvEntry && value.Kind == yaml.MappingNode:
		name, _ := stringValue(yamlnode.Lookup(value, "name"))
		v := envEntryValue(value)
		same, got = name == r.entry.Name && (envEntryIs(value, r.entry) || r.entry.FieldPath == "" && v == r.entry.Value), shown(v)
		if name != r.entry.Name {
			got = "a variable named " + strconv.Quote(name)
		}
	case r.kind != reachesEnvEntry && value.Kind == yaml.ScalarNode:
		same, got = value.Value == r.entry.Value, shown(value.Value)
	case value.Kind == yaml.MappingNode:
		got = "a mapping"
	default:
		got = "a list"
	}
	if !same && !p.Override {
		return false, errorAt(value, at+".value", "sets %s to %s but istio-vault-ca needs %s: remove this patch, or set spec.onConflict: override", r.what, got, want)
	}
	if r.kind == reachesEnvEntry {
		if same {
			return false, nil
		}
		yamlnode.SetField(patch, "value", EnvEntry(r.entry))
		return true, nil
	}
	// Also the same value written as another type (true for "true") is
	// written as the string the annotation or variable must be.
	return setString(patch, "value", r.entry.Value), nil
}

// renamedContainer is what becomes of a workload whose plan container is
// renamed after the plan is written: the injector, which mounts the agent's
// volume only into the containers agent-inject-containers names, gives it
// none of the files.
func renamedContainer(p *wiring.Plan) string {
	if p.Guard != nil {
		return "the renamed container would still get ROOT_CA_DIR and the guard but none of the CA files, and istiod would become a self-signed CA"
	}
	return "the renamed container would get none of its certificate files"
}

// checkOverlayMounts refuses a mount an overlay patch (its value at at)
// puts into the plan container, by the path r.mount below volumeMounts,
// that overlaps the plan's volume path: the injector adds its own mount
// there, and the API server rejects the mutated pod (or the existing files
// hide the plan's). The patch sets a mount's mountPath ([key:value].mountPath),
// one whole mount ([key:value], [N]), every mount (a list), or appends one
// (a mapping set on the list, which istioctl appends).
func checkOverlayMounts(r reached, value *yaml.Node, at string, p *wiring.Plan) error {
	type mount struct {
		name, mountPath string
		n               *yaml.Node
	}
	var mounts []mount
	entry := func(m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			return
		}
		_, mp := yamlnode.Field(m, "mountPath")
		if s, ok := stringValue(mp); ok {
			name, _ := stringValue(yamlnode.Lookup(m, "name"))
			mounts = append(mounts, mount{name, s, mp})
		}
	}
	selected := ""
	if len(r.mount) > 0 {
		if k, v, ok := keyValueElement(r.mount[0]); ok && k == "name" {
			selected = v
		}
	}
	switch {
	case len(r.mount) == 0 && value.Kind == yaml.SequenceNode:
		for _, m := range value.Content {
			entry(m)
		}
	case len(r.mount) <= 1:
		entry(value)
	case len(r.mount) == 2 && r.mount[1] == "mountPath" && value.Kind == yaml.ScalarNode:
		mounts = append(mounts, mount{selected, value.Value, value})
	}
	for _, m := range mounts {
		if existing := path.Clean(m.mountPath); overlaps(existing, p.VolumePath) {
			return overlapError(m.n, at, m.name, existing, p)
		}
	}
	return nil
}

// shown is a value as a message quotes it: an agent template, many lines
// long, by its first line.
func shown(v string) string {
	if first, _, multi := strings.Cut(v, "\n"); multi {
		return fmt.Sprintf("the template starting %q", first)
	}
	return strconv.Quote(v)
}

// planEntries names what a plan writes into a Deployment's pod template,
// and where an IstioOperator says so.
func planEntries(p *wiring.Plan) string {
	if len(p.Env) == 0 {
		return annotationsEntries
	}
	return annotationsEntries + " and " + envEntries(p)
}

const annotationsEntries = "the Vault annotations (k8s.podAnnotations)"

func envEntries(p *wiring.Plan) string { return envNames(p) + " (k8s.env)" }

type reachKind int

const (
	reachesNothing         reachKind = iota
	reachesHolder                    // what holds the annotations or the env: the template, its metadata, the container...
	reachesAnnotations               // the pod template's annotations map
	reachesEnv                       // the container's env list
	reachesEnvByIndex                // an entry of the env list, by position
	reachesAnnotation                // one of the plan's annotations
	reachesOtherAnnotation           // another annotation, which may be one that undoes the plan
	reachesEnvEntry                  // one of the plan's env entries, itself
	reachesEnvValue                  // the value of one of the plan's env entries
	reachesBelowEntry                // anything else of, or below, one of the plan's entries
	reachesGuardList                 // the pod's volumes, or the container's volumeMounts, whole
	reachesGuardByIndex              // an entry of those lists, by position
	reachesGuard                     // the guard's volume or mount, or what is below them
	reachesContainerName             // the plan container's name
	reachesMount                     // another mount of the plan container, or (without a guard) all of them
)

const guardEntries = "istio-vault-ca's guard volume, which makes istiod exit instead of self-signing in a pod the Vault injector did not mutate"

// reached is what an overlay patch path reaches of what a plan writes.
type reached struct {
	kind  reachKind
	what  string      // for messages: the entry ("annotation vault.hashicorp.com/role"), or what a holder holds
	entry wiring.Pair // the plan's entry, for the kinds on one
	// mount is the path below the container's volumeMounts, for
	// reachesMount.
	mount []string
}

// reach tells what a path (split by overlayPath) reaches in a Deployment
// rendered with the plan: the annotations go to
// spec.template.metadata.annotations, the variables to the plan container's
// env, which an overlay selects as spec.template.spec.containers.[name:c].env.
func reach(el []string, p *wiring.Plan) reached {
	at := func(n int) bool { return len(el) == n }
	if len(el) == 0 || el[0] != "spec" || len(el) > 1 && el[1] != "template" {
		return reached{}
	}
	if len(el) <= 2 {
		return reached{kind: reachesHolder, what: planEntries(p)}
	}
	switch el[2] {
	case "metadata":
		switch {
		case at(3):
			return reached{kind: reachesHolder, what: annotationsEntries}
		case el[3] != "annotations":
			return reached{}
		case at(4):
			return reached{kind: reachesAnnotations}
		}
		for _, a := range p.Annotations {
			if a.Name == el[4] {
				r := reached{kind: reachesAnnotation, what: "annotation " + a.Name, entry: a}
				if !at(5) {
					r.kind = reachesBelowEntry
				}
				return r
			}
		}
		if at(5) {
			return reached{kind: reachesOtherAnnotation, what: el[4]}
		}
	case "spec":
		if at(6) && el[3] == "containers" && el[5] == "name" && selectsContainer(el[4], p.Container) {
			return reached{kind: reachesContainerName}
		}
		if r, ok := reachGuard(el, p); ok {
			return r
		}
		if len(p.Env) == 0 {
			return reached{}
		}
		switch {
		case at(3), el[3] == "containers" && at(4):
			return reached{kind: reachesHolder, what: envEntries(p)}
		case el[3] != "containers" || !selectsContainer(el[4], p.Container):
			return reached{}
		case at(5):
			return reached{kind: reachesHolder, what: envEntries(p)}
		case el[5] != "env":
			return reached{}
		case at(6):
			return reached{kind: reachesEnv}
		case isIndexElement(el[6]):
			return reached{kind: reachesEnvByIndex}
		}
		k, v, ok := keyValueElement(el[6])
		if !ok {
			return reached{}
		}
		for _, e := range p.Env {
			// The entry istioctl finds is the first whose field k is v.
			if k == "name" && v == e.Name || k == "value" && v == e.Value {
				r := reached{kind: reachesBelowEntry, what: "env " + e.Name + " of container " + p.Container, entry: e}
				switch {
				case at(7):
					r.kind = reachesEnvEntry
				case at(8) && el[7] == "value" && e.FieldPath == "":
					r.kind = reachesEnvValue
				}
				return r
			}
		}
	}
	return reached{}
}

// reachGuard tells what a path below spec.template.spec reaches of the
// plan's guard and mounts: the pod's volumes or the container's
// volumeMounts, whole, by position, or the guard's own entry (by name, or
// its mount by path); any other mount of the container, whose path must
// not overlap the plan's volume path (for a plan without a guard, any
// mount of the container).
func reachGuard(el []string, p *wiring.Plan) (reached, bool) {
	g := p.Guard
	if len(el) < 4 {
		return reached{}, false
	}
	list, rest, what := el[4:], "", "pod's volumes"
	switch {
	case el[3] == "volumes" && g != nil:
		rest = "name"
	case el[3] == "containers" && len(el) >= 6 && selectsContainer(el[4], p.Container) && el[5] == "volumeMounts":
		list, rest, what = el[6:], "mountPath", "volumeMounts of container "+p.Container
	default:
		return reached{}, false
	}
	mount := reached{kind: reachesMount, mount: list}
	if g == nil {
		return mount, true
	}
	if len(list) == 0 {
		return reached{kind: reachesGuardList, what: what}, true
	}
	if isIndexElement(list[0]) {
		return reached{kind: reachesGuardByIndex, what: what}, true
	}
	k, v, ok := keyValueElement(list[0])
	if ok && (k == "name" && v == g.Volume || k == rest && rest == "mountPath" && path.Clean(v) == g.MountPath) {
		return reached{kind: reachesGuard}, true
	}
	if ok && rest == "mountPath" {
		return mount, true
	}
	return reached{}, true
}

// selectsContainer tells whether a path element selecting a container could
// select the one named name: by name, or by a position or another field,
// which in the istio charts' Deployments of one container is that one.
func selectsContainer(pe, name string) bool {
	if isIndexElement(pe) {
		return true
	}
	k, v, ok := keyValueElement(pe)
	return ok && (k != "name" || v == name)
}

// overlayPath splits an overlay patch path as istioctl does: at dots not
// escaped by a backslash (vault\.hashicorp\.com/role is one key), with
// node[expr] split into node and [expr].
func overlayPath(p string) []string {
	p = strings.TrimSuffix(strings.TrimPrefix(path.Clean(p), "."), ".")
	var out []string
	for _, e := range splitEscaped(p, '.') {
		if e == "" {
			continue
		}
		e = strings.ReplaceAll(e, `\.`, ".")
		if i := strings.IndexByte(e, '['); i > 0 {
			out = append(out, e[:i], e[i:])
		} else {
			out = append(out, e)
		}
	}
	return out
}

// splitEscaped splits s at each sep not preceded by a backslash.
func splitEscaped(s string, sep byte) []string {
	if s == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == sep && (i == 0 || s[i-1] != '\\') {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// isIndexElement: [N], which selects a list entry by position.
func isIndexElement(pe string) bool {
	inner, ok := brackets(pe)
	n, err := strconv.Atoi(inner)
	return ok && err == nil && n >= 0
}

// keyValueElement: [key:value], which selects the first list entry whose
// field key is value.
func keyValueElement(pe string) (k, v string, ok bool) {
	inner, ok := brackets(pe)
	if !ok {
		return "", "", false
	}
	kv := splitEscaped(inner, ':')
	if len(kv) != 2 || kv[0] == "" || kv[1] == "" || !validKey.MatchString(kv[0]) {
		return "", "", false
	}
	return kv[0], kv[1], true
}

var validKey = regexp.MustCompile(`^[a-zA-Z0-9_-]*$`)

func brackets(pe string) (string, bool) {
	if len(pe) < 2 || pe[0] != '[' || pe[len(pe)-1] != ']' {
		return "", false
	}
	return pe[1 : len(pe)-1], true
}
