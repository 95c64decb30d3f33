package lint

// vaultCAProvider: CA_PROVIDER=VaultCA made Istio 1.1's node agent ask
// Vault to sign each workload's certificate (Istio 1.1's
// values-istio-example-sds-vault.yaml, nodeagent.env). Istio removed that
// code in 1.9: a manifest that still sets it gets certificates from
// another CA than it says, or none. Any container of any workload: the
// node agent was a DaemonSet of its own.
func vaultCAProvider(r *resource) []Finding {
	t := podTemplateOf(r)
	if t == nil {
		return nil
	}
	var fs []Finding
	for _, c := range t.containers() {
		e, ok := c.env()["CA_PROVIDER"]
		if !ok || e.value != "VaultCA" {
			continue
		}
		fs = append(fs, at(e.node, IDVaultCAProvider, Error, c.path+".env[CA_PROVIDER]",
			"CA_PROVIDER=VaultCA is Istio 1.1's node-agent integration with Vault, removed in Istio 1.9: no Istio since reads it; remove it and move the Vault settings to a VaultCA config (`istio-vault-ca migrate` reads them from this manifest)"))
	}
	return fs
}
