package lint

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkInstallStream lints the full Istio 1.30 install stream (all
// CRDs, istiod and the gateway chart, about 1 MB), as check does after its
// drift check: what the lint adds to a pre-commit run.
func BenchmarkInstallStream(b *testing.B) {
	var in []byte
	for _, f := range []string{"base.yaml", "istiod.yaml", "gateway.yaml"} {
		part, err := os.ReadFile(filepath.Join(corpusDir, "istio-charts", "1.30.3", f))
		if err != nil {
			b.Skipf("no corpus: %v", err)
		}
		in = append(in, part...)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Stream(in); err != nil {
			b.Fatal(err)
		}
	}
}
