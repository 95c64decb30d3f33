// Package verify checks a live Vault against a config: every path the
// injected agent will read exists, holds the fields, and the fields make a CA
// bundle istiod accepts. It reports causes by path and field and never prints
// a token or key material.
package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Options tune a run.
type Options struct {
	// JWT, if set, is a service-account token to log in with at the
	// config's auth path and role, so the reads happen as istiod's would.
	JWT string
	// WarnWithin warns about certificates expiring sooner than this.
	WarnWithin time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Status of one check.
type Status string

const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Result is one line of the report.
type Result struct {
	Status Status
	What   string
	Detail string
}

// Report is everything a run found.
type Report []Result

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, x := range r {
		if x.Status == Fail {
			return true
		}
	}
	return false
}

// Write prints the report, one check a line, and a summary.
func (r Report) Write(w io.Writer) {
	counts := map[Status]int{}
	for _, x := range r {
		counts[x.Status]++
		fmt.Fprintf(w, "%s  %s: %s\n", x.Status, x.What, x.Detail)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d warnings\n", counts[Pass], counts[Fail], counts[Warn])
}

// InsecureAddress reports why an address must not be used without TLS: plain
// HTTP is refused unless Vault is on this machine.
func InsecureAddress(addr string) error {
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("VAULT_ADDR %q is not a URL: %v", addr, err)
	}
	if u.Scheme != "http" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("VAULT_ADDR %s is plain HTTP to another machine: the token and the CA key would cross the network in clear; use https, or pass --allow-insecure-http", addr)
}

// Run checks every plan's files against Vault.
func Run(ctx context.Context, client *api.Client, cfg *config.VaultCA, plans []*wiring.Plan, opts Options) Report {
	v := &run{ctx: ctx, client: client, cfg: cfg, opts: opts, reads: map[string]*read{}}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	if !v.reachable() {
		return v.report
	}
	if opts.JWT != "" && !v.login() {
		return v.report
	}
	for _, p := range plans {
		v.plan(p)
	}
	return v.report
}

type run struct {
	ctx    context.Context
	client *api.Client
	cfg    *config.VaultCA
	opts   Options
	report Report
	reads  map[string]*read
}

// read is one Vault read, shared by every file that reads the path.
type read struct {
	data map[string]any
	err  error
}

func (v *run) add(s Status, what, format string, args ...any) {
	v.report = append(v.report, Result{s, what, fmt.Sprintf(format, args...)})
}

func (v *run) reachable() bool {
	addr := v.client.Address()
	h, err := v.client.Sys().HealthWithContext(v.ctx)
	if err != nil {
		v.add(Fail, "vault "+addr, "%s", explainConnError(err))
		return false
	}
	switch {
	case !h.Initialized:
		v.add(Fail, "vault "+addr, "is not initialized")
	case h.Sealed:
		v.add(Fail, "vault "+addr, "is sealed: unseal it (vault operator unseal) before istiod starts, or its pods stay in Init")
	default:
		v.add(Pass, "vault "+addr, "reachable, unsealed (version %s)", h.Version)
		return true
	}
	return false
}

func explainConnError(err error) string {
	msg := err.Error()
	var uerr *url.Error
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return "TLS handshake failed (" + msg + "): set VAULT_CACERT to the CA that signed Vault's certificate"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &uerr) && uerr.Timeout():
		return "timed out: is the address right, and is a firewall in the way? (" + msg + ")"
	case strings.Contains(msg, "connection refused"):
		return "connection refused: nothing listens there; check VAULT_ADDR (" + msg + ")"
	}
	return "cannot reach Vault: " + msg
}

