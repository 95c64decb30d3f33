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
			return readCACert(p)
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

// maxCACert bounds spec.vault.caCert: a CA bundle is a few certificates,
// and a larger file is the wrong one.
const maxCACert = 1 << 20

// readCACert reads a regular file of at most maxCACert bytes: /dev/zero or
// a FIFO would otherwise be read forever, and a huge file into memory.
func readCACert(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): give the PEM file of the CA that signed Vault's certificate", p, fileKind(st.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCACert+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCACert {
		return nil, fmt.Errorf("%s is larger than 1 MiB: a CA bundle is a few PEM certificates; give the CA that signed Vault's certificate", p)
	}
	return b, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}
