package migrate_test

import (
	"fmt"

	"github.com/istio-vault-ca/istio-vault-ca/internal/migrate"
)

// A values file's node agent settings become the VaultCA of the istioCSR
// source; what has no counterpart is listed above it.
func ExampleMigrate() {
	values := []byte(`global:
  trustDomain: mesh.example
nodeagent:
  env:
    CA_PROVIDER: VaultCA
    CA_ADDR: https://vault.example.com:8200
    VAULT_ADDR: https://vault.example.com:8200
    VAULT_AUTH_PATH: auth/kubernetes/login
    VAULT_ROLE: istio-cert
    VAULT_SIGN_CSR_PATH: istio_ca/sign/istio-pki-role
`)
	r, err := migrate.Migrate(values, "values.yaml", migrate.Options{Cluster: "cluster1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := r.YAML()
	fmt.Print(string(out))
	// Output:
	// # Migrated by `istio-vault-ca migrate` from Istio 1.1's node agent (CA_PROVIDER=VaultCA), read from values.yaml.
	// # Vault still signs every workload certificate, through cert-manager's Vault issuer and istio-csr
	// # (`istio-vault-ca issuer` prints them). Delete each line below once it is dealt with.
	//
	// # To do:
	// # - line 9: `nodeagent.env.VAULT_ROLE` is istio-cert, the Kubernetes-auth role the node agents log in with: left alone until the node agents are gone (then delete it), since `istio-vault-ca policy --output commands` rewrites the role it names; cert-manager's issuer gets a role of its own, spec.vault.role istio-csr
	// # - line 10: `nodeagent.env.VAULT_SIGN_CSR_PATH` names the PKI role istio_ca/roles/istio-pki-role, which `istio-vault-ca policy --output commands` rewrites whole: Vault resets every setting the write does not name, so read it first (vault read istio_ca/roles/istio-pki-role) and check the settings it had (ttl, key_bits, organization, ...) against the script's
	//
	// # Not carried over:
	// # - line 6: `nodeagent.env.CA_ADDR`: proxies now get certificates from istio-csr (cert-manager-istio-csr.cert-manager.svc:443), and the transform points them there
	// apiVersion: istio-vault-ca.dev/v1alpha1
	// kind: VaultCA
	// metadata:
	//   name: cluster1
	// spec:
	//   cluster: cluster1
	//   vault:
	//     address: https://vault.example.com:8200
	//     role: istio-csr
	//     authPath: auth/kubernetes
	//   source:
	//     istioCSR:
	//       pki:
	//         mount: istio_ca
	//         role: istio-pki-role
	//       trustDomain: mesh.example
}
