package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/migrate"
)

// maxMigrateInput bounds what migrate reads: a values file or a render of
// a few megabytes, not an unbounded stream.
const maxMigrateInput = 16 << 20

// runMigrate prints the VaultCA of Istio 1.1's VaultCA settings. It reads
// no config: it writes one.
func runMigrate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, subcommandUsage("migrate")) }
	cluster := fs.String("cluster", "", "spec.cluster and metadata.name of the VaultCA (Istio 1.1 had no cluster name)")
	plainHTTP := fs.Bool("allow-plain-http", false, "carry an http:// VAULT_ADDR to a non-loopback host over, as spec.vault.allowPlainHTTP: true")
	caOut := fs.String("ca-cert-out", "", "write the PEM VAULT_TLS_ROOT_CERT held to this new file, and set spec.vault.caCert to it")
	if err := fs.Parse(args); err != nil {
		return cli.ExitBadInput
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "istio-vault-ca migrate: name one input: an Istio 1.1 values file or rendered manifests (- for stdin)")
		return cli.ExitBadInput
	}
	name := fs.Arg(0)
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, maxMigrateInput+1))
		name = "stdin"
	} else {
		data, err = readLimited(name)
	}
	if err == nil && len(data) > maxMigrateInput {
		err = fmt.Errorf("longer than %d MiB: give the values file or the node agent's manifests alone", maxMigrateInput>>20)
	}
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca migrate: %s: %v\n", name, err)
		return cli.ExitBadInput
	}
	res, err := migrate.Migrate(data, name, migrate.Options{Cluster: *cluster, AllowPlainHTTP: *plainHTTP, CACertFile: *caOut})
	if err != nil {
		var merr *migrate.Error
		if errors.As(err, &merr) {
			for _, p := range merr.Problems {
				fmt.Fprintf(stderr, "istio-vault-ca migrate: %s: %s\n", name, p)
			}
		} else {
			fmt.Fprintf(stderr, "istio-vault-ca migrate: %s: %v\n", name, err)
		}
		return cli.ExitBadInput
	}
	if *caOut != "" && res.VaultCACert == nil {
		fmt.Fprintf(stderr, "istio-vault-ca migrate: %s: --ca-cert-out: the input sets no VAULT_TLS_ROOT_CERT, so there is no certificate to write; drop the flag\n", name)
		return cli.ExitBadInput
	}
	out, err := res.YAML()
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca migrate: %v\n", err)
		return cli.ExitBadInput
	}
	if *caOut != "" {
		if err := writeNew(*caOut, res.VaultCACert); err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca migrate: --ca-cert-out: %v\n", err)
			return cli.ExitBadInput
		}
	}
	stdout.Write(out)
	if n := len(res.Todo) + len(res.Dropped); n > 0 {
		fmt.Fprintf(stderr, "istio-vault-ca migrate: %d to do, %d not carried over: each is a comment at the top of the output\n", len(res.Todo), len(res.Dropped))
	}
	return cli.ExitOK
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxMigrateInput+1))
}

// writeNew writes a file that must not exist yet: migrate never replaces
// a file the user has.
func writeNew(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	return f.Close()
}
