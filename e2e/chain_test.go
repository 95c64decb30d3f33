package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// istiodManifests is the istio-discovery chart rendered by helm template.
const istiodManifests = "../testdata/inputs/istiod.yaml"

var istiodSA = serviceAccount{Namespace: "istio-system", Name: "istiod"}

// env is one Vault, one control plane (etcd and kube-apiserver) with the
// real Vault Agent Injector registered as its webhook, and a token of
// istiod's ServiceAccount from the TokenRequest API (for verify).
type env struct {
	vault    *vaultServer
	k8s      *controlPlane
	injector *vaultInjector
	jwt      string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{vault: startVault(t), k8s: startControlPlane(t)}
	e.injector = e.k8s.startVaultInjector(t, e.vault.addr, vaultInjectorWebhook)
	e.jwt = e.k8s.token(t, istiodSA)
	return e
}

// layout is one way of keeping the CA in Vault.
type layout struct {
	name   string
	config string                            // the VaultCA, as a user writes it
	seed   func(t *testing.T, v *api.Client) // writes the CA material
	// want is, after seed, the root and the signing CA certificate Vault
	// holds: what istiod must publish and sign with, known apart from
	// what the agent rendered.
	want func(t *testing.T, v *api.Client) (root, intermediate string)
}

// setup is what a user does by hand once: write the material, enable
// Kubernetes auth, and apply the policy and role the tool prints.
func (e *env) setup(t *testing.T, l layout) (cfgFile, authPath string) {
	t.Helper()
	cfgFile = writeTestConfig(t, l.config)
	l.seed(t, e.vault.client)

	effective, stderr, code := tool(t, nil, nil, "config", "--config", cfgFile)
	if code != 0 {
		t.Fatalf("config: %s", stderr)
	}
	var cfg struct {
		Spec struct {
			Vault struct{ AuthPath, Policy string }
		}
	}
	must(t, yaml.Unmarshal([]byte(effective), &cfg))
	authPath = cfg.Spec.Vault.AuthPath
	mount := strings.TrimPrefix(authPath, "auth/")
	must(t, e.vault.client.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "kubernetes"}))
	_, err := e.vault.client.Logical().Write(authPath+"/config", e.k8s.vaultAuthConfig())
	must(t, err)

	e.applyPolicy(t, cfgFile)
	return cfgFile, authPath
}

// applyPolicy runs the script `istio-vault-ca policy --output commands`
// prints with the real vault CLI, as a user would: every policy and role.
func (e *env) applyPolicy(t *testing.T, cfgFile string) {
	t.Helper()
	script, stderr, code := tool(t, nil, nil, "policy", "--config", cfgFile, "--output", "commands")
	if code != 0 {
		t.Fatalf("policy --output commands: %s", stderr)
	}
	if out, err := e.vaultCLI(t, "sh", "-c", script); err != nil {
		t.Fatalf("the policy script failed: %v\n%s", err, out)
	}
}

// vaultCLI runs a command with the vault binary on PATH, logged in to the
// test's Vault as root.
func (e *env) vaultCLI(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(vaultBinary(t))+":"+filepath.Dir(toolBin)+":"+os.Getenv("PATH"),
		"VAULT_ADDR="+e.vault.addr, "VAULT_TOKEN="+rootToken, "HOME="+t.TempDir())
	if e.vault.caCert != "" {
		cmd.Env = append(cmd.Env, "VAULT_CACERT="+e.vault.caCert)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// injectedPod runs the tool on the istiod chart, applies its output to the
// API server (server-side apply), and creates istiod's pod from the
// Deployment: the pod as the API server stored it, after the real
// injector's webhook mutated it.
func (e *env) injectedPod(t *testing.T, cfgFile string) *corev1.Pod {
	t.Helper()
	return e.admitted(t, renderedStream(t, cfgFile), "istio-system", "istiod")
}

// admitted applies manifests and creates the pod of the Deployment named.
func (e *env) admitted(t *testing.T, manifests string, namespace, deployment string) *corev1.Pod {
	t.Helper()
	e.k8s.apply(t, []byte(manifests), applyOptions{})
	return e.k8s.mustPodFromDeployment(t, namespace, deployment)
}

// verify runs `istio-vault-ca verify` logged in with istiod's token, as
// a user outside the pod would: VAULT_ADDR only, extra flags passed on.
func (e *env) verify(t *testing.T, cfgFile string, extra ...string) (string, int) {
	t.Helper()
	jwtFile := filepath.Join(t.TempDir(), "jwt")
	must(t, os.WriteFile(jwtFile, []byte(e.jwt), 0o600))
	out, stderr, code := tool(t, nil, []string{"VAULT_ADDR=" + e.vault.addr, "VAULT_TOKEN="},
		append([]string{"verify", "--config", cfgFile, "--jwt", jwtFile}, extra...)...)
	return out + stderr, code
}

func kvPut(t *testing.T, v *api.Client, version int, mount, path string, data map[string]any) {
	t.Helper()
	var err error
	if version == 2 {
		_, err = v.KVv2(mount).Put(t.Context(), path, data)
	} else {
		err = v.KVv1(mount).Put(t.Context(), path, data)
	}
	must(t, err)
}

func enableKV(t *testing.T, v *api.Client, mount string, version int) {
	t.Helper()
	opts := map[string]string{"version": "1"}
	if version == 2 {
		opts["version"] = "2"
	}
	err := v.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: opts})
	if err != nil && !strings.Contains(err.Error(), "path is already in use") {
		t.Fatal(err)
	}
}

