package yamlnode

import (
	"bytes"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// The core used kyaml's RNode until start-up time moved it to these
// functions; each is compared with the kyaml operation it replaced, on the
// same documents, by the bytes both trees are written as.

var seeds = []string{
	"a: 1\n",
	"spec:\n  template:\n    metadata:\n      labels: {app: istiod}\n",
	"env:\nspec: ~\nx: [1, 2]\n",
	"a: &x {b: 1, c: [1, 2]}\nd: *x\ne:\n  <<: *x\n  b: 2\n",
	"base: &b {k: v, n: 1}\nmore: &m {k: w, z: 2}\nuse:\n  <<: [*b, *m]\n  own: 3\n",
	"a: &a [1, &s 2]\nb: *a\nc: *s\n",
	"<<: {a: 1}\n<<: {b: 2}\n",
	"a: &x 1\nb:\n  <<: *x\n",
	"~: 1\nm: &m {~: 2, null: 3}\nn:\n  <<: *m\n  ~: 4\n",
	"a: 'on'\nb: \"yes\"\nc: |\n  text\n",
	// Where DeAnchor keeps nodes kyaml copies: an anchor under an anchor,
	// in a list, merged; null keys kyaml adds again at each expansion;
	// a merge key inside a merged mapping, which kyaml leaves as it is.
	"a: &a {b: &b {c: 1}, d: [&e {f: 2}]}\ng: *b\nh: *a\ni: *e\nj: {<<: *a, d: 3}\nk: *b\n",
	"- &a {~: 1, null: {~: 2}}\n- *a\n- {<<: *a, ~: 3}\n",
	"a: &a {~: 1, ~: 2, '': 3}\nb: [*a, *a]\nc: {<<: [*a, {~: 4}]}\n",
	"base: &b {app: x}\nmid: &m\n  <<: *b\n  t: 1\nuse:\n  <<: *m\n  app: y\n",
	"a: &a\n  k: &k [1, {x: &x 2}]\nb: *k\nc: *x\nd: {<<: *a}\n",
	"x: {<<: {a: 1, <<: {b: 2}}, '<<': 3}\n",
}

func parse(t *testing.T, doc string) *yaml.Node {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil || n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil
	}
	return &n
}

func write(t *testing.T, n *yaml.Node) string {
	t.Helper()
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(n); err != nil {
		return "error: " + err.Error()
	}
	return b.String()
}

// small reports whether a tree stays small with its aliases expanded (the
// core refuses alias bombs before it expands anything).
func small(n *yaml.Node, budget *int) bool {
	*budget--
	if *budget < 0 {
		return false
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil && !small(n.Alias, budget) {
		return false
	}
	for _, c := range n.Content {
		if !small(c, budget) {
			return false
		}
	}
	return true
}

func FuzzDeAnchorMatchesKyaml(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		ours, theirs := parse(t, doc), parse(t, doc)
		if ours == nil {
			return
		}
		if budget := 5000; !small(ours, &budget) {
			return
		}
		got, err := DeAnchor(ours)
		rn := kyaml.NewRNode(theirs)
		kerr := rn.DeAnchor()
		if (err != nil) != (kerr != nil) {
			t.Fatalf("%q: error %v, kyaml %v", doc, err, kerr)
		}
		if err != nil {
			return
		}
		if g, w := write(t, got), write(t, rn.Document()); g != w {
			t.Fatalf("%q:\nours:\n%s\nkyaml:\n%s", doc, g, w)
		}
	})
}

