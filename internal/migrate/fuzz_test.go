package migrate

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
)

// FuzzMigrate: whatever the input, Migrate refuses it or prints a VaultCA
// that a YAML reader decodes back to exactly the values it mapped: the
// writer quotes whatever a value holds, and the comments above it never
// end up in a field.
func FuzzMigrate(f *testing.F) {
	golden.AddSeeds(f, "../../testdata/golden/migrate-*/input.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Migrate(data, "in", Options{Cluster: "c1"})
		if err != nil {
			if r != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		out, err := r.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		var p printed
		dec := yaml.NewDecoder(strings.NewReader(string(out)))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("the output does not decode: %v\n%s", err, out)
		}
		v, s := p.Spec.Vault, p.Spec.Source.IstioCSR
		for _, c := range [][2]string{
			{v.Address, r.Address}, {v.Role, r.Role}, {v.AuthPath, r.AuthPath},
			{s.PKI.Mount, r.PKIMount}, {s.PKI.Role, r.PKIRole}, {s.TrustDomain, r.TrustDomain},
		} {
			if c[0] != c[1] {
				t.Fatalf("printed %q, mapped %q:\n%s", c[0], c[1], out)
			}
		}
		if r.Address == "" || r.Role == "" || r.PKIMount == "" || r.PKIRole == "" {
			t.Fatalf("a result without a required field: %+v", r)
		}
	})
}
