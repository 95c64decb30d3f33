package config

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// pathValues is what a templated config value may refer to.
type pathValues struct {
	Cluster string
}

// templated lists every config value that may hold {{ .Cluster }}, by field path.
func (c *VaultCA) templated() map[string]*string {
	s := &c.Spec
	m := map[string]*string{
		"spec.vault.role":      &s.Vault.Role,
		"spec.vault.authPath":  &s.Vault.AuthPath,
		"spec.vault.namespace": &s.Vault.Namespace,
		"spec.vault.policy":    &s.Vault.Policy,
	}
	if kv := s.Source.KV; kv != nil {
		m["spec.source.kv.mount"] = &kv.Mount
		m["spec.source.kv.path"] = &kv.Path
	}
	if pki := s.Source.PKI; pki != nil {
		m["spec.source.pki.mount"] = &pki.Mount
		m["spec.source.pki.rootMount"] = &pki.RootMount
		m["spec.source.pki.key.mount"] = &pki.Key.Mount
		m["spec.source.pki.key.path"] = &pki.Key.Path
	}
	return m
}

// expand renders {{ .Cluster }} (and hermetic sprig functions) in every
// templated value, in place. What the agent's own templates will see is
// validated afterwards, on the expanded value.
func (c *VaultCA) expand() Errors {
	var errs Errors
	for field, v := range c.templated() {
		if !strings.Contains(*v, "{{") {
			continue
		}
		if strings.Contains(*v, ".Cluster") && c.Spec.Cluster == "" {
			errs = append(errs, &FieldError{Field: "spec.cluster", Msg: fmt.Sprintf("must be set: `%s` uses {{ .Cluster }}", field)})
			continue
		}
		t, err := template.New(field).Option("missingkey=error").Funcs(sprig.HermeticTxtFuncMap()).Parse(*v)
		if err != nil {
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("is not a valid template: %v", err)})
			continue
		}
		var out bytes.Buffer
		if err := t.Execute(&out, pathValues{Cluster: c.Spec.Cluster}); err != nil {
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("cannot be expanded (only {{ .Cluster }} is defined): %v", err)})
			continue
		}
		*v = out.String()
	}
	sortErrors(errs)
	return errs
}
