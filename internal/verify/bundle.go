package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// parseCerts decodes one or more CERTIFICATE blocks and nothing else.
func parseCerts(data string) ([]*x509.Certificate, error) {
	rest := []byte(data)
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block where a CERTIFICATE is expected", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("holds a certificate that does not parse: %v", err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("holds text that is not PEM")
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return certs, nil
}

// parseKey decodes exactly one private key block.
func parseKey(data string) (crypto.Signer, error) {
	b, rest := pem.Decode([]byte(data))
	if b == nil {
		return nil, errors.New("holds no PEM private key")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("holds more than one PEM block; the key file must hold only the key")
	}
	var key any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("holds a %q PEM block where a private key is expected", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("holds a private key that does not parse: %v", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("holds a private key of unsupported type %T", key)
	}
	return s, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

// chainOrderError reports a chain whose certificates are not each signed by
// the next one (Istio wants the CA cert first and the root last).
func chainOrderError(chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return fmt.Errorf("certificate %d (%s) is not signed by certificate %d (%s): order it from the CA certificate up to the root",
				i+1, chain[i].Subject, i+2, chain[i+1].Subject)
		}
	}
	return nil
}

// rootOf is the root among roots a chain's last certificate is, or is
// signed by; nil if none.
func rootOf(last *x509.Certificate, roots []*x509.Certificate) *x509.Certificate {
	for _, r := range roots {
		if last.Equal(r) || last.CheckSignatureFrom(r) == nil {
			return r
		}
	}
	return nil
}

func daysLeft(c *x509.Certificate, now time.Time) int {
	return int(c.NotAfter.Sub(now).Hours() / 24)
}
