package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/issuer"
)

// runIssuer prints the cert-manager side of the istioCSR mode: the Vault
// Issuer with its ServiceAccount and token RBAC (resources, the default),
// or istio-csr's matching Helm values.
func runIssuer(args []string, stdout, stderr io.Writer) int {
	fs, c := newFlags("issuer", stderr)
	output := fs.String("output", "resources", "resources (ServiceAccount, Role, RoleBinding, Issuer) or istio-csr-values (istio-csr's Helm values)")
	if !cli.ParseNoArgs(fs, args, stderr, "") {
		return cli.ExitBadInput
	}
	cfg, err := cli.LoadConfig(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	var out []byte
	switch *output {
	case "resources":
		// A relative caCert is the config's neighbour.
		file, _, _ := cli.ResolveConfig(c.ConfigFile)
		out, err = issuer.Resources(cfg, func(p string) ([]byte, error) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(file), p)
			}
			return os.ReadFile(p)
		})
	case "istio-csr-values":
		out, err = issuer.Values(cfg)
	default:
		fmt.Fprintf(stderr, "istio-vault-ca issuer: --output must be resources or istio-csr-values, got %q\n", *output)
		return cli.ExitBadInput
	}
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca issuer: %v\n", err)
		return cli.ExitBadInput
	}
	stdout.Write(out)
	return cli.ExitOK
}
