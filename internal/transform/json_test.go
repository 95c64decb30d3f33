package transform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// A stream whose documents are JSON, compact or pretty-printed, comes out
// as JSON in the same style, holding the same data as the YAML stream it
// was converted from gives, and a second run changes nothing. The streams
// are every golden transformation, the test inputs and, when it is there,
// the corpus of rendered charts.
func TestJSONStaysJSON(t *testing.T) {
	type source struct {
		name string
		cfg  string
		in   []byte
		// transforms: a golden transformation, which must not fail; the
		// inputs and the corpus may hold what the corpus config refuses.
		transforms bool
	}
	var sources []source
	for _, c := range golden.Cases(t, "../../testdata/golden") {
		if !c.Fails() && c.Transformation() {
			sources = append(sources, source{c.Name, string(c.Config), c.Input, true})
		}
	}
	files, _ := filepath.Glob("../../testdata/inputs/*.yaml")
	corpus, _ := filepath.Glob(filepath.Join(corpusDir, "*", "*.yaml"))
	for _, f := range append(files, corpus...) {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(f, corpusDir+"/"), "../../testdata/")
		sources = append(sources, source{name, corpusConfig, in, false})
	}
	changedJSON := 0
	for _, src := range sources {
		for _, indent := range []string{"", "    ", "  "} {
			t.Run(src.name+"/indent="+indent, func(t *testing.T) {
				tr := tryTransformer(src.cfg)
				if tr == nil && src.transforms {
					t.Fatal("the config of a golden transformation fails")
				}
				if tr == nil {
					t.Skip("an error case")
				}
				yamlOut, err := tr.Stream(src.in)
				if err != nil && src.transforms {
					t.Fatalf("a golden transformation fails: %v", err)
				}
				if err != nil {
					t.Skipf("an error case: %v", err)
				}
				in := toJSONStream(t, src.in, indent)
				out, err := tr.Stream(in)
				if err != nil {
					t.Fatalf("the YAML stream renders, the same stream as JSON fails: %v\n%s", err, in)
				}
				inDocs, outDocs, yamlDocs := stream.Split(in), stream.Split(out), stream.Split(yamlOut)
				if len(outDocs) != len(inDocs) || len(outDocs) != len(yamlDocs) {
					t.Fatalf("%d documents in, %d out, %d out of the YAML stream", len(inDocs), len(outDocs), len(yamlDocs))
				}
				for i := range outDocs {
					if bytes.Equal(inDocs[i].Raw(), outDocs[i].Raw()) {
						continue
					}
					body := bytes.TrimSpace(outDocs[i].Body)
					if !bytes.HasPrefix(bytes.TrimSpace(inDocs[i].Body), []byte("{")) {
						continue // not converted: it stays YAML
					}
					changedJSON++
					var got, want any
					if err := json.Unmarshal(body, &got); err != nil {
						t.Fatalf("document %d is not JSON any more: %v\n%s", i, err, body)
					}
					wantJSON, err := sigsyaml.YAMLToJSON(yamlDocs[i].Source())
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(wantJSON, &want); err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("document %d holds other data than the YAML stream gives:\n%s\n---- YAML:\n%s", i, body, yamlDocs[i].Raw())
					}
					var styled bytes.Buffer
					if indent == "" {
						json.Compact(&styled, body)
					} else {
						json.Indent(&styled, body, "", indent)
					}
					if !bytes.Equal(styled.Bytes(), body) {
						t.Errorf("document %d is not written in its style (indent %q):\n%s", i, indent, body)
					}
				}
				again, err := tr.Stream(out)
				if err != nil || !bytes.Equal(again, out) {
					t.Errorf("not idempotent (err %v)", err)
				}
				checkOutputHoldsTheTree(t, tr, in, out)
			})
		}
	}
	if changedJSON == 0 {
		t.Fatal("no JSON document was changed: the test tests nothing")
	}
}

func tryTransformer(cfg string) *Transformer {
	c, err := config.Load([]byte(cfg), "config.yaml")
	if err != nil {
		return nil
	}
	tr, err := New(c)
	if err != nil {
		return nil
	}
	return tr
}

