package transform

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/drift"
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
			in:     "a:\n  b: |+\n    x\n\n  # a comment: the value ends above\nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: |+\n    x\n\n  d: \"2\"\n  # a comment: the value ends above\nc: 1\n",
		},
		"after a block scalar, as helm writes a --set-file annotation": {
			in: "metadata:\n  annotations:\n    a: \"1\"\n    zz: |\n      line one\n      # line two\nspec: {}\n",
			change: func(rn *yaml.Node) {
				yamlnode.SetField(lookup(lookup(rn, "metadata"), "annotations"), "b", yamlnode.NewString("2"))
			},
			want: "metadata:\n  annotations:\n    a: \"1\"\n    zz: |\n      line one\n      # line two\n    b: \"2\"\nspec: {}\n",
		},
		"after a clipped block scalar, above its blank lines": {
			in:     "a:\n  b: >\n    x\n\n   \nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: >\n    x\n  d: \"2\"\n\n   \nc: 1\n",
		},
		"a block scalar added after a clipped one, below its blank lines": {
			in:     "a:\n  b: |-\n    x\n\nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("y\nz\n")) },
			want:   "a:\n  b: |-\n    x\n\n  d: |\n    y\n    z\nc: 1\n",
		},
		"after a block scalar whose last line is spaces": {
			in:     "a:\n  b: |\n    x\n      \nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: |\n    x\n      \n  d: \"2\"\nc: 1\n",
		},
		"after a block scalar with an indentation indicator": {
			in:     "a:\n  b: |2\n       x\n     y\nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: |2\n       x\n     y\n  d: \"2\"\nc: 1\n",
		},
		"after an empty block scalar": {
			in:     "a:\n  b: |+\n\n\nc: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: |+\n\n\n  d: \"2\"\nc: 1\n",
		},
		"after a block scalar deep in the last entry": {
			in:     "a:\n  b:\n    c:\n    - |+\n      x\n\n# end\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b:\n    c:\n    - |+\n      x\n\n  d: \"2\"\n# end\n",
		},
		"an item after a list item that is a block scalar": {
			in:     "l:\n  - |\n    x\n",
			change: func(rn *yaml.Node) { appendItem(t, lookup(rn, "l"), "y\n") },
			want:   "l:\n  - |\n    x\n  - y\n",
		},
		"after a block scalar that is the last thing in the document": {
			in:     "a:\n  b: |+\n    x\n\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: |+\n    x\n\n  d: \"2\"\n",
		},
		"after a stripped block scalar without a last line break": {
			in:     "a:\n  b: |-\n    x",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "d", yamlnode.NewString("2")) },
			want:   "a:\n  b: |-\n    x\n  d: \"2\"\n",
		},
		"after a clipped block scalar without a last line break": {
			in:     "a:\n  b: |\n    x",
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
			in: "a:\r\n  b: |\r\n    x\r\n\r\n  c: 'q'\r\nd: 1",
			change: func(rn *yaml.Node) {
				yamlnode.SetField(lookup(rn, "a"), "c", yamlnode.NewString("r"))
				yamlnode.SetField(lookup(rn, "a"), "e", yamlnode.NewString("y\nz\n"))
				yamlnode.SetField(rn, "f", yamlnode.NewString("2"))
			},
			want: "a:\r\n  b: |\r\n    x\r\n\r\n  c: 'r'\r\n  e: |\r\n    y\r\n    z\r\nd: 1\r\nf: \"2\"\r\n",
		},
		"mixed line ends": {
			in:     "a:\r\n  b: 1\n",
			change: func(rn *yaml.Node) { yamlnode.SetField(lookup(rn, "a"), "c", yamlnode.NewString("2")) },
		},
		"a lone CR": {
			in:     "a:\r  b: 1\r\n",
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
			if ok {
				if written, err := yamlnode.Parse(got); err != nil || !sameNode(written, doc) {
					t.Errorf("written in place (error %v), it holds other data:\n%s", err, got)
				}
			}
		})
	}
}

// The cases whose diff must be the added lines alone, run through the
// transformer: charts whose last pod annotation is a block scalar, a chart
// with CRLF line ends (whose output must end every line so).
func TestGoldenDiffIsTheAddedLines(t *testing.T) {
	for _, name := range []string{"block-scalar-annotation", "crlf-istiod", "seed000-cluster1-kv1", "revision-canary", "wide-sequences"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("../../testdata/golden", name)
			cfg, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			if err != nil {
				ref, rerr := os.ReadFile(filepath.Join(dir, "input"))
				if rerr != nil {
					t.Fatal(err)
				}
				if in, err = os.ReadFile(filepath.Join(dir, strings.TrimSpace(string(ref)))); err != nil {
					t.Fatal(err)
				}
			}
			tr := newTransformer(t, string(cfg))
			out, err := tr.Stream(in)
			if err != nil {
				t.Fatal(err)
			}
			checkOnlyAdded(t, in, out)
			if strings.HasPrefix(name, "crlf") {
				checkCRLF(t, out)
			}
		})
	}
}

