// Command cert-manager-vault runs cert-manager's own controllers for a
// Vault Issuer, built from the cert-manager Go module: the module of
// cert-manager's controller binary (cmd/controller) is not served, so this
// main does the part of its wiring these controllers need. It builds the
// controller ContextFactory from a kubeconfig, constructs each named
// controller from cert-manager's registry (pkg/controller.Known, filled by
// the packages' init functions), starts the shared informer factories and
// runs the controllers until SIGINT or SIGTERM, as cmd/controller's Run
// does. Left out: leader election (one process per test), the metrics and
// health servers, the webhook, and every controller not named.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// The controllers, registered by their packages' init functions.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/vault"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	// The Certificate controllers, which turn a Certificate into a private
	// key, a CertificateRequest and, once it is signed, the Certificate's
	// Secret (istio-csr's chart asks for istiod-tls this way).
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	// The Vault issuer type, which the issuers controller's factory
	// constructs to check an Issuer of type Vault (its Setup logs in).
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
)

// defaultControllers are cert-manager's names for the issuers controller,
// the certificaterequests-approver (which, with no policy engine, approves
// every CertificateRequest: cert-manager's default), the Vault signer, and
// the six controllers that issue a Certificate into its Secret.
const defaultControllers = "issuers,certificaterequests-approver,certificaterequests-issuer-vault," +
	"certificates-trigger,certificates-key-manager,certificates-request-manager," +
	"certificates-issuing,certificates-readiness,certificates-revision-manager"

func main() {
	klog.InitFlags(nil)
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	namespace := flag.String("namespace", "", "the one namespace to watch (all when empty)")
	controllers := flag.String("controllers", defaultControllers, "comma-separated controllers to run")
	workers := flag.Int("workers", 2, "workers per controller")
	flag.Parse()
	logf.InitLogs()
	defer logf.FlushLogs()
	if err := run(*kubeconfig, *namespace, strings.Split(*controllers, ","), *workers); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-vault:", err)
		logf.FlushLogs()
		os.Exit(1)
	}
}

func run(kubeconfig, namespace string, names []string, workers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager")

	// The options cmd/controller passes for these controllers, at its
	// defaults (internal/apis/config/controller/v1alpha1/defaults.go).
	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		Namespace:          namespace,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace: "kube-system",
		},
		CertificateOptions: controller.CertificateOptions{
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
	if err != nil {
		return err
	}
	known := controller.Known()
	var ifaces []controller.Interface
	for _, n := range names {
		fn, ok := known[n]
		if !ok {
			var all []string
			for k := range known {
				all = append(all, k)
			}
			sort.Strings(all)
			return fmt.Errorf("no controller %q (built in: %s)", n, strings.Join(all, ", "))
		}
		iface, err := fn(factory)
		if err != nil {
			return fmt.Errorf("constructing controller %s: %w", n, err)
		}
		ifaces = append(ifaces, iface)
	}

	// The controllers registered their informers while being constructed;
	// the factories start them now, as cmd/controller does after its loop.
	cctx, err := factory.Build()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ifaces))
	for i, iface := range ifaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := iface.Run(workers, ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", names[i], err)
				stop()
			}
		}()
	}
	cctx.SharedInformerFactory.Start(ctx.Done())
	cctx.KubeSharedInformerFactory.Start(ctx.Done())
	klog.InfoS("cert-manager controllers started", "controllers", names, "namespace", namespace)
	wg.Wait()
	close(errs)
	return <-errs
}
