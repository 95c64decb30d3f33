package transform

import (
	"bytes"
	"os"
	"testing"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

func TestIsCandidate(t *testing.T) {
	tr := &Transformer{plans: targets.Plans{Gateways: []*wiring.Plan{{Selector: map[string]string{"istio": "ingressgateway"}}}}}
	for doc, want := range map[string]bool{
		"apiVersion: apps/v1\nkind: Deployment\nspec: {template: {metadata: {labels: {app: istiod}}}}\n": true,
		"kind: Deployment # the istiod one\n":                                                     true,
		"kind: Deployment\nspec: {template: {metadata: {labels: {app: reviews}}}}\n":              false,
		"kind: Deployment\nspec: {template: {metadata: {labels: {istio: ingressgateway}}}}\n":     true,
		"kind: Deployment\nspec: {template: {metadata: {labels: {app: \"istio\\x64\"}}}}\n":       true,  // an escape could spell istiod
		"apiVersion: v1\nkind: ConfigMap\ndata:\n  t: |\n    kind: Deployment\n    app: istiod\n": false, // only a string mentions it
		"apiVersion: v1\nkind: Service\n":                                                         false,
		"{apiVersion: apps/v1,\nkind: Deployment}\n":                                              true, // flow style: conservative
		"\"kind\": \"Deployment\"\n":                                                              true, // quoted key: conservative
		"kind: \"Deployment\"\n":                                                                  true, // quoted value: conservative
		"kind: Service\nkind: Deployment\n":                                                       true, // duplicate keys: conservative
		"apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n":                            true,
		"apiVersion: install.tetrate.io/v1alpha1\nkind: ControlPlane\n":                           true,
		"  kind: Deployment\n":                                                                    true,  // indented root: conservative
		"apiVersion: v1\nkind: List\nitems:\n- kind: Deployment\n  app: istiod":                   true,  // parsed, to refuse it if an item is a target
		"apiVersion: v1\nkind: List\nitems:\n- kind: Service\n  app: istiod":                      false, // no target kind in it
		"apiVersion: v1\nkind: ConfigMapList\nitems: []\n":                                        true,
		"note: kind: Deployment istiod\nkind: Service\n":                                          false, // a kind: that does not start a line
		"kind: Service\nspec:\n  a: 1\nkind: Deployment\n":                                        true,  // a second kind far down
	} {
		if got := tr.isCandidate([]byte(doc)); got != want {
			t.Errorf("isCandidate(%q) = %v, want %v", doc, got, want)
		}
	}
}

// The same input gives the same patches every time: nothing may come out in
// Go's map order.
func TestPatchesAreTheSameEveryRun(t *testing.T) {
	in, err := os.ReadFile("../../testdata/inputs/istiod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransformer(t, corpusConfig)
	var first string
	for i := 0; i < 30; i++ {
		var out bytes.Buffer
		if err := tr.Patches(bytes.NewReader(in), &out); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = out.String()
		} else if out.String() != first {
			t.Fatalf("run %d gave other patches:\n%s\n---- first run:\n%s", i, out.String(), first)
		}
	}
}
