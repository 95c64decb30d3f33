package transform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Every golden transformation, as written, holds the data of the tree the
// transformer built. (The golden files themselves show that it is written
// in place: their diff to the input is the added lines.)
func TestGoldenOutputHoldsTheTree(t *testing.T) {
	dirs, _ := filepath.Glob("../../testdata/golden/*")
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "args")); err == nil {
			continue // not a transformation
		}
		cfgData, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
		if err != nil {
			continue
		}
		in, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
		if err != nil {
			ref, rerr := os.ReadFile(filepath.Join(dir, "input"))
			if rerr != nil {
				continue
			}
			if in, err = os.ReadFile(filepath.Join(dir, strings.TrimSpace(string(ref)))); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, err := config.Load(cfgData, "config.yaml")
			if err != nil {
				t.Skipf("an error case: %v", err)
			}
			tr, err := New(cfg)
			if err != nil {
				t.Skipf("an error case: %v", err)
			}
			out, err := tr.Stream(in)
			if err != nil {
				t.Skipf("an error case: %v", err)
			}
			checkOutputHoldsTheTree(t, tr, in, out)
		})
	}
}

// What is written in place, and what is left to the serialiser.
func TestInPlace(t *testing.T) {
	for name, tc := range map[string]struct {
		in     string
		change func(rn *yaml.RNode)
		want   string // "" when the change must be left to the serialiser
	}{
		"keys added to a block mapping, above a trailing comment": {
			in:     "a:\n  b: 1   # one\n  c:\n  - x\n# end\nd: 2\n",
			change: func(rn *yaml.RNode) { lookup(rn, "a").PipeE(yaml.SetField("e", yaml.NewStringRNode("true"))) },
			want:   "a:\n  b: 1   # one\n  c:\n  - x\n  e: \"true\"\n# end\nd: 2\n",
		},
		"an item added to a wide list, at its dashes": {
			in: "env:\n    - name: A\n      value: a\nx: 1\n",
			change: func(rn *yaml.RNode) {
				lookup(rn, "env").PipeE(yaml.Append(yaml.MustParse("name: B\nvalue: b\n").YNode()))
			},
			want: "env:\n    - name: A\n      value: a\n    - name: B\n      value: b\nx: 1\n",
		},
		"a quoted value replaced, its comment kept": {
			in:     "a: 'old' # why\nb: 1\n",
			change: func(rn *yaml.RNode) { rn.PipeE(yaml.SetField("a", yaml.NewStringRNode("new"))) },
			want:   "a: 'new' # why\nb: 1\n",
		},
		"no line break at the end": {
			in:     "a:\n  b: 1",
			change: func(rn *yaml.RNode) { lookup(rn, "a").PipeE(yaml.SetField("c", yaml.NewStringRNode("2"))) },
			want:   "a:\n  b: 1\n  c: \"2\"\n",
		},
		"a flow mapping": {
			in:     "a: {b: 1}\n",
			change: func(rn *yaml.RNode) { lookup(rn, "a").PipeE(yaml.SetField("c", yaml.NewStringRNode("2"))) },
		},
		"a key removed": {
			in:     "a: 1\nb: 2\n",
			change: func(rn *yaml.RNode) { rn.PipeE(yaml.Clear("a")) },
		},
		"a node copied from elsewhere": {
			in:     "a:\n  x: 1\nb:\n  y: 2\n",
			change: func(rn *yaml.RNode) { rn.PipeE(yaml.SetField("b", lookup(rn, "a"))) },
		},
		"a multi-line value replaced": {
			in:     "a: |\n  one\n  two\nb: 1\n",
			change: func(rn *yaml.RNode) { rn.PipeE(yaml.SetField("a", yaml.NewStringRNode("x"))) },
		},
		"CRLF": {
			in:     "a:\r\n  b: 1\r\n",
			change: func(rn *yaml.RNode) { lookup(rn, "a").PipeE(yaml.SetField("c", yaml.NewStringRNode("2"))) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			rn := yaml.MustParse(tc.in)
			before := positions{}
			record(rn.Document(), before)
			tc.change(rn)
			got, ok := inPlace([]byte(tc.in), rn.Document(), before, &yaml.EncoderOptions{})
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

func lookup(rn *yaml.RNode, key string) *yaml.RNode {
	return rn.Field(key).Value
}
