package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// vaultInjectorWebhook is the name of the Vault injector's
// MutatingWebhookConfiguration in the vault-helm chart. The API server calls
// mutating webhooks in the order of their configurations' names, so tests
// that need the other order rename it.
const vaultInjectorWebhook = "vault-agent-injector-cfg"

// vaultInjector is the real Vault Agent Injector (vault-k8s agent-inject)
// serving its webhook on loopback, registered with the API server.
type vaultInjector struct {
	proc *process
	url  string
}

// startVaultInjector runs `vault-k8s agent-inject` as the vault-helm chart
// deploys it: its ServiceAccount and ClusterRole, the chart's default
// flags, and a MutatingWebhookConfiguration for pod CREATE. The injector
// only takes an in-cluster configuration (rest.InClusterConfig: the token
// and CA at /var/run/secrets/kubernetes.io/serviceaccount), so it runs in
// a mount namespace of its own where that directory holds its
// ServiceAccount's token, as the kubelet would mount it. That needs root.
func (cp *controlPlane) startVaultInjector(t *testing.T, vaultAddr, webhookName string) *vaultInjector {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the Vault injector needs its in-cluster service-account mount, made in a mount namespace: run the e2e as root (CI does)")
	}
	bin := builtTool(t, "VAULT_K8S_BIN")
	sa := serviceAccount{Namespace: "vault", Name: "vault-agent-injector"}
	cp.ensureServiceAccount(t, sa)
	ctx := context.Background()
	_, err := cp.client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-agent-injector-clusterrole"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations"},
			Verbs: []string{"get", "list", "watch", "patch"},
		}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err = cp.client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-agent-injector-binding"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "vault-agent-injector-clusterrole"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: sa.Namespace, Name: sa.Name}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "vault-injector-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	saDir := filepath.Join(dir, "serviceaccount")
	must(t, os.Mkdir(saDir, 0o755))
	must(t, os.WriteFile(filepath.Join(saDir, "token"), []byte(cp.token(t, sa)), 0o644))
	must(t, os.WriteFile(filepath.Join(saDir, "ca.crt"), cp.caPEM, 0o644))
	must(t, os.WriteFile(filepath.Join(saDir, "namespace"), []byte(sa.Namespace), 0o644))

	// The webhook's serving certificate, for the loopback address the API
	// server calls (no Service: nothing would back it without kubelet).
	ca, caKey := selfSignedCA(t, "e2e vault-agent-injector CA")
	caPEM := []byte(pemCert(ca.Raw))
	certPEM, keyPEM := issueServing(t, ca, caKey, "vault-agent-injector", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	tlsDir := filepath.Join(dir, "tls")
	must(t, os.Mkdir(tlsDir, 0o700))
	must(t, os.WriteFile(filepath.Join(tlsDir, "ca.crt"), caPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(tlsDir, "tls.crt"), certPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(tlsDir, "tls.key"), keyPEM, 0o600))

	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// The mount namespace: a private /var/run (a tmpfs, so nothing of the
	// machine's is touched or hidden outside this process) holding the
	// service-account directory, then the injector itself.
	script := `set -e
mount -t tmpfs tmpfs /var/run
mkdir -p /var/run/secrets/kubernetes.io/serviceaccount
mount --bind "$1" /var/run/secrets/kubernetes.io/serviceaccount
shift
exec "$@"`
	pctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(pctx, "/bin/sh", "-c", script, "sh", saDir, bin, "agent-inject")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	// The vault-helm chart's injector Deployment sets these (its defaults).
	cmd.Env = append(os.Environ(),
		"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT="+portOf(t, cp.url),
		"NAMESPACE="+sa.Namespace,
		"AGENT_INJECT_LISTEN="+listen,
		"AGENT_INJECT_LOG_LEVEL=info",
		"AGENT_INJECT_VAULT_ADDR="+vaultAddr,
		"AGENT_INJECT_VAULT_AUTH_PATH=auth/kubernetes",
		"AGENT_INJECT_VAULT_IMAGE=hashicorp/vault:1.21.0",
		"AGENT_INJECT_TLS_AUTO="+webhookName,
		"AGENT_INJECT_TLS_CERT_FILE="+filepath.Join(tlsDir, "tls.crt"),
		"AGENT_INJECT_TLS_KEY_FILE="+filepath.Join(tlsDir, "tls.key"),
		"AGENT_INJECT_TLS_CA_CERT_FILE="+filepath.Join(tlsDir, "ca.crt"),
		"AGENT_INJECT_LOG_FORMAT=standard",
		"AGENT_INJECT_REVOKE_ON_SHUTDOWN=false",
		"AGENT_INJECT_CPU_REQUEST=250m", "AGENT_INJECT_CPU_LIMIT=500m",
		"AGENT_INJECT_MEM_REQUEST=64Mi", "AGENT_INJECT_MEM_LIMIT=128Mi",
		"AGENT_INJECT_DEFAULT_TEMPLATE=map",
		"AGENT_INJECT_TEMPLATE_CONFIG_EXIT_ON_RETRY_FAILURE=true",
	)
	inj := &vaultInjector{url: "https://" + listen + "/mutate"}
	inj.proc = startProcess(t, "vault-k8s agent-inject", cmd, cancel)
	waitListening(t, inj.proc, listen)

	cp.registerWebhook(t, &admissionv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookName},
		Webhooks: []admissionv1.MutatingWebhook{{
			Name:                    "vault.hashicorp.com",
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			ClientConfig:            admissionv1.WebhookClientConfig{URL: &inj.url, CABundle: caPEM},
			Rules: []admissionv1.RuleWithOperations{{
				Operations: []admissionv1.OperationType{admissionv1.Create},
				Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			// The chart's default is Ignore; Fail here, so that an injector
			// that cannot be reached fails the pod's creation loudly instead
			// of leaving a pod without its agent.
			FailurePolicy:     ptrTo(admissionv1.Fail),
			SideEffects:       ptrTo(admissionv1.SideEffectClassNone),
			MatchPolicy:       ptrTo(admissionv1.Exact),
			TimeoutSeconds:    ptrTo(int32(30)),
			NamespaceSelector: &metav1.LabelSelector{},
			ObjectSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "app.kubernetes.io/name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"vault-agent-injector"},
			}}},
		}},
	})
	// A pod created right after the configuration may not be sent to the
	// webhook yet: the admission plugin reads configurations through an
	// informer. A dry-run pod that asks for injection tells when it is.
	cp.waitMutates(t, func(p *corev1.Pod) bool { return findContainer(p.Spec.InitContainers, "vault-agent-init") != nil },
		map[string]string{"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "probe"}, nil)
	return inj
}

// registerWebhook creates a MutatingWebhookConfiguration.
func (cp *controlPlane) registerWebhook(t *testing.T, cfg *admissionv1.MutatingWebhookConfiguration) {
	t.Helper()
	_, err := cp.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(context.Background(), cfg, metav1.CreateOptions{})
	must(t, err)
}

// waitMutates creates a probe pod with the given annotations and labels as
// a server-side dry run (admitted by every webhook, stored nowhere) until
// mutated says the webhook has changed it.
func (cp *controlPlane) waitMutates(t *testing.T, mutated func(*corev1.Pod) bool, annotations, labels map[string]string) {
	t.Helper()
	cp.ensureNamespace(t, "webhook-probe")
	cp.ensureServiceAccount(t, serviceAccount{Namespace: "webhook-probe", Name: "default"})
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Namespace: "webhook-probe", Annotations: annotations, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		got, err := cp.client.CoreV1().Pods(probe.Namespace).Create(context.Background(), probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && mutated(got) {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the webhook did not mutate a probe pod within 30s (last error: %v)", last)
}

// waitListening waits until a process accepts TCP connections on addr.
func waitListening(t testing.TB, p *process, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := p.running(); err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s is not listening on %s after 60s:\n%s", p.name, addr, tail(p.log.String(), 8<<10))
}

func portOf(t testing.TB, url string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(url[len("https://"):])
	must(t, err)
	return port
}
