package targets

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// IsIstiod reports whether a resource is an istiod Deployment: a Deployment
// whose pod template carries the label the istiod charts set (app: istiod),
// for the default install and for every revision (istiod-<rev>) alike.
// Names are not trusted: users rename releases.
func IsIstiod(rn *yaml.Node) bool {
	if !hasKind(rn, deploymentKind, appsGroup) {
		return false
	}
	return yamlnode.Value(yamlnode.Lookup(rn, "spec", "template", "metadata", "labels", "app")) == "istiod"
}

// ApplyPodTemplate writes a plan into the pod template of a workload: the
// annotations on the template (the injector never reads the Deployment's own
// metadata), the environment of the plan's container, after checking that the
// secret volume will not collide with a mount the container already has.
// It reports whether anything changed.
func ApplyPodTemplate(rn *yaml.Node, p *wiring.Plan) (bool, error) {
	tmpl := yamlnode.Lookup(rn, "spec", "template")
	if tmpl == nil || tmpl.Kind != yaml.MappingNode {
		return false, errorAt(rn, "spec.template", "is missing or not a mapping: cannot inject a pod template that is not there")
	}
	c, err := findContainer(tmpl, p.Container)
	if err != nil {
		return false, err
	}
	cpath := "spec.template.spec.containers[" + p.Container + "]"
	if err := checkMounts(c, cpath, p); err != nil {
		return false, err
	}
	if p.Selector == nil {
		if err := checkRunAsUser(tmpl, c, cpath, p); err != nil {
			return false, err
		}
	} else if p, err = gatewayAgent(tmpl, c, cpath, p); err != nil {
		return false, err
	}
	if err := checkIdentity(rn, tmpl, p); err != nil {
		return false, err
	}
	changed, err := setAnnotations(tmpl, p)
	if err != nil {
		return false, err
	}
	if len(p.Env) == 0 {
		return changed, nil // gateways: the proxy's env is not ours to touch
	}
	envChanged, err := setEnv(c, cpath, p.Env)
	if err != nil || p.Guard == nil {
		return changed || envChanged, err
	}
	spec, err := yamlnode.LookupCreate(tmpl, yaml.MappingNode, "spec")
	if err != nil {
		return false, errorAt(tmpl, "spec.template.spec", "is not a mapping")
	}
	guardChanged, err := setGuard(spec, c, cpath, p.Guard)
	return changed || envChanged || guardChanged, err
}

func findContainer(tmpl *yaml.Node, name string) (*yaml.Node, error) {
	cs := yamlnode.Lookup(tmpl, "spec", "containers")
	if cs == nil || cs.Kind != yaml.SequenceNode {
		return nil, errorAt(tmpl, "spec.template.spec.containers", "is missing or not a list")
	}
	for _, c := range cs.Content {
		if c.Kind != yaml.MappingNode {
			continue
		}
		if _, n := yamlnode.Field(c, "name"); n != nil && yamlnode.Value(n) == name {
			return c, nil
		}
	}
	return nil, errorAt(cs, "spec.template.spec.containers",
		"has no container named %q, which reads the files: for istiod (label app: istiod) it is discovery, for a gateway the gateway's container (default istio-proxy)", name)
}

// checkMounts refuses a secret volume path that equals, contains or sits
// inside an existing mount: the injector would add a second mount there and
// the pod would be rejected, or worse, the existing files would hide ours.
// Only the guard's own mount, the first of its name, which setGuard
// replaces, is passed: a second mount of that name stays as it is.
func checkMounts(c *yaml.Node, cpath string, p *wiring.Plan) error {
	mounts := yamlnode.Lookup(c, "volumeMounts")
	if mounts == nil {
		return nil
	}
	var guard *yaml.Node
	if p.Guard != nil {
		guard, _ = listEntry(mounts, "name", p.Guard.Volume)
	}
	for _, m := range mounts.Content {
		_, mp := yamlnode.Field(m, "mountPath")
		if mp == nil || m == guard {
			continue
		}
		existing := path.Clean(yamlnode.Value(mp))
		if overlaps(existing, p.VolumePath) {
			name := ""
			if _, n := yamlnode.Field(m, "name"); n != nil {
				name = yamlnode.Value(n)
			}
			if p.Guard != nil && name == p.Guard.Volume {
				// Only the first mount of the guard's name is the guard:
				// a second one is a leftover to remove, not a reason to
				// move the agent's directory.
				return errorAt(mp, cpath+".volumeMounts", "second mount %q is at %s, which overlaps %s %s: remove this mount (only the first mount of that name is the guard, which istio-vault-ca writes)", name, existing, p.VolumeSetting, p.VolumePath)
			}
			return overlapError(mp, cpath+".volumeMounts", name, existing, p)
		}
	}
	return nil
}

