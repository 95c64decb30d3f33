package config

import (
	"bytes"
	"testing"
	"text/template"
)

// The shortcut for {{ .Cluster }} gives what the template gives, and
// declines whatever else a value holds.
func FuzzClusterOnlyMatchesTemplate(f *testing.F) {
	for _, s := range []string{"auth/kubernetes-{{ .Cluster }}", "{{.Cluster}}/{{ .Cluster }}", "{{ .Cluster | upper }}", "a}}b", "{{ .Cluster }", "{{", "x"} {
		f.Add(s, "cluster1")
	}
	f.Add("{{ .Cluster }}", "{{ .Cluster }}")
	f.Fuzz(func(t *testing.T, v, cluster string) {
		got, ok := clusterOnly(v, cluster)
		if !ok {
			return
		}
		tmpl, err := template.New("").Option("missingkey=error").Parse(v)
		if err != nil {
			t.Fatalf("clusterOnly took %q, which does not parse: %v", v, err)
		}
		var want bytes.Buffer
		if err := tmpl.Execute(&want, pathValues{Cluster: cluster}); err != nil {
			t.Fatalf("clusterOnly took %q, which does not run: %v", v, err)
		}
		if got != want.String() {
			t.Errorf("clusterOnly(%q, %q) = %q, the template gives %q", v, cluster, got, want.String())
		}
	})
}
