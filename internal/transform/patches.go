package transform

import (
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Patches writes, for every target Deployment in the stream, the kustomize
// strategic-merge patch that gives it the same settings the transformer
// writes: for tools that carry patches, not post-renderers (Flux
// HelmRelease postRenderers). Each target is first checked exactly as the
// transformer checks it, so a patch is only written where a run would work.
func (t *Transformer) Patches(r io.Reader, w io.Writer) error {
	if c := t.plans.Istiod.CSR; c != nil {
		// What proxies need is in the injector's values, a JSON document
		// in a string, which no strategic merge edits.
		return fmt.Errorf("`spec.source.istioCSR` points every proxy at istio-csr through the injector's values (global.caAddress), which a strategic-merge patch cannot edit: set the chart values global.caAddress=%s and pilot.env.ENABLE_CA_SERVER=false in the HelmRelease instead, or render through the post-renderer", c.CAAddress)
	}
	first, lim := true, NewLimits()
	return stream.ForEach(r, func(d *stream.Doc) error {
		if !t.isCandidate(d.Body) {
			return nil
		}
		rn, err := parse(d, lim)
		if err != nil || rn == nil {
			return err
		}
		if err := t.refuseList(rn); err != nil {
			return docError(d, rn, err)
		}
		p, err := targets.WorkloadPlan(rn, &t.plans)
		if err == nil && p != nil {
			_, err = targets.ApplyPodTemplate(yamlnode.Copy(rn), p)
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
		out, err := yamlnode.Marshal(patch, false)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	})
}

// patchFor builds the strategic-merge patch of one workload: the pod
// template's annotations and, on the plan's container, its env by name, each
// entry with null for the field it does not set (valueFrom for a value, value
// for a downward-API reference), which removes one a chart may have set (the
// chart's envVarFrom): Kubernetes refuses an entry with both. A strategic
// merge puts the patch's new entries before the Deployment's, in the patch's
// order (kustomize's and the API machinery's alike), so a variable is defined
// before ROOT_CA_DIR refers to it. istiod's guard goes into the pod's volumes
// (by name) and the container's volumeMounts (by mountPath).
func patchFor(rn *yaml.Node, p *wiring.Plan) (*yaml.Node, error) {
	patch := yamlnode.NewMapping()
	yamlnode.SetField(patch, "apiVersion", yamlnode.NewString(yamlnode.APIVersion(rn)))
	yamlnode.SetField(patch, "kind", yamlnode.NewString(yamlnode.Kind(rn)))
	meta, err := yamlnode.LookupCreate(patch, yaml.MappingNode, "metadata")
	if err != nil {
		return nil, err
	}
	yamlnode.SetField(meta, "name", yamlnode.NewString(yamlnode.Name(rn)))
	if ns := yamlnode.Namespace(rn); ns != "" {
		yamlnode.SetField(meta, "namespace", yamlnode.NewString(ns))
	}
	anns, err := yamlnode.LookupCreate(patch, yaml.MappingNode, "spec", "template", "metadata", "annotations")
	if err != nil {
		return nil, err
	}
	for _, a := range p.Annotations {
		yamlnode.SetField(anns, a.Name, targets.StringNode(a.Value))
	}
	// Not through SetField, which drops a null as kyaml's does.
	null := func(m *yaml.Node, key string) {
		m.Content = append(m.Content, yamlnode.NewString(key), &yaml.Node{Kind: yaml.ScalarNode, Tag: yamlnode.NullTag, Value: "null"})
	}
	// The post-renderer refuses a pod template that presets the injector's
	// status; Flux only applies the patch. A preset status makes the
	// injector skip the pod, and ROOT_CA_DIR names a directory that does
	// not exist: null deletes the annotation in a strategic merge.
	if p.Guard != nil {
		null(anns, wiring.StatusAnnotation)
	}
	if len(p.Env) == 0 {
		return patch, nil
	}
	c := yamlnode.NewMapping()
	yamlnode.SetField(c, "name", yamlnode.NewString(p.Container))
	env := yamlnode.NewSequence()
	for _, e := range p.Env {
		entry := targets.EnvEntry(e)
		if e.FieldPath != "" {
			null(entry, "value")
		} else {
			null(entry, "valueFrom")
		}
		env.Content = append(env.Content, entry)
	}
	yamlnode.SetField(c, "env", env)
	spec, err := yamlnode.LookupCreate(patch, yaml.MappingNode, "spec", "template", "spec")
	if err != nil {
		return nil, err
	}
	if p.Guard != nil {
		yamlnode.SetField(c, "volumeMounts", yamlnode.NewSequence(targets.GuardMount(p.Guard)))
	}
	yamlnode.SetField(spec, "containers", yamlnode.NewSequence(c))
	if p.Guard != nil {
		yamlnode.SetField(spec, "volumes", yamlnode.NewSequence(targets.GuardVolume(p.Guard)))
	}
	return patch, nil
}
