// Package fn is the KRM function front end: a ResourceList in, the same list
// out with istiod's pod templates wired to Vault, the VaultCA resource as the
// functionConfig, and every problem reported as a function result, the
// lint's findings on the items as written among them (lint.go).
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
// specification's shape. What the function refuses is an error; the
// lint's findings (tagged lint: ID) are errors, warnings or information.
type Result struct {
	Message     string                   `yaml:"message,omitempty"`
	Severity    string                   `yaml:"severity,omitempty"`
	ResourceRef *yaml.ResourceIdentifier `yaml:"resourceRef,omitempty"`
	Field       *Field                   `yaml:"field,omitempty"`
	File        *File                    `yaml:"file,omitempty"`
	Tags        map[string]string        `yaml:"tags,omitempty"`
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

// Run executes the function over a ResourceList: once the list has been
// read, it is written whatever happens, with the results in it, as the KRM
// protocol expects, and an error is returned when one is an error, so the
// caller exits non-zero (see ExitCode). The items as written are linted:
// each finding is a result. The list and its items may hold Secrets: no
// message quotes their contents, only says where they are wrong.
func Run(rw *kio.ByteReadWriter) error {
	items, err := read(rw)
	if err != nil {
		return err
	}
	if rs := checkItems(items); len(rs) > 0 {
		// kyaml's annotation bookkeeping fails on such items, and so does
		// its writer: they are written back as they came, with the results.
		if err := setResults(rw, rs); err != nil {
			return err
		}
		if err := writeAsIs(rw, items); err != nil {
			return err
		}
		return rs
	}
	// Orchestrators write file annotations in a legacy and a current form;
	// keep the two in step, as every kyaml-based function does.
	annos, err := kio.PreprocessResourcesForInternalAnnotationMigration(items)
	if err != nil {
		return withoutContents(err)
	}
	results := append(process(items, rw.FunctionConfig), lintResults(items)...)
	if err := kio.ReconcileInternalAnnotations(items, annos); err != nil {
		return withoutContents(err)
	}
	return finish(rw, items, results)
}

// finish writes the list with the results, and returns them as the error
// when one is an error (warnings and information only inform).
func finish(rw *kio.ByteReadWriter, items []*yaml.RNode, results Results) error {
	if err := setResults(rw, results); err != nil {
		return err
	}
	if err := rw.Write(items); err != nil {
		return withoutContents(err)
	}
	for _, r := range results {
		if r.Severity == severityError {
			return results
		}
	}
	return nil
}

// setResults puts the results, if any, in the list to be written.
func setResults(rw *kio.ByteReadWriter, results Results) error {
	if len(results) == 0 {
		return nil
	}
	b, err := yaml.Marshal(results)
	if err != nil {
		return err
	}
	rw.Results, err = yaml.Parse(string(b))
	return err
}

// writeAsIs writes the list as kio's writer lays it out, but without the
// writer's annotation clean-up, which fails (or panics) on items that are
// not resources.
func writeAsIs(rw *kio.ByteReadWriter, items []*yaml.RNode) error {
	enc := yaml.NewEncoder(rw.Writer)
	if rw.WrappingKind == "" {
		for _, item := range items {
			if err := enc.Encode(item.Document()); err != nil {
				return withoutContents(err)
			}
		}
		return enc.Close()
	}
	list := &yaml.Node{Kind: yaml.MappingNode}
	field := func(name string, value *yaml.Node) {
		list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, value)
	}
	field("apiVersion", &yaml.Node{Kind: yaml.ScalarNode, Value: rw.WrappingAPIVersion})
	field("kind", &yaml.Node{Kind: yaml.ScalarNode, Value: rw.WrappingKind})
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, item := range items {
		seq.Content = append(seq.Content, item.YNode())
	}
	field("items", seq)
	if rw.FunctionConfig != nil {
		field("functionConfig", rw.FunctionConfig.YNode())
	}
	if rw.Results != nil {
		field("results", rw.Results.YNode())
	}
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{list}}); err != nil {
		return withoutContents(err)
	}
	return enc.Close()
}

const readFailed = "failed to read ResourceList input: "

// read reads the ResourceList as kio.ByteReadWriter.Read does, but unwraps
// it itself: kyaml reports a node of the wrong kind (a list's metadata that
// is not a mapping, items that are not a list) with the node's contents in
// the message, and the message reaches stderr, CI logs and results.
func read(rw *kio.ByteReadWriter) ([]*yaml.RNode, error) {
	docs, err := (&kio.ByteReader{Reader: rw.Reader, OmitReaderAnnotations: true, DisableUnwrapping: true}).Read()
	if err != nil {
		return nil, errors.New(readFailed + withoutContents(err).Error())
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf(readFailed+"stdin holds %d YAML documents: a KRM function takes a single ResourceList", len(docs))
	}
	list := docs[0]
	if k := list.YNode().Kind; k != yaml.MappingNode {
		return nil, errors.New(readFailed + "stdin is " + nodeKind(list.YNode()) + ", not a ResourceList (a mapping)")
	}
	if kind := label(list.GetKind()); kind != kio.ResourceListKind && kind != "List" {
		return nil, fmt.Errorf(readFailed+"stdin is not a ResourceList: its kind is %q", kind)
	}
	if f := list.Field("functionConfig"); f != nil && rw.FunctionConfig == nil {
		rw.FunctionConfig = f.Value
	}
	if f := list.Field("results"); f != nil {
		rw.Results = f.Value
	}
	if !rw.NoWrap && rw.WrappingKind == "" {
		rw.WrappingKind, rw.WrappingAPIVersion = list.GetKind(), list.GetApiVersion()
	}
	f := list.Field("items")
	if f == nil || yaml.IsMissingOrNull(f.Value) {
		return nil, nil
	}
	if n := f.Value.YNode(); n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf(readFailed+"line %d: items is %s: it must be a list of resources", n.Line, nodeKind(n))
	}
	var items []*yaml.RNode
	for _, n := range f.Value.Content() {
		items = append(items, yaml.NewRNode(n))
	}
	return items, nil
}