// madeCA is a layout whose CA the test makes: seed stores it with store,
// want returns what was stored.
func madeCA(name, config, cn string, serial int64, store func(t *testing.T, v *api.Client, ca caBundle)) layout {
	l := layout{name: name, config: config}
	var made caBundle
	l.seed = func(t *testing.T, v *api.Client) {
		made, _, _, _ = newCA(t, nil, nil, "", cn, serial)
		store(t, v, made)
	}
	l.want = func(*testing.T, *api.Client) (string, string) { return made.rootPEM, made.certPEM }
	return l
}

func layouts() []layout {
	return []layout{
		madeCA("kv1-seed000", `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cluster1}
spec:
  cluster: cluster1
  vault: {role: istiod, authPath: "auth/kubernetes-{{ .Cluster }}", policy: "istiod-certs-{{ .Cluster }}"}
  source:
    kv: {version: 1, path: "kubernetes-{{ .Cluster }}-secrets/istiod-service/certs"}
`, "Intermediate CA cluster1", 2, func(t *testing.T, v *api.Client, ca caBundle) {
			enableKV(t, v, "kubernetes-cluster1-secrets", 1)
			// As seed 000's `vault kv put ca_key=@ca-key.pem ...`: values end in a newline.
			kvPut(t, v, 1, "kubernetes-cluster1-secrets", "istiod-service/certs", ca.fields())
		}),
		madeCA("kv2", `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: cluster2}
spec:
  cluster: cluster2
  vault: {role: istiod, authPath: "auth/kubernetes-{{ .Cluster }}", policy: istiod-kv2}
  source:
    kv:
      version: 2
      path: "secret/istio/{{ .Cluster }}/cacerts"
      fields: {caKey: ca-key.pem, caCert: ca-cert.pem, certChain: cert-chain.pem, rootCert: root-cert.pem}
`, "Intermediate CA cluster2", 3, func(t *testing.T, v *api.Client, ca caBundle) {
			kvPut(t, v, 2, "secret", "istio/cluster2/cacerts", map[string]any{
				"ca-key.pem": strings.TrimSpace(ca.keyPEM), "ca-cert.pem": ca.certPEM,
				"cert-chain.pem": ca.chainPEM, "root-cert.pem": strings.TrimSpace(ca.rootPEM),
			})
		}),
		{
			name: "pki-seed001",
			config: `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: tsb}
spec:
  vault: {role: istiod, authPath: auth/kubernetes-pki, policy: istioca}
  secretVolumePath: /etc/cacerts-vault
  source:
    pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca}}
`,
			seed: seedPKI,
			want: func(t *testing.T, v *api.Client) (string, string) {
				read := func(path string) string {
					s, err := v.Logical().Read(path)
					must(t, err)
					return s.Data["certificate"].(string)
				}
				return read("pki/cert/ca"), read("istioca/cert/ca")
			},
		},
		madeCA("kubernetes-tls", `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: tls}
spec:
  vault: {role: istiod, authPath: auth/kubernetes-tls, policy: istiod-tls}
  fileLayout: kubernetes-tls
  source:
    kv: {version: 2, path: secret/istio/tls}
`, "Intermediate CA tls", 4, func(t *testing.T, v *api.Client, ca caBundle) {
			kvPut(t, v, 2, "secret", "istio/tls", map[string]any{"tls.key": ca.keyPEM, "tls.crt": ca.certPEM, "ca.crt": ca.rootPEM})
		}),
	}
}

