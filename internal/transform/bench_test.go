package transform

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// BenchmarkInstallStream is the full Istio 1.30 install stream: all CRDs,
// istiod and the gateway chart (about 1 MB, 40 documents).
func BenchmarkInstallStream(b *testing.B) {
	run(b, newTransformer(b, corpusConfig), installStream(b))
}

// installStream is base.yaml, istiod.yaml and gateway.yaml of the corpus.
func installStream(b *testing.B) []byte {
	b.Helper()
	var in []byte
	for _, f := range []string{"base.yaml", "istiod.yaml", "gateway.yaml"} {
		part, err := os.ReadFile(filepath.Join(corpusDir, "1.30.3", f))
		if err != nil {
			b.Skipf("no corpus: %v", err)
		}
		in = append(in, part...)
	}
	return in
}

// BenchmarkInstallStreamEdits is the same stream the way the command line
// reads a small one: documents are slices of the stream in memory, the
// first pass finds the edits, the second writes.
func BenchmarkInstallStreamEdits(b *testing.B) {
	in, t := installStream(b), newTransformer(b, corpusConfig)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		edits, size, err := t.Edits(stream.NewBytesReader(in))
		if err == nil {
			err = stream.Apply(io.Discard, bytes.NewReader(in), size, edits)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSynthetic10k is 10,000 mixed documents: ConfigMaps, Services,
// application Deployments (candidates that are not targets) and one istiod
// in every hundred.
func BenchmarkSynthetic10k(b *testing.B) {
	run(b, newTransformer(b, corpusConfig), synthetic(10000))
}

func run(b *testing.B, t *Transformer, in []byte) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := t.Stream(in); err != nil {
			b.Fatal(err)
		}
	}
}

func synthetic(n int) []byte {
	var s strings.Builder
	for i := 0; i < n; i++ {
		s.WriteString("---\n")
		switch {
		case i%100 == 0:
			fmt.Fprintf(&s, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod-r%d, namespace: istio-system}\nspec:\n  template:\n    metadata:\n      labels: {app: istiod}\n    spec:\n      containers:\n      - name: discovery\n        image: pilot\n        env:\n        - {name: PILOT_TRACE_SAMPLING, value: \"1\"}\n", i)
		case i%3 == 0:
			fmt.Fprintf(&s, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-%d}\nspec:\n  template:\n    metadata:\n      labels: {app: app-%d}\n    spec:\n      containers:\n      - name: app\n        image: app\n", i, i)
		case i%3 == 1:
			fmt.Fprintf(&s, "apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d}\nspec:\n  ports:\n  - port: 80\n", i)
		default:
			fmt.Fprintf(&s, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata:\n  config: |\n    %s\n", i, strings.Repeat("x", 200))
		}
	}
	return []byte(s.String())
}

// BenchmarkHostile runs the inputs of hostile_test.go: small inputs that
// once cost far more than their size. out-bytes is what the run wrote, 0
// for a refusal.
func BenchmarkHostile(b *testing.B) {
	tr := newTransformer(b, corpusConfig)
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"wide-80000-keys", wideIstiod(80000, false, false)},
		{"wide-80000-keys-alias", wideIstiod(80000, true, false)},
		{"wide-80000-keys-alias-merge", wideIstiod(80000, true, true)},
		{"alias-bomb-12KB", []byte(aliasBomb(5, 10, 3, 200))},
		{"alias-bomb-12KB-x8", times(8, aliasBomb(5, 10, 3, 200))},
		{"alias-bomb-within-limits", []byte(aliasBomb(4, 10, 3, 200))},
		{"alias-bomb-within-limits-x8", times(8, aliasBomb(4, 10, 3, 200))},
		{"string-bomb-within-limits", []byte(stringBomb(7000, 3))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			var out []byte
			for i := 0; i < b.N; i++ {
				out, _ = tr.Stream(c.in) // a refusal is a result too
			}
			b.ReportMetric(float64(len(out)), "out-bytes")
		})
	}
}