// toJSONStream writes every document of in that holds a mapping as JSON,
// compact or indented by indent, as kubectl get -o json or jq would; the
// others stay as they are.
func toJSONStream(t *testing.T, in []byte, indent string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, d := range stream.Split(in) {
		out.WriteString("---\n")
		var m map[string]any
		j, err := sigsyaml.YAMLToJSON(d.Source())
		if err != nil || json.Unmarshal(j, &m) != nil || len(m) == 0 {
			out.Write(d.Body)
			if len(d.Body) > 0 && d.Body[len(d.Body)-1] != '\n' {
				out.WriteByte('\n')
			}
			continue
		}
		if indent != "" {
			var b bytes.Buffer
			json.Indent(&b, j, "", indent)
			j = b.Bytes()
		}
		out.Write(j)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// What the JSON writer puts into a document's own bytes, and what it leaves
// to writing the document again.
func TestJSONInPlace(t *testing.T) {
	add := func(path, key, value string) func(rn *yaml.Node) {
		return func(rn *yaml.Node) {
			m := yamlnode.Lookup(rn, strings.Split(path, ".")...)
			if path == "" {
				m = rn
			}
			yamlnode.SetField(m, key, yamlnode.NewString(value))
		}
	}
	for name, tc := range map[string]struct {
		in     string
		change func(rn *yaml.Node)
		want   string // "" when the document is written again
	}{
		"a member added, pretty": {
			in:     "{\n    \"a\": {\n        \"b\": \"1\"\n    }\n}\n",
			change: add("a", "c", "2"),
			want:   "{\n    \"a\": {\n        \"b\": \"1\",\n        \"c\": \"2\"\n    }\n}\n",
		},
		"a member added, after two, compact": {
			in:     `{"a":{"b":1,"c":2}}`,
			change: add("a", "d", "x<y"),
			want:   `{"a":{"b":1,"c":2,"d":"x<y"}}`,
		},
		"HTML escaped as the document does": {
			in:     `{"a":{"b":"\u003c"}}`,
			change: add("a", "d", "x<y"),
			want:   `{"a":{"b":"\u003c","d":"x\u003cy"}}`,
		},
		"non-ASCII escaped as the document does": {
			in:     `{"a": {"b": "caf\u00e9"}}`,
			change: add("a", "d", "naïve 😀"),
			want:   `{"a": {"b": "caf\u00e9", "d": "na\u00efve 😀"}}`,
		},
		"a mapping added, pretty, in the document's indentation": {
			in: "# Source: x\n{\n  \"a\": 1\n}\n# end\n",
			change: func(rn *yaml.Node) {
				m, _ := yamlnode.LookupCreate(rn, yaml.MappingNode, "m", "n")
				yamlnode.SetField(m, "k", yamlnode.NewString("v"))
			},
			want: "# Source: x\n{\n  \"a\": 1,\n  \"m\": {\n    \"n\": {\n      \"k\": \"v\"\n    }\n  }\n}\n# end\n",
		},
		"CRLF line breaks": {
			in: "{\r\n  \"a\": {\r\n    \"b\": 1\r\n  }\r\n}\r\n",
			change: func(rn *yaml.Node) {
				m, _ := yamlnode.LookupCreate(rn, yaml.MappingNode, "a", "m")
				yamlnode.SetField(m, "k", yamlnode.NewString("v"))
			},
			want: "{\r\n  \"a\": {\r\n    \"b\": 1,\r\n    \"m\": {\r\n      \"k\": \"v\"\r\n    }\r\n  }\r\n}\r\n",
		},
		"into an empty object": {
			in:     "{\n  \"a\": {}\n}\n",
			change: add("a", "k", "v"),
			want:   "{\n  \"a\": {\n    \"k\": \"v\"\n  }\n}\n",
		},
		"an item added to a list": {
			in: "{\n  \"l\": [\n    {\"name\": \"A\"}\n  ]\n}\n",
			change: func(rn *yaml.Node) {
				appendItem(t, yamlnode.Lookup(rn, "l"), "{name: B, value: b}")
			},
			want: "{\n  \"l\": [\n    {\"name\": \"A\"},\n    {\n      \"name\": \"B\",\n      \"value\": \"b\"\n    }\n  ]\n}\n",
		},
		"a value replaced, numbers kept as spelt": {
			in:     `{"n": 1.50, "a": "old", "z": 1e3}`,
			change: add("", "a", "new"),
			want:   `{"n": 1.50, "a": "new", "z": 1e3}`,
		},
		"a null replaced by a mapping: moved, so written again": {
			in: "{\n  \"a\": null,\n  \"b\": 1\n}\n",
			change: func(rn *yaml.Node) {
				m, _ := yamlnode.LookupCreate(rn, yaml.MappingNode, "a")
				yamlnode.SetField(m, "k", yamlnode.NewString("v"))
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := yamlnode.Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			j := newJSONDoc([]byte(tc.in), true, doc)
			if j == nil {
				t.Fatal("not read as JSON")
			}
			tc.change(yamlnode.Root(doc))
			got, ok := j.inPlace(yamlnode.Root(doc))
			ok = ok && j.holds(got, yamlnode.Root(doc))
			switch {
			case tc.want == "" && ok:
				t.Errorf("written in place, want it written again:\n%s", got)
			case tc.want != "" && !ok:
				t.Errorf("written again, want in place:\n%s", tc.want)
			case tc.want != "" && string(got) != tc.want:
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			// Either way what is written is JSON holding the tree.
			out, err := j.write(yamlnode.Root(doc))
			if err != nil {
				t.Fatal(err)
			}
			if !j.holds(out, yamlnode.Root(doc)) {
				t.Errorf("written again, it does not hold the tree:\n%s", out)
			}
		})
	}
}

// Only a document that is JSON, but for comments around it, is written as
// JSON: YAML in braces stays YAML.
func TestJSONDetection(t *testing.T) {
	for in, want := range map[string]bool{
		`{"a": 1}`:                     true,
		"# c\n\n{\"a\": 1} # c\n# d\n": true,
		"{a: 1}\n":                     false, // a bare key: YAML
		"{\"a\": 'x'}\n":               false,
		"{\"a\": 1}\n...\n":            false,
		"a: {\"b\": 1}\n":              false,
		"{\"a\": 1, \"a2\": [1, {}]}":  true,
	} {
		doc, err := yamlnode.Parse([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := newJSONDoc([]byte(in), true, doc) != nil; got != want {
			t.Errorf("%q read as JSON: %v, want %v", in, got, want)
		}
	}
	// A marker that carries the document: the object starts after it.
	in := "--- {\"a\": 1}\n"
	doc, _ := yamlnode.Parse([]byte(in))
	if newJSONDoc([]byte(in), false, doc) == nil {
		t.Errorf("%q not read as JSON", in)
	}
}

// Whatever the JSON document and wherever a member, an item or a new value
// goes, the JSON writer writes JSON holding exactly the changed tree: in
// the document's own bytes, or, when it declines, written again.
func FuzzJSONWrite(f *testing.F) {
	for _, c := range golden.Cases(f, "../../testdata/golden") {
		if strings.HasPrefix(c.Name, "json-") {
			f.Add(c.Input)
		}
	}
	for _, s := range []string{`{"a":{"b":[1,{}]},"c":null}`, "{\n  \"a\": {},\n  \"l\": [\n    \"x\"\n  ]\n}\n", `{"s": "caf\u00e9 \u003c", "n": -1.5e3}`, "# c\n{\"a\": [ ] } # d\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		docs := stream.Split(in)
		if len(docs) == 0 || !stream.IsBareMarker(docs[0].Marker) {
			return
		}
		in = docs[0].Body
		doc, err := yamlnode.Parse(in)
		if err != nil || yamlnode.Root(doc) == nil || yamlnode.Root(doc).Kind != yaml.MappingNode || duplicateKey(doc) != nil {
			return
		}
		j := newJSONDoc(in, true, doc)
		if j == nil {
			return
		}
		collections := collectionsOf(doc)
		// A change chosen by the input itself: a member or an item added,
		// a mapping among them, a scalar replaced, a member removed.
		seed := inputSeed(in)
		c := collections[seed%len(collections)]
		value := []*yaml.Node{yamlnode.NewString("v"), yamlnode.NewString("two\nlines <&>é"), yamlnode.NewMapping(),
			{Kind: yaml.ScalarNode, Value: "12"}, {Kind: yaml.ScalarNode, Value: "0x1f"}, {Kind: yaml.ScalarNode, Value: "true"},
			{Kind: yaml.ScalarNode, Tag: yamlnode.NullTag, Value: ""}}[seed%7]
		switch {
		case c.Kind == yaml.MappingNode && seed%5 == 4 && len(c.Content) > 0:
			c.Content = c.Content[2:]
		case c.Kind == yaml.MappingNode:
			c.Content = append(c.Content, yamlnode.NewString("added-key"), value)
			if len(c.Content) > 2 && c.Content[1].Kind == yaml.ScalarNode && seed%2 == 0 {
				*c.Content[1] = *yamlnode.NewString("replaced") // as SetField replaces a value
			}
		default:
			c.Content = append(c.Content, value)
		}
		root := yamlnode.Root(doc)
		// The writer itself: write would hide its mistakes behind the
		// read-back check, as a fallback.
		if out, ok := j.inPlace(root); ok && !j.holds(out, root) {
			t.Fatalf("written in place, it is not JSON holding the tree:\n%s\n---- from:\n%s", out, in)
		}
		out, err := j.write(root)
		if err != nil {
			t.Fatalf("%v\n---- from:\n%s", err, in)
		}
		if !j.holds(out, root) {
			t.Fatalf("written, it is not JSON holding the tree:\n%s\n---- from:\n%s", out, in)
		}
	})
}
