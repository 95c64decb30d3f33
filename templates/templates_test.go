package templates

import (
	"strings"
	"testing"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, which `go test ./... -update` passes to every package
)

// Render refuses what could break out of the quoted string or the action
// a value is written into, in every value it is given.
func TestRenderRefusesBreakouts(t *testing.T) {
	ok := Data{APIPath: "secret/data/istio/cacerts", Field: "ca_key", Version: 2, Params: []string{"common_name=api.example.com", "ttl=72h"}}
	ok.Roots = []Data{{APIPath: "secret/data/istio/roots/next", Field: "root_cert", Version: 2}, {APIPath: "pki_next/cert/ca", Field: "certificate"}}
	for _, name := range []string{KV, PKI, PKICert, Roots} {
		if _, err := Render(name, ok); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"a{{b", "a}}b", `a"b`, "a`b", "a'b", `a\b`, "a\nb", "a\x00b", "a\x7fb", "a\tb", "a\u0085b"} {
		for what, d := range map[string]Data{
			"APIPath": {APIPath: bad, Field: "f", Version: 1},
			"Field":   {APIPath: "secret/x", Field: bad, Version: 1},
			"Params":  {APIPath: "pki/issue/gw", Params: []string{"common_name=x", "ttl=" + bad}},
			"Roots":   {Roots: []Data{{APIPath: "secret/x", Field: "f", Version: 2}, {APIPath: "pki/cert/ca", Field: bad}}},
		} {
			for _, name := range []string{KV, PKI, PKICert, Roots} {
				out, err := Render(name, d)
				if err == nil {
					t.Errorf("%s with %s %q rendered:\n%s", name, what, bad, out)
				} else if !strings.Contains(err.Error(), "break out") {
					t.Errorf("%s with %s %q: %v", name, what, bad, err)
				}
			}
		}
	}
}