// seedPKI does what seed 001 does: a root in the pki mount, an intermediate
// generated with an exported key in istioca, signed by the root and set back,
// and the key copied into KV v2 (the PKI engine never returns it again).
func seedPKI(t *testing.T, v *api.Client) {
	t.Helper()
	for _, m := range []string{"pki", "istioca"} {
		must(t, v.Sys().Mount(m, &api.MountInput{Type: "pki", Config: api.MountConfigInput{MaxLeaseTTL: "87600h"}}))
	}
	_, err := v.Logical().Write("pki/root/generate/internal", map[string]any{"common_name": "tetrate.io", "ttl": "8760h"})
	must(t, err)
	gen, err := v.Logical().Write("istioca/intermediate/generate/exported", map[string]any{"common_name": "tetrate.io Intermediate Authority", "ttl": "43800h"})
	must(t, err)
	signed, err := v.Logical().Write("pki/root/sign-intermediate", map[string]any{"csr": gen.Data["csr"], "format": "pem_bundle", "ttl": "43800h"})
	must(t, err)
	_, err = v.Logical().Write("istioca/intermediate/set-signed", map[string]any{"certificate": signed.Data["certificate"]})
	must(t, err)
	kvPut(t, v, 2, "secret", "istioca", map[string]any{"ca-key.pem": gen.Data["private_key"]})
}

// TestChain is the whole path for every secret layout, on a real control
// plane: the tool's output for the istio-discovery chart applied to the
// API server, istiod's pod created from the Deployment and mutated by the
// real injector at admission, its vault-agent-init started from the
// stored pod (logging in through the API server's TokenReview with the
// pod's bound token), then the real istiod started from the pod's
// discovery container: it loads Vault's CA, publishes Vault's root in a
// new namespace, and signs a workload's CSR sent over its gRPC CA API.
func TestChain(t *testing.T) {
	e := newEnv(t)
	e.k8s.apply(t, []byte(istioCRDs(t)), applyOptions{})
	for i, l := range layouts() {
		t.Run(l.name, func(t *testing.T) {
			cfgFile, _ := e.setup(t, l)
			if out, code := e.verify(t, cfgFile); code != 0 {
				t.Fatalf("verify: exit %d\n%s", code, out)
			}

			pod := e.injectedIstiod(t, cfgFile)
			initC := checkInjectedPod(t, pod, false)
			e.rendersAndLoads(t, pod, initC, l, fmt.Sprintf("e2e-ns-%d", i))
		})
	}
}

// rendersAndLoads runs istiod's pod from the init agent on: the agent
// renders the files, which hold what Vault holds (known apart from what
// the agent rendered), and the real istiod loads them, publishes Vault's
// root in a new namespace and signs a workload's CSR with Vault's CA.
func (e *env) rendersAndLoads(t *testing.T, pod *corev1.Pod, initC *corev1.Container, l layout, namespace string) {
	t.Helper()
	run := e.k8s.runPod(t, pod)
	agent := run.startAgent(t, initC, secretVolumePath(pod), 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("vault-agent-init failed: %v", err)
	}
	checkFiles(t, agent, pod)
	root, caCert := l.want(t, e.vault.client)
	if gotRoot, gotCA := renderedCA(t, agent, pod); !samePEM(gotRoot, root) || !samePEM(gotCA, caCert) {
		t.Errorf("the agent rendered a root or CA certificate other than Vault's")
	}
	istiod := run.startIstiod(t)
	istiod.waitReady(t)
	if got := istiod.publishedRoot(t, e.k8s, namespace); !samePEM(got, root) {
		t.Errorf("istiod publishes a root other than Vault's:\n%s\nwant:\n%s", got, root)
	}
	istiod.workloadSigned(t, e.k8s, root, caCert)
	istiod.proc.stop()
}

// samePEM compares PEM texts as the certificates they hold (a rendered file
// ends in exactly one newline; Vault's field may not).
func samePEM(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) && a != "" }

// renderedCA is the root and the signing CA certificate the agent rendered
// from Vault, in whichever file layout the pod uses.
func renderedCA(t *testing.T, agent *agentRun, pod *corev1.Pod) (root, caCert string) {
	t.Helper()
	if _, ok := pod.Annotations["vault.hashicorp.com/agent-inject-secret-tls.crt"]; ok {
		return agent.read(t, "ca.crt"), agent.read(t, "tls.crt")
	}
	return agent.read(t, "root-cert.pem"), agent.read(t, "ca-cert.pem")
}

