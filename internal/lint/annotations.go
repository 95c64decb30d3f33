package lint

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// vaultPrefix is the Vault Agent Injector's annotation prefix.
const vaultPrefix = "vault.hashicorp.com/"

// vaultAnnotationsOnWorkload: the injector's webhook sees pods, and reads
// only the pod's own annotations (vault-k8s agent-inject/agent/agent.go,
// ShouldInject: pod.Annotations); on a Deployment's own metadata they are never
// read (vault-helm#335). Without agent-inject on the pod template the
// pods get no agent at all: an error. With it, the ones on the workload
// are at best copies, at worst settings the author thinks apply: a
// warning.
func vaultAnnotationsOnWorkload(r *resource) []Finding {
	t := podTemplateOf(r)
	if t == nil || t.path == "" {
		return nil // a Pod's own annotations are the ones read
	}
	injected := t.injects()
	var fs []Finding
	for _, m := range t.ownMetadata {
		entries(yamlnode.Lookup(m.node, "annotations"), func(k, _ *yaml.Node) {
			if !strings.HasPrefix(k.Value, vaultPrefix) {
				return
			}
			field := m.path + ".annotations[" + k.Value + "]"
			if injected {
				fs = append(fs, at(k, IDVaultAnnotationsOnWorkload, Warning, field,
					"the Vault Agent Injector reads only the pod's annotations, never the %s's own: this one is ignored; move it to %s.metadata.annotations (or delete it, if the pod template already carries it)", r.kind, t.path))
				return
			}
			fs = append(fs, at(k, IDVaultAnnotationsOnWorkload, Error, field,
				"the Vault Agent Injector reads only the pod's annotations, never the %s's own: its pods get no Vault agent; move the vault.hashicorp.com/ annotations to %s.metadata.annotations", r.kind, t.path))
		})
	}
	return fs
}
