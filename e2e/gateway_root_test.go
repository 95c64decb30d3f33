package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// rootProxyGateway is the 1.20.8 gateway chart's Deployment: istio-proxy
// runs as uid 0, group 1337, with every capability dropped.
const rootProxyGateway = "../testdata/golden/gateway-root-proxy/input.yaml"

// TestGatewayRootProxyReadsItsKey runs the tool on the 1.20.8 gateway
// chart with nothing but a selector, the real injector's mutation on the
// result, and the real agent as the user the injector set. The proxy, root
// without capabilities (so without DAC override) in group 1337, reads its
// key; a process of another user and group does not. The same key at the
// config's mode 0400 would be unreadable to that proxy.
func TestGatewayRootProxyReadsItsKey(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the agent and the readers as the pod's users")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is needed to read as root without capabilities")
	}
	e := newEnv(t)
	ca, _, _, _ := newCA(t, nil, nil, "", "Gateway CA", 40)
	crt, key := leaf(t, ca, ca.keyPEM, "shop.example.com")
	l := layout{name: "root-proxy", config: webhooksConfig, seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "istio/cacerts", ca.fields())
		kvPut(t, v, 2, "secret", "gateways/cluster1/shop", map[string]any{"tls.crt": crt, "tls.key": key})
	}}
	cfgFile, _ := e.setup(t, l)
	in, err := os.ReadFile(rootProxyGateway)
	must(t, err)
	// The input is the chart's Deployment alone: its ServiceAccount is made
	// here, as the chart's other documents would.
	e.k8s.ensureServiceAccount(t, serviceAccount{Namespace: "istio-ingress", Name: "istio-ingressgateway"})
	pod := e.injectedGateway(t, in, cfgFile)
	sc := pod.Spec.InitContainers[0].SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Fatalf("the injected agent runs as root: %+v", sc)
	}
	agent := e.k8s.runPod(t, pod).startAgent(t, &pod.Spec.InitContainers[0], secretVolumePath(pod), 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("vault-agent-init: %v", err)
	}
	keyFile := filepath.Join(agent.dir, "shop.key")
	fi, err := os.Stat(keyFile)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	t.Logf("shop.key: mode %o, owner %d:%d", fi.Mode().Perm(), st.Uid, st.Gid)
	if fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("the key is readable by others: %o", fi.Mode().Perm())
	}
	// As the proxy runs: uid 0, group 1337, no capabilities at all.
	readAsProxy := func() error {
		return exec.Command(setpriv, "--reuid=0", "--regid=1337", "--clear-groups", "--bounding-set=-all", "--inh-caps=-all", "cat", keyFile).Run()
	}
	if err := readAsProxy(); err != nil {
		t.Errorf("the proxy (uid 0, group 1337, no capabilities) cannot read its key: %v", err)
	}
	if err := agent.readAs(100, 1000, "shop.key"); err == nil {
		t.Error("a process of another user and group reads the key")
	}
	// Why the mode is 0440 here: at the config's 0400 the proxy could not.
	must(t, os.Chmod(keyFile, 0o400))
	if err := readAsProxy(); err == nil {
		t.Error("the proxy reads a 0400 key it does not own: the case shows nothing")
	}
}
