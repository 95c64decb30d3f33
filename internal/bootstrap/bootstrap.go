// Package bootstrap mints the intermediate CA of a PKI source
// (spec.source.pki) in a live Vault, once per cluster, as seeds 001 and 002
// do by hand: it enables the intermediate's PKI mount if absent, generates
// the intermediate with an exported key, has the root mount sign it, sets
// it (with the chain up to the root) as the mount's default issuer, and
// stores the key, which the PKI engine returns only this once, in KV v2
// at the config's key path. The PKI layout then reads what it made:
// <mount>/cert/ca, <mount>/cert/ca_chain, <rootMount>/cert/ca and the key.
//
// A run first reads everything it depends on and changes nothing when the
// intermediate is there, valid, chains to the root and its key in KV is
// its. A state an earlier run left half done (a CA without its key in KV,
// a key without a CA, a key of another certificate) is named with what to
// do; a key is never overwritten but as a new KV version by --rotate
// (Options.Rotate), which mints the next intermediate and makes it the
// mount's default issuer (Vault 1.11 and later keep every issuer).
//
// The key is never printed: every message passes through a redactor that
// knows it, and the token.
package bootstrap

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/verify"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Options tune a run.
type Options struct {
	// TTL is the intermediate's lifetime, and the max lease TTL of a mount
	// the run enables.
	TTL time.Duration
	// CommonName is the intermediate's subject common name.
	CommonName string
	// KeyType is "rsa" (2048 bits) or "ec" (P-256).
	KeyType string
	// Rotate mints the next intermediate even when the current one is good.
	Rotate bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log, if set, gets one line a step (--verbose); never the key.
	Log io.Writer
}

// Result is what a run did.
type Result struct {
	// Summary is one line for stdout.
	Summary string
	// Warnings are for stderr.
	Warnings []string
}

// Error is a failed run: what failed, what to do, and what the run had
// changed in Vault before it failed.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

// KeyTypes are the key types Options.KeyType takes, and their bits.
var KeyTypes = map[string]int{"rsa": 2048, "ec": 256}

// Run mints or checks the intermediate of pki. client carries the token.
func Run(ctx context.Context, client *api.Client, pki *config.PKI, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &run{ctx: ctx, c: client, pki: pki, o: o}
	r.kvMount, r.kvPath = kvLocation(pki.Key.KVSecret)
	r.secret(client.Token())
	res, err := r.run()
	if err != nil {
		msg := r.redact(err.Error())
		if len(r.done) > 0 {
			msg += "\n(changed in Vault before this: " + strings.Join(r.done, "; ") + ")"
		}
		return nil, &Error{msg}
	}
	res.Summary = r.redact(res.Summary)
	for i, w := range res.Warnings {
		res.Warnings[i] = r.redact(w)
	}
	return res, nil
}

// kvLocation is the KV v2 mount and the secret's path in it, as `vault kv
// put -mount=MOUNT PATH` takes them.
func kvLocation(s config.KVSecret) (mount, path string) {
	mount, path, _ = strings.Cut(wiring.KVAPIPath(s), "/data/")
	return mount, path
}

type run struct {
	ctx             context.Context
	c               *api.Client
	pki             *config.PKI
	o               Options
	kvMount, kvPath string
	// secrets are never printed: the token, and the key once Vault has
	// returned it (each line of its PEM too, in case one is quoted).
	secrets []string
	// done are the changes made so far, for a failure to name.
	done     []string
	warnings []string
}

func (r *run) secret(s string) {
	if len(s) < 8 {
		return // a dev token such as "root" would blank out words
	}
	r.secrets = append(r.secrets, s, strings.TrimSpace(s))
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			r.secrets = append(r.secrets, line)
		}
	}
}

func (r *run) redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "xxxxx")
	}
	return verify.RedactText(s)
}

func (r *run) log(format string, args ...any) {
	if r.o.Log != nil {
		fmt.Fprintf(r.o.Log, "istio-vault-ca bootstrap: %s\n", r.redact(fmt.Sprintf(format, args...)))
	}
}

