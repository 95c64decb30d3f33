package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path"
	"testing"
	"time"

	"istio.io/istio/security/pkg/pki/ca"
)

// The library-level istiod: its CA code in the test process. The chain
// tests start the real istiod (istiodproc_test.go); this remains where a
// process cannot show it: a bundle istiod loads but signs badly with
// (TestVerifyChainWithoutCACert needs the signing error itself, which the
// process only logs), and the file names istiod looks for (istiodBundle).

// istiodBundle is how istiod finds its signing files in ROOT_CA_DIR: it
// mirrors detectSigningCABundleAndCRL and checkCABundleCompleteness in
// pilot/pkg/bootstrap/istio_ca.go (unexported there), with the same file
// names from security/pkg/pki/ca. complete=false is the case in which istiod
// silently starts a self-signed CA instead.
func istiodBundle(dir string) (bundle ca.SigningCAFileBundle, complete bool) {
	tls := path.Join(dir, ca.TLSSecretCACertFile)
	if _, err := os.Stat(tls); err == nil {
		bundle = ca.SigningCAFileBundle{
			RootCertFile:    path.Join(dir, ca.TLSSecretRootCertFile),
			CertChainFiles:  []string{tls, path.Join(dir, ca.TLSSecretRootCertFile)},
			SigningCertFile: tls,
			SigningKeyFile:  path.Join(dir, ca.TLSSecretCAPrivateKeyFile),
		}
	} else {
		bundle = ca.SigningCAFileBundle{
			RootCertFile:    path.Join(dir, ca.RootCertFile),
			CertChainFiles:  []string{path.Join(dir, ca.CertChainFile)},
			SigningCertFile: path.Join(dir, ca.CACertFile),
			SigningKeyFile:  path.Join(dir, ca.CAPrivateKeyFile),
		}
	}
	complete = true
	for _, f := range append([]string{bundle.RootCertFile, bundle.SigningCertFile, bundle.SigningKeyFile}, bundle.CertChainFiles[0]) {
		if _, err := os.Stat(f); err != nil {
			complete = false
		}
	}
	return bundle, complete
}

// istiodSigns loads the rendered directory with istiod's plugged-in CA code,
// signs a workload CSR and verifies the workload certificate up to
// root-cert.pem (ca.crt). It returns the CA certificate istiod signs with.
func istiodSigns(t testing.TB, dir string) *x509.Certificate {
	t.Helper()
	signing, err := istiodSign(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	return signing
}

// istiodSign is istiodSigns returning what went wrong instead of failing
// the test, for bundles that must fail.
func istiodSign(t testing.TB, dir string) (*x509.Certificate, error) {
	t.Helper()
	bundle, complete := istiodBundle(dir)
	if !complete {
		return nil, fmt.Errorf("incomplete bundle in %s: istiod would run a self-signed CA", dir)
	}
	opts, err := ca.NewPluggedCertIstioCAOptions(bundle, time.Hour, 24*time.Hour, 2048)
	if err != nil {
		return nil, fmt.Errorf("istiod refuses the plugged-in CA: %v", err)
	}
	istioCA, err := ca.NewIstioCA(opts)
	must(t, err)

	spiffe := "spiffe://cluster.local/ns/default/sa/productpage"
	csrPEM := workloadCSR(t, spiffe)
	leafPEM, err := istioCA.Sign(csrPEM, ca.CertOpts{SubjectIDs: []string{spiffe}, TTL: time.Hour})
	if err != nil {
		return nil, fmt.Errorf("istiod cannot sign with the plugged-in CA: %v", err)
	}
	leaf := parsePEMCert(t, leafPEM)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	rootPEM, err := os.ReadFile(bundle.RootCertFile)
	must(t, err)
	roots.AppendCertsFromPEM(rootPEM)
	for _, f := range bundle.CertChainFiles {
		b, err := os.ReadFile(f)
		must(t, err)
		inter.AppendCertsFromPEM(b)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("workload certificate does not verify to %s: %v", bundle.RootCertFile, err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != spiffe {
		return nil, fmt.Errorf("workload certificate has URIs %v, want %s", leaf.URIs, spiffe)
	}
	signing, err := os.ReadFile(bundle.SigningCertFile)
	must(t, err)
	return parsePEMCert(t, signing), nil
}

func workloadCSR(t testing.TB, spiffe string) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	u, err := url.Parse(spiffe)
	must(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{u}}, key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func parsePEMCert(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal(fmt.Errorf("no PEM in %q", b))
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	must(t, err)
	return c
}
