package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
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
func vaultBinary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("VAULT_BIN")
	if p == "" {
		t.Fatal("VAULT_BIN is not set: run the end-to-end tests with `make e2e` (make test does), which builds Vault")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no vault binary at %s: run `make vault`", p)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type vaultServer struct {
	addr   string
	client *api.Client // root token
}

// startVault runs `vault server -dev` on loopback for the test.
func startVault(t *testing.T) *vaultServer {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, vaultBinary(t), "server", "-dev",
		"-dev-root-token-id=root", "-dev-listen-address="+addr, "-dev-no-store-token")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "VAULT_DISABLE_MLOCK=true")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("vault server log:\n%s", log.String())
		}
	})
	cfg := api.DefaultConfig()
	cfg.Address = "http://" + addr
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken("root")
	deadline := time.Now().Add(60 * time.Second)
	for {
		h, err := client.Sys().Health()
		if err == nil && h.Initialized && !h.Sealed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vault did not come up: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &vaultServer{addr: cfg.Address, client: client}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
