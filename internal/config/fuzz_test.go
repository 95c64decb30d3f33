package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Loading never panics, and a config that loads is safe to put into agent
// templates: no value that reaches them can break out of a string or action.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/golden/*/config.yaml")
	seeds, _ := filepath.Glob("../../testdata/fuzz/config/*")
	files = append(files, seeds...)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
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