// A CRLF rendering of the istiod chart comes out with CRLF line ends only,
// the added lines alone in its diff, and converged: a second run and check
// find nothing to change.
func TestCRLFChart(t *testing.T) {
	lf, err := os.ReadFile("../../testdata/inputs/istiod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
	tr := newTransformer(t, corpusConfig)
	out, err := tr.Stream(in)
	if err != nil {
		t.Fatal(err)
	}
	checkCRLF(t, out)
	checkOnlyAdded(t, in, out)
	checkOutputHoldsTheTree(t, tr, in, out)
	// The LF chart gains the same lines.
	outLF, err := tr.Stream(lf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n")), outLF) {
		t.Error("the CRLF chart, its line ends made LF, differs from the LF chart's output")
	}
	if again, err := tr.Stream(out); err != nil || !bytes.Equal(again, out) {
		t.Fatalf("not idempotent (err %v)", err)
	}
	if diff, err := drift.Diff(tr, "istiod.yaml", in); err != nil || diff == "" {
		t.Errorf("check finds no drift in the input (err %v)", err)
	}
	if diff, err := drift.Diff(tr, "istiod.yaml", out); err != nil || diff != "" {
		t.Errorf("check does not converge on the output (err %v):\n%s", err, diff)
	}
}

// A Deployment the serialiser writes (a flow mapping filled in) takes the
// line ends of the document it replaces, in the middle of a CRLF stream.
func TestCRLFSerialised(t *testing.T) {
	in := []byte("a: 1\r\n---\r\n" + strings.ReplaceAll(`apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}
spec:
  template:
    metadata: {labels: {app: istiod}}
    spec:
      serviceAccountName: istiod
      containers: [{name: discovery, env: [{name: A, value: a}]}]
`, "\n", "\r\n") + "--- {b: 2}\r\n")
	tr := newTransformer(t, corpusConfig)
	out, err := tr.Stream(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out, in) {
		t.Fatal("the Deployment was not changed")
	}
	checkCRLF(t, out)
	checkOutputHoldsTheTree(t, tr, in, out)
	if again, err := tr.Stream(out); err != nil || !bytes.Equal(again, out) {
		t.Fatalf("not idempotent (err %v)", err)
	}
}

// checkOnlyAdded fails t unless out is in with lines added: every line of
// in is in out, in order.
func checkOnlyAdded(t *testing.T, in, out []byte) {
	t.Helper()
	if bytes.Equal(in, out) {
		t.Fatal("nothing changed")
	}
	inLines, outLines := bytes.SplitAfter(in, []byte("\n")), bytes.SplitAfter(out, []byte("\n"))
	i := 0
	for _, l := range outLines {
		if i < len(inLines) && bytes.Equal(inLines[i], l) {
			i++
		}
	}
	if i < len(inLines) {
		t.Fatalf("input line %d, %q, is not in the output after the lines before it: the diff is more than added lines", i+1, inLines[i])
	}
}

// checkCRLF fails t unless every line of out ends in CRLF.
func checkCRLF(t *testing.T, out []byte) {
	t.Helper()
	for n, l := range bytes.SplitAfter(out, []byte("\n")) {
		if len(l) > 0 && !bytes.HasSuffix(l, []byte("\r\n")) || bytes.Count(l, []byte("\r")) > 1 {
			t.Fatalf("line %d does not end in CRLF: %q", n+1, l)
		}
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
	for _, s := range []string{"a:\n  b: |+\n    x\n\n  c: 1\n", "l:\n- a: 1\n  # c\n- b: 'q\n  r'\n", "a: {b: 1}\nc:\n  - x\n  - y\n", "k: v # c\n",
		// Block scalars just before where new lines go: every chomping,
		// blank and comment-like lines, an indentation indicator, the end.
		"a:\n  b: |+\n    x\n\n  # c\nd: 1\n", "a:\n  b: |\n    x\n    # y\n\nc:\n- |-\n  z\n", "a:\n  b: >\n    x\n\n    y\n      \n   \n",
		"l:\n- |2-\n   x\n\n- k: |+\n    y\n", "a:\n  b: |\n    x", "a:\n  b: |-\n    x", "a:\n  b: |+\n\n  \n", "a:\n  - b: |\n      x\n    c: >+\n      y\n\nd: 2\n",
		"a:\r\n  b: |+\r\n    x\r\n\r\n", "l:\r\n- a\r\n",
		// Literal blocks with one line to change: JSON as the injector's
		// values, blank lines, a more-indented line, keep chomping.
		"d:\n  v: |-\n    {\n      \"a\": \"\"\n    }\n  w: 1\n", "d:\n  v: |\n\n    x\n\n      y\n    z\n  w: 2\n", "d:\n  v: |+\n    x\n\n\n  w: 3\n"} {
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
		if in[0]&3 == 0 && bytes.IndexByte(in, '\r') < 0 {
			in = bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n")) // a quarter of the inputs in CRLF
		}
		doc, err := yamlnode.Parse(in)
		if err != nil || yamlnode.Root(doc) == nil || hasAliasOrMerge(doc) {
			return
		}
		collections := collectionsOf(doc)
		if len(collections) == 0 {
			return
		}
		before := positions{}
		record(doc, before)
		// Change a collection chosen by the input itself: a new key or item,
		// one-line or multi-line, and a scalar replaced where there is one.
		seed := inputSeed(in)
		c := collections[seed%len(collections)]
		value := yamlnode.NewString([]string{"v", "true", "two\nlines\n", "# x", ""}[seed%5])
		if c.Kind == yaml.MappingNode {
			c.Content = append(c.Content, yamlnode.NewString("added-key"), value)
			if len(c.Content) > 2 && c.Content[1].Kind == yaml.ScalarNode && seed%2 == 0 {
				*c.Content[1] = *yamlnode.NewString("replaced") // as SetField replaces a value
			} else if len(c.Content) > 2 && c.Content[1].Kind == yaml.ScalarNode && c.Content[1].Style == yaml.LiteralStyle {
				// One line of a literal block changed, as the injector's
				// values are (replaceBlockLine), indented or not.
				lines := strings.Split(c.Content[1].Value, "\n")
				lines[seed%len(lines)] = []string{"changed", "  changed: x", "{\"k\": 1}"}[seed%3]
				*c.Content[1] = yaml.Node{Kind: yaml.ScalarNode, Tag: yamlnode.StringTag, Style: yaml.LiteralStyle, Value: strings.Join(lines, "\n")}
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

// collectionsOf is every mapping and list of a tree, in document order: the
// places a fuzz target may change.
func collectionsOf(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		out = append(out, n)
	}
	for _, c := range n.Content {
		out = append(out, collectionsOf(c)...)
	}
	return out
}

// inputSeed is a number a fuzz input chooses its change by, so that the
// fuzzer reaches every change through the bytes alone.
func inputSeed(in []byte) int { return len(in) + int(in[len(in)-1]) }

// One line of a literal block changed (the injector's values JSON) is
// edited where it stands; a change the line edit cannot make exactly (a
// blank line, which may be indented less than the block, or the first
// line, which sets the block's indentation, given leading spaces) is left
// to the serialiser.
func TestInPlaceBlockLine(t *testing.T) {
	const src = "data:\n\n  values: |-\n    {\n\n      \"caAddress\": \"\"\n    }\n  other: 1\n"
	for name, tc := range map[string]struct {
		line     int // content line of the block to change
		to, want string
	}{
		"json line":    {2, `  "caAddress": "x:443"`, "data:\n\n  values: |-\n    {\n\n      \"caAddress\": \"x:443\"\n    }\n  other: 1\n"},
		"blank line":   {1, "y", ""},
		"first spaces": {0, "  {", ""},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := yamlnode.Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			before := positions{}
			record(doc, before)
			data := yamlnode.Lookup(yamlnode.Root(doc), "data")
			lines := strings.Split(yamlnode.Lookup(data, "values").Value, "\n")
			lines[tc.line] = tc.to
			yamlnode.SetField(data, "values", &yaml.Node{Kind: yaml.ScalarNode, Tag: yamlnode.StringTag, Style: yaml.LiteralStyle, Value: strings.Join(lines, "\n")})
			out, ok := writeInPlace([]byte(src), doc, before, false)
			if tc.want == "" {
				if ok {
					t.Errorf("written in place, want the serialiser:\n%s", out)
				}
				return
			}
			if !ok || string(out) != tc.want {
				t.Errorf("in place %v:\n%s\nwant\n%s", ok, out, tc.want)
			}
		})
	}
}