// keyAt names the key's place as the config and `vault kv get` do.
func (r *run) keyAt() string {
	return fmt.Sprintf("%s#%s (vault kv get -mount=%s -field=%s %s)", r.pki.Key.Path, r.pki.Key.Field, r.kvMount, r.pki.Key.Field, r.kvPath)
}

func (r *run) run() (*Result, error) {
	st, err := r.observe()
	if err != nil {
		return nil, err
	}
	if !r.o.Rotate {
		if err := st.mustMint(r); err != nil {
			if errors.Is(err, errNothingToDo) {
				return &Result{Summary: fmt.Sprintf("nothing to do: %s's intermediate %s (serial %s, expires %s) chains to %s's root %s, and its key at %s#%s (KV version %d) is its; --rotate makes the next one",
					r.pki.Mount, describe(st.ca), serial(st.ca), date(st.ca), r.pki.RootMount, describe(st.root), r.pki.Key.Path, r.pki.Key.Field, st.kvVersion)}, nil
			}
			return nil, err
		}
	}
	if err := r.preflight(st); err != nil {
		return nil, err
	}
	return r.mint(st)
}

// errNothingToDo is mustMint's answer for a good intermediate.
var errNothingToDo = errors.New("nothing to do")

// mustMint decides, without --rotate, whether the state is a first run
// (nil), a good intermediate (errNothingToDo) or a state to name.
func (st *state) mustMint(r *run) error {
	key := r.keyAt()
	switch {
	case st.ca == nil && !st.hasKey:
		return nil
	case st.ca == nil:
		why := "PKI mount " + r.pki.Mount + " does not exist"
		if st.mountType != "" {
			why = "PKI mount " + r.pki.Mount + " has no default issuer (no CA certificate)"
		}
		return fmt.Errorf("%s, but KV holds a key at %s: an earlier run stopped after storing the key, or the key belongs to another intermediate; bootstrap never overwrites a key silently: if nothing uses that key, delete it (vault kv metadata delete -mount=%s %s) and run bootstrap again, or run bootstrap --rotate to mint a new intermediate and store its key as a new KV version (the old one stays in the secret's history)",
			why, key, r.kvMount, r.kvPath)
	case !st.hasKey:
		return fmt.Errorf("PKI mount %s has a CA certificate (%s, serial %s) but KV has no key for it at %s: an earlier run stopped before storing the key, or the mount was made by hand; Vault never returns an issuer's key again: put the key you kept into that field, or run bootstrap --rotate to mint a new intermediate whose key is stored",
			r.pki.Mount, describe(st.ca), serial(st.ca), key)
	}
	if ok, err := verify.KeyMatches(st.key, st.ca); err != nil || !ok {
		why := "does not match the public key of"
		if err != nil {
			why = "is not a usable private key (it " + err.Error() + ") for"
		}
		return fmt.Errorf("the key at %s %s %s's CA certificate (%s, serial %s): the key and certificate come from different issuances, and istiod would load a bundle that cannot sign; bootstrap never overwrites a key silently: run bootstrap --rotate to mint a new intermediate and store its key as a new KV version (the mismatched one stays in the secret's history), or put the right key back into the field",
			key, why, r.pki.Mount, describe(st.ca), serial(st.ca))
	}
	if err := st.ca.CheckSignatureFrom(st.root); err != nil {
		return fmt.Errorf("%s's CA certificate (%s, issued by %s) is not signed by %s's root (%s): workload certificates would not verify to the root istiod publishes; run bootstrap --rotate to mint an intermediate the root signs",
			r.pki.Mount, describe(st.ca), st.ca.Issuer, r.pki.RootMount, describe(st.root))
	}
	if len(st.chain) == 0 || !st.chain[0].Equal(st.ca) {
		return fmt.Errorf("%s/cert/ca_chain does not start with the mount's CA certificate (%s): istiod's cert-chain.pem would not lead from it to the root; run bootstrap --rotate to set a new intermediate with its chain",
			r.pki.Mount, describe(st.ca))
	}
	if now := r.o.Now(); now.After(st.ca.NotAfter) {
		return fmt.Errorf("%s's intermediate %s expired on %s: run bootstrap --rotate to mint the next one", r.pki.Mount, describe(st.ca), date(st.ca))
	}
	return errNothingToDo
}

