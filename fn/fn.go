// Package fn is the KRM function front end: a ResourceList in, the same list
// out with istiod's pod templates wired to Vault, the VaultCA resource as the
// functionConfig, and every problem reported as a function result.
//
// It speaks the protocol with kyaml's kio (the ResourceList reader and
// writer) rather than kyaml's fn/framework: the framework brings OpenAPI
// validation whose package initialisation, about a millisecond and a half
// of regular-expression compiling, every run of the function would pay.
// Results are written as the framework writes them.
package fn

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// Result is one entry of the ResourceList's results, in the KRM functions
// specification's shape. Every result this function reports is an error.
type Result struct {
	Message     string                   `yaml:"message,omitempty"`
	Severity    string                   `yaml:"severity,omitempty"`
	ResourceRef *yaml.ResourceIdentifier `yaml:"resourceRef,omitempty"`
	Field       *Field                   `yaml:"field,omitempty"`
	File        *File                    `yaml:"file,omitempty"`
}

// Field is the field of a resource a result is about.
type Field struct {
	Path string `yaml:"path,omitempty"`
}

// File is the file, and document in it, that held the resource.
type File struct {
	Path  string `yaml:"path,omitempty"`
	Index int    `yaml:"index,omitempty"`
}

const severityError = "error"

// Results are a run's findings. As an error they read as kyaml's framework
// printed them, a blank line apart:
// [error] apiVersion/kind/namespace/name field: message
type Results []*Result

func (rs Results) Error() string {
	msgs := make([]string, len(rs))
	for i, r := range rs {
		msgs[i] = r.String()
	}
	return strings.Join(msgs, "\n\n")
}

func (r *Result) String() string {
	var b strings.Builder
	b.WriteString("[" + r.Severity + "]")
	if id := r.ResourceRef; id != nil {
		var parts []string
		for _, p := range []string{id.APIVersion, id.Kind, id.Namespace, id.Name} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			b.WriteString(" " + strings.Join(parts, "/"))
		}
	}
	if r.Field != nil {
		b.WriteString(" " + r.Field.Path)
	}
	b.WriteString(": " + r.Message)
	return b.String()
}

// Run executes the function over a ResourceList: the list is written
// whatever happens, with the results in it, as the KRM protocol expects,
// and an error is returned when there are any, so the caller exits
// non-zero.
func Run(rw *kio.ByteReadWriter) error {
	items, err := rw.Read()
	if err != nil {
		return fmt.Errorf("failed to read ResourceList input: %w", err)
	}
	// Orchestrators write file annotations in a legacy and a current form;
	// keep the two in step, as every kyaml-based function does.
	annos, err := kio.PreprocessResourcesForInternalAnnotationMigration(items)
	if err != nil {
		return err
	}
	results := process(items, rw.FunctionConfig)
	if err := kio.ReconcileInternalAnnotations(items, annos); err != nil {
		return err
	}
	if len(results) > 0 {
		b, err := yaml.Marshal(results)
		if err != nil {
			return err
		}
		if rw.Results, err = yaml.Parse(string(b)); err != nil {
			return err
		}
	}
	if err := rw.Write(items); err != nil {
		return err
	}
	if len(results) > 0 {
		return results
	}
	return nil
}

// process applies the functionConfig to the items and returns what went
// wrong. A bad config changes nothing.
func process(items []*yaml.RNode, functionConfig *yaml.RNode) Results {
	if functionConfig.IsNilOrEmpty() {
		return Results{{Severity: severityError,
			Message: "no functionConfig: pass a VaultCA resource (apiVersion " + config.APIVersion + ")"}}
	}
	cfg, err := config.Load([]byte(functionConfig.MustString()), "functionConfig")
	if err != nil {
		return configResults(err)
	}
	t, err := transform.New(cfg)
	if err != nil {
		return Results{{Severity: severityError, Message: err.Error()}}
	}
	// Each item is checked and expanded as the stream's documents are
	// (aliases, merge keys, duplicate keys), within limits the whole list
	// shares: kyaml's reader expands no alias, and an istiod whose labels
	// are one would be missed.
	var rs Results
	lim := transform.NewLimits()
	for _, item := range items {
		if _, err := t.Resource(item.YNode(), lim); err != nil {
			rs = append(rs, itemResult(item, err))
		}
	}
	return rs
}

func configResults(err error) Results {
	var fes config.Errors
	if !errors.As(err, &fes) {
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			return Results{{Severity: severityError, Message: err.Error()}}
		}
		fes = config.Errors{fe}
	}
	var rs Results
	for _, fe := range fes {
		r := &Result{Severity: severityError, Message: fe.Error()}
		if fe.Field != "" {
			r.Field = &Field{Path: fe.Field}
		}
		rs = append(rs, r)
	}
	return rs
}

func itemResult(item *yaml.RNode, err error) *Result {
	id := yaml.ResourceIdentifier{
		TypeMeta: yaml.TypeMeta{APIVersion: item.GetApiVersion(), Kind: item.GetKind()},
		NameMeta: yaml.NameMeta{Name: item.GetName(), Namespace: item.GetNamespace()},
	}
	r := &Result{Severity: severityError, Message: err.Error(), ResourceRef: &id}
	var te *targets.Error
	if errors.As(err, &te) && te.Path != "" {
		r.Field = &Field{Path: te.Path}
	}
	if p, i, e := kioutil.GetFileAnnotations(item); e == nil && p != "" {
		index, _ := strconv.Atoi(i)
		r.File = &File{Path: p, Index: index}
	}
	return r
}
