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

// expand renders {{ .Cluster }} (and hermetic sprig functions) in every
// value tagged vault:"template,expand", in place. What the agent's own templates will see is
// validated afterwards, on the expanded value. failed holds the fields left
// unexpanded: any further error about them would be about the template
// text, not the value, and only repeat this one.
func (c *VaultCA) expand() (errs Errors, failed map[string]bool) {
	failed = map[string]bool{}
	var root *template.Template // made once: adding sprig's functions costs more than a parse
	for _, tv := range c.templateValues() {
		if !tv.expand {
			continue
		}
		v := tv.v
		if !strings.Contains(*v, "{{") {
			continue
		}
		field := tv.field()
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
