package e2e

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

const verifyConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: verify}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/verify}
`

// verifyWith runs `istio-vault-ca verify` with a root token against addr.
func verifyWith(t *testing.T, addr string, env ...string) (string, int) {
	t.Helper()
	return verifyConfigWith(t, verifyConfig, addr, env...)
}

// verifyConfigWith is verifyWith for a config of the test's own; env
// entries override the defaults (the last of a name wins).
func verifyConfigWith(t *testing.T, config, addr string, env ...string) (string, int) {
	t.Helper()
	cfg := writeTestConfig(t, config)
	env = append([]string{"VAULT_ADDR=" + addr, "VAULT_TOKEN=" + rootToken, "VAULT_CACERT=", "VAULT_SKIP_VERIFY=", "VAULT_PROXY_ADDR=", "VAULT_HTTP_PROXY="}, env...)
	out, stderr, code := tool(t, nil, env, "verify", "--config", cfg, "--timeout", "3s")
	all := out + stderr
	// A block type named in a message is fine; PEM armour would be key
	// material.
	for _, secret := range []string{rootToken, "PRIVATE KEY-----"} {
		if strings.Contains(all, secret) {
			t.Errorf("verify printed %q:\n%s", secret, all)
		}
	}
	return all, code
}

// Each state of Vault a user meets gets a message that says what to do.
func TestVerifyVaultStates(t *testing.T) {
	good := func(t *testing.T, v *api.Client) {
		ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA verify", 30)
		kvPut(t, v, 2, "secret", "verify", ca.fields())
	}

	t.Run("healthy", func(t *testing.T) {
		v := startVault(t)
		good(t, v.client)
		out, code := verifyWith(t, v.addr)
		if code != 0 || !strings.Contains(out, "0 failed") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("sealed", func(t *testing.T) {
		v := startVault(t)
		must(t, v.client.Sys().Seal())
		expect(t, v.addr, `is sealed: unseal it`)
	})
	t.Run("not found", func(t *testing.T) {
		v := startVault(t)
		expect(t, v.addr, `FAIL  ca-key.pem <- secret/data/verify#data.ca_key: no secret at secret/data/verify \(mount secret/, type kv\)`)
	})
	t.Run("down", func(t *testing.T) {
		expect(t, "http://127.0.0.1:"+strconv.Itoa(freePort(t)), `connection refused: nothing listens there; check VAULT_ADDR`)
	})
	t.Run("timeout", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		defer l.Close()
		go func() { // accept and never answer
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		start := time.Now()
		expect(t, "http://"+l.Addr().String(), `timed out`)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("took %v despite --timeout 3s", d)
		}
	})
	t.Run("tls without the CA", func(t *testing.T) {
		v := startVault(t, "-dev-tls", "-dev-tls-cert-dir="+t.TempDir())
		good(t, v.client)
		expect(t, v.addr, `TLS handshake failed .*: set VAULT_CACERT`)
		out, code := verifyWith(t, v.addr, "VAULT_CACERT="+v.caCert)
		if code != 0 {
			t.Errorf("with VAULT_CACERT: exit %d:\n%s", code, out)
		}
	})
	t.Run("wrong key for the cert", func(t *testing.T) {
		v := startVault(t)
		a, _, _, _ := newCA(t, nil, nil, "", "A", 31)
		b, _, _, _ := newCA(t, nil, nil, "", "B", 32)
		kvPut(t, v.client, 2, "secret", "verify", map[string]any{"ca_key": b.keyPEM, "ca_cert": a.certPEM, "cert_chain": a.chainPEM, "root_cert": a.rootPEM})
		expect(t, v.addr, `FAIL  ca-key.pem: does not match the public key of ca-cert.pem`)
	})
	t.Run("chain in the wrong order", func(t *testing.T) {
		v := startVault(t)
		a, _, _, _ := newCA(t, nil, nil, "", "A", 33)
		kvPut(t, v.client, 2, "secret", "verify", map[string]any{"ca_key": a.keyPEM, "ca_cert": a.certPEM, "cert_chain": a.rootPEM + a.certPEM, "root_cert": a.rootPEM})
		expect(t, v.addr, `FAIL  cert-chain.pem: certificate 1 \(CN=Root CA,O=Istio\) is not signed by certificate 2`)
	})
}

func expect(t *testing.T, addr, pattern string) {
	t.Helper()
	out, code := verifyWith(t, addr)
	if code != 1 || !regexp.MustCompile(pattern).MatchString(out) {
		t.Errorf("exit %d (want 1), output does not match %q:\n%s", code, pattern, out)
	}
}
