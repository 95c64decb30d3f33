package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// caBundle is a root and an intermediate CA generated in the test, in the
// shapes the four istiod files take.
type caBundle struct {
	rootPEM, certPEM, keyPEM, chainPEM string
	cert                               *x509.Certificate
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	return k
}

func caTemplate(cn string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Istio"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

// newCA makes a root and an intermediate signed by it. A second call with
// the same root (rotation) makes a new intermediate.
func newCA(t testing.TB, root *x509.Certificate, rootKey crypto.Signer, rootPEM, cn string, serial int64) (caBundle, *x509.Certificate, crypto.Signer, string) {
	t.Helper()
	if root == nil {
		rootKey = newKey(t)
		tmpl := caTemplate("Root CA", 1)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
		must(t, err)
		root, err = x509.ParseCertificate(der)
		must(t, err)
		rootPEM = pemCert(der)
	}
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, caTemplate(cn, serial), root, key.Public(), rootKey)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	b := caBundle{
		rootPEM: rootPEM,
		certPEM: pemCert(der),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		cert:    cert,
	}
	b.chainPEM = b.certPEM + b.rootPEM // intermediate first, root last, as istiod wants
	return b, root, rootKey, rootPEM
}

// fields is the bundle under the default KV field names (seed 000's).
func (b caBundle) fields() map[string]any {
	return map[string]any{"ca_key": b.keyPEM, "ca_cert": b.certPEM, "cert_chain": b.chainPEM, "root_cert": b.rootPEM}
}
