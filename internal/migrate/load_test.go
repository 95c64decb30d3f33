package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// TestGoldenOutputsLoad: every VaultCA the migrate golden cases print is
// one the config loader takes as it is, with the mapped values, so what a
// user commits after `migrate` works with every other command.
func TestGoldenOutputsLoad(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/golden/migrate-*")
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, dir := range dirs {
		if strings.HasPrefix(filepath.Base(dir), "migrate-err-") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "expected.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, err := config.Load(data, "migrated.yaml")
			if err != nil {
				t.Fatalf("the printed VaultCA does not load: %v\n%s", err, data)
			}
			src := cfg.Spec.Source.IstioCSR
			if src == nil || src.PKI.Mount == "" || src.PKI.Role == "" || cfg.Spec.Vault.Address == "" {
				t.Fatalf("loaded without the mapped source and address: %+v", cfg.Spec)
			}
		})
		loaded++
	}
	if loaded == 0 {
		t.Fatal("no migrate golden case printed a VaultCA")
	}
}
