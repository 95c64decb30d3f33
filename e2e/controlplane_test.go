package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// serviceAccount names an identity in the cluster.
type serviceAccount struct {
	Namespace, Name string
}

// tokenAudience is the API server's own audience (its issuer), the
// audience of a projected service-account token that names none.
const tokenAudience = "https://kubernetes.default.svc.cluster.local"

// controlPlane is a real etcd and kube-apiserver on loopback: what Vault's
// Kubernetes auth asks to review a token, what the tool's output is applied
// to, and where the injectors' webhooks are registered. There is no kubelet
// and no controller manager: a test creates a Deployment's pod as the
// ReplicaSet controller would (podFromDeployment), and starts the pod's
// processes itself.
type controlPlane struct {
	url    string // https://127.0.0.1:port
	caPEM  []byte // the CA of the API server's serving certificate
	caFile string
	// adminToken is the static token (system:masters) of rest.
	adminToken string
	mu         sync.Mutex
	namespaces map[string]bool // made by ensureNamespace
	dir        string
	rest       *rest.Config // cluster-admin (a static token in system:masters)
	client     kubernetes.Interface
	dyn        dynamic.Interface
	mapper     meta.ResettableRESTMapper
	// reviewerJWT is the token Vault's Kubernetes auth presents to the
	// TokenReview API: a ServiceAccount bound to system:auth-delegator, as
	// Vault's documentation sets it up.
	reviewerJWT string
}

// builtTool is a binary `make e2e` built and checked (Vault, the control
// plane), named in env.
func builtTool(t testing.TB, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run the end-to-end tests with `make e2e` (make test does), which builds and checks it", env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no binary at %s (%s): run `make e2e`", p, env)
	}
	return p
}

// process is a child the test started and stops at cleanup; its output is
// logged when the test fails.
type process struct {
	name   string
	pid    int
	log    *syncBuffer
	exited chan struct{}
	err    error // after exited is closed
	cancel context.CancelFunc
}

func startProcess(t testing.TB, name string, cmd *exec.Cmd, cancel context.CancelFunc) *process {
	t.Helper()
	p := &process{name: name, log: &syncBuffer{}, exited: make(chan struct{}), cancel: cancel}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", name, err)
	}
	p.pid = cmd.Process.Pid
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log (last 8 KiB):\n%s", name, tail(p.log.String(), 8<<10))
		}
	})
	return p
}

// stop ends the process and waits for it.
func (p *process) stop() {
	p.cancel()
	<-p.exited
}

// running reports an error once the process has exited.
func (p *process) running() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, tail(p.log.String(), 8<<10))
	default:
		return nil
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// startControlPlane starts etcd and kube-apiserver for one test and waits
// until the API server is ready.
func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	dir, err := os.MkdirTemp("", "controlplane-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	cp := &controlPlane{dir: dir}

	// The serving certificate (loopback and the in-cluster names), the
	// service-account signing key, and a static admin token.
	caCert, caKey := selfSignedCA(t, "e2e kube-apiserver CA")
	cp.caPEM = []byte(pemCert(caCert.Raw))
	cp.caFile = filepath.Join(dir, "ca.crt")
	must(t, os.WriteFile(cp.caFile, cp.caPEM, 0o644))
	certPEM, keyPEM := issueServing(t, caCert, caKey, "kube-apiserver",
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)})
	must(t, os.WriteFile(filepath.Join(dir, "serving.crt"), certPEM, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "serving.key"), keyPEM, 0o600))
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	saKeyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)})
	must(t, os.WriteFile(filepath.Join(dir, "sa.key"), saKeyPEM, 0o600))
	adminToken := randomToken(t)
	must(t, os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(adminToken+`,e2e-admin,e2e-admin,"system:masters"`+"\n"), 0o600))
	// An audit log of pod creations only, at Metadata level: it records,
	// in the API server's own words, which mutating webhooks it called for
	// each pod and in what order (see admittedBy).
	must(t, os.WriteFile(filepath.Join(dir, "audit-policy.yaml"), []byte(auditPolicy), 0o600))

	cp.adminToken = adminToken
	// Ports are picked free and bound a moment later by the process: on a
	// busy machine another process can take one in between. Such a start
	// is retried on other ports; any other failure fails the test.
	for attempt := 1; ; attempt++ {
		err := cp.boot(t, attempt)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("starting the control plane again, on other ports: %v", err)
	}
	cp.client, err = kubernetes.NewForConfig(cp.rest)
	must(t, err)
	cp.dyn, err = dynamic.NewForConfig(cp.rest)
	must(t, err)
	cp.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cp.client.Discovery()))

	// Vault's TokenReview identity, set up as Vault's Kubernetes auth
	// documentation does: a ServiceAccount bound to system:auth-delegator.
	reviewer := serviceAccount{Namespace: "vault", Name: "vault"}
	cp.bindAuthDelegator(t, reviewer)
	cp.reviewerJWT = cp.token(t, reviewer)
	return cp
}

// errPortTaken is a start that lost a port to another process.
var errPortTaken = errors.New("a port was taken before the process bound it")

