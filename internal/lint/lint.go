// Package lint finds known pitfalls in committed or rendered manifests:
// settings that parse and apply, but that Vault's injector or istiod do not
// read as their author meant. It never changes anything; each check is a
// small function over one resource (see checks), and every finding says
// where it is and what to do.
package lint

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Severity is how bad a finding is. The values are the KRM function
// results' severities.
type Severity string

const (
	// Error: what the manifest asks for does not happen (an agent that is
	// never injected, a reload that never comes), or a secret is exposed.
	Error Severity = "error"
	// Warning: it works, but not as written, or not for long.
	Warning Severity = "warning"
	// Info: something the lint could not decide, said so.
	Info Severity = "info"
)

// The findings' IDs: stable names for documentation, grep and CI rules.
// README's "Lint" section says what each means and what to do.
const (
	IDVaultAnnotationsOnWorkload  = "vault-annotations-on-workload"
	IDCAKeyInStream               = "ca-key-in-stream"
	IDVaultCAProvider             = "vault-ca-provider"
	IDInjectSecretWithoutTemplate = "inject-secret-without-template"
	IDIstiodNoReload              = "istiod-no-reload"
	IDIstiodReloadOff             = "istiod-reload-off"
	IDMultiRootBefore120          = "multiroot-before-1.20"
	IDIstiod127Beta               = "istiod-1.27-beta"
	IDIstiodVersionUnknown        = "istiod-version-unknown"
)

// IDs are every finding's ID.
var IDs = []string{
	IDVaultAnnotationsOnWorkload, IDCAKeyInStream, IDVaultCAProvider, IDInjectSecretWithoutTemplate,
	IDIstiodNoReload, IDIstiodReloadOff, IDMultiRootBefore120, IDIstiod127Beta, IDIstiodVersionUnknown,
}

// Finding is one pitfall in one resource.
type Finding struct {
	ID       string // one of IDs
	Severity Severity
	// Doc is the 0-based index of the document in its stream (of the item
	// in a ResourceList); Line the 1-based line of the stream (of the
	// parsed item) the finding is about.
	Doc, Line             int
	Kind, Namespace, Name string
	// Field is the path of the field the finding is about, in the
	// targets' notation: spec.template.spec.containers[discovery].env[CA_PROVIDER].
	Field string
	// Message says what is wrong and what to do.
	Message string
}

// Fails reports whether a finding fails a run: an error or a warning does,
// information does not.
func (f Finding) Fails() bool { return f.Severity == Error || f.Severity == Warning }

// Format is a finding as `lint` prints it, one line, led by the file and
// line as compilers write them so editors and CI annotate the place:
//
//	FILE:LINE: SEVERITY ID: document N (Kind namespace/name) FIELD: MESSAGE
//
// N counts from 1, as the transformer's errors count documents.
func (f Finding) Format(file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: %s %s: %s", file, f.Line, f.Severity, f.ID, transform.DocPlace(f.Doc, f.Kind, f.Namespace, f.Name))
	if f.Field != "" {
		b.WriteString(" " + f.Field)
	}
	b.WriteString(": " + f.Message)
	return oneLine(b.String())
}

// oneLine escapes the control characters a name, key or value from the
// manifest may bring (a key with a line break in it is valid YAML), so a
// finding stays one line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// check is one pitfall's test: the findings in one resource. Line and Doc
// are the resource's own (Line within what was parsed); the caller places
// them in the stream.
type check func(r *resource) []Finding

// checks is every check, in the order their findings are listed for one
// resource.
var checks = []check{
	vaultAnnotationsOnWorkload,
	caKeyInStream,
	vaultCAProvider,
	injectSecretWithoutTemplate,
	istiodVersion,
}

// Reads reports whether some check reads resources of a kind: a document
// of any other plain kind is not parsed (most of an Istio install is CRDs
// and ConfigMaps).
func Reads(kind string) bool {
	return kind == "Secret" || kind == "Pod" || kind == "CronJob" || isTemplateKind(kind) || transform.IsListKind(kind)
}