// state is what Vault holds before a run changes anything.
type state struct {
	mountType string // the intermediate mount's engine; "" if absent
	ca        *x509.Certificate
	chain     []*x509.Certificate
	root      *x509.Certificate
	rootPEM   string
	kvVersion int            // the key secret's current version; 0 if none
	kvData    map[string]any // its latest version's data; nil if none or deleted
	key       string
	hasKey    bool
}

// observe reads what a run depends on, changing nothing.
func (r *run) observe() (*state, error) {
	st := &state{}
	// The root: a PKI mount whose default issuer is a CA.
	rootType, _, err := r.mountType(r.pki.RootMount)
	if err != nil {
		return nil, err
	}
	if rootType != "pki" {
		what := "does not exist"
		if rootType != "" {
			what = "is " + article(rootType) + " " + rootType + " mount, not pki"
		}
		return nil, fmt.Errorf("rootMount %s %s: bootstrap signs with a root CA it does not create; make one first (vault secrets enable -path=%s pki; vault write %s/root/generate/internal common_name=... ttl=87600h), or fix spec.source.pki.rootMount",
			r.pki.RootMount, what, r.pki.RootMount, r.pki.RootMount)
	}
	st.rootPEM, err = r.readCert(r.pki.RootMount + "/cert/ca")
	if err != nil {
		return nil, err
	}
	if st.rootPEM == "" {
		return nil, fmt.Errorf("rootMount %s has no CA certificate (no default issuer): generate or import the root first (vault write %s/root/generate/internal common_name=... ttl=87600h)", r.pki.RootMount, r.pki.RootMount)
	}
	if st.root, err = firstCert(r.pki.RootMount+"/cert/ca", st.rootPEM); err != nil {
		return nil, err
	}

	// The intermediate mount, if there is one, and its default issuer.
	if st.mountType, _, err = r.mountType(r.pki.Mount); err != nil {
		return nil, err
	}
	switch st.mountType {
	case "":
	case "pki":
		if err := r.readIntermediate(st); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("mount %s is %s %s mount, not pki: spec.source.pki.mount must name the intermediate's PKI mount; fix the config, or move that mount", r.pki.Mount, article(st.mountType), st.mountType)
	}

	// The key's KV v2 mount and secret.
	kvType, kvVersion, err := r.mountType(r.kvMount)
	if err != nil {
		return nil, err
	}
	switch {
	case kvType == "":
		return nil, fmt.Errorf("no KV mount %s for the key at %s: enable it first (vault secrets enable -path=%s kv-v2), or fix spec.source.pki.key", r.kvMount, r.pki.Key.Path, r.kvMount)
	case kvType != "kv":
		return nil, fmt.Errorf("mount %s, where the key goes (%s), is %s %s mount, not kv: fix spec.source.pki.key", r.kvMount, r.pki.Key.Path, article(kvType), kvType)
	}
	if kvVersion != "2" {
		return nil, fmt.Errorf("KV mount %s is version %s, but the key is stored in KV version 2 (spec.source.pki.key.version: 2), whose history keeps the previous key when --rotate stores the next: use a KV v2 mount (vault secrets enable -path=NAME kv-v2) or upgrade this one (vault kv enable-versioning %s)", r.kvMount, kvVersion, r.kvMount)
	}
	s, err := r.c.KVv2(r.kvMount).Get(r.ctx, r.kvPath)
	switch {
	case errors.Is(err, api.ErrSecretNotFound):
	case err != nil:
		return nil, fmt.Errorf("reading the key's secret %s: %s", r.pki.Key.Path, verify.ExplainAPIError(err, "the token may not read it; bootstrap reads it to never overwrite a key silently"))
	default:
		if s.VersionMetadata != nil {
			st.kvVersion = s.VersionMetadata.Version
		}
		st.kvData = s.Data
		if v, ok := s.Data[r.pki.Key.Field]; ok {
			st.key, _ = v.(string)
			st.hasKey = true
			r.secret(st.key)
		}
	}
	r.log("read: root %s (%s, expires %s); intermediate mount %s %s; key secret %s at KV version %d, field %s %s",
		r.pki.RootMount, describe(st.root), date(st.root), r.pki.Mount, mountState(st), r.pki.Key.Path, st.kvVersion, r.pki.Key.Field, presence(st.hasKey))
	return st, nil
}