// boot starts etcd and kube-apiserver on ports of their own and waits until
// the API server is ready; on failure both are stopped.
func (cp *controlPlane) boot(t *testing.T, attempt int) error {
	t.Helper()
	dir := cp.dir
	// etcd: one member, on loopback, without fsync (the data is the test's).
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	etcd := startProcess(t, "etcd", exec.CommandContext(ctx, builtTool(t, "ETCD_BIN"),
		"--name=e2e", fmt.Sprintf("--data-dir=%s-%d", filepath.Join(dir, "etcd"), attempt),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=e2e="+etcdPeer, "--unsafe-no-fsync", "--log-level=warn"), cancel)

	port := freePort(t)
	cp.url = fmt.Sprintf("https://127.0.0.1:%d", port)
	ctx, cancel = context.WithCancel(context.Background())
	apiserver := startProcess(t, "kube-apiserver", exec.CommandContext(ctx, builtTool(t, "KUBE_APISERVER_BIN"),
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--tls-cert-file="+filepath.Join(dir, "serving.crt"), "--tls-private-key-file="+filepath.Join(dir, "serving.key"),
		"--service-account-issuer="+tokenAudience,
		"--service-account-key-file="+filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=Node,RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--audit-policy-file="+filepath.Join(dir, "audit-policy.yaml"), "--audit-log-path="+cp.auditLog(),
		"--profiling=false", "--v=1"), cancel)

	cp.rest = &rest.Config{Host: cp.url, BearerToken: cp.adminToken, TLSClientConfig: rest.TLSClientConfig{CAData: cp.caPEM}, QPS: 200, Burst: 400}
	err := cp.waitReady(t, etcd, apiserver)
	if err == nil {
		return nil
	}
	etcd.stop()
	apiserver.stop()
	for _, p := range []*process{etcd, apiserver} {
		if strings.Contains(p.log.String(), "address already in use") {
			return fmt.Errorf("%w: %v", errPortTaken, err)
		}
	}
	return err
}

// auditPolicy logs pod creations, and nothing else, at Metadata level:
// enough for the mutating webhooks' audit annotations.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create]
  resources: [{group: "", resources: [pods]}]
- level: None
`

// auditLog is where the API server writes its audit events, one JSON
// object a line.
func (cp *controlPlane) auditLog() string { return filepath.Join(cp.dir, "audit.log") }

// bindAuthDelegator lets a ServiceAccount's tokens call the TokenReview
// API (the ClusterRole system:auth-delegator), creating the account.
func (cp *controlPlane) bindAuthDelegator(t testing.TB, sa serviceAccount) {
	t.Helper()
	cp.ensureServiceAccount(t, sa)
	_, err := cp.client.RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tokenreview-" + sa.Namespace + "-" + sa.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: sa.Namespace, Name: sa.Name}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// waitReady waits until the API server answers /readyz, or a process exits.
func (cp *controlPlane) waitReady(t *testing.T, procs ...*process) error {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, cp.caPEM)}}}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		for _, p := range procs {
			if err := p.running(); err != nil {
				return err
			}
		}
		req, _ := http.NewRequest(http.MethodGet, cp.url+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+cp.rest.BearerToken)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = string(body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after 90s: %s", last)
}

// vaultAuthConfig is what `vault write auth/<path>/config` needs to review
// tokens with this API server.
func (cp *controlPlane) vaultAuthConfig() map[string]any {
	return map[string]any{
		"kubernetes_host":      cp.url,
		"kubernetes_ca_cert":   string(cp.caPEM),
		"token_reviewer_jwt":   cp.reviewerJWT,
		"disable_local_ca_jwt": true,
	}
}

// ensureNamespace creates a namespace unless it exists, with the
// kube-root-ca.crt ConfigMap that kube-controller-manager's root CA
// publisher would put in it (every pod's projected token volume reads it).
func (cp *controlPlane) ensureNamespace(t testing.TB, name string) {
	t.Helper()
	// Every applied object and every token asks for its namespace: the
	// API server is asked once (no test deletes a namespace).
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.namespaces[name] {
		return
	}
	ctx := context.Background()
	_, err := cp.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err = cp.client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"},
		Data:       map[string]string{"ca.crt": string(cp.caPEM)},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if cp.namespaces == nil {
		cp.namespaces = map[string]bool{}
	}
	cp.namespaces[name] = true
}

// ensureServiceAccount creates a ServiceAccount (and its namespace) unless
// it exists.
func (cp *controlPlane) ensureServiceAccount(t testing.TB, sa serviceAccount) {
	t.Helper()
	cp.ensureNamespace(t, sa.Namespace)
	_, err := cp.client.CoreV1().ServiceAccounts(sa.Namespace).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa.Name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// token is a service-account token from the TokenRequest API, for the API
// server's own audience unless others are named: what a pod's projected
// token volume holds. The ServiceAccount is created when missing.
func (cp *controlPlane) token(t testing.TB, sa serviceAccount, audiences ...string) string {
	t.Helper()
	return cp.tokenFor(t, sa, nil, audiences...)
}

// tokenFor is a token bound to a pod, as the kubelet requests it for the
// pod's projected volume; nil pod for an unbound one.
func (cp *controlPlane) tokenFor(t testing.TB, sa serviceAccount, pod *corev1.Pod, audiences ...string) string {
	t.Helper()
	return cp.tokenForSeconds(t, sa, pod, nil, audiences...)
}

// tokenForSeconds is tokenFor with the lifetime a projected volume asks
// for (nil: an hour).
func (cp *controlPlane) tokenForSeconds(t testing.TB, sa serviceAccount, pod *corev1.Pod, seconds *int64, audiences ...string) string {
	t.Helper()
	cp.ensureServiceAccount(t, sa)
	expiry := int64(3600)
	if seconds != nil {
		expiry = *seconds
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &expiry}}
	if pod != nil {
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	got, err := cp.client.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(context.Background(), sa.Name, req, metav1.CreateOptions{})
	must(t, err)
	return got.Status.Token
}

// kubeconfig writes a kubeconfig for the API server with the given bearer
// token, for a process the test starts (istiod).
func (cp *controlPlane) kubeconfig(t testing.TB, dir, token string) string {
	t.Helper()
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "e2e",
		"clusters": []any{map[string]any{"name": "e2e", "cluster": map[string]any{"server": cp.url, "certificate-authority-data": cp.caPEM}}},
		"users":    []any{map[string]any{"name": "e2e", "user": map[string]any{"token": token}}},
		"contexts": []any{map[string]any{"name": "e2e", "context": map[string]any{"cluster": "e2e", "user": "e2e"}}},
	}
	b, err := yaml.Marshal(cfg)
	must(t, err)
	p := filepath.Join(dir, "kubeconfig")
	must(t, os.WriteFile(p, b, 0o600))
	return p
}

// applyOptions says how apply sends each object.
type applyOptions struct {
	dryRun bool // server-side dry run: validated and admitted, not stored
}

// apply server-side applies every object of a multi-document stream, in
// the order kubectl would need: namespaces and CRDs first, then the rest.
// Objects in a namespace that does not exist get it created.
func (cp *controlPlane) apply(t testing.TB, manifests []byte, opts applyOptions) []*unstructured.Unstructured {
	t.Helper()
	objs := decodeObjects(t, manifests)
	first := func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition"
	}
	var ordered []*unstructured.Unstructured
	for _, o := range objs {
		if first(o) {
			ordered = append(ordered, o)
		}
	}
	for _, o := range objs {
		if !first(o) {
			ordered = append(ordered, o)
		}
	}
	var applied []*unstructured.Unstructured
	for _, o := range ordered {
		if _, err := cp.applyObject(t, o, opts); err != nil {
			t.Fatalf("applying %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		applied = append(applied, o)
		if o.GetKind() == "CustomResourceDefinition" && !opts.dryRun {
			cp.waitEstablished(t, o.GetName())
		}
	}
	return applied
}

// applyObject server-side applies one object as field manager e2e and
// returns the object as the server stored it (with dryRun: would store it).
func (cp *controlPlane) applyObject(t testing.TB, o *unstructured.Unstructured, opts applyOptions) (*unstructured.Unstructured, error) {
	gvk := o.GroupVersionKind()
	mapping, err := cp.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		cp.mapper.Reset() // a CRD applied a moment ago
		if mapping, err = cp.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, err
		}
	}
	var ri dynamic.ResourceInterface = cp.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		if !opts.dryRun {
			cp.ensureNamespace(t, ns)
		}
		ri = cp.dyn.Resource(mapping.Resource).Namespace(ns)
	}
	body, err := o.MarshalJSON()
	if err != nil {
		return nil, err
	}
	po := metav1.PatchOptions{FieldManager: "e2e", Force: ptrTo(true)}
	if opts.dryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Patch(context.Background(), o.GetName(), types.ApplyPatchType, body, po)
}

func (cp *controlPlane) waitEstablished(t testing.TB, crd string) {
	t.Helper()
	gvr := schemaCRD
	for i := 0; i < 100; i++ {
		got, err := cp.dyn.Resource(gvr).Get(context.Background(), crd, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s not established", crd)
}

// decodeObjects reads every non-empty document of a YAML stream.
func decodeObjects(t testing.TB, manifests []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

func ptrTo[T any](v T) *T { return &v }

func randomToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 24)
	_, err := rand.Read(b)
	must(t, err)
	return fmt.Sprintf("%x", b)
}

func certPool(t testing.TB, pemBytes []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the PEM")
	}
	return p
}

// selfSignedCA is a CA for the test's own TLS servers (the API server, the
// injector's webhook), unrelated to the mesh's CA in Vault.
func selfSignedCA(t testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	must(t, err)
	c, err := x509.ParseCertificate(der)
	must(t, err)
	return c, key
}

// issueServing is a TLS server certificate signed by ca.
func issueServing(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, dns []string, ips []net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: dns, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return []byte(pemCert(der)), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// schemaCRD is where CustomResourceDefinitions are served.
var schemaCRD = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
