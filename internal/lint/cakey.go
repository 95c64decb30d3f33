package lint

import (
	"slices"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// caSecrets are the Secrets istiod reads its CA key from, and the keys of
// theirs that hold one. istiod plugs in the cacerts Secret, in either
// layout (ca-key.pem, or a kubernetes.io/tls Secret's tls.key); a
// self-signed istiod keeps its key in istio-ca-secret (Istio
// security/pkg/pki/ca/ca.go, CASecret), which it writes itself: committed,
// it is a key in Git all the same.
var caSecrets = map[string][]string{
	"cacerts":         {"ca-key.pem", "tls.key"},
	"istio-ca-secret": {"ca-key.pem"},
}

// caKeyInStream: a CA's private key in a manifest is a key in Git, in CI
// logs and in every render's output, whatever the namespace (istiod reads
// its own namespace's, but a copy anywhere is as exposed). The tool exists
// to keep it in Vault. An empty value holds no key: a placeholder is not a
// finding. The message never quotes the value.
func caKeyInStream(r *resource) []Finding {
	if r.kind != "Secret" {
		return nil
	}
	keys, ok := caSecrets[r.name]
	if !ok {
		return nil
	}
	var fs []Finding
	for _, field := range []string{"data", "stringData"} {
		entries(yamlnode.Lookup(r.node, field), func(k, v *yaml.Node) {
			if !slices.Contains(keys, k.Value) || yamlnode.Value(v) == "" {
				return
			}
			fs = append(fs, at(k, IDCAKeyInStream, Error, field+"["+k.Value+"]",
				"the Secret %s holds a CA private key: whoever reads this manifest (its repository, CI logs, the render) can sign certificates every workload of the mesh trusts; write the key to Vault, let istio-vault-ca render it into istiod's pod, delete it here and from the history, and treat it as leaked (rotate the CA)", r.name))
		})
	}
	return fs
}
