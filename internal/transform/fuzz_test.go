package transform

import (
	"bytes"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// Whatever comes in, the transformer either fails (and the front end writes
// nothing) or returns a stream with as many documents, every changed one
// parseable and holding exactly the tree the transformer built, the same
// bytes through the command line's two-pass path, and a second run a no-op.
func FuzzStream(f *testing.F) {
	for _, c := range golden.Cases(f, "../../testdata/golden") {
		f.Add(c.Input)
	}
	golden.AddSeeds(f, "../../testdata/inputs/istiod-canary.yaml", "../../testdata/fuzz/stream/*")
	f.Add([]byte("kind: Deployment\nspec: {template: {metadata: {labels: {app: istiod}}, spec: {containers: [{name: discovery, env: null}]}}}\n"))
	f.Add([]byte("apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n"))
	f.Add([]byte("apiVersion: install.tetrate.io/v1alpha1\nkind: ControlPlane\nspec: {components: {istio: {kubeSpec: {overlays: [{kind: IstioOperator, patches: [{path: spec.components.pilot.k8s.env}]}]}}}}\n"))
	f.Add([]byte("kind: Deployment\napiVersion: apps/v1\nspec:\n  template: &t\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery}]}\n  x: *t\n"))
	tr := newTransformer(f, "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nspec:\n  vault: {role: r}\n  source: {kv: {version: 2, path: secret/istiod}}\n")
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := tr.Stream(in)
		// The two-pass path of the command line gives the same bytes and
		// fails on the same streams, read through a buffer or in memory.
		for _, docs := range []*stream.Reader{stream.NewReader(bytes.NewReader(in)), stream.NewBytesReader(in)} {
			edits, size, eerr := tr.Edits(docs)
			if (err == nil) != (eerr == nil) {
				t.Fatalf("Stream error %v, Edits error %v", err, eerr)
			}
			if err != nil {
				continue
			}
			var applied bytes.Buffer
			if err := stream.Apply(&applied, bytes.NewReader(in), size, edits); err != nil || !bytes.Equal(applied.Bytes(), out) {
				t.Fatalf("Apply(Edits) differs from Stream (err %v):\n%s\n---- Stream:\n%s", err, applied.Bytes(), out)
			}
		}
		if err != nil {
			return
		}
		again, err := tr.Stream(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent (err %v):\n%s\n---- second run:\n%s", err, out, again)
		}
		checkOutputHoldsTheTree(t, tr, in, out)
	})
}
