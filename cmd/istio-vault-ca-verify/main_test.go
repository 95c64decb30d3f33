package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

const testConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: t}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istiod}
`

// --jwt takes a path; given the token itself, the message must not repeat
// it: stderr ends up in CI logs and in explain's record.
func TestJWTFlagErrorsDoNotEchoTheArgument(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vaultca.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1") // never reached: the token file is read first
	t.Setenv("VAULT_TOKEN", "")
	header, payload := "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ", "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aXN0aW8tc3lzdGVtOmlzdGlvZCJ9"
	short := header + "." + payload + ".c2ln"
	long := header + "." + strings.Repeat(payload, 12) + "." + strings.Repeat("c2lnbmF0dXJl", 30) // as long as a real one
	dir := t.TempDir()
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"a token that could be a file name", short, "--jwt: no such file (the flag takes a path to a token file, not the token)"},
		{"a token longer than a file name", long, "--jwt: no such file (the flag takes a path to a token file, not the token)"},
		{"a missing file", filepath.Join(dir, "istiod.jwt"), "--jwt: no such file (the flag takes a path to a token file, not the token)"},
		{"a directory", dir, "--jwt: cannot read the token file: is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"--config", cfg, "--jwt", tc.arg}, &stdout, &stderr)
			if code != cli.ExitBadInput || stdout.Len() != 0 || stderr.String() != "istio-vault-ca verify: "+tc.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, stdout.String(), stderr.String(), tc.want)
			}
		})
	}
}
