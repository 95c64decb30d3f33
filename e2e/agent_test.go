package e2e

import (
	"context"
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
	dir     string          // the pod's secret volume, on this machine
	ctx     context.Context // done when the test stopped the agent (its timeout)
	log     *syncBuffer
	done    chan error
	cancel  context.CancelFunc
	uid     int // the uid the container runs as, -1 when the test cannot switch
	gid     int
	timeout time.Duration
}

// startAgent starts the agent of an injected container (vault-agent-init
// or vault-agent) of the pod, as the kubelet would: the container's
// command, args and env, with the config the injector put in it, its
// paths mapped onto the pod's volumes, and the uid and gid of its
// securityContext (when the test runs as root: otherwise as the test's
// own). volumePath is where the container mounts the rendered files.
func (r *podRun) startAgent(t *testing.T, c *corev1.Container, volumePath string, timeout time.Duration) *agentRun {
	t.Helper()
	dirs := r.mountDirs(c)
	run := &agentRun{dir: dirs[volumePath], log: &syncBuffer{}, done: make(chan error, 1), uid: -1, gid: -1, timeout: timeout}
	if run.dir == "" {
		t.Fatalf("container %s does not mount %s", c.Name, volumePath)
	}
	cfg := agentConfig(t, c)
	mcfg := cfg["auto_auth"].(map[string]any)["method"].(map[string]any)["config"].(map[string]any)
	if !strings.HasPrefix(mcfg["token_path"].(string), serviceAccountMount+"/") {
		t.Fatalf("agent reads its token from %v, not the service-account mount", mcfg["token_path"])
	}
	for _, tpl := range cfg["template"].([]any) {
		if dest := tpl.(map[string]any)["destination"].(string); !strings.HasPrefix(dest, volumePath+"/") {
			t.Fatalf("template writes %s, outside the secret volume %s", dest, volumePath)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	run.ctx, run.cancel = ctx, cancel
	cmd := r.command(t, ctx, c, nil, map[string]string{"vault": vaultBinary(t)})
	cmd.Env = append(cmd.Env, "VAULT_CONFIG="+r.mappedVaultConfig(t, c))
	cmd.Stdout, cmd.Stderr = run.log, run.log
	if os.Geteuid() == 0 {
		run.uid, run.gid = runAs(r.pod, c)
	}
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { run.done <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited // the whole process group is gone, not only the shell
		if t.Failed() {
			t.Logf("vault agent (%s) log:\n%s", c.Name, run.log.String())
		}
	})
	return run
}

// secretVolumePath is where the injector mounts the rendered files in a pod.
func secretVolumePath(pod *corev1.Pod) string {
	if p := pod.Annotations["vault.hashicorp.com/secret-volume-path"]; p != "" {
		return p
	}
	return "/vault/secrets"
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
