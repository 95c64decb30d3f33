// Package fn is the KRM function front end: a ResourceList in, the same list
// out with istiod's pod templates wired to Vault, the VaultCA resource as the
// functionConfig, and every problem reported as a function result.
package fn

import (
	"errors"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// Processor is the function. Config problems and item problems both become
// results with severity error; the list is written either way, as the KRM
// protocol expects, and Execute returns an error so the caller exits non-zero.
var Processor = framework.ResourceListProcessorFunc(process)

func process(rl *framework.ResourceList) error {
	if rl.FunctionConfig.IsNilOrEmpty() {
		rl.Results = append(rl.Results, &framework.Result{Severity: framework.Error,
			Message: "no functionConfig: pass a VaultCA resource (apiVersion " + config.APIVersion + ")"})
		return rl.Results
	}
	cfg, err := config.Load([]byte(rl.FunctionConfig.MustString()), "functionConfig")
	if err != nil {
		rl.Results = append(rl.Results, configResults(err)...)
		return rl.Results
	}
	t, err := transform.New(cfg)
	if err != nil {
		rl.Results = append(rl.Results, &framework.Result{Severity: framework.Error, Message: err.Error()})
		return rl.Results
	}
	for _, item := range rl.Items {
		if _, err := t.Node(item); err != nil {
			rl.Results = append(rl.Results, itemResult(item, err))
		}
	}
	if rl.Results.ExitCode() != 0 {
		return rl.Results
	}
	return nil
}

func configResults(err error) framework.Results {
	var fes config.Errors
	if !errors.As(err, &fes) {
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			return framework.Results{{Severity: framework.Error, Message: err.Error()}}
		}
		fes = config.Errors{fe}
	}
	var rs framework.Results
	for _, fe := range fes {
		r := &framework.Result{Severity: framework.Error, Message: fe.Error()}
		if fe.Field != "" {
			r.Field = &framework.Field{Path: fe.Field}
		}
		rs = append(rs, r)
	}
	return rs
}

func itemResult(item *yaml.RNode, err error) *framework.Result {
	id := yaml.ResourceIdentifier{
		TypeMeta: yaml.TypeMeta{APIVersion: item.GetApiVersion(), Kind: item.GetKind()},
		NameMeta: yaml.NameMeta{Name: item.GetName(), Namespace: item.GetNamespace()},
	}
	r := &framework.Result{Severity: framework.Error, Message: err.Error(), ResourceRef: &id}
	var te *targets.Error
	if errors.As(err, &te) && te.Path != "" {
		r.Field = &framework.Field{Path: te.Path}
	}
	if p, i, e := kioutil.GetFileAnnotations(item); e == nil && p != "" {
		index, _ := strconv.Atoi(i)
		r.File = &framework.File{Path: p, Index: index}
	}
	return r
}

// Run executes the function over a ResourceList.
func Run(rw *kio.ByteReadWriter) error {
	return framework.Execute(Processor, rw)
}