// overlapError says that a mount (name, at existing) overlaps the plan's
// volume path.
func overlapError(n *yaml.Node, at, name, existing string, p *wiring.Plan) error {
	return errorAt(n, at, "mount %q is at %s, which overlaps %s %s: choose another %s", name, existing, p.VolumeSetting, p.VolumePath, p.VolumeSetting)
}

func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, strings.TrimSuffix(b, "/")+"/") || strings.HasPrefix(b, strings.TrimSuffix(a, "/")+"/")
}

// checkRunAsUser refuses a workload that declares a uid other than the one
// the agent will write the files as: the key would be unreadable to it. The
// container's own setting wins over the pod's, as in Kubernetes, and the uid
// is read as Kubernetes reads it (securityID).
func checkRunAsUser(tmpl, c *yaml.Node, cpath string, p *wiring.Plan) error {
	sc, at := yamlnode.Lookup(c, "securityContext"), cpath+".securityContext"
	if n := yamlnode.Lookup(sc, "runAsUser"); n == nil || n.Tag == yamlnode.NullTag {
		sc, at = yamlnode.Lookup(tmpl, "spec", "securityContext"), "spec.template.spec.securityContext"
	}
	uid, err := securityID(sc, at, "runAsUser")
	if err != nil || uid == nil {
		return err
	}
	want := p.Annotation("agent-run-as-user")
	if got := strconv.FormatInt(*uid, 10); got != want {
		n := yamlnode.Lookup(sc, "runAsUser")
		read := ""
		if n.Value != got {
			read = " (" + got + " to Kubernetes)"
		}
		return errorAt(n, at+".runAsUser", "is %s%s but the agent writes the files as uid %s: set spec.agent.runAsUser: %s so the workload can read its key", n.Value, read, want, got)
	}
	return nil
}

// checkIdentity refuses a workload whose service account or namespace the
// Vault role does not bind: its agent would be denied and the pod would hang
// in Init. Revisioned istiod runs as istiod-<rev>.
func checkIdentity(rn, tmpl *yaml.Node, p *wiring.Plan) error {
	sa := yamlnode.Lookup(tmpl, "spec", "serviceAccountName")
	if sa != nil && !slices.Contains(p.ServiceAccounts, yamlnode.Value(sa)) {
		name := yamlnode.Value(sa)
		return errorAt(sa, "spec.template.spec.serviceAccountName",
			"is %q but the Vault role binds only %s: %s (and re-apply the role from istio-vault-ca policy)", name, strings.Join(p.ServiceAccounts, ", "), identityHint(p, name))
	}
	// A gateway pod without serviceAccountName runs as the deprecated
	// serviceAccount, else as default, which its role does not bind. (The
	// istiod charts always name theirs.)
	if sa == nil && p.Selector != nil {
		name, at := "default", "spec.template.spec"
		if old := yamlnode.Lookup(tmpl, "spec", "serviceAccount"); old != nil {
			name, at = yamlnode.Value(old), "spec.template.spec.serviceAccount"
		}
		if !slices.Contains(p.ServiceAccounts, name) {
			return errorAt(yamlnode.Lookup(tmpl, "spec"), at,
				"names no serviceAccountName, so the pod runs as %q, which the Vault role does not bind (it binds %s): set serviceAccountName, or %s", name, strings.Join(p.ServiceAccounts, ", "), identityHint(p, name))
		}
	}
	if ns := yamlnode.Namespace(rn); ns != "" && !slices.Contains(p.Namespaces, ns) {
		return errorAt(yamlnode.Lookup(rn, "metadata", "namespace"), "metadata.namespace",
			"is %q but the Vault role binds only namespaces %s: add it to %s.namespaces", ns, strings.Join(p.Namespaces, ", "), p.Setting)
	}
	return nil
}

