package fn

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// TestGoldenThroughTheFunction runs every golden case through the KRM
// function: its input as the ResourceList's items, its config as the
// functionConfig. A successful case's items must come out holding the data
// of the post-renderer's output (expected.yaml, which TestGolden holds to the
// command); an error case must give an error result.
//
// What does not apply to a KRM function is skipped, by rule: a case with
// arguments (a subcommand, whose output is a policy or patches, not the
// manifests; or flags, which a function cannot be given), an input that is
// not a stream of resources kyaml can read as items, and a config that is
// not one YAML document (a functionConfig is one). Most cases must run.
func TestGoldenThroughTheFunction(t *testing.T) {
	cases := golden.Cases(t, "../testdata/golden")
	ran := 0
	for _, c := range cases {
		if !c.Transformation() {
			continue // a subcommand's output, or flags a function cannot be given
		}
		items, itemsErr := (&kio.ByteReader{Reader: bytes.NewReader(c.Input), OmitReaderAnnotations: true, DisableUnwrapping: true}).Read()
		fc, fcErr := oneConfigDocument(c.Config)
		if itemsErr != nil || fcErr != nil {
			t.Logf("%s: skipped, no ResourceList can carry it (input: %v; config: %v)", c.Name, itemsErr, fcErr)
			continue
		}
		ran++
		t.Run(c.Name, func(t *testing.T) {
			var list bytes.Buffer
			w := kio.ByteWriter{Writer: &list, WrappingKind: kio.ResourceListKind, WrappingAPIVersion: kio.ResourceListAPIVersion, FunctionConfig: fc}
			if err := w.Write(items); err != nil {
				t.Fatal(err)
			}
			out, err := runList(t, list.String())
			if c.Fails() {
				if err == nil {
					t.Fatalf("the post-renderer refuses the case, the function does not:\n%s", out)
				}
				if !strings.Contains(out, "severity: error") {
					t.Errorf("error %v, but no error result in the list:\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("the post-renderer transforms the case, the function fails: %v\n%s", err, out)
			}
			var got struct {
				Items []any `json:"items"`
			}
			if err := sigsyaml.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("the function's output does not parse: %v\n%s", err, out)
			}
			want := postRendererOutput(t, c.Expected())
			if len(got.Items) != len(want) {
				t.Fatalf("%d items out, the post-renderer writes %d documents:\n%s", len(got.Items), len(want), out)
			}
			for i := range want {
				g, w := withoutListAnnotations(got.Items[i]), withoutListAnnotations(want[i])
				if !reflect.DeepEqual(g, w) {
					gy, _ := sigsyaml.Marshal(g)
					wy, _ := sigsyaml.Marshal(w)
					t.Errorf("item %d holds other data than the post-renderer's document:\n%s\n---- post-renderer:\n%s", i, gy, wy)
				}
			}
		})
	}
	// Every case but those the rule skips: a rule that came to skip most
	// of them would leave the function untested.
	if ran*2 < len(cases) {
		t.Fatalf("only %d of %d golden cases ran through the function", ran, len(cases))
	}
}

// oneConfigDocument is the config as a functionConfig, when it is one YAML
// document.
func oneConfigDocument(config []byte) (*yaml.RNode, error) {
	nodes, err := (&kio.ByteReader{Reader: bytes.NewReader(config), OmitReaderAnnotations: true, DisableUnwrapping: true}).Read()
	if err != nil {
		return nil, err
	}
	if len(nodes) != 1 {
		return nil, errNotOneDocument
	}
	return nodes[0], nil
}

var errNotOneDocument = errors.New("not one YAML document")

// postRendererOutput is the data of each resource in a golden output, the
// documents with none left out, as kyaml's reader leaves them out.
func postRendererOutput(t *testing.T, path string) []any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []any
	for _, d := range stream.Split(b) {
		var v any
		if err := sigsyaml.Unmarshal(d.Source(), &v); err != nil {
			t.Fatalf("%s: a document does not parse: %v", path, err)
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
	return docs
}

// withoutListAnnotations drops the annotations orchestrators and kyaml keep in
// a list (config.kubernetes.io/..., internal.config.kubernetes.io/...) and
// the annotations and metadata maps that leaves empty, on either side. A
// null annotations map counts as none: kyaml's annotation bookkeeping,
// which every kyaml function runs on every item, drops it, and to
// Kubernetes the two are the same.
func withoutListAnnotations(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	meta, ok := m["metadata"].(map[string]any)
	if !ok {
		return v
	}
	annos, isMap := meta["annotations"].(map[string]any)
	if !isMap && meta["annotations"] != nil {
		return v
	}
	kept := map[string]any{}
	for k, a := range annos {
		if !strings.HasPrefix(k, "config.kubernetes.io/") && !strings.HasPrefix(k, "internal.config.kubernetes.io/") {
			kept[k] = a
		}
	}
	out, outMeta := map[string]any{}, map[string]any{}
	for k, x := range m {
		out[k] = x
	}
	for k, x := range meta {
		outMeta[k] = x
	}
	delete(outMeta, "annotations")
	if len(kept) > 0 {
		outMeta["annotations"] = kept
	}
	delete(out, "metadata")
	if len(outMeta) > 0 {
		out["metadata"] = outMeta
	}
	return out
}
