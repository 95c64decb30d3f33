// Package transform is the core every front end shares: it applies a plan to
// the resources that are targets and leaves everything else alone.
// Data flows one way: bytes -> documents -> (targets only) nodes -> bytes.
package transform

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Transformer applies one config to resources.
type Transformer struct {
	plans targets.Plans
}

// New derives the plans of a loaded config once, for every document to share.
func New(cfg *config.VaultCA) (*Transformer, error) {
	p, err := wiring.ForIstiod(cfg)
	if err != nil {
		return nil, err
	}
	t := &Transformer{plans: targets.Plans{Istiod: p}}
	for i := range cfg.Spec.Gateways {
		gp, err := wiring.ForGateway(cfg, i)
		if err != nil {
			return nil, err
		}
		// The gateway's policy would grant it a path istiod reads: the
		// CA key, if the certificate is kept beside it.
		if shared := gp.SharedPaths(p); len(shared) > 0 {
			return nil, fmt.Errorf("`%s.certificates` use %s, which reaches istiod's CA material (reads it, changes or destroys it, or signs with istiod's CA): the gateway's policy would grant that to the gateway pod; keep gateway certificates at paths and mounts of their own", gp.Setting, strings.Join(shared, ", "))
		}
		t.plans.Gateways = append(t.plans.Gateways, gp)
	}
	return t, nil
}

// Plans are every plan the transformer writes: the policy is built from
// these, so it grants exactly what the annotations read.
func (t *Transformer) Plans() []*wiring.Plan {
	return append([]*wiring.Plan{t.plans.Istiod}, t.plans.Gateways...)
}

// Node applies the config to one resource (its root mapping) in place and
// reports whether it changed. Resources that are not of a registered
// target kind (targets.Kinds) are never touched.
func (t *Transformer) Node(rn *yaml.Node) (bool, error) {
	k := targets.KindOf(rn)
	if k == nil {
		return false, nil
	}
	return k.Apply(rn, &t.plans)
}

// isTarget reports whether a resource is one the config applies to, as its
// kind's registration tells.
func (t *Transformer) isTarget(rn *yaml.Node) bool {
	k := targets.KindOf(rn)
	return k != nil && k.Is(rn, &t.plans)
}

// isCandidate tells from bytes, before any parse, whether a document could
// be a target: that keeps the parser away from the large CRDs and
// ConfigMaps that make up most of an Istio install. The kind comes from
// the document's one top-level kind line (stream.TopLevelKind), and the
// registration of that kind may look further (targets.Kind.MayBe). Where
// the kind is not certain, such as a flow-style document, a quoted key or
// two kind lines, any mention of a target kind makes it one.
func (t *Transformer) isCandidate(body []byte) bool {
	if kind, ok := stream.TopLevelKind(body); ok {
		k := targets.KindNamed(kind)
		return k != nil && (k.MayBe == nil || k.MayBe(body, &t.plans))
	}
	for _, k := range targets.Kinds() {
		if bytes.Contains(body, []byte(k.Name)) {
			return true
		}
	}
	return false
}

// DocError locates a problem in a stream: which document, what it is, where.
type DocError struct {
	Index     int    // 0-based document index in the stream
	Kind      string // the resource's kind, if it could be read
	Namespace string
	Name      string
	Line      int // 1-based line in the stream
	Err       error
	base      int // the document's first line, for errors that carry their own
}

func (e *DocError) Error() string {
	// Several problems of one document: a line each, each with its line.
	var es targets.Errors
	if errors.As(e.Err, &es) && e.base > 0 {
		lines := make([]string, len(es))
		for i, te := range es {
			one := *e
			one.Err, one.Line = te, e.base
			if te.Line > 0 {
				one.Line = e.base + te.Line - 1
			}
			lines[i] = one.Error()
		}
		return strings.Join(lines, "\n")
	}
	var b strings.Builder
	b.WriteString(DocPlace(e.Index, e.Kind, e.Namespace, e.Name))
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *DocError) Unwrap() error { return e.Err }

// Stream transforms a multi-document YAML stream held in memory: the
// documents that are not changed come out as the exact bytes that came in.
// It is Edits and stream.Apply, the command line's two passes, on bytes.
func (t *Transformer) Stream(in []byte) ([]byte, error) {
	edits, size, err := t.Edits(stream.NewBytesReader(in))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(in))
	if err := stream.Apply(&out, bytes.NewReader(in), size, edits); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Edits reads a whole stream and returns the changes it needs, in stream
// order, and the stream's length; no output is written. A caller that can
// read the stream again writes it with stream.Apply: only the changed
// documents are held in memory (up to maxHeldBytes), and a stream that
// fails anywhere yields no output at all.
func (t *Transformer) Edits(docs *stream.Reader) (edits []stream.Edit, size int64, err error) {
	return t.EditsWithin(docs, NewLimits())
}

// EditsWithin is Edits with the input's limits given, so that the caller
// can read afterwards what they counted (Limits.Targets).
func (t *Transformer) EditsWithin(docs *stream.Reader, lim *Limits) (edits []stream.Edit, size int64, err error) {
	err = docs.Each(func(d *stream.Doc) error {
		size = d.Offset + d.Len()
		out, err := t.rewrite(d, lim)
		if out != nil {
			edits = append(edits, stream.Edit{Offset: d.Offset, Len: d.Len(), New: out})
		}
		return err
	})
	return edits, size, err
}