// Resource lints one parsed resource, a ResourceList's item or a stream's
// document: lines are the node's own.
//
// A List (kind List, or any *List with items, as kubectl reads them) is
// linted item by item: each finding names the item (its kind and name,
// and items[N] before its field), at the item's lines.
func Resource(rn *yaml.Node) []Finding {
	if rn == nil || rn.Kind != yaml.MappingNode {
		return nil
	}
	if items := transform.ListItems(rn); items != nil {
		var fs []Finding
		for i, it := range items {
			for _, f := range Resource(it) {
				f.Field = strings.TrimSuffix(fmt.Sprintf("items[%d].%s", i, f.Field), ".")
				if f.Line == 0 {
					f.Line = it.Line
				}
				fs = append(fs, f)
			}
		}
		return fs
	}
	r := &resource{node: rn, kind: yamlnode.Kind(rn), namespace: yamlnode.Namespace(rn), name: yamlnode.Name(rn)}
	var fs []Finding
	for _, c := range checks {
		for _, f := range c(r) {
			f.Kind, f.Namespace, f.Name = r.kind, r.namespace, r.name
			fs = append(fs, f)
		}
	}
	return fs
}

// Stream lints every document of a multi-document stream held in memory.
// A document that does not parse is bad input: the error, a
// *transform.DocError, names it, and no finding is returned.
func Stream(in []byte) ([]Finding, error) {
	var out []Finding
	lim := transform.NewLimits()
	for _, d := range stream.Split(in) {
		if kind, plain := stream.TopLevelKind(d.Body); plain && !Reads(string(kind)) {
			continue
		}
		rn, err := transform.Parse(&d, lim)
		if err != nil {
			return nil, err
		}
		// A node's line counts from what was parsed: the body, or the
		// marker line before it when the marker holds content.
		first := d.Line
		if !stream.IsBareMarker(d.Marker) {
			first--
		}
		found := Resource(rn)
		for i := range found {
			found[i].Doc, found[i].Line = d.Index, first+found[i].Line-1
			if found[i].Line < d.Line {
				found[i].Line = d.Line // no node of its own: the document's first line
			}
		}
		// In the order of the document's lines, as an editor walks them.
		slices.SortStableFunc(found, func(a, b Finding) int { return a.Line - b.Line })
		out = append(out, found...)
	}
	return out, nil
}

// resource is what a check reads of one resource.
type resource struct {
	node                  *yaml.Node
	kind, namespace, name string
}

// at is a finding of r at node n.
func at(n *yaml.Node, id string, sev Severity, field, format string, args ...any) Finding {
	line := 0
	if n != nil {
		line = n.Line
	}
	return Finding{ID: id, Severity: sev, Line: line, Field: field, Message: fmt.Sprintf(format, args...)}
}

// entries calls fn for every entry of a mapping whose key is a string.
func entries(m *yaml.Node, fn func(k, v *yaml.Node)) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode {
			fn(k, m.Content[i+1])
		}
	}
}

// Summary counts findings by severity, for a line on stderr: "3 findings:
// 2 errors, 1 warning".
func Summary(fs []Finding) string {
	count := map[Severity]int{}
	for _, f := range fs {
		count[f.Severity]++
	}
	var parts []string
	for _, s := range []struct {
		sev  Severity
		name string
	}{{Error, "error"}, {Warning, "warning"}, {Info, "info"}} {
		if n := count[s.sev]; n > 0 {
			name := s.name
			if n > 1 && s.sev != Info {
				name += "s"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, name))
		}
	}
	noun := "findings"
	if len(fs) == 1 {
		noun = "finding"
	}
	return fmt.Sprintf("%d %s: %s", len(fs), noun, strings.Join(parts, ", "))
}
