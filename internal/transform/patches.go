package transform

import (
	"io"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Patches writes, for every target Deployment in the stream, the kustomize
// strategic-merge patch that gives it the same settings the transformer
// writes: for tools that carry patches, not post-renderers (Flux
// HelmRelease postRenderers). Each target is first checked exactly as the
// transformer checks it, so a patch is only written where a run would work.
func (t *Transformer) Patches(r io.Reader, w io.Writer) error {
	first := true
	return stream.ForEach(r, func(d *stream.Doc) error {
		if !t.isCandidate(d.Body) {
			return nil
		}
		rn, err := parse(d)
		if err != nil || rn == nil {
			return err
		}
		p, err := t.workloadPlan(rn)
		if err == nil && p != nil {
			_, err = targets.ApplyPodTemplate(rn.Copy(), p)
		}
		if err != nil {
			return docError(d, rn, err)
		}
		if p == nil {
			return nil
		}
		patch, err := patchFor(rn, p)
		if err != nil {
			return docError(d, rn, err)
		}
		if !first {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		first = false
		_, err = io.WriteString(w, patch.MustString())
		return err
	})
}

// patchFor builds the strategic-merge patch of one workload: the pod
// template's annotations and, on the plan's container, its env by name
// (valueFrom set to null, which removes one a chart may have set).
func patchFor(rn *yaml.RNode, p *wiring.Plan) (*yaml.RNode, error) {
	patch := yaml.NewMapRNode(nil)
	for _, f := range []struct {
		path []string
		v    string
	}{
		{[]string{"apiVersion"}, rn.GetApiVersion()},
		{[]string{"kind"}, rn.GetKind()},
		{[]string{"metadata", "name"}, rn.GetName()},
	} {
		if err := patch.PipeE(yaml.LookupCreate(yaml.ScalarNode, f.path...), yaml.FieldSetter{StringValue: f.v}); err != nil {
			return nil, err
		}
	}
	if ns := rn.GetNamespace(); ns != "" {
		if err := patch.PipeE(yaml.SetK8sNamespace(ns)); err != nil {
			return nil, err
		}
	}
	anns, err := patch.Pipe(yaml.LookupCreate(yaml.MappingNode, "spec", "template", "metadata", "annotations"))
	if err != nil {
		return nil, err
	}
	for _, a := range p.Annotations {
		if err := anns.PipeE(yaml.SetField(a.Name, targets.StringNode(a.Value))); err != nil {
			return nil, err
		}
	}
	if len(p.Env) > 0 {
		c := yaml.NewMapRNode(&map[string]string{"name": p.Container})
		env := yaml.NewListRNode()
		for _, e := range p.Env {
			// Fields one by one, in this order: a map literal would come out in
			// Go's map order, a different patch on every run.
			entry := yaml.NewMapRNode(nil)
			for _, f := range []struct {
				name  string
				value *yaml.RNode
			}{{"name", targets.StringNode(e.Name)}, {"value", targets.StringNode(e.Value)}, {"valueFrom", yaml.MakeNullNode()}} {
				if err := entry.PipeE(yaml.SetField(f.name, f.value)); err != nil {
					return nil, err
				}
			}
			if err := env.PipeE(yaml.Append(entry.YNode())); err != nil {
				return nil, err
			}
		}
		if err := c.PipeE(yaml.SetField("env", env)); err != nil {
			return nil, err
		}
		cs := yaml.NewListRNode()
		if err := cs.PipeE(yaml.Append(c.YNode())); err != nil {
			return nil, err
		}
		if err := patch.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "template", "spec"), yaml.SetField("containers", cs)); err != nil {
			return nil, err
		}
	}
	return patch, nil
}