// rewrite returns what a document becomes, marker included, or nil when it
// stays as it is. A marker that carried content of its own ("--- {a: 1}")
// was part of what the parser read, so it is replaced by a bare one.
func (t *Transformer) rewrite(d *stream.Doc, lim *Limits) ([]byte, error) {
	if !t.isCandidate(d.Body) {
		return nil, nil
	}
	body, err := t.doc(d, lim)
	if err != nil || body == nil {
		return nil, err
	}
	marker := d.Marker
	if !stream.IsBareMarker(marker) {
		marker = []byte("---\n")
		if docCRLF(d) {
			marker = []byte("---\r\n")
		}
	}
	return append(append(make([]byte, 0, len(marker)+len(body)), marker...), body...), nil
}

// doc returns the new body of a document, or nil when it is unchanged; the
// body is charged to lim.
func (t *Transformer) doc(d *stream.Doc, lim *Limits) ([]byte, error) {
	doc, expanded, err := parseDoc(d, lim)
	if err != nil || doc == nil {
		return nil, err
	}
	rn := yamlnode.Root(doc)
	var before positions
	var js *jsonDoc
	if !expanded {
		js = newJSONDoc(d.Source(), stream.IsBareMarker(d.Marker), doc)
	}
	if js == nil && !expanded && stream.IsBareMarker(d.Marker) {
		before = positions{}
		record(doc, before)
	}
	changed, err := t.Node(rn)
	if err != nil {
		return nil, docError(d, rn, err)
	}
	lim.seen(rn, &t.plans)
	// A changed document was a target; only an unchanged one is asked, so
	// no document is dispatched twice for the count.
	if changed || t.isTarget(rn) {
		lim.targets++
	}
	if !changed {
		return nil, nil
	}
	out, err := written(d, doc, js, before, lim.held)
	if err == nil {
		err = lim.hold(len(out)) // however it was written
	}
	if err != nil {
		return nil, docError(d, rn, err)
	}
	return out, nil
}

// written is a changed document's bytes, in the way that keeps most of
// its own: as JSON in its style, in place, or re-serialised with its
// list indentation and line ends (cut short once it passes held).
func written(d *stream.Doc, doc *yaml.Node, js *jsonDoc, before positions, held int64) ([]byte, error) {
	rn := yamlnode.Root(doc)
	if js != nil {
		return js.write(rn)
	}
	wide := wideSeqIndent(d.Source())
	if before != nil {
		if out, ok := inPlace(d.Body, doc, before, wide); ok {
			return out, nil
		}
	}
	spellNulls(rn, false)
	out, err := yamlnode.MarshalWithin(doc, wide, int(held))
	if errors.Is(err, yamlnode.ErrTooLong) {
		return nil, errHeld
	}
	if err == nil && docCRLF(d) {
		out = toCRLF(out) // the serialiser ends lines in LF
	}
	return out, err
}

// spellNulls writes out the implicit nulls of flow collections ({a}, {a: })
// as null: the serialiser would write them as an empty quoted string, which
// is not what the document said. In block style it writes an implicit null as
// nothing, which reads back as null, so those are left alone.
func spellNulls(n *yaml.Node, inFlow bool) {
	if inFlow && n.Kind == yaml.ScalarNode && n.Value == "" && n.ShortTag() == yamlnode.NullTag {
		n.Value = "null"
	}
	flow := inFlow || n.Style&yaml.FlowStyle != 0
	for _, c := range n.Content {
		spellNulls(c, flow)
	}
}

// parse reads a candidate document as every mode must see it: its root
// mapping, nil for a document that holds no mapping (comments only, a
// scalar), an error for malformed YAML or a duplicate key, and aliases and
// merge keys expanded.
func parse(d *stream.Doc, lim *Limits) (*yaml.Node, error) {
	doc, _, err := parseDoc(d, lim)
	return yamlnode.Root(doc), err
}

// parseDoc is parse returning the document node, also saying whether
// aliases were expanded: the tree then no longer matches the bytes.
func parseDoc(d *stream.Doc, lim *Limits) (doc *yaml.Node, expanded bool, err error) {
	doc, err = yamlnode.Parse(d.Source())
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, nil // comments only
		}
		return nil, false, &DocError{Index: d.Index, Line: d.Line + yamlErrorLine(err) - 1,
			Err: fmt.Errorf("is not valid YAML: %v; fix the input (the tool reads what helm or kustomize rendered)", err)}
	}
	rn := yamlnode.Root(doc)
	if rn == nil || rn.Kind != yaml.MappingNode || len(rn.Content) == 0 {
		return nil, false, nil
	}
	if expanded, err = lim.expand(doc); err != nil {
		return nil, false, docError(d, yamlnode.Root(doc), err)
	}
	return doc, expanded, nil
}

// docError locates a target's error in the stream.
func docError(d *stream.Doc, rn *yaml.Node, err error) *DocError {
	de := &DocError{Index: d.Index, Kind: yamlnode.Kind(rn), Namespace: yamlnode.Namespace(rn), Name: yamlnode.Name(rn), Line: d.Line, base: d.Line, Err: err}
	var te *targets.Error
	if errors.As(err, &te) && te.Line > 0 {
		de.Line = d.Line + te.Line - 1
	}
	return de
}

// yamlErrorLine extracts "line N" from a parser error, 1 if there is none.
func yamlErrorLine(err error) int {
	var n int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		if _, e := fmt.Sscanf(msg[i:], "line %d", &n); e == nil && n > 0 {
			return n
		}
	}
	return 1
}
