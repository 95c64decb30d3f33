package cli

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, which `go test ./... -update` passes to every package
)

const vaultCA = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: t}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istiod}
`

// LoadTransformer's failures come back as errors that Fail reports as one
// message, exit 2; on success nothing but the --verbose note is said.
func TestLoadTransformerReturnsItsFailure(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", vaultCA)
	manifest := write("manifest.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\n")
	t.Chdir(dir)
	t.Setenv(EnvConfig, "")

	var errb bytes.Buffer
	cfg, tr, err := LoadTransformer(&Common{ConfigFile: good, Verbose: true}, &errb)
	if err != nil || cfg == nil || tr == nil || errb.String() != "istio-vault-ca: config "+good+" (--config)\n" {
		t.Fatalf("good config: %v, %v, %v, stderr %q", cfg, tr, err, errb.String())
	}

	for name, tc := range map[string]struct {
		c    Common
		is   error
		want []string // the lines of the message, in order
	}{
		"none":          {Common{}, ErrNoConfig, []string{"istio-vault-ca: no config: pass --config FILE"}},
		"missing":       {Common{ConfigFile: filepath.Join(dir, "nope.yaml")}, fs.ErrNotExist, []string{"istio-vault-ca: reading config: open "}},
		"not a VaultCA": {Common{ConfigFile: manifest}, nil, []string{"istio-vault-ca: invalid config:", "", "istio-vault-ca: --config takes a VaultCA resource"}},
	} {
		t.Run(name, func(t *testing.T) {
			var errb bytes.Buffer
			cfg, tr, err := LoadTransformer(&tc.c, &errb)
			if err == nil || cfg != nil || tr != nil || errb.Len() != 0 {
				t.Fatalf("%v, %v, %v, stderr %q", cfg, tr, err, errb.String())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if code := Fail(&errb, err); code != ExitBadInput {
				t.Errorf("Fail: exit %d", code)
			}
			lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
			if !strings.HasSuffix(errb.String(), "\n") || len(lines) < len(tc.want) {
				t.Fatalf("message %q", errb.String())
			}
			for i, w := range tc.want {
				l := lines[i]
				if i == len(tc.want)-1 {
					l = lines[len(lines)-1] // the hint is the last line
				}
				if !strings.HasPrefix(l, w) {
					t.Errorf("line %d %q, want it to start %q", i, l, w)
				}
			}
		})
	}
}
