package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/bootstrap"
	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

const bootstrapUsage = `Usage:
  istio-vault-ca bootstrap [--config FILE] [--rotate] [--ttl D] [--common-name CN] [--key-type rsa|ec] [--ca-cert FILE] [--timeout D] [--allow-insecure-http] [--verbose]
      Mint the intermediate CA of a PKI source (spec.source.pki) in Vault, as
      an operator, with VAULT_TOKEN (VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE
      as for verify): enable the mount if absent (max lease TTL --ttl),
      generate the intermediate with an exported key, sign it with rootMount's
      root, set it with its chain as the mount's default issuer, and store the
      key in KV v2 at spec.source.pki.key. A second run changes nothing and
      says so; a state an earlier run left half done is named with what to
      do, and no key is overwritten. --rotate mints the next intermediate and
      stores its key as a new KV version. The key is never printed.
      --ttl (default 8760h), --common-name (default "Istio intermediate CA
      CLUSTER", or the mount's name without spec.cluster), --key-type (rsa,
      2048 bits, the default; or ec, P-256).
      Exit 0 minted or nothing to do, 1 Vault failed or holds a state to fix,
      2 bad config or usage.
`

func runBootstrap(args []string, stdout, stderr io.Writer) int {
	fs, c := cli.NewFlags("bootstrap", bootstrapUsage, stderr)
	rotate := fs.Bool("rotate", false, "mint the next intermediate even if the current one is good, and store its key as a new KV version")
	ttl := fs.Duration("ttl", 8760*time.Hour, "the intermediate's lifetime, such as 8760h; also the max lease TTL of a mount bootstrap enables")
	commonName := fs.String("common-name", "", `the intermediate's common name; default "Istio intermediate CA CLUSTER" (spec.cluster), else the mount's name`)
	keyType := fs.String("key-type", "rsa", "the intermediate's key: rsa (2048 bits) or ec (P-256)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up on Vault after this long")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP to a Vault that is not on this machine")
	caCert := fs.String("ca-cert", "", "file of the CA that signed Vault's certificate (over VAULT_CACERT); default spec.vault.caCert when that file is on this machine")
	if !cli.ParseNoArgs(fs, args, stderr, "") {
		return cli.ExitBadInput
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "istio-vault-ca bootstrap: "+format+"\n", args...)
		return cli.ExitBadInput
	}
	if *ttl < time.Hour {
		return fail("--ttl must be at least 1h, got %s", *ttl)
	}
	if _, ok := bootstrap.KeyTypes[*keyType]; !ok {
		return fail("--key-type must be %s, got %q", strings.Join(keyTypes(), " or "), *keyType)
	}
	cfg, err := cli.LoadConfig(c, stderr)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	pki := cfg.Spec.Source.PKI
	if pki == nil {
		return fail("the config's source is not spec.source.pki: bootstrap mints the intermediate of a PKI source (its certificates in PKI mounts, its key in KV v2); with another source the CA material is yours to write")
	}
	if pki.Key.Version != 2 {
		return fail("spec.source.pki.key.version is %d: bootstrap stores the key in KV version 2 (the default), whose history keeps the previous key when --rotate stores the next", pki.Key.Version)
	}
	if *commonName == "" {
		*commonName = defaultCommonName(cfg)
	}
	if msg := config.CommonNameProblem(*commonName); msg != "" {
		return fail("--common-name %s", msg)
	}
	for _, m := range []struct{ field, mount string }{{"mount", pki.Mount}, {"rootMount", pki.RootMount}, {"key.path", pki.Key.Path}} {
		if r := config.ReservedMount(m.mount); r != "" {
			return fail("spec.source.pki.%s is %q, under %s, which is Vault's own (auth/, sys/, identity and cubbyhole hold no PKI or KV mount): name a mount of its own", m.field, m.mount, r)
		}
	}
	client, notes, err := newClient(cfg, *insecure, *timeout, *caCert)
	if err != nil {
		return fail("%v", err)
	}
	if client.Token() == "" {
		return fail("set VAULT_TOKEN to an operator's token: bootstrap enables a mount, signs with the root and writes the key")
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "istio-vault-ca bootstrap: warning: %s: %s\n", n.What, n.Detail)
	}
	opts := bootstrap.Options{TTL: *ttl, CommonName: *commonName, KeyType: *keyType, Rotate: *rotate}
	if c.Verbose {
		opts.Log = stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := bootstrap.Run(ctx, client, pki, opts)
	if err != nil { // redacted: it names what failed, never the key or token
		fmt.Fprintf(stderr, "istio-vault-ca bootstrap: %v\n", err)
		return cli.ExitFailed
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "istio-vault-ca bootstrap: warning: %s\n", w)
	}
	fmt.Fprintln(stdout, res.Summary)
	return cli.ExitOK
}

// defaultCommonName names the intermediate after the cluster, or the mount.
func defaultCommonName(cfg *config.VaultCA) string {
	if cfg.Spec.Cluster != "" {
		return "Istio intermediate CA " + cfg.Spec.Cluster
	}
	return "Istio intermediate CA " + cfg.Spec.Source.PKI.Mount
}

func keyTypes() []string {
	var out []string
	for k := range bootstrap.KeyTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