// identityHint names the config field that would bind a service account:
// a revision for istiod-<rev>, else the plan's own serviceAccounts.
func identityHint(p *wiring.Plan, name string) string {
	if p.Selector == nil {
		if rev, ok := strings.CutPrefix(name, "istiod-"); ok && isRevision(rev) {
			return fmt.Sprintf("add %q to spec.istiod.revisions, or %q to spec.istiod.serviceAccounts", rev, name)
		}
	}
	return fmt.Sprintf("add %q to %s.serviceAccounts", name, p.Setting)
}

// isRevision: what istiod-<rev> can end in for a revision (istioctl's
// revision names are DNS labels); istiod-service-account (TSB) is not one.
func isRevision(rev string) bool {
	return rev != "" && !strings.Contains(rev, "service-account")
}

// gatewayAgent is the gateway's plan with the agent identity its proxy can
// read the key as (wiring.Plan.ForWorkload): what the container runs as,
// else the pod.
func gatewayAgent(tmpl, c *yaml.Node, cpath string, p *wiring.Plan) (*wiring.Plan, error) {
	var w wiring.RunAs
	at, atNode := cpath+".securityContext", yamlnode.Lookup(c, "securityContext")
	for i, sc := range []*yaml.Node{yamlnode.Lookup(c, "securityContext"), yamlnode.Lookup(tmpl, "spec", "securityContext")} {
		scPath := at
		if i == 1 {
			scPath = "spec.template.spec.securityContext"
		}
		user, err := securityID(sc, scPath, "runAsUser")
		if err != nil {
			return nil, err
		}
		group, err := securityID(sc, scPath, "runAsGroup")
		if err != nil {
			return nil, err
		}
		if w.User == nil && user != nil {
			w.User = user
			at, atNode = scPath, sc
		}
		if w.Group == nil {
			w.Group = group
		}
	}
	q, err := p.ForWorkload(w)
	if err != nil {
		return nil, errorAt(atNode, at, "%v", err) // where the uid came from
	}
	return q, nil
}

// maxID is the largest uid or gid Kubernetes accepts in a securityContext.
const maxID = 2147483647

// securityID is a uid or gid of a securityContext as Kubernetes reads it,
// nil where it is unset. Kubernetes reads manifests through
// sigs.k8s.io/yaml (YAML 1.1, then JSON): 0100 is octal 64, 0x10 and 1_000
// are integers, 1e3 is 1000, a quoted "1000" is a string it refuses. The
// yaml.v3 node the tool holds reads some of these otherwise, so the scalar
// is read again the way Kubernetes reads it; a value Kubernetes would
// refuse is refused here, before it is copied into an annotation.
func securityID(sc *yaml.Node, scPath, key string) (*int64, error) {
	n := yamlnode.Lookup(sc, key)
	if n == nil || n.Tag == yamlnode.NullTag {
		return nil, nil
	}
	at := scPath + "." + key
	text := n.Value
	tagged := n.Style&yaml.TaggedStyle != 0
	if tagged {
		text = n.Tag + " " + n.Value
	}
	var v struct {
		V *int64 `json:"v"`
	}
	if n.Kind != yaml.ScalarNode || tagged && n.Tag != "!!int" && n.Tag != "!!float" || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 ||
		strings.ContainsAny(text, "\n") || sigsyaml.Unmarshal([]byte("v: "+text), &v) != nil || v.V == nil {
		return nil, errorAt(n, at, "is %s, which Kubernetes does not read as an integer: set an integer from 0 to %d", shownScalar(n), maxID)
	}
	if *v.V < 0 || *v.V > maxID {
		return nil, errorAt(n, at, "is %s: Kubernetes accepts only 0 to %d here", shownScalar(n), maxID)
	}
	return v.V, nil
}

// shownScalar is a node as the user wrote it, for messages.
func shownScalar(n *yaml.Node) string {
	switch {
	case n.Kind != yaml.ScalarNode:
		return "not a scalar"
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return strconv.Quote(n.Value) + " (quoted, a string)"
	}
	return n.Value
}

func setAnnotations(tmpl *yaml.Node, p *wiring.Plan) (bool, error) {
	anns, err := yamlnode.LookupCreate(tmpl, yaml.MappingNode, "metadata", "annotations")
	if err != nil {
		return false, errorAt(tmpl, "spec.template.metadata.annotations", "is not a mapping: %v", err)
	}
	if anns.Kind != yaml.MappingNode {
		return false, errorAt(anns, "spec.template.metadata.annotations", "is not a mapping")
	}
	if err := checkForeignAnnotations(anns, "spec.template.metadata.annotations", p); err != nil {
		return false, err
	}
	changed := false
	for _, a := range p.Annotations {
		changed = setString(anns, a.Name, a.Value) || changed
	}
	return changed, nil
}

