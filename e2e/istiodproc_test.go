package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	pb "istio.io/api/security/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// istioChart renders a chart of the istio module this module requires
// (the istiod binary's own version) with helm template, once per run.
func istioChart(t *testing.T, name, release string, chartPath ...string) string {
	t.Helper()
	chartsMu.Lock()
	defer chartsMu.Unlock()
	if out, ok := charts[name]; ok {
		return out
	}
	helm := checkedTool(t, "HELM3_BIN")
	dir := filepath.Join(append([]string{filepath.Dir(istioDiscoveryChart(t)), ".."}, chartPath...)...)
	out, err := exec.Command(helm, "template", release, dir, "-n", "istio-system").Output()
	if err != nil {
		t.Fatalf("helm template %s: %v", dir, err)
	}
	charts[name] = string(out)
	return string(out)
}

var (
	chartsMu sync.Mutex
	charts   = map[string]string{}
)

// istioCRDs is the base chart: Istio's CRDs, which istiod watches.
func istioCRDs(t *testing.T) string { return istioChart(t, "base", "base", "base") }

// istiodChart is the istio-discovery chart, everything istiod needs from
// the API server (its ServiceAccount, RBAC, mesh and injector ConfigMaps).
func istiodChart(t *testing.T) string {
	return istioChart(t, "istiod", "istiod", "istio-control", "istio-discovery")
}

// istiodBinary is the real pilot-discovery, `make controlplane` built from
// the istio version the e2e module requires.
func istiodBinary(t testing.TB) string { return builtTool(t, "ISTIOD_BIN") }

// istiodRun is the real istiod process, started from the discovery
// container of a pod the API server holds.
type istiodRun struct {
	proc                                                    *process
	httpAddr, grpcAddr, secureGRPCAddr, httpsAddr, monitAdr string
}

