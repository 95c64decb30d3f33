package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

const seedValuesFile = "../../testdata/golden/migrate-seed004-values/input.yaml"

// TestMigrateCACertOut: --ca-cert-out writes the certificate the seed's
// VAULT_TLS_ROOT_CERT held, as a PEM file that parses, and never replaces
// a file.
func TestMigrateCACertOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "vault-ca.pem")
	code, stdout, stderr := runCmd([]string{"migrate", "--ca-cert-out", out, seedValuesFile}, nil)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("not one PEM certificate:\n%s", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.String() != "O=Vault" {
		t.Errorf("subject %q, want the seed's O=Vault", c.Subject)
	}
	if !strings.Contains(string(stdout), "\n    caCert: "+out+"\n") {
		t.Errorf("spec.vault.caCert is not the file written:\n%s", stdout)
	}
	if !strings.Contains(string(stdout), "read from "+seedValuesFile) {
		t.Errorf("the report does not name the input file:\n%s", stdout)
	}

	code, stdout, stderr = runCmd([]string{"migrate", "--ca-cert-out", out, seedValuesFile}, nil)
	if code != cli.ExitBadInput || len(stdout) != 0 || !strings.Contains(stderr, "--ca-cert-out") {
		t.Errorf("an existing file: exit %d, %d bytes on stdout, stderr %q", code, len(stdout), stderr)
	}
}

func TestMigrateUsageErrors(t *testing.T) {
	noCert := "nodeagent:\n  env:\n    CA_PROVIDER: VaultCA\n    VAULT_ADDR: https://v:8200\n    VAULT_ROLE: r\n    VAULT_SIGN_CSR_PATH: pki/sign/r\n"
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"no input", []string{"migrate"}, "", "name one input"},
		{"two inputs", []string{"migrate", "a.yaml", "b.yaml"}, "", "name one input"},
		{"missing file", []string{"migrate", "does-not-exist.yaml"}, "", "does-not-exist.yaml"},
		{"no cert to write", []string{"migrate", "--ca-cert-out", filepath.Join(t.TempDir(), "x.pem"), "-"}, noCert, "sets no VAULT_TLS_ROOT_CERT"},
		{"unknown flag", []string{"migrate", "--config", "vaultca.yaml", "-"}, noCert, "flag provided but not defined: -config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(tc.args, []byte(tc.stdin))
			if code != cli.ExitBadInput || len(stdout) != 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, %d bytes on stdout, stderr %q; want exit 2 saying %q", code, len(stdout), stderr, tc.want)
			}
		})
	}
	code, stdout, _ := runCmd([]string{"migrate", "--help"}, nil)
	if code != cli.ExitOK || !strings.Contains(string(stdout), "istio-vault-ca migrate [--cluster NAME]") {
		t.Errorf("migrate --help: exit %d:\n%s", code, stdout)
	}
}