// checkForeignAnnotations refuses an injector annotation that would undo
// the plan (wiring.Plan.ForeignAnnotation) in an annotations map.
func checkForeignAnnotations(anns *yaml.Node, apath string, p *wiring.Plan) error {
	if anns == nil || anns.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(anns.Content); i += 2 {
		k, v := anns.Content[i], anns.Content[i+1]
		if f := p.ForeignAnnotation(k.Value, v.Value); f != nil {
			return errorAt(k, apath+"."+k.Value, "%s: %s", f.Why, f.Remedy("remove it"))
		}
	}
	return nil
}

// setEnv sets each variable on the container, updating the first entry of
// that name and dropping any later duplicate, never adding a second one.
// The variables the plan places (wiring.Pair.Placed: from the downward API,
// or referring to another) are kept in the plan's order: Kubernetes expands
// $(VAR) only for a variable defined before, so a new one goes right before
// the first later one already there, and ones found out of order are put
// together, in order, where the first of them was.
func setEnv(c *yaml.Node, cpath string, vars []wiring.Pair) (bool, error) {
	env, err := yamlnode.LookupCreate(c, yaml.SequenceNode, "env")
	if err != nil || env.Kind != yaml.SequenceNode {
		return false, errorAt(c, cpath+".env", "is not a list")
	}
	changed := false
	index := map[string]int{} // plan variable -> its place in vars
	for i, v := range vars {
		index[v.Name] = i
	}
	found := map[string]*yaml.Node{}
	var keep []*yaml.Node
	for _, e := range env.Content {
		_, n := yamlnode.Field(e, "name")
		i, ours := index[yamlnode.Value(n)]
		if e.Kind != yaml.MappingNode || n == nil || !ours {
			keep = append(keep, e)
			continue
		}
		v := vars[i]
		if found[v.Name] != nil {
			changed = true // a duplicate: Kubernetes would use the last one
			continue
		}
		found[v.Name] = e
		changed = setEnvEntry(e, v) || changed
		keep = append(keep, e)
	}
	for i, v := range vars {
		if found[v.Name] != nil {
			continue
		}
		entry := EnvEntry(v)
		found[v.Name] = entry
		changed = true
		at := len(keep)
		if v.Placed() {
			for j, e := range keep {
				_, n := yamlnode.Field(e, "name")
				if k, ours := index[yamlnode.Value(n)]; ours && k > i && vars[k].Placed() && found[vars[k].Name] == e {
					at = j
					break
				}
			}
		}
		keep = append(keep[:at:at], append([]*yaml.Node{entry}, keep[at:]...)...)
	}
	if placed := placedOrder(keep, vars, found); placed != nil {
		keep, changed = placed, true
	}
	env.Content = keep
	return changed, nil
}

// placedOrder is nil when the placed variables are in the plan's order in
// list, else list with them together, in order, where the first was.
func placedOrder(list []*yaml.Node, vars []wiring.Pair, entries map[string]*yaml.Node) []*yaml.Node {
	pos := map[*yaml.Node]int{}
	for i, e := range list {
		pos[e] = i
	}
	last, ordered, first := -1, true, len(list)
	var block []*yaml.Node
	for _, v := range vars {
		if !v.Placed() {
			continue
		}
		p := pos[entries[v.Name]]
		ordered = ordered && p > last
		last, first = p, min(first, p)
		block = append(block, entries[v.Name])
	}
	if ordered {
		return nil
	}
	var out []*yaml.Node
	for i, e := range list {
		if i == first {
			out = append(out, block...)
		}
		if !slices.Contains(block, e) {
			out = append(out, e)
		}
	}
	return out
}

// setEnvEntry makes an existing entry set its variable as v does.
func setEnvEntry(e *yaml.Node, v wiring.Pair) bool {
	if envEntryIs(e, v) {
		if v.FieldPath == "" {
			return setString(e, "value", v.Value) // a plain "1" becomes "1"
		}
		return false
	}
	if v.FieldPath != "" {
		yamlnode.Clear(e, "value")
		_, vf := yamlnode.Field(EnvEntry(v), "valueFrom")
		yamlnode.SetField(e, "valueFrom", vf)
		return true
	}
	yamlnode.Clear(e, "valueFrom")
	setString(e, "value", v.Value)
	return true
}
