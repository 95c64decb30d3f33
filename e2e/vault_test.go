package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// syncBuffer collects a child process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// vaultBinary is the real vault built from the Vault module (make vault).
func vaultBinary(t testing.TB) string { return builtTool(t, "VAULT_BIN") }

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rootToken is distinctive so a test can prove it is never printed.
const rootToken = "e2e-root-token-never-printed"

type vaultServer struct {
	addr   string
	client *api.Client // root token
	caCert string      // with TLS: the CA file that signed the listener's cert
}

// startVault runs `vault server -dev` on loopback for the test; extra flags
// such as -dev-tls are passed on.
func startVault(t *testing.T, extra ...string) *vaultServer {
	t.Helper()
	return runVault(t, nil, extra...)
}

// privateCA is the certificate of a CA the test made, and the file
// holding it.
type privateCA struct {
	pem    []byte
	caFile string
}

// startVaultPrivateCA runs the dev server with one more listener, which
// serves TLS with a certificate for 127.0.0.1 and localhost issued by a
// CA generated here, as Vault behind a company's private CA is: only who
// trusts that CA reaches Vault through it. The server's address is that
// listener (the dev listener, plain HTTP, stays unused).
func startVaultPrivateCA(t *testing.T) (*vaultServer, *privateCA) {
	t.Helper()
	dir := t.TempDir()
	cert, key := selfSignedCA(t, "e2e private CA of Vault")
	ca := &privateCA{pem: []byte(pemCert(cert.Raw)), caFile: filepath.Join(dir, "vault-ca.pem")}
	certPEM, keyPEM := issueServing(t, cert, key, "vault", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	certFile, keyFile := filepath.Join(dir, "vault-cert.pem"), filepath.Join(dir, "vault-key.pem")
	must(t, os.WriteFile(ca.caFile, ca.pem, 0o644))
	must(t, os.WriteFile(certFile, certPEM, 0o600))
	must(t, os.WriteFile(keyFile, keyPEM, 0o600))
	l := &vaultListener{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), caFile: ca.caFile}
	hcl := filepath.Join(dir, "listener.hcl")
	must(t, os.WriteFile(hcl, []byte(fmt.Sprintf("listener \"tcp\" {\n  address = %q\n  tls_cert_file = %q\n  tls_key_file = %q\n}\n", l.addr, certFile, keyFile)), 0o600))
	return runVault(t, l, "-config="+hcl), ca
}

// vaultListener is a TLS listener of a config the test wrote: the server
// is reached there, trusting caFile.
type vaultListener struct{ addr, caFile string }

func runVault(t *testing.T, tlsListener *vaultListener, extra ...string) *vaultServer {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"server", "-dev",
		"-dev-root-token-id=" + rootToken, "-dev-listen-address=" + addr, "-dev-no-store-token"}, extra...)
	cmd := exec.CommandContext(ctx, vaultBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "VAULT_DISABLE_MLOCK=true")
	server := startProcess(t, "vault server", cmd, cancel)
	cfg := api.DefaultConfig()
	cfg.Address = "http://" + addr
	v := &vaultServer{}
	for _, f := range extra {
		if dir, ok := strings.CutPrefix(f, "-dev-tls-cert-dir="); ok {
			cfg.Address = "https://" + addr
			v.caCert = filepath.Join(dir, "vault-ca.pem")
			waitForFile(t, v.caCert)
			must(t, cfg.ConfigureTLS(&api.TLSConfig{CACert: v.caCert}))
		}
	}
	if tlsListener != nil {
		cfg.Address = "https://" + tlsListener.addr
		v.caCert = tlsListener.caFile
		must(t, cfg.ConfigureTLS(&api.TLSConfig{CACert: v.caCert}))
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(rootToken)
	deadline := time.Now().Add(60 * time.Second)
	for {
		h, err := client.Sys().Health()
		if err == nil && h.Initialized && !h.Sealed {
			break
		}
		if err := server.running(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("vault did not come up: %v\n%s", err, server.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.addr, v.client = cfg.Address, client
	return v
}

func waitForFile(t *testing.T, p string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if _, err := os.Stat(p); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