// injectedIstiod is injectedPod for the whole istio-discovery chart of the
// istiod binary's version: what the real istiod process needs to run.
func (e *env) injectedIstiod(t *testing.T, cfgFile string) *corev1.Pod {
	t.Helper()
	out, stderr, code := tool(t, []byte(istiodChart(t)), nil, "--config", cfgFile)
	if code != 0 {
		t.Fatalf("istio-vault-ca: exit %d: %s", code, stderr)
	}
	return e.admitted(t, out, "istio-system", "istiod")
}

// checkInjectedPod asserts what the injector made of the tool's annotations
// and returns the init container.
func checkInjectedPod(t *testing.T, pod *corev1.Pod, rotation bool) *corev1.Container {
	t.Helper()
	if len(pod.Spec.InitContainers) == 0 || pod.Spec.InitContainers[0].Name != "vault-agent-init" {
		t.Fatalf("vault-agent-init is not the first init container: %v", pod.Spec.InitContainers)
	}
	initC := &pod.Spec.InitContainers[0]
	if sc := initC.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 1337 || *sc.RunAsGroup != 1337 {
		t.Errorf("agent does not run as istiod's uid/gid 1337: %+v", initC.SecurityContext)
	}
	if sidecar := findContainer(pod.Spec.Containers, "vault-agent"); (sidecar != nil) != rotation {
		t.Errorf("vault-agent sidecar present=%v, want %v", sidecar != nil, rotation)
	}
	// The agent renders into <secretVolumePath>/injected, which the
	// injector mounts into discovery; the tool's guard volume is mounted at
	// <secretVolumePath>, and ROOT_CA_DIR reaches the agent's directory only
	// through the injector's status annotation.
	volumePath := pod.Annotations["vault.hashicorp.com/secret-volume-path"]
	guardPath := path.Dir(volumePath)
	if got := pod.Annotations["vault.hashicorp.com/agent-inject-status"]; got != "injected" || path.Base(volumePath) != "injected" {
		t.Errorf("agent-inject-status %q, secret volume at %s: want injected, <secretVolumePath>/injected", got, volumePath)
	}
	discovery := findContainer(pod.Spec.Containers, "discovery")
	mounted, guarded := false, false
	for _, m := range discovery.VolumeMounts {
		mounted = mounted || m.MountPath == volumePath
		guarded = guarded || m.MountPath == guardPath && m.Name == "istio-vault-ca-guard" && m.ReadOnly
	}
	rootCADir, status := "", false
	for _, ev := range discovery.Env {
		switch ev.Name {
		case "VAULT_AGENT_INJECT_STATUS":
			status = rootCADir == "" && ev.ValueFrom != nil && ev.ValueFrom.FieldRef != nil &&
				ev.ValueFrom.FieldRef.FieldPath == "metadata.annotations['vault.hashicorp.com/agent-inject-status']"
		case "ROOT_CA_DIR":
			rootCADir = ev.Value
		}
	}
	if !mounted || !guarded || !status || rootCADir != guardPath+"/$(VAULT_AGENT_INJECT_STATUS)" {
		t.Errorf("discovery: secret volume mounted at %s=%v, guard at %s=%v, status variable before ROOT_CA_DIR=%v, ROOT_CA_DIR=%q",
			volumePath, mounted, guardPath, guarded, status, rootCADir)
	}
	return initC
}

// checkFiles asserts every file is well-formed PEM and the key is readable
// by istiod's uid and by no one else.
func checkFiles(t *testing.T, agent *agentRun, pod *corev1.Pod) {
	t.Helper()
	for name := range pod.Annotations {
		file, ok := strings.CutPrefix(name, "vault.hashicorp.com/agent-inject-secret-")
		if !ok {
			continue
		}
		body := agent.read(t, file)
		if !strings.HasSuffix(body, "-----\n") || strings.HasSuffix(body, "\n\n") || strings.Contains(body, "----------") || strings.Contains(body, "<no value>") {
			t.Errorf("%s is not well-formed PEM with one trailing newline: %q", file, body)
		}
		perms := pod.Annotations["vault.hashicorp.com/agent-inject-perms-"+file]
		if perms == "" {
			continue
		}
		st, err := os.Stat(filepath.Join(agent.dir, file))
		must(t, err)
		if got := st.Mode().Perm(); got != 0o400 {
			t.Errorf("%s has mode %o, want 0400", file, got)
		}
		if agent.uid < 0 {
			t.Logf("not root: cannot run the agent as uid 1337 to prove who can read %s", file)
			continue
		}
		if err := agent.readAs(1337, 1337, file); err != nil {
			t.Errorf("istiod (uid 1337) cannot read %s: %v", file, err)
		}
		if err := agent.readAs(100, 1000, file); err == nil {
			t.Errorf("uid 100 (another container's agent) can read %s", file)
		}
	}
}
