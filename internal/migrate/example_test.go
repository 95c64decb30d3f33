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
	//     role: istio-cert
	//     authPath: auth/kubernetes
	//   source:
	//     istioCSR:
	//       pki:
	//         mount: istio_ca
	//         role: istio-pki-role
	//       trustDomain: mesh.example
}