// startIstiod starts istiod as the kubelet would start the pod's discovery
// container: its args and env (ROOT_CA_DIR among them) with paths mapped
// onto the pod's volumes, its uid. What a pod has that a process on this
// machine lacks is given by flags after the container's own: the API
// server (a kubeconfig with a token of the pod's ServiceAccount, bound to
// the pod, so istiod has exactly the chart's RBAC) and loopback ports, as
// several istiods may run on the machine. extraEnv stands in for what a
// Service and DNS would give (see the gateway test).
func (r *podRun) startIstiod(t *testing.T, extraEnv ...string) *istiodRun {
	t.Helper()
	c := findContainer(r.pod.Spec.Containers, "discovery")
	if c == nil {
		t.Fatalf("pod %s has no discovery container", r.pod.Name)
	}
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	ir := &istiodRun{httpAddr: addr(), grpcAddr: addr(), secureGRPCAddr: addr(), httpsAddr: addr(), monitAdr: addr()}

	kdir := filepath.Join(r.dir, "kube")
	must(t, os.Mkdir(kdir, 0o700))
	sa := serviceAccount{Namespace: r.pod.Namespace, Name: r.pod.Spec.ServiceAccountName}
	kubeconfig := r.cp.kubeconfig(t, kdir, r.cp.tokenFor(t, sa, r.pod))
	uid, gid := runAs(r.pod, c)
	if os.Geteuid() == 0 && uid >= 0 {
		must(t, os.Chown(kdir, uid, max(gid, 0)))
		must(t, os.Chown(kubeconfig, uid, max(gid, 0)))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := r.command(t, ctx, c, []string{"pilot-discovery"}, map[string]string{"pilot-discovery": istiodBinary(t)},
		"--kubeconfig="+kubeconfig,
		"--httpAddr="+ir.httpAddr, "--grpcAddr="+ir.grpcAddr, "--secureGRPCAddr="+ir.secureGRPCAddr,
		"--httpsAddr="+ir.httpsAddr, "--monitoringAddr="+ir.monitAdr,
		fmt.Sprintf("--ctrlz_port=%d", freePort(t)), "--ctrlz_address=127.0.0.1")
	cmd.Env = append(cmd.Env, extraEnv...)
	// Stopped as the kubelet stops a container: SIGTERM, then a kill after
	// a grace period. istiod then gives up its leader leases, or the next
	// istiod of the namespace waits for them to expire before it publishes
	// the root.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	ir.proc = startProcess(t, "istiod", cmd, cancel)
	return ir
}

// waitReady waits until istiod's readiness endpoint answers 200, failing
// the test if istiod exits first.
func (ir *istiodRun) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if err := ir.proc.running(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + ir.httpAddr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("istiod not ready after 90s:\n%s", tail(ir.proc.log.String(), 8<<10))
}

// waitExit waits for istiod to exit, and reports whether it did.
func (ir *istiodRun) waitExit(d time.Duration) bool {
	select {
	case <-ir.proc.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// sign sends a workload's CSR to istiod's CA over its real gRPC API
// (IstioCertificateService/CreateCertificate on the secure port), as the
// workload's proxy would: TLS to istiod verified against roots, and the
// workload's ServiceAccount token (audience istio-ca) as the credential.
// It returns the chain istiod answered, leaf first.
func (ir *istiodRun) sign(t *testing.T, roots *x509.CertPool, token string, csrPEM []byte) ([]*x509.Certificate, error) {
	t.Helper()
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "istiod.istio-system.svc", MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(ir.secureGRPCAddr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &pb.IstioCertificateRequest{
		Csr: string(csrPEM), ValidityDuration: 3600,
	})
	if err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	for _, c := range resp.CertChain {
		for rest := []byte(c); ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			chain = append(chain, cert)
		}
	}
	return chain, nil
}

// workloadSigned has istiod sign a CSR for a workload ServiceAccount and
// checks the chain verifies to root through intermediate, istiod's signing
// CA; it returns the leaf.
func (ir *istiodRun) workloadSigned(t *testing.T, cp *controlPlane, rootPEM, intermediatePEM string) *x509.Certificate {
	t.Helper()
	sa := serviceAccount{Namespace: "e2e-workload", Name: "workload"}
	token := cp.token(t, sa, "istio-ca")
	roots := certPool(t, []byte(rootPEM))
	spiffe := fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", sa.Namespace, sa.Name)
	chain, err := ir.sign(t, roots, token, workloadCSR(t, spiffe))
	if err != nil {
		t.Fatalf("istiod's CreateCertificate: %v", err)
	}
	leaf := chain[0]
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != spiffe {
		t.Errorf("the workload certificate is for %v, want %s", leaf.URIs, spiffe)
	}
	inter := parsePEMCert(t, []byte(intermediatePEM))
	if len(chain) < 2 || !chain[1].Equal(inter) {
		t.Errorf("istiod sends a chain whose CA is not Vault's intermediate %s", inter.Subject)
	}
	if err := leaf.CheckSignatureFrom(inter); err != nil {
		t.Errorf("the workload certificate is not signed by Vault's intermediate %s: %v", inter.Subject, err)
	}
	// Verified as a peer would: with the chain istiod sent, to Vault's root.
	pool := x509.NewCertPool()
	for _, c := range chain[1:] {
		pool.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the workload certificate does not verify to Vault's root with the chain istiod sent: %v", err)
	}
	return leaf
}

// publishedRoot waits for istiod to publish its root in a new namespace
// (the istio-ca-root-cert ConfigMap) and returns it.
func (ir *istiodRun) publishedRoot(t *testing.T, cp *controlPlane, namespace string) string {
	t.Helper()
	cp.ensureNamespace(t, namespace)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := ir.proc.running(); err != nil {
			t.Fatal(err)
		}
		cm, err := cp.client.CoreV1().ConfigMaps(namespace).Get(context.Background(), "istio-ca-root-cert", metav1.GetOptions{})
		if err == nil {
			return cm.Data["root-cert.pem"]
		}
		if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("istiod published no istio-ca-root-cert in %s after 60s", namespace)
	return ""
}