func mountState(st *state) string {
	switch {
	case st.mountType == "":
		return "absent"
	case st.ca == nil:
		return "without a CA"
	}
	return "with CA " + describe(st.ca) + " (serial " + serial(st.ca) + ", expires " + date(st.ca) + ")"
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}

// readIntermediate reads the mount's default issuer as the agent will:
// cert/ca and cert/ca_chain.
func (r *run) readIntermediate(st *state) error {
	def, err := r.defaultIssuer()
	if err != nil || def == "" {
		return err
	}
	caPEM, err := r.readCert(r.pki.Mount + "/cert/ca")
	if err != nil || caPEM == "" {
		return err
	}
	if st.ca, err = firstCert(r.pki.Mount+"/cert/ca", caPEM); err != nil {
		return err
	}
	chainPEM, err := r.readCert(r.pki.Mount + "/cert/ca_chain")
	if err != nil {
		return err
	}
	if chainPEM != "" {
		if st.chain, err = verify.ParseCerts(chainPEM); err != nil {
			return fmt.Errorf("%s/cert/ca_chain %v", r.pki.Mount, err)
		}
	}
	return nil
}

// defaultIssuer is the ID of the mount's default issuer, "" if none.
func (r *run) defaultIssuer() (string, error) {
	path := r.pki.Mount + "/config/issuers"
	s, err := r.c.Logical().ReadWithContext(r.ctx, path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %s", path, verify.ExplainAPIError(err, "the token may not read it (bootstrap needs Vault 1.11 or later, whose PKI mounts keep several issuers)"))
	}
	if s == nil || s.Data == nil {
		return "", nil
	}
	id, _ := s.Data["default"].(string)
	return id, nil
}

// readCert reads the certificate field of a PKI CA endpoint; "" when
// the mount has no CA (Vault answers so with an error or an empty field).
func (r *run) readCert(path string) (string, error) {
	s, err := r.c.Logical().ReadWithContext(r.ctx, path)
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode != 403 && strings.Contains(strings.Join(re.Errors, " "), "issuer"):
		return "", nil // "no default issuer currently configured"
	case err != nil:
		return "", fmt.Errorf("reading %s: %s", path, verify.ExplainAPIError(err, "the token may not read it"))
	case s == nil || s.Data == nil:
		return "", nil
	}
	pem, _ := s.Data["certificate"].(string)
	return strings.TrimSpace(pem), nil
}

func firstCert(path, pem string) (*x509.Certificate, error) {
	certs, err := verify.ParseCerts(pem)
	if err != nil {
		return nil, fmt.Errorf("%s %v", path, err)
	}
	return certs[0], nil
}

// mountType is the engine mounted at path, "" if nothing is, and for a
// KV mount its version.
func (r *run) mountType(path string) (typ, version string, err error) {
	m, err := r.c.Sys().GetMountWithContext(r.ctx, path)
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), "No secret engine mount"):
		return "", "", nil
	case err != nil:
		return "", "", fmt.Errorf("reading mount %s: %s", path, verify.ExplainAPIError(err, "the token may not read sys/mounts/"+path+" (bootstrap is an operator's command: use a token that may manage mounts)"))
	}
	version = m.Options["version"]
	if m.Type == "kv" && version == "" {
		version = "1"
	}
	return m.Type, version, nil
}