// FuzzEditsMatchKyaml applies one operation at a path of up to three keys:
// Lookup, LookupCreate of a mapping or a sequence, SetField of a string, or
// Clear.
func FuzzEditsMatchKyaml(f *testing.F) {
	for _, s := range seeds {
		for op := range uint8(5) {
			f.Add(s, "spec.template", "on", op)
			f.Add(s, "a", "x\n", op)
			f.Add(s, "env", "", op)
		}
	}
	f.Fuzz(func(t *testing.T, doc, path, value string, op uint8) {
		ours, theirs := parse(t, doc), parse(t, doc)
		if ours == nil || ours.Content[0].Kind != yaml.MappingNode {
			return
		}
		keys := strings.SplitN(path, ".", 3)
		for _, k := range keys {
			if k == "" || k != strings.TrimSpace(k) || strings.HasPrefix(k, "[") || k == "-" || k == "*" || isNumber(k) {
				return // kyaml trims keys and reads these as list indexes and wildcards; the core passes none of them
			}
		}
		root, rn := ours.Content[0], kyaml.NewRNode(theirs)
		var got, want *yaml.Node
		var err, kerr error
		switch op % 5 {
		case 0:
			got = Lookup(root, keys...)
			r, e := rn.Pipe(kyaml.Lookup(keys...))
			if e == nil && r != nil {
				want = r.YNode()
			}
		case 1, 2:
			kind := yaml.MappingNode
			if op%5 == 2 {
				kind = yaml.SequenceNode
			}
			got, err = LookupCreate(root, kind, keys...)
			want, kerr = kyamlLookupCreate(rn, kind, keys...)
		case 3:
			m, v := Lookup(root, keys[:len(keys)-1]...), keys[len(keys)-1]
			if m == nil || m.Kind != yaml.MappingNode || m.Tag == NullTag {
				return
			}
			SetField(m, v, NewString(value))
			km, _ := rn.Pipe(kyaml.Lookup(keys[:len(keys)-1]...))
			if len(keys) == 1 {
				km = rn
			}
			kerr = km.PipeE(kyaml.SetField(v, kyaml.NewStringRNode(value)))
		case 4:
			m, v := Lookup(root, keys[:len(keys)-1]...), keys[len(keys)-1]
			if m == nil || m.Kind != yaml.MappingNode || m.Tag == NullTag {
				return
			}
			Clear(m, v)
			km, _ := rn.Pipe(kyaml.Lookup(keys[:len(keys)-1]...))
			if len(keys) == 1 {
				km = rn
			}
			kerr = km.PipeE(kyaml.Clear(v))
		}
		if (err != nil) != (kerr != nil) {
			t.Fatalf("op %d %q on %q: error %v, kyaml %v", op%5, path, doc, err, kerr)
		}
		if (got == nil) != (want == nil) {
			t.Fatalf("op %d %q on %q: found %v, kyaml %v", op%5, path, doc, got != nil, want != nil)
		}
		if got != nil && write(t, got) != write(t, want) {
			t.Fatalf("op %d %q on %q: node\n%s\nkyaml\n%s", op%5, path, doc, write(t, got), write(t, want))
		}
		if g, w := write(t, ours), write(t, rn.Document()); g != w {
			t.Fatalf("op %d %q on %q:\nours:\n%s\nkyaml:\n%s", op%5, path, doc, g, w)
		}
	})
}

// kyamlLookupCreate is what the core did with kyaml: LookupCreate one key at
// a time, replacing an explicit null on the way.
func kyamlLookupCreate(n *kyaml.RNode, kind yaml.Kind, path ...string) (*yaml.Node, error) {
	cur := n
	for i, key := range path {
		k := yaml.MappingNode
		if i == len(path)-1 {
			k = kind
		}
		if f := cur.Field(key); f != nil && kyaml.IsYNodeTaggedNull(f.Value.YNode()) {
			if err := cur.PipeE(kyaml.Clear(key)); err != nil {
				return nil, err
			}
		}
		next, err := cur.Pipe(kyaml.LookupCreate(k, key))
		if err != nil {
			return nil, err
		}
		if next == nil || (i < len(path)-1 && next.YNode().Kind != yaml.MappingNode) {
			return nil, &notMappingError{path[:i+1]}
		}
		cur = next
	}
	return cur.YNode(), nil
}

func isNumber(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return s[0] == '-' && len(s) > 1 && isNumber(s[1:])
		}
	}
	return true
}
