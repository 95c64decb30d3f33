package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/verify"
)

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs, c := newFlags("verify", stderr)
	jwtFile := fs.String("jwt", "", "file holding istiod's service-account token: log in with it as istiod would")
	warnDays := fs.Int("warn-days", 30, "warn about certificates that expire within this many days")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on Vault after this long")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP to a Vault that is not on this machine")
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	cfg, t, code := loadTransformer(c, stderr)
	if t == nil {
		return code
	}
	vc := api.DefaultConfig()
	if vc.Error != nil {
		fmt.Fprintf(stderr, "istio-vault-ca verify: %v\n", vc.Error)
		return exitBadInput
	}
	if os.Getenv(api.EnvVaultAddress) == "" {
		if cfg.Spec.Vault.Address == "" {
			fmt.Fprintln(stderr, "istio-vault-ca verify: set VAULT_ADDR (or spec.vault.address)")
			return exitBadInput
		}
		vc.Address = cfg.Spec.Vault.Address
	}
	if err := verify.InsecureAddress(vc.Address); err != nil && !*insecure {
		fmt.Fprintf(stderr, "istio-vault-ca verify: %v\n", err)
		return exitBadInput
	}
	vc.Timeout = *timeout
	vc.MaxRetries = 0
	client, err := api.NewClient(vc)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca verify: %v\n", err)
		return exitBadInput
	}
	if ns := cfg.Spec.Vault.Namespace; ns != "" {
		client.SetNamespace(ns)
	}
	opts := verify.Options{WarnWithin: time.Duration(*warnDays) * 24 * time.Hour}
	if *jwtFile != "" {
		b, err := os.ReadFile(*jwtFile)
		if err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca verify: %v\n", err)
			return exitBadInput
		}
		opts.JWT = strings.TrimSpace(string(b))
	} else if client.Token() == "" {
		fmt.Fprintln(stderr, "istio-vault-ca verify: set VAULT_TOKEN, or pass --jwt with istiod's service-account token")
		return exitBadInput
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	report := verify.Run(ctx, client, cfg, t.Plans(), opts)
	report.Write(stdout)
	if report.Failed() {
		return exitFailed
	}
	return exitOK
}
