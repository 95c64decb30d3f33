package templates

import (
	"errors"
	"strings"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// agentFuncs are the functions of the agent (consul-template) that the
// tool's templates call: sprig's under the sprig_ prefix, as
// consul-template registers them, trimSpace, and secret, answered from
// data (API path -> response data); an unknown path answers nil, as the
// agent's first pass does.
func agentFuncs(data map[string]map[string]any) template.FuncMap {
	fm := template.FuncMap{}
	for k, v := range sprig.HermeticTxtFuncMap() {
		fm["sprig_"+k] = v
	}
	fm["sprig_fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	fm["trimSpace"] = strings.TrimSpace
	fm["secret"] = func(path string) *struct{ Data map[string]any } {
		if d, ok := data[path]; ok {
			return &struct{ Data map[string]any }{d}
		}
		return nil
	}
	return fm
}

// The root file's template, executed as the agent would: the source's root
// then each extra root, each distinct PEM once, in that order, one newline
// after each; a missing field fails, naming it and its path.
func TestRootsTemplateRendersEachRootOnce(t *testing.T) {
	tmpl, err := Render(Roots, Data{Roots: []Data{
		{APIPath: "secret/data/ca", Field: "root_cert", Version: 2},
		{APIPath: "roots/next", Field: "root_cert", Version: 1},
		{APIPath: "pki_next/cert/ca", Field: "certificate"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := template.New("agent").Funcs(agentFuncs(nil)).Parse(tmpl)
	if err != nil {
		t.Fatalf("the agent could not parse it: %v\n%s", err, tmpl)
	}
	pem := func(s string) string { return "-----BEGIN CERTIFICATE-----\n" + s + "\n-----END CERTIFICATE-----" }
	old, next, other := pem("OLD"), pem("NEXT"), pem("OTHER")
	const key = "-----BEGIN RSA PRIVATE KEY-----\nKEY\n-----END RSA PRIVATE KEY-----"
	for name, tc := range map[string]struct {
		ca, extra, pki string
		want, fails    string
	}{
		"all distinct":          {ca: old + "\n", extra: next, pki: other + "\n\n", want: old + "\n" + next + "\n" + other + "\n"},
		"extra is the source's": {ca: old, extra: old + "\n", pki: old, want: old + "\n"},
		"a retired root twice":  {ca: next, extra: old, pki: next, want: next + "\n" + old + "\n"},
		"a key":                 {ca: old, extra: key, pki: next, fails: "field root_cert in roots/next is not only PEM CERTIFICATE blocks"},
		"a key after a root":    {ca: old, extra: next + "\n" + key, pki: next, fails: "field root_cert in roots/next is not only PEM CERTIFICATE blocks"},
		"not PEM":               {ca: old, extra: next, pki: "OTHER", fails: "field certificate in pki_next/cert/ca is not only PEM"},
		"a bundle of roots":     {ca: old, extra: next + "\n" + other, pki: old, want: old + "\n" + next + "\n" + other + "\n"},
		"missing":               {ca: old, extra: "", pki: next, fails: "field root_cert is missing or empty in roots/next"},
	} {
		t.Run(name, func(t *testing.T) {
			data := map[string]map[string]any{
				"secret/data/ca":   {"data": map[string]any{"root_cert": tc.ca}},
				"roots/next":       {"root_cert": tc.extra},
				"pki_next/cert/ca": {"certificate": tc.pki},
			}
			var b strings.Builder
			err := agent.Funcs(agentFuncs(data)).Execute(&b, nil)
			switch {
			case tc.fails != "":
				if err == nil || !strings.Contains(err.Error(), tc.fails) {
					t.Errorf("rendered %q, err %v; want it to fail with %q", b.String(), err, tc.fails)
				}
			case err != nil:
				t.Fatal(err)
			case b.String() != tc.want:
				t.Errorf("rendered %q, want %q", b.String(), tc.want)
			}
		})
	}
}
