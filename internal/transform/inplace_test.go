package transform

import (
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
	yaml "go.yaml.in/yaml/v3"
)

// Every golden transformation, as written, holds the data of the tree the
// transformer built. (The golden files themselves show that it is written
// in place: their diff to the input is the added lines.) Error cases and
// subcommands are not transformations; every other case must transform.
func TestGoldenOutputHoldsTheTree(t *testing.T) {
	ran := 0
	for _, c := range golden.Cases(t, "../../testdata/golden") {
		if c.Fails() || !c.Transformation() {
			continue
		}
		ran++
		t.Run(c.Name, func(t *testing.T) {
			cfg, err := config.Load(c.Config, "config.yaml")
			if err != nil {
				t.Fatal(err)
			}
			tr, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tr.Stream(c.Input)
			if err != nil {
				t.Fatal(err)
			}
			checkOutputHoldsTheTree(t, tr, c.Input, out)
		})
	}
	if ran == 0 {
		t.Fatal("no golden transformation: the test tests nothing")
	}
}

// What is written in place, and what is left to the serialiser.
func TestInPlace(t *testing.T) {
	for name, tc := range map[string]struct {
		in     string
		change func(rn *yaml.Node)
		want   string // "" when the change must be left to the serialiser
	}{
		"keys added to a block mapping, above a trailing comment": {
			in:     "a:\n  b: 1   # one\n  c:\n  - x\n# end\nd: 2\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "e", yamlnode.NewString("true")) },
			want:   "a:\n  b: 1   # one\n  c:\n  - x\n  e: \"true\"\n# end\nd: 2\n",
		},
		"an item added to a wide list, at its dashes": {
			in: "env:\n    - name: A\n      value: a\nx: 1\n",
			change: func(rn *yaml.Node) {
				appendItem(t, lookup(rn, "env"), "name: B\nvalue: b\n")
			},
			want: "env:\n    - name: A\n      value: a\n    - name: B\n      value: b\nx: 1\n",
		},
		"a quoted value replaced, its comment kept": {
			in:     "a: 'old' # why\nb: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(rn, "a", yamlnode.NewString("new")) },
			want:   "a: 'new' # why\nb: 1\n",
		},
		"no line break at the end": {
			in:     "a:\n  b: 1",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "c", yamlnode.NewString("2")) },
			want:   "a:\n  b: 1\n  c: \"2\"\n",
		},
		"a flow mapping": {
			in:     "a: {b: 1}\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "c", yamlnode.NewString("2")) },
		},
		"a key removed": {
			in:     "a: 1\nb: 2\n",
			change: func(rn *yaml.Node) { yamlnode.Clear(rn, "a") },
		},
		"a node copied from elsewhere": {
			in:     "a:\n  x: 1\nb:\n  y: 2\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(rn, "b", lookup(rn, "a")) },
		},
		"a multi-line value replaced": {
			in:     "a: |\n  one\n  two\nb: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(rn, "a", yamlnode.NewString("x")) },
		},
		"after a block scalar that keeps its trailing blank line": {
			in:     "a:\n  b: |+\n    x\n\n  # not a comment: the value ends above\nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
		},
		"after a plain scalar over two lines": {
			in:     "a:\n  b: one\n    two\nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
		},
		"after a list item holding a quoted scalar over two lines": {
			in: "l:\n- name: \"a\n    b\"\nc: 1\n",
			change: func(rn *yaml.Node) {
				appendItem(t, lookup(rn, "l"), "name: z\n")
			},
		},
		"CRLF": {
			in:     "a:\r\n  b: 1\r\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "c", yamlnode.NewString("2")) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := yamlnode.Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			before := positions{}
			record(doc, before)
			tc.change(yamlnode.Root(doc))
			got, ok := writeInPlace([]byte(tc.in), doc, before, false)
			switch {
			case tc.want == "" && ok:
				t.Errorf("written in place, want the serialiser:\n%s", got)
			case tc.want != "" && !ok:
				t.Errorf("left to the serialiser, want:\n%s", tc.want)
			case tc.want != "" && string(got) != tc.want:
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func lookup(rn *yaml.Node, key string) *yaml.Node {
	return yamlnode.Lookup(rn, key)
}

func appendItem(t *testing.T, seq *yaml.Node, item string) {
	doc, err := yamlnode.Parse([]byte(item))
	if err != nil {
		t.Fatal(err)
	}
	seq.Content = append(seq.Content, yamlnode.Root(doc))
}

// Whatever the document and wherever a key, a list item or a new value goes,
// what writeInPlace writes holds exactly the changed tree, or it declines.
func FuzzInPlace(f *testing.F) {
	for _, c := range golden.Cases(f, "../../testdata/golden") {
		f.Add(c.Input)
	}
	golden.AddSeeds(f, "../../testdata/inputs/*.yaml")
	for _, s := range []string{"a:\n  b: |+\n    x\n\n  c: 1\n", "l:\n- a: 1\n  # c\n- b: 'q\n  r'\n", "a: {b: 1}\nc:\n  - x\n  - y\n", "k: v # c\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// One document, as the transformer hands them over: yaml.Parse
		// would read only the first of several, and inPlace would copy all.
		docs := stream.Split(in)
		if len(docs) == 0 {
			return
		}
		in = docs[0].Source()
		if len(in) == 0 {
			return
		}
		doc, err := yamlnode.Parse(in)
		if err != nil || yamlnode.Root(doc) == nil || hasAliasOrMerge(doc) {
			return
		}
		var collections []*yaml.Node
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
				collections = append(collections, n)
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(doc)
		if len(collections) == 0 {
			return
		}
		before := positions{}
		record(doc, before)
		// Change a collection chosen by the input itself: a new key or item,
		// one-line or multi-line, and a scalar replaced where there is one.
		seed := len(in) + int(in[len(in)-1])
		c := collections[seed%len(collections)]
		value := yamlnode.NewString([]string{"v", "true", "two\nlines\n", "# x", ""}[seed%5])
		if c.Kind == yaml.MappingNode {
			c.Content = append(c.Content, yamlnode.NewString("added-key"), value)
			if len(c.Content) > 2 && c.Content[1].Kind == yaml.ScalarNode && seed%2 == 0 {
				*c.Content[1] = *yamlnode.NewString("replaced") // as SetField replaces a value
			}
		} else {
			c.Content = append(c.Content, value)
		}
		// The writer itself: inPlace would hide its mistakes behind the
		// read-back check, as a fallback.
		out, ok := writeInPlace(in, doc, before, false)
		if !ok {
			return
		}
		written, err := yamlnode.Parse(out)
		if err != nil || !sameNode(written, doc) {
			t.Fatalf("written in place (error %v), it holds other data:\n%s\n---- from:\n%s", err, out, in)
		}
	})
}
