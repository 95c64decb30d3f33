// Command istio-vault-ca-verify is the tool's Vault client: `istio-vault-ca
// verify` (its arguments alone), which reads every path the config
// references from a live Vault and checks the CA bundle istiod would load,
// and `istio-vault-ca bootstrap` (its first argument "bootstrap"), which
// mints a PKI source's intermediate. istio-vault-ca runs it for both; it
// is an executable of its own so that the Vault client, whose package
// initialisation alone costs about a millisecond, is not loaded by every
// post-renderer run and pre-commit check.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
	"github.com/istio-vault-ca/istio-vault-ca/internal/verify"
)

const usage = `Usage:
  istio-vault-ca verify [--config FILE] [--role NAME] [--jwt FILE] [--ca-cert FILE] [--warn-days N] [--timeout D] [--allow-insecure-http]
      Read every path the config references from Vault (VAULT_ADDR, VAULT_TOKEN,
      VAULT_CACERT, VAULT_NAMESPACE) and check the CA bundle istiod would load:
      fields present, PEM of the right type, key matches cert, chain from the
      CA cert to the root, days to expiry; and each gateway's certificates.
      Without Vault: no gateway shares istiod's role or Vault paths.
      --jwt FILE logs in with a service-account token first, as the role's
      agent would, and checks only that role's paths: istiod's, or with
      --role NAME (a name or path, as for policy --role) a gateway's. Without
      --jwt, VAULT_TOKEN reads every path, or --role's only. Requests go to
      VAULT_ADDR only: no redirect is followed. Vault's certificate is checked
      against --ca-cert, else VAULT_CACERT, else spec.vault.caCert (the agent's
      CA) if that file is here; with spec.vault.tlsSecret it is not (the agent
      reads it at /vault/tls): pass the Secret's ca.crt with --ca-cert.
      With spec.source.istioCSR: the PKI role at <mount>/roles/<role>, each
      setting that would make signing fail named, the issuer's Kubernetes-auth
      role (bindings, no wildcard, its policy only), the policy's rules at
      sys/policy/<name> against what policy prints, and the mount's chain up
      to a root (with --jwt, the issuer's token's right to sign instead of
      the role).
      Exit 0 all checks pass, 1 a check failed, 2 bad config or usage.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bootstrap" {
		return runBootstrap(args[1:], stdout, stderr)
	}
	fs, c := cli.NewFlags("verify", usage, stderr)
	jwtFile := fs.String("jwt", "", "file holding the role's service-account token (istiod's by default): log in with it as the role's agent would, and check that role's paths only")
	roleName := fs.String("role", "", "the role (name or path, as for policy --role) whose paths to check, and with --jwt to log in as; default istiod's with --jwt, every role without")
	warnDays := fs.Int("warn-days", 30, "warn about certificates that expire within this many days")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on Vault after this long")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP to a Vault that is not on this machine")
	caCert := fs.String("ca-cert", "", "file of the CA that signed Vault's certificate (over VAULT_CACERT); default spec.vault.caCert when that file is on this machine")
	if !cli.ParseNoArgs(fs, args, stderr, "") {
		return cli.ExitBadInput
	}
	cfg, t, err := cli.LoadTransformer(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	opts := verify.Options{WarnWithin: time.Duration(*warnDays) * 24 * time.Hour}
	if *roleName != "" || *jwtFile != "" {
		role, err := policy.For(cfg, t.Plans()...).RoleNamed(*roleName)
		if err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca verify: --role: %v\n", err)
			return cli.ExitBadInput
		}
		opts.Role = role.Path
	}
	client, notes, err := newClient(cfg, *insecure, *timeout, *caCert)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca verify: %v\n", err)
		return cli.ExitBadInput
	}
	if *jwtFile != "" {
		b, err := os.ReadFile(*jwtFile)
		if err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca verify: %s\n", jwtFileError(err))
			return cli.ExitBadInput
		}
		opts.JWT = strings.TrimSpace(string(b))
	} else if client.Token() == "" {
		fmt.Fprintln(stderr, "istio-vault-ca verify: set VAULT_TOKEN, or pass --jwt with istiod's service-account token")
		return cli.ExitBadInput
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	report := append(notes, verify.Run(ctx, client, cfg, t.Plans(), opts)...)
	report.Write(stdout)
	if report.Failed() {
		return cli.ExitFailed
	}
	return cli.ExitOK
}

// newClient is the Vault client of the config's Vault (VAULT_ADDR first,
// as verify.NewClient says), in its namespace.
func newClient(cfg *config.VaultCA, insecure bool, timeout time.Duration, caCert string) (*api.Client, verify.Report, error) {
	client, notes, err := verify.NewClient(verify.ClientOptions{Address: cfg.Spec.Vault.Address, AllowInsecureHTTP: insecure, Timeout: timeout,
		CACert: caCert, AgentCACert: cfg.Spec.Vault.CACert, TLSSecret: cfg.Spec.Vault.TLSSecret, SecretNamespace: firstOf(cfg.Spec.Istiod.Namespaces)})
	if err != nil {
		return nil, nil, err
	}
	if ns := cfg.Spec.Vault.Namespace; ns != "" {
		client.SetNamespace(ns)
	}
	return client, notes, nil
}

// jwtFileError says why --jwt could not be read without naming what it was
// given: passing the token itself instead of a path is an easy mistake, and
// the message, unlike the token, ends up in logs and in explain's record.
func jwtFileError(err error) string {
	// A real token is longer than a file name may be.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENAMETOOLONG) {
		return "--jwt: no such file (the flag takes a path to a token file, not the token)"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "--jwt: cannot read the token file: " + err.Error()
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
