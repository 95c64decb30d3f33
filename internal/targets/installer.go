package targets

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Installer inputs (IstioOperator, ControlPlane) are the user's source of
// truth: a value they already set differently is their decision, so it is an
// error naming both places unless the config says override. The helpers
// here are shared by both kinds; only the paths differ.

func conflictError(n *yaml.Node, path, got, want string) error {
	return errorAt(n, path, "is %q but istio-vault-ca needs %q: remove it, or set spec.onConflict: override", got, want)
}

// stringValue returns a scalar's value and whether it is a string scalar.
func stringValue(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// reconcileMapEntry handles a key that a map the tool does not write to
// (such as values.pilot.podAnnotations) may already hold. It reports
// whether the key is taken care of there.
func reconcileMapEntry(m *yaml.Node, mpath, key, want string, override bool) (handled, changed bool, err error) {
	if m == nil || m.Kind != yaml.MappingNode {
		return false, false, nil
	}
	_, v := yamlnode.Field(m, key)
	if v == nil {
		return false, false, nil
	}
	got, _ := stringValue(v)
	if got == want {
		return true, false, nil // already there: never write it twice
	}
	if !override {
		return false, false, conflictError(v, mpath+"."+key, got, want)
	}
	return true, setString(m, key, want), nil
}

// setOwnedAnnotations writes the plan's annotations into target (a
// podAnnotations map), first reconciling each with the maps in others, which
// take the value if they already hold the key. An annotation in any of them
// that would undo the plan is refused.
func setOwnedAnnotations(target *yaml.Node, tpath string, p *wiring.Plan, others map[string]*yaml.Node) (bool, error) {
	if err := checkForeignAnnotations(target, tpath, p); err != nil {
		return false, err
	}
	for opath, other := range others {
		if err := checkForeignAnnotations(other, opath, p); err != nil {
			return false, err
		}
	}
	override := p.Override
	changed := false
	var conflicts []error // every one, so a user fixes them in one go
	for _, a := range p.Annotations {
		handled, conflicted := false, false
		for opath, other := range others {
			h, c, err := reconcileMapEntry(other, opath, a.Name, a.Value, override)
			if err != nil {
				conflicts, conflicted = append(conflicts, err), true
			}
			handled, changed = handled || h, changed || c
		}
		// A value of the target map that differs is a conflict of its own,
		// whatever the other maps hold: every one is reported in one run.
		if _, v := yamlnode.Field(target, a.Name); v != nil && !override {
			if got, _ := stringValue(v); got != a.Value {
				conflicts = append(conflicts, conflictError(v, tpath+"."+a.Name, got, a.Value))
				continue
			}
		}
		if handled || conflicted {
			continue
		}
		changed = setString(target, a.Name, a.Value) || changed
	}
	if err := joinErrors(conflicts...); err != nil {
		return false, err
	}
	return changed, nil
}

// Errors are several problems of one resource, reported together, in the
// order of their lines.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// joinErrors gathers the errors of one resource: nil for none, the one
// for one, else Errors sorted by line. Nested Errors are flattened.
func joinErrors(errs ...error) error {
	var out Errors
	var other error
	for _, err := range errs {
		var e *Error
		var es Errors
		switch {
		case err == nil:
		case errors.As(err, &es):
			out = append(out, es...)
		case errors.As(err, &e):
			out = append(out, e)
		case other == nil:
			other = err
		}
	}
	if other != nil {
		return other
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// setOwnedEnv writes the plan's variables into an env list, refusing an
// existing different entry (or one from valueFrom) unless override. A
// variable the plan takes from the downward API is never left to valuesEnv
// (values.pilot.env), a map of plain values: one there is refused, or with
// override removed. (One that refers to another, ROOT_CA_DIR, may be
// there: the installers merge the env list into the rendered one as a
// strategic-merge patch does, which puts the list's new entries, the
// downward-API one among them, before the rendered ones.)
func setOwnedEnv(parent *yaml.Node, ppath string, vars []wiring.Pair, override bool, valuesEnv *yaml.Node, vpath string) (bool, error) {
	changed := false
	var rest []wiring.Pair
	var conflicts []error
	var conflicted []wiring.Pair // in valuesEnv: the env list is still checked for them
	for _, v := range vars {
		if v.FieldPath != "" {
			if _, n := yamlnode.Field(valuesEnv, v.Name); n != nil && valuesEnv.Kind == yaml.MappingNode {
				if !override {
					got, _ := stringValue(n)
					conflicts = append(conflicts, errorAt(n, vpath+"."+v.Name, "is %q, but istio-vault-ca sets %s to %s in %s, which a map of values cannot hold: remove it here, or set spec.onConflict: override",
						got, v.Name, shownEnv(v), ppath+".env"))
					conflicted = append(conflicted, v)
					continue
				}
				yamlnode.Clear(valuesEnv, v.Name)
				changed = true
			}
			rest = append(rest, v)
			continue
		}
		handled, c, err := reconcileMapEntry(valuesEnv, vpath, v.Name, v.Value, override)
		if err != nil {
			conflicts, conflicted = append(conflicts, err), append(conflicted, v)
			continue
		}
		changed = changed || c
		if !handled {
			rest = append(rest, v)
		}
	}
	if !override {
		conflicts = append(conflicts, checkEnvEntries(yamlnode.Lookup(parent, "env"), ppath+".env", append(slices.Clone(rest), conflicted...)))
	}
	if err := joinErrors(conflicts...); err != nil {
		return false, err
	}
	if len(rest) == 0 {
		return changed, nil
	}
	c, err := setEnv(parent, ppath, rest)
	return changed || c, err
}

// checkEnvEntries refuses an entry of an env list (at envPath) that gives
// one of vars another value, or takes it from another reference.
func checkEnvEntries(env *yaml.Node, envPath string, vars []wiring.Pair) error {
	if env == nil || env.Kind != yaml.SequenceNode {
		return nil
	}
	var conflicts []error
	for _, entry := range env.Content {
		name, _ := stringValue(yamlnode.Lookup(entry, "name"))
		for _, v := range vars {
			if name != v.Name {
				continue
			}
			if got := envEntryValue(entry); !envEntryIs(entry, v) && got != v.Value {
				conflicts = append(conflicts, errorAt(entry, fmt.Sprintf("%s[%s]", envPath, v.Name),
					"is %q but istio-vault-ca needs %s: remove it, or set spec.onConflict: override", got, shownEnv(v)))
			}
		}
	}
	return joinErrors(conflicts...)
}

// envEntryValue is what an env entry sets its variable to, "valueFrom" for
// a reference.
func envEntryValue(entry *yaml.Node) string {
	if _, vf := yamlnode.Field(entry, "valueFrom"); vf != nil {
		return "valueFrom"
	}
	got, _ := stringValue(yamlnode.Lookup(entry, "value"))
	return got
}

// An installer lets the user patch what it renders after it has applied
// the settings the tool writes (TSB's kubeSpec.overlays on the IstioOperator
// it generates, istioctl's k8s.overlays on the Deployments it renders). A
// patch that sets a whole env list or annotations map would drop the
// plan's entries: the two functions below give such a patch the entries
// too, so that whichever wins, the plan is in it.

// reconcileEnvPatch gives the plan's variables to a patch (at) whose value
// is a whole env list, refusing an entry that sets one of them otherwise
// unless override. A patch without a value gets a list of them.
func reconcileEnvPatch(patch *yaml.Node, at string, p *wiring.Plan) (bool, error) {
	holder := yamlnode.NewMapping()
	if _, v := yamlnode.Field(patch, "value"); v != nil && v.Tag != yamlnode.NullTag {
		if v.Kind != yaml.SequenceNode {
			return false, errorAt(v, at+".value", "is not a list of env entries: write it as a YAML list, so that istio-vault-ca can add %s to it", envNames(p))
		}
		if !p.Override {
			if err := checkEnvEntries(v, at+".value", p.Env); err != nil {
				return false, err
			}
		}
		yamlnode.SetField(holder, "env", v)
	}
	// setEnv works on a parent holding "env": the holder is one around the
	// patch's value.
	changed, err := setEnv(holder, at+".value", p.Env)
	if err == nil && changed {
		yamlnode.SetField(patch, "value", yamlnode.Lookup(holder, "env"))
	}
	return changed, err
}

// reconcileAnnotationsPatch gives the plan's annotations to a patch (at)
// whose value is a whole annotations map.
func reconcileAnnotationsPatch(patch *yaml.Node, at string, p *wiring.Plan) (bool, error) {
	value, err := yamlnode.LookupCreate(patch, yaml.MappingNode, "value")
	if err != nil || value.Kind != yaml.MappingNode {
		return false, errorAt(patch, at+".value", "is not a mapping of annotations: write it as a YAML mapping, so that istio-vault-ca can add its annotations to it")
	}
	return setOwnedAnnotations(value, at+".value", p, nil)
}

func envNames(p *wiring.Plan) string { return varNames(p.Env) }

func varNames(vars []wiring.Pair) string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.Name
	}
	if len(names) > 1 {
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return strings.Join(names, "")
}

// chartMounts are the paths the istiod chart always mounts into discovery;
// an installer input does not show them, so the secret volume is checked
// against this list instead.
var chartMounts = []string{"/etc/cacerts", "/var/run/secrets/tokens", "/var/run/secrets/istio-dns", "/var/run/secrets/remote", "/var/run/secrets/istiod/tls", "/var/run/secrets/istiod/ca"}

func checkChartMounts(n *yaml.Node, volPath string) error {
	for _, m := range chartMounts {
		if overlaps(m, volPath) {
			return errorAt(n, "spec", "the istiod chart mounts %s, which overlaps spec.secretVolumePath %s: choose another spec.secretVolumePath (default /vault/secrets)", m, volPath)
		}
	}
	return nil
}

func boolValue(n *yaml.Node) (value, set bool) {
	s, ok := stringValue(n)
	if !ok || s == "" {
		return false, false
	}
	return strings.EqualFold(s, "true"), true
}