// login replaces the client's token with one istiod would get.
func (v *run) login() bool {
	s := v.cfg.Spec
	what := "login " + s.Vault.AuthPath + " role " + s.Vault.Role
	secret, err := v.client.Logical().WriteWithContext(v.ctx, s.Vault.AuthPath+"/login", map[string]any{"role": s.Vault.Role, "jwt": v.opts.JWT})
	if err != nil {
		v.add(Fail, what, "%s", explainAPIError(err, "the role does not exist, or its bound service account names and namespaces do not match the token's (istio-vault-ca policy --output role shows what istiod needs)"))
		return false
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		v.add(Fail, what, "Vault answered without a token")
		return false
	}
	v.client.SetToken(secret.Auth.ClientToken)
	v.add(Pass, what, "logged in with policies %s", strings.Join(secret.Auth.Policies, ", "))
	return true
}

func explainAPIError(err error, on403 string) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case 403:
			return "permission denied: " + on403
		case 400:
			return fmt.Sprintf("rejected (400): %s", strings.Join(re.Errors, "; "))
		}
		return fmt.Sprintf("Vault answered %d: %s", re.StatusCode, strings.Join(re.Errors, "; "))
	}
	return explainConnError(err)
}

func (v *run) get(path string) *read {
	if r, ok := v.reads[path]; ok {
		return r
	}
	r := &read{}
	secret, err := v.client.Logical().ReadWithContext(v.ctx, path)
	switch {
	case err != nil:
		r.err = errors.New(explainAPIError(err, "the token's policy does not grant read on "+path+" (istio-vault-ca policy prints one that does)"))
	case secret == nil || secret.Data == nil:
		r.err = v.notFound(path)
	default:
		r.data = secret.Data
	}
	v.reads[path] = r
	return r
}

// notFound explains a missing secret, naming a KV version mismatch when that
// is the cause: a KV v2 path read on a v1 mount, or the other way round.
func (v *run) notFound(path string) error {
	m, err := v.client.Logical().ReadWithContext(v.ctx, "sys/internal/ui/mounts/"+path)
	if err == nil && m != nil && m.Data != nil {
		mount, _ := m.Data["path"].(string)
		typ, _ := m.Data["type"].(string)
		version := "1"
		if opts, ok := m.Data["options"].(map[string]any); ok {
			if ver, ok := opts["version"].(string); ok && ver != "" {
				version = ver
			}
		}
		if typ == "kv" {
			want := kvVersionOf(v.cfg, path)
			if want != "" && want != version {
				return fmt.Errorf("no secret at %s: mount %s is KV version %s but the config says version %s; set version: %s", path, mount, version, want, version)
			}
		}
		return fmt.Errorf("no secret at %s (mount %s, type %s): write it first, or fix the path", path, mount, typ)
	}
	return fmt.Errorf("no secret at %s: write it first, or fix the path (no mount matches it)", path)
}

// kvVersionOf is the KV version the config uses for a path, "" if not KV.
func kvVersionOf(cfg *config.VaultCA, path string) string {
	var secrets []config.KVSecret
	if kv := cfg.Spec.Source.KV; kv != nil {
		secrets = append(secrets, kv.KVSecret)
	}
	if pki := cfg.Spec.Source.PKI; pki != nil {
		secrets = append(secrets, pki.Key.KVSecret)
	}
	for _, s := range secrets {
		if wiring.KVAPIPath(s) == path {
			return fmt.Sprint(s.Version)
		}
	}
	return ""
}

// value follows a file's keys into the response data.
func value(data map[string]any, keys []string) (string, error) {
	cur := data
	for i, k := range keys {
		v, ok := cur[k]
		if !ok {
			return "", fmt.Errorf("has no field %q (fields present: %s)", strings.Join(keys[:i+1], "."), fieldNames(cur))
		}
		if i == len(keys)-1 {
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("field %q is a %T, not a PEM string", k, v)
			}
			return s, nil
		}
		if cur, ok = v.(map[string]any); !ok {
			return "", fmt.Errorf("field %q is not a map (is the KV version right?)", k)
		}
	}
	return "", errors.New("no field named")
}

