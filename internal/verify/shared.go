package verify

import "crypto/x509"

// What the other command that talks to Vault with this package's client
// (bootstrap, which writes what verify reads) shares with verify: its error
// wording and its PEM checks, so that both say the same thing of the same
// state.

// ExplainAPIError says what Vault answered to a request and what to do;
// on403 is the likely cause of a permission denied.
func ExplainAPIError(err error, on403 string) string { return explainAPIError(err, on403) }

// RedactText removes the userinfo of every URL in a message.
func RedactText(s string) string { return redactText(s) }

// ParseCerts decodes one or more CERTIFICATE blocks and nothing else.
func ParseCerts(data string) ([]*x509.Certificate, error) { return parseCerts(data) }

// KeyMatches checks that keyPEM is exactly one private key and that cert
// holds its public key. Its errors never quote the key.
func KeyMatches(keyPEM string, cert *x509.Certificate) (bool, error) {
	key, err := parseKey(keyPEM)
	if err != nil {
		return false, err
	}
	return samePublicKey(key.Public(), cert.PublicKey), nil
}
