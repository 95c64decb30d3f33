package lint

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// injectSecretWithoutTemplate: for agent-inject-secret-NAME with neither
// agent-inject-template-NAME nor agent-inject-template-file-NAME, the
// injector renders its default template, one `key: value` line per
// field of the secret's data, printed as Go prints a map (KV version 2:
// `data: map[certificate:-----BEGIN ...]`), or the data as JSON with
// agent-inject-default-template: json (vault-k8s agent-inject/agent/
// config.go, DefaultMapTemplate and DefaultJSONTemplate): never a PEM file
// istiod or a proxy can load. An empty annotation value counts as unset,
// as in vault-k8s agent-inject/agent/annotations.go, secrets. With agent-configmap the
// agent's whole config, templates included, comes from the ConfigMap,
// which the lint cannot see: nothing is said.
func injectSecretWithoutTemplate(r *resource) []Finding {
	t := podTemplateOf(r)
	if t == nil {
		return nil
	}
	if _, v, ok := t.annotation(vaultPrefix + "agent-configmap"); ok && strings.TrimSpace(v) != "" {
		return nil
	}
	set := func(name string) bool {
		_, v, ok := t.annotation(name)
		return ok && strings.TrimSpace(v) != ""
	}
	_, def, _ := t.annotation(vaultPrefix + "agent-inject-default-template")
	renders := "the secret's fields as `key: value` lines, values printed as Go maps"
	if strings.EqualFold(def, "json") {
		renders = "the secret's data as JSON"
	}
	var fs []Finding
	entries(t.annotations(), func(k, v *yaml.Node) {
		name, ok := strings.CutPrefix(k.Value, vaultPrefix+"agent-inject-secret-")
		if !ok || name == "" || strings.TrimSpace(yamlnode.Value(v)) == "" {
			return
		}
		if set(vaultPrefix+"agent-inject-template-"+name) || set(vaultPrefix+"agent-inject-template-file-"+name) {
			return
		}
		fs = append(fs, at(k, IDInjectSecretWithoutTemplate, Error, t.field("metadata.annotations["+k.Value+"]"),
			"no vault.hashicorp.com/agent-inject-template-%s: the injector's default template renders %s, not a PEM file; add a template that writes the one field the file needs (istio-vault-ca writes them for istiod and the gateways it selects)", name, renders))
	})
	return fs
}
