// Package targets writes a wiring.Plan into the resources that carry it. Each
// kind knows only where the settings go; what they are is wiring's job.
package targets

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Error is a problem with one field of one resource. The stream layer adds
// which document it was.
type Error struct {
	Line int    // 1-based line within the document, 0 if unknown
	Path string // field path, e.g. spec.template.spec.containers[discovery].env
	Msg  string // what is wrong and what to do
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return fmt.Sprintf("`%s`: %s", e.Path, e.Msg)
}

// hasKind reports whether a resource is of a kind in an API group (the
// apiVersion's part before the slash), whatever its version.
func hasKind(rn *yaml.Node, kind, group string) bool {
	if group == coreGroup {
		return yamlnode.Kind(rn) == kind && yamlnode.APIVersion(rn) == "v1"
	}
	return yamlnode.Kind(rn) == kind && strings.HasPrefix(yamlnode.APIVersion(rn), group+"/")
}

func errorAt(n *yaml.Node, path, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// setString sets key to a string value in a mapping, creating nothing else.
// It reports whether the mapping changed: a key already holding the same
// string is left as it is, so a second run changes nothing.
func setString(m *yaml.Node, key, value string) bool {
	if _, v := yamlnode.Field(m, key); v != nil {
		if v.Kind == yaml.ScalarNode && v.Value == value && (v.Tag == yamlnode.StringTag || v.Tag == "" && v.Style != 0) {
			return false
		}
	}
	yamlnode.SetField(m, key, StringNode(value))
	return true
}

// StringNode is a string scalar as the tool writes it: tagged !!str, so
// "true" or "1337" are emitted quoted and stay strings, and a multi-line
// agent template as a literal block that reads like the template file.
func StringNode(value string) *yaml.Node {
	n := yamlnode.NewString(value)
	if len(value) > 0 && value[len(value)-1] == '\n' {
		n.Style = yaml.LiteralStyle
	}
	return n
}
