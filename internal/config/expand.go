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
	for i := range s.Gateways {
		g := &s.Gateways[i]
		at := fmt.Sprintf("spec.gateways[%d]", i)
		m[at+".role"] = &g.Role
		m[at+".authPath"] = &g.AuthPath
		m[at+".policy"] = &g.Policy
		for j := range g.Certificates {
			c := &g.Certificates[j]
			cat := fmt.Sprintf("%s.certificates[%d]", at, j)
			if c.KV != nil {
				m[cat+".kv.mount"] = &c.KV.Mount
				m[cat+".kv.path"] = &c.KV.Path
			}
			if c.PKI != nil {
				m[cat+".pki.mount"] = &c.PKI.Mount
				m[cat+".pki.role"] = &c.PKI.Role
				m[cat+".pki.commonName"] = &c.PKI.CommonName
				for k := range c.PKI.AltNames {
					m[fmt.Sprintf("%s.pki.altNames[%d]", cat, k)] = &c.PKI.AltNames[k]
				}
			}
		}
	}
	return m
}

// expand renders {{ .Cluster }} (and hermetic sprig functions) in every
// templated value, in place. What the agent's own templates will see is
// validated afterwards, on the expanded value. failed holds the fields left
// unexpanded: any further error about them would be about the template
// text, not the value, and only repeat this one.
func (c *VaultCA) expand() (errs Errors, failed map[string]bool) {
	failed = map[string]bool{}
	var root *template.Template // made once: adding sprig's functions costs more than a parse
	for field, v := range c.templated() {
		if !strings.Contains(*v, "{{") {
			continue
		}
		if strings.Contains(*v, ".Cluster") && c.Spec.Cluster == "" {
			errs = append(errs, &FieldError{Field: "spec.cluster", Msg: fmt.Sprintf("must be set: `%s` uses {{ .Cluster }}", field)})
			failed[field] = true
			continue
		}
		if out, ok := clusterOnly(*v, c.Spec.Cluster); ok {
			*v = out
			continue
		}
		if root == nil {
			root = template.New("").Option("missingkey=error").Funcs(sprig.HermeticTxtFuncMap())
		}
		t, err := root.New(field).Parse(*v)
		if err != nil {
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("is not a valid template: %v", err)})
			failed[field] = true
			continue
		}
		var out bytes.Buffer
		if err := t.Execute(&out, pathValues{Cluster: c.Spec.Cluster}); err != nil {
			errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf("cannot be expanded (only {{ .Cluster }} is defined): %v", err)})
			failed[field] = true
			continue
		}
		*v = out.String()
	}
	sortErrors(errs)
	return errs, failed
}

// clusterOnly expands v when its only actions are {{ .Cluster }}, as in
// nearly every config, without a template: building one with sprig's
// functions costs more than the rest of loading a config. It reads "{{"
// as the template lexer does, left to right, so anything else declines.
func clusterOnly(v, cluster string) (string, bool) {
	var b strings.Builder
	for {
		i := strings.Index(v, "{{")
		if i < 0 {
			b.WriteString(v)
			return b.String(), true
		}
		b.WriteString(v[:i])
		rest, ok := strings.CutPrefix(v[i:], "{{ .Cluster }}")
		if !ok {
			if rest, ok = strings.CutPrefix(v[i:], "{{.Cluster}}"); !ok {
				return "", false
			}
		}
		b.WriteString(cluster)
		v = rest
	}
}
