package config

import (
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
)

// Loading never panics, and a config that loads is safe to put into agent
// templates: no value that reaches them can break out of a string or action.
func FuzzLoad(f *testing.F) {
	golden.AddSeeds(f, "../../testdata/golden/*/config.yaml", "../../testdata/fuzz/config/*")
	f.Add(DefaultsYAML)
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg, err := Load(in, "fuzz.yaml")
		if err != nil {
			return
		}
		for field, v := range cfg.agentTemplateValues() {
			if strings.ContainsAny(v, "\"`\\\n") || strings.Contains(v, "{{") || strings.Contains(v, "}}") {
				t.Fatalf("%s = %q passed validation", field, v)
			}
		}
	})
}