func fieldNames(m map[string]any) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// plan checks the files of one plan and then the bundle they make.
func (v *run) plan(p *wiring.Plan) {
	parts := map[wiring.Part]string{}
	names := map[wiring.Part]string{}
	for _, f := range p.Files {
		if f.Capability != wiring.Read {
			continue // issuing a certificate to check it would be a write
		}
		what := fmt.Sprintf("%s <- %s#%s", f.Name, f.APIPath, strings.Join(f.Keys, "."))
		r := v.get(f.APIPath)
		if r.err != nil {
			v.add(Fail, what, "%v", r.err)
			continue
		}
		s, err := value(r.data, f.Keys)
		if err != nil {
			v.add(Fail, what, "%v", err)
			continue
		}
		parts[f.Part], names[f.Part] = s, f.Name
		v.add(Pass, what, "present")
	}
	v.bundle(parts, names)
}

// bundle checks what istiod checks when it loads a plugged-in CA, and more:
// the key matches the CA cert, the CA cert is a CA, the chain is in order and
// leads to the root, and how long each certificate has left.
func (v *run) bundle(parts map[wiring.Part]string, names map[wiring.Part]string) {
	keyPEM, hasKey := parts[wiring.PartKey]
	certPEM, hasCert := parts[wiring.PartCert]
	rootPEM, hasRoot := parts[wiring.PartRoot]
	if !hasKey || !hasCert || !hasRoot {
		return // a missing part has been reported already
	}
	ok := true
	fail := func(part wiring.Part, format string, args ...any) {
		ok = false
		v.add(Fail, names[part], format, args...)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		fail(wiring.PartKey, "%v", err)
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		fail(wiring.PartCert, "%v", err)
	}
	roots, err := parseCerts(rootPEM)
	if err != nil {
		fail(wiring.PartRoot, "%v", err)
	}
	var chain []*x509.Certificate
	if chainPEM, ok2 := parts[wiring.PartChain]; ok2 {
		if chain, err = parseCerts(chainPEM); err != nil {
			fail(wiring.PartChain, "%v", err)
		}
	} else if certs != nil && roots != nil {
		chain = append(append(chain, certs...), roots...) // kubernetes-tls: istiod chains tls.crt and ca.crt
	}
	if !ok {
		return
	}
	ca := certs[0]
	if !samePublicKey(key.Public(), ca.PublicKey) {
		fail(wiring.PartKey, "does not match the public key of %s (%s): the key and certificate come from different issuances", names[wiring.PartCert], ca.Subject)
	}
	if !ca.IsCA || ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		fail(wiring.PartCert, "%s is not a CA certificate (basicConstraints CA:TRUE with keyCertSign needed to sign workload certificates)", ca.Subject)
	}
	if err := chainOrderError(chain); err != nil {
		fail(wiring.PartChain, "%v", err)
	}
	rootPool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rootPool.AddCert(r)
	}
	for _, c := range append(certs[1:], chain...) {
		inter.AddCert(c)
	}
	if _, err := ca.Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: v.opts.Now()}); err != nil {
		fail(wiring.PartCert, "does not verify to %s through the chain: %v", names[wiring.PartRoot], err)
	}
	if ok {
		v.add(Pass, "bundle", "key matches %s; %s is a CA; chain leads to %s", names[wiring.PartCert], ca.Subject, roots[0].Subject)
	}
	now := v.opts.Now()
	for _, c := range []struct {
		part wiring.Part
		cert *x509.Certificate
	}{{wiring.PartCert, ca}, {wiring.PartRoot, roots[0]}} {
		days := daysLeft(c.cert, now)
		switch {
		case now.After(c.cert.NotAfter):
			v.add(Fail, names[c.part], "%s expired on %s", c.cert.Subject, c.cert.NotAfter.Format(time.DateOnly))
		case c.cert.NotAfter.Sub(now) < v.opts.WarnWithin:
			v.add(Warn, names[c.part], "%s expires in %d days (%s)", c.cert.Subject, days, c.cert.NotAfter.Format(time.DateOnly))
		default:
			v.add(Pass, names[c.part], "%s valid for %d more days", c.cert.Subject, days)
		}
	}
}
