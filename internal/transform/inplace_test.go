package transform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
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
