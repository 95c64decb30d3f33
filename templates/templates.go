// Package templates holds the Vault Agent template generators, one file per
// secret layout, rendered with sprig. They are data, not code: a user reading
// kv.tmpl sees exactly what the agent will be asked to render.
package templates

import (
	"embed"
	"fmt"
	"strings"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

//go:embed *.tmpl
var files embed.FS

// Names of the layouts, one template file each.
const (
	KV  = "kv.tmpl"
	PKI = "pki.tmpl"
	// PKICert issues a leaf and writes certificate, chain and key to one file.
	PKICert = "pki-cert.tmpl"
	// Mint writes one part of an intermediate minted by one generate and
	// one sign.
	Mint = "mint.tmpl"
	// Roots writes istiod's root file from the source's own root and the
	// extra roots of spec.rootRotation.
	Roots = "roots.tmpl"
)

// Data is what a layout template is rendered with.
type Data struct {
	// APIPath is the exact Vault API path read (KV v2 already has data/).
	APIPath string
	// Field is the KV field read (KV layout only).
	Field string
	// Version is the KV engine version (KV layout only).
	Version int
	// Params are the key=value arguments of a PKI issue request, or of
	// the generate request at APIPath (Mint).
	Params []string
	// SignPath and SignParams are the sign request of a minted
	// intermediate, and its arguments after the CSR (Mint only).
	SignPath   string
	SignParams []string
	// Part is the part of a minted bundle written: key, cert or chain (Mint only).
	Part string
	// Roots are the PEMs of a root file of several (Roots layout only),
	// each with its APIPath, Field and Version.
	Roots []Data
}

var (
	parseOnce sync.Once
	parsed    *template.Template
	parseErr  error
)

// Render produces the agent template for one file. Parsing happens on first
// use, not at package initialisation: commands that derive no plan (help,
// explain, config --defaults) never pay for it.
//
// It is the one place values enter an agent template, so it refuses again
// what config validation refuses: a value that could close the quoted
// string or the {{ }} action it is written into would make the agent run
// template code of the value's author.
func Render(name string, d Data) (string, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	parseOnce.Do(func() {
		parsed, parseErr = template.New("").Delims("[[", "]]").
			Funcs(sprig.HermeticTxtFuncMap()).Option("missingkey=error").
			ParseFS(files, "*.tmpl")
	})
	if parseErr != nil {
		return "", parseErr
	}
	var b strings.Builder
	if err := parsed.ExecuteTemplate(&b, name, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// check refuses a value holding a template delimiter, a quote, a backslash
// or a control character.
func (d Data) check() error {
	values := append(append([]string{d.APIPath, d.Field, d.SignPath, d.Part}, d.Params...), d.SignParams...)
	for _, r := range d.Roots {
		if err := r.check(); err != nil {
			return err
		}
	}
	for _, v := range values {
		if strings.Contains(v, "{{") || strings.Contains(v, "}}") ||
			strings.ContainsAny(v, "\"`'\\") ||
			strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) }) >= 0 {
			return fmt.Errorf("templates: refusing %q: a value with a template delimiter, a quote, a backslash or a control character would break out of the agent template", v)
		}
	}
	return nil
}