// checkItems finds the items that are not resources kyaml can annotate,
// and says what is wrong with each: by index, line and, where it can be
// read, kind and name, never by contents.
func checkItems(items []*yaml.RNode) Results {
	var rs Results
	for i, item := range items {
		problem, field, line := itemShape(item)
		if problem == "" {
			continue
		}
		r := &Result{Severity: severityError, Message: fmt.Sprintf("items[%d], line %d: %s", i, line, problem)}
		if field != "" {
			r.Field = &Field{Path: field}
		}
		if item.YNode().Kind == yaml.MappingNode {
			id := identity(item)
			if id.Kind != "" || id.Name != "" {
				r.ResourceRef = &id
			}
		}
		rs = append(rs, r)
	}
	return rs
}

// itemShape says what is wrong with an item, in which field and on which
// line: it must be a mapping, and its metadata and metadata.annotations
// mappings if set. A null item is passed through, as kyaml does.
func itemShape(item *yaml.RNode) (problem, field string, line int) {
	n := item.YNode()
	if yaml.IsMissingOrNull(item) {
		return "", "", 0
	}
	if n.Kind != yaml.MappingNode {
		return "is " + nodeKind(n) + ", not a resource: each item must be a mapping with apiVersion, kind and metadata", "", n.Line
	}
	md := item.Field(yaml.MetadataField)
	if md == nil || yaml.IsMissingOrNull(md.Value) {
		return "", "", 0
	}
	if m := md.Value.YNode(); m.Kind != yaml.MappingNode {
		return "metadata is " + nodeKind(m) + ": it must be a mapping (name, namespace, labels, annotations)", "metadata", m.Line
	}
	an := md.Value.Field(yaml.AnnotationsField)
	if an == nil || yaml.IsMissingOrNull(an.Value) {
		return "", "", 0
	}
	// An alias to a mapping is one to kyaml too.
	if a := an.Value.YNode(); a.Kind != yaml.MappingNode && !(a.Kind == yaml.AliasNode && a.Alias != nil && a.Alias.Kind == yaml.MappingNode) {
		return "metadata.annotations is " + nodeKind(a) + ": it must be a mapping of names to strings", "metadata.annotations", a.Line
	}
	return "", "", 0
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a mapping"
}

// identity is an item's apiVersion, kind, namespace and name, as far as
// they are short single-line strings: a message names the item by them,
// and anything else in their place could be anything. (kyaml's getters
// panic on a metadata that is a list.)
func identity(item *yaml.RNode) yaml.ResourceIdentifier {
	var meta *yaml.RNode
	if f := item.Field(yaml.MetadataField); f != nil {
		meta = f.Value
	}
	return yaml.ResourceIdentifier{
		TypeMeta: yaml.TypeMeta{APIVersion: scalarField(item, yaml.APIVersionField), Kind: scalarField(item, yaml.KindField)},
		NameMeta: yaml.NameMeta{Name: scalarField(meta, yaml.NameField), Namespace: scalarField(meta, yaml.NamespaceField)},
	}
}

// scalarField is the value of a mapping's field, if it is a label.
func scalarField(n *yaml.RNode, name string) string {
	if n == nil {
		return ""
	}
	f := n.Field(name)
	if f == nil || f.Value.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return label(f.Value.YNode().Value)
}

// label is s if it can be a Kubernetes name or kind, else empty.
func label(s string) string {
	if len(s) > 253 || strings.ContainsAny(s, "\n\r") {
		return ""
	}
	return s
}

// withoutContents drops what kyaml appends to a wrong-kind error: the
// node's contents.
func withoutContents(err error) error {
	msg, _, cut := strings.Cut(err.Error(), ": node contents:")
	if !cut {
		return err
	}
	return errors.New(msg)
}

// process applies the functionConfig to the items and returns what went
// wrong. A bad config changes nothing.
func process(items []*yaml.RNode, functionConfig *yaml.RNode) Results {
	if functionConfig.IsNilOrEmpty() {
		return Results{{Severity: severityError,
			Message: "no functionConfig: pass a VaultCA resource (apiVersion " + config.APIVersion + ")"}}
	}
	text := functionConfig.MustString()
	cfg, err := config.Load([]byte(text), functionConfigName)
	if err != nil {
		return configResults(err, text, sourceOf(functionConfig))
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

// configResults reports Load's errors on the functionConfig, located in
// the user's file where it can be (see locate).
func configResults(err error, functionConfig string, src configSource) Results {
	fes := fieldErrors(err)
	if fes == nil {
		return Results{{Severity: severityError, Message: err.Error()}}
	}
	fes, file := locate(fes, functionConfig, src)
	var rs Results
	for _, fe := range fes {
		r := &Result{Severity: severityError, Message: fe.Error(), File: file}
		if fe.Field != "" {
			r.Field = &Field{Path: fe.Field}
		}
		rs = append(rs, r)
	}
	return rs
}

func itemResult(item *yaml.RNode, err error) *Result {
	id := identity(item)
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