// preflight checks, before the first change, what the mint needs: that
// the token may make every request, and that the root outlives the
// intermediate. A run that fails here has changed nothing.
func (r *run) preflight(st *state) error {
	if end := r.o.Now().Add(r.o.TTL); end.After(st.root.NotAfter) {
		left := st.root.NotAfter.Sub(r.o.Now()).Truncate(time.Hour)
		return fmt.Errorf("--ttl %s would outlive %s's root %s, which expires %s: pass a --ttl of at most %s, or renew the root first; nothing was changed",
			short(r.o.TTL), r.pki.RootMount, describe(st.root), date(st.root), short(left))
	}
	needs := []struct{ path, why string }{
		{r.pki.Mount + "/intermediate/generate/exported", "generate the intermediate's key and CSR"},
		{r.pki.RootMount + "/root/sign-intermediate", "sign it with the root"},
		{r.kvMount + "/data/" + r.kvPath, "store its key"},
		{r.pki.Mount + "/intermediate/set-signed", "set the signed intermediate"},
		{r.pki.Mount + "/config/issuers", "make it the default issuer"},
	}
	if st.mountType == "" {
		needs = append([]struct{ path, why string }{{"sys/mounts/" + r.pki.Mount, "enable the PKI mount"}}, needs...)
	}
	var denied []string
	for _, n := range needs {
		caps, err := r.c.Sys().CapabilitiesSelfWithContext(r.ctx, n.path)
		if err != nil {
			return fmt.Errorf("asking Vault what the token may do on %s: %s", n.path, verify.ExplainAPIError(err, "the token may not look up its own capabilities"))
		}
		if !mayWrite(caps) {
			denied = append(denied, fmt.Sprintf("update on %s (to %s; it has %s)", n.path, n.why, strings.Join(caps, ", ")))
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("the token may not do what bootstrap needs: %s; use a token with these capabilities (an operator's, not istiod's); nothing was changed", strings.Join(denied, "; "))
	}
	return nil
}

func mayWrite(caps []string) bool {
	for _, c := range caps {
		if c == "root" || c == "update" || c == "create" {
			return true
		}
	}
	return false
}

// mint makes the next intermediate. The order keeps a failure
// recoverable and the old pair in place until the new one is whole: the
// key goes into KV (check-and-set against the version read, so a
// concurrent writer is not overwritten) before the new issuer becomes the
// mount's default, and a failure before that leaves the old intermediate
// and key serving.
func (r *run) mint(st *state) (*Result, error) {
	m := r.pki.Mount
	if st.mountType == "" {
		err := r.c.Sys().MountWithContext(r.ctx, m, &api.MountInput{Type: "pki", Description: "istiod's intermediate CA (istio-vault-ca bootstrap)", Config: api.MountConfigInput{MaxLeaseTTL: seconds(r.o.TTL)}})
		if err != nil {
			return nil, fmt.Errorf("enabling the PKI mount %s: %s", m, verify.ExplainAPIError(err, "the token may not enable mounts"))
		}
		r.done = append(r.done, "enabled the PKI mount "+m)
		r.log("enabled the PKI mount %s (max lease TTL %s)", m, short(r.o.TTL))
	}

	gen, err := r.c.Logical().WriteWithContext(r.ctx, m+"/intermediate/generate/exported", map[string]any{
		"common_name": r.o.CommonName, "key_type": r.o.KeyType, "key_bits": KeyTypes[r.o.KeyType],
	})
	if err != nil {
		return nil, fmt.Errorf("generating the intermediate at %s/intermediate/generate/exported: %s", m, verify.ExplainAPIError(err, "the token may not write there"))
	}
	csr, key, keyID := field(gen, "csr"), field(gen, "private_key"), field(gen, "key_id")
	r.secret(key)
	if csr == "" || key == "" {
		return nil, fmt.Errorf("%s/intermediate/generate/exported answered without a CSR or a private key", m)
	}
	r.done = append(r.done, fmt.Sprintf("generated a key in %s (key %s; Vault keeps an entry for it in %s/keys)", m, keyID, m))
	r.log("generated the intermediate's key (%s) and CSR in %s, key %s", r.o.KeyType, m, keyID)

	signed, err := r.c.Logical().WriteWithContext(r.ctx, r.pki.RootMount+"/root/sign-intermediate", map[string]any{
		"csr": csr, "common_name": r.o.CommonName, "ttl": seconds(r.o.TTL), "format": "pem",
	})
	if err != nil {
		return nil, fmt.Errorf("signing at %s/root/sign-intermediate: %s", r.pki.RootMount, verify.ExplainAPIError(err, "the token may not write there"))
	}
	certPEM := field(signed, "certificate")
	cert, err := firstCert(r.pki.RootMount+"/root/sign-intermediate's certificate", certPEM)
	if err != nil {
		return nil, err
	}
	if ok, err := verify.KeyMatches(key, cert); err != nil || !ok {
		return nil, fmt.Errorf("the certificate %s/root/sign-intermediate returned is not the generated key's (%v): nothing was stored", r.pki.RootMount, err)
	}
	if err := cert.CheckSignatureFrom(st.root); err != nil {
		return nil, fmt.Errorf("%s/root/sign-intermediate returned a certificate its default issuer %s did not sign (%v): nothing was stored; check the mount's default issuer", r.pki.RootMount, describe(st.root), err)
	}
	if want := r.o.Now().Add(r.o.TTL - time.Hour); cert.NotAfter.Before(want) {
		r.warnings = append(r.warnings, fmt.Sprintf("the intermediate expires %s, sooner than --ttl %s: Vault shortened it (%s); raise %s's max lease TTL (vault secrets tune -max-lease-ttl=%s %s) and run bootstrap --rotate if that matters",
			date(cert), short(r.o.TTL), strings.Join(signed.Warnings, "; "), r.pki.RootMount, short(r.o.TTL), r.pki.RootMount))
	}
	r.log("%s signed %s (serial %s, expires %s)", r.pki.RootMount, describe(cert), serial(cert), date(cert))
	// From here a failure leaves a signed intermediate no KV holds: say
	// so, and how to revoke it (its key entry stays in the mount's keys).
	r.done = append(r.done, fmt.Sprintf("the root %s signed intermediate %s (serial %s), whose key entry is in %s/keys; if you do not run bootstrap again, revoke it: vault write %s/revoke serial_number=%s",
		r.pki.RootMount, describe(cert), serial(cert), m, r.pki.RootMount, serial(cert)))

	// The key first, as a new version of the secret, keeping its other fields.
	data := map[string]any{}
	for k, v := range st.kvData {
		data[k] = v
	}
	data[r.pki.Key.Field] = key
	put, err := r.c.KVv2(r.kvMount).Put(r.ctx, r.kvPath, data, api.WithCheckAndSet(st.kvVersion))
	if err != nil {
		return nil, fmt.Errorf("storing the key at %s: %s; the new intermediate was not set, so %s serves what it served before; run bootstrap again",
			r.pki.Key.Path, verify.ExplainAPIError(err, "the token may not write the secret"), m)
	}
	version := st.kvVersion + 1
	if put.VersionMetadata != nil {
		version = put.VersionMetadata.Version
	}
	r.done = append(r.done, fmt.Sprintf("stored the new key at %s (KV version %d)", r.pki.Key.Path, version))
	r.log("stored the key at %s, KV version %d", r.keyAt(), version)

	// Then the certificate with the chain up to the root: cert/ca_chain
	// is the default issuer's chain, built from the issuers in the mount.
	chain := append([]string{}, strings.TrimSpace(certPEM))
	for _, c := range list(signed, "ca_chain") {
		if c = strings.TrimSpace(c); c != "" && c != chain[0] {
			chain = append(chain, c)
		}
	}
	set, err := r.c.Logical().WriteWithContext(r.ctx, m+"/intermediate/set-signed", map[string]any{"certificate": strings.Join(chain, "\n") + "\n"})
	halfDone := fmt.Sprintf("the key at %s is the new one but %s's default issuer is not yet its certificate: run bootstrap --rotate", r.pki.Key.Path, m)
	if err != nil {
		return nil, fmt.Errorf("setting the signed intermediate at %s/intermediate/set-signed: %s; %s", m, verify.ExplainAPIError(err, "the token may not write there"), halfDone)
	}
	issuer := ""
	if mapping, ok := set.Data["mapping"].(map[string]any); ok {
		for id, k := range mapping {
			if k, _ := k.(string); k != "" && (k == keyID || keyID == "") {
				issuer = id
			}
		}
	}
	if issuer == "" {
		return nil, fmt.Errorf("%s/intermediate/set-signed did not say which issuer holds the new key; %s", m, halfDone)
	}
	r.done = append(r.done, fmt.Sprintf("imported issuer %s into %s", issuer, m))
	r.log("imported the intermediate and its chain into %s as issuer %s", m, issuer)

	// Vault makes an imported issuer the default only when the mount had
	// none (or follows the latest issuer): the next one is made so here.
	def, err := r.defaultIssuer()
	if err != nil {
		return nil, fmt.Errorf("%v; %s", err, halfDone)
	}
	if def != issuer {
		if _, err := r.c.Logical().WriteWithContext(r.ctx, m+"/config/issuers", map[string]any{"default": issuer}); err != nil {
			return nil, fmt.Errorf("making issuer %s %s's default at %s/config/issuers: %s; %s", issuer, m, m, verify.ExplainAPIError(err, "the token may not write there"), halfDone)
		}
		r.log("made issuer %s the default of %s (it was %s)", issuer, m, def)
	}

	what := "minted"
	if st.ca != nil {
		what = fmt.Sprintf("rotated %s's intermediate from serial %s to", m, serial(st.ca))
	}
	summary := fmt.Sprintf("%s %s (serial %s, expires %s) in PKI mount %s, signed by %s's root %s; its key is at %s#%s, KV version %d",
		what, describe(cert), serial(cert), date(cert), m, r.pki.RootMount, describe(st.root), r.pki.Key.Path, r.pki.Key.Field, version)
	if st.ca != nil {
		summary += "; istiod loads it at its next start (or re-render, with spec.rotation)"
		r.warnings = append(r.warnings, fmt.Sprintf("the previous issuer and its key entry stay in %s (vault list %s/issuers, %s/keys): delete them once no istiod loads the old intermediate", m, m, m))
	}
	return &Result{Summary: summary, Warnings: r.warnings}, nil
}

// short prints whole hours as the flag takes them: 8760h, not 8760h0m0s.
func short(d time.Duration) string { return strings.TrimSuffix(d.String(), "0m0s") }

// seconds is a duration as Vault's parameters take it.
func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int64(d.Seconds())) }

func field(s *api.Secret, name string) string {
	if s == nil || s.Data == nil {
		return ""
	}
	v, _ := s.Data[name].(string)
	return v
}

func list(s *api.Secret, name string) []string {
	if s == nil || s.Data == nil {
		return nil
	}
	var out []string
	switch v := s.Data[name].(type) {
	case []any:
		for _, x := range v {
			if x, ok := x.(string); ok {
				out = append(out, x)
			}
		}
	case string:
		out = append(out, v)
	}
	return out
}

func describe(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return c.Subject.String()
}

func date(c *x509.Certificate) string { return c.NotAfter.UTC().Format(time.DateOnly) }

// serial is the certificate's serial as Vault prints it (hex pairs
// joined by colons).
// article is "an" before a vowel (an identity mount), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func serial(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}
