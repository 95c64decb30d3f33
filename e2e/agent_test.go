package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// agentRun is a real `vault agent` started from an injected container's
// config, with the pod's paths mapped into a temp dir: the service-account
// token, the token sink, and the secret volume.
type agentRun struct {
	dir     string // the pod's secret volume, on this machine
	log     *syncBuffer
	done    chan error
	cancel  context.CancelFunc
	uid     int // the uid the container runs as, -1 when the test cannot switch
	gid     int
	timeout time.Duration
}

// startAgent starts the agent of an injected container (vault-agent-init
// or vault-agent). When the test runs as root, the agent runs as the uid and
// gid the injector put in the container's securityContext, as in the pod.
func startAgent(t *testing.T, c *corev1.Container, volumePath, saToken string, timeout time.Duration) *agentRun {
	t.Helper()
	// Not t.TempDir: its parent is private to root, and the agent may run as
	// another uid that must reach the files, as in the pod.
	root, err := os.MkdirTemp("", "vault-agent-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	must(t, os.Chmod(root, 0o755))
	run := &agentRun{dir: filepath.Join(root, "secrets"), log: &syncBuffer{}, done: make(chan error, 1), uid: -1, gid: -1, timeout: timeout}
	must(t, os.Mkdir(run.dir, 0o755))
	home := filepath.Join(root, "home")
	must(t, os.Mkdir(home, 0o755))
	tokenFile := filepath.Join(root, "sa-token")
	must(t, os.WriteFile(tokenFile, []byte(saToken), 0o644))

	var raw []byte
	cfg := agentConfig(t, c)
	cfg["pid_file"] = filepath.Join(home, "pid")
	auto := cfg["auto_auth"].(map[string]any)
	method := auto["method"].(map[string]any)
	mcfg := method["config"].(map[string]any)
	if !strings.HasPrefix(mcfg["token_path"].(string), serviceAccountMount) {
		t.Fatalf("agent reads its token from %v, not the service-account mount", mcfg["token_path"])
	}
	mcfg["token_path"] = tokenFile
	for _, s := range auto["sink"].([]any) {
		s.(map[string]any)["config"].(map[string]any)["path"] = filepath.Join(home, "token")
	}
	for _, tpl := range cfg["template"].([]any) {
		m := tpl.(map[string]any)
		dest := m["destination"].(string)
		if !strings.HasPrefix(dest, volumePath+"/") {
			t.Fatalf("template writes %s, outside the secret volume %s", dest, volumePath)
		}
		m["destination"] = filepath.Join(run.dir, strings.TrimPrefix(dest, volumePath+"/"))
		// Templates that read another rendered file (file "<volume>/x.pem").
		if contents, ok := m["contents"].(string); ok {
			m["contents"] = strings.ReplaceAll(contents, `"`+volumePath+"/", `"`+run.dir+"/")
		}
	}
	raw, err = json.Marshal(cfg)
	must(t, err)
	cfgFile := filepath.Join(home, "config.json")
	must(t, os.WriteFile(cfgFile, raw, 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	run.cancel = cancel
	cmd := exec.CommandContext(ctx, vaultBinary(t), "agent", "-config="+cfgFile)
	cmd.Env = append(os.Environ(), "HOME="+home, "VAULT_LOG_LEVEL=info")
	cmd.Stdout, cmd.Stderr = run.log, run.log
	if sc := c.SecurityContext; os.Geteuid() == 0 && sc != nil && sc.RunAsUser != nil && sc.RunAsGroup != nil {
		run.uid, run.gid = int(*sc.RunAsUser), int(*sc.RunAsGroup)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(run.uid), Gid: uint32(run.gid)}}
		for _, p := range []string{run.dir, home} {
			must(t, os.Chown(p, run.uid, run.gid))
		}
	}
	must(t, cmd.Start())
	go func() { run.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			t.Logf("vault agent (%s) log:\n%s", c.Name, run.log.String())
		}
	})
	return run
}

// wait blocks until the agent exits; an init agent exits after rendering.
func (r *agentRun) wait() error {
	select {
	case err := <-r.done:
		return err
	case <-time.After(r.timeout + 5*time.Second):
		return errors.New("agent did not exit")
	}
}

// read returns a rendered file.
func (r *agentRun) read(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	must(t, err)
	return string(b)
}

// tryRead returns a rendered file, or "" while it does not exist.
func (r *agentRun) tryRead(name string) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, name))
	return string(b)
}

// readAs reads a rendered file as another uid, the way istiod (or an
// attacker in another container) would.
func (r *agentRun) readAs(uid, gid int, name string) error {
	cmd := exec.Command("cat", filepath.Join(r.dir, name))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)))
	}
	return nil
}
