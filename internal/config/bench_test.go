package config_test

import (
	"os"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// BenchmarkLoad is what every post-renderer start pays for its config: a
// KV source with {{ .Cluster }} and two gateway certificates, KV and PKI.
func BenchmarkLoad(b *testing.B) {
	benchLoad(b, "../../testdata/golden/iop-gateways/config.yaml")
}

// BenchmarkLoadPKI is the seed's PKI source, with no gateways.
func BenchmarkLoadPKI(b *testing.B) {
	benchLoad(b, "../../testdata/golden/seed001-pki/config.yaml")
}

func benchLoad(b *testing.B, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := config.Load(data, file); err != nil {
			b.Fatal(err)
		}
	}
}
