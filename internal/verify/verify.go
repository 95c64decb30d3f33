// Package verify checks a live Vault against a config: every path the
// injected agent will read exists, holds the fields, and the fields make a CA
// bundle istiod accepts. It reports causes by path and field and never prints
// a token or key material.
package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Options tune a run.
type Options struct {
	// Role, if set, is the path of a Kubernetes-auth role
	// (auth/kubernetes/role/istiod): only the plans that log in with it are
	// checked. Each role's token may read its own paths only, so checking
	// another role's with it would fail a correct setup.
	Role string
	// JWT, if set, is a service-account token to log in with at Role
	// (which must be set), so the reads happen as that role's agent's would.
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
	// Skip is a plan of another role than the one checked: nothing
	// was read for it, and the line says how to check it.
	Skip Status = "SKIP"
	// Note says how a check is made (which CA is trusted): it passes
	// nothing by itself, so it is not counted.
	Note Status = "NOTE"
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
	fmt.Fprintf(w, "%d passed, %d failed, %d warnings", counts[Pass], counts[Fail], counts[Warn])
	if counts[Skip] > 0 {
		fmt.Fprintf(w, ", %d not checked", counts[Skip])
	}
	fmt.Fprintln(w)
}

// Run checks every plan's files against Vault, after the checks of the
// plans alone (separation), which need no Vault.
func Run(ctx context.Context, client *api.Client, cfg *config.VaultCA, plans []*wiring.Plan, opts Options) Report {
	v := &run{ctx: ctx, client: client, cfg: cfg, plans: plans, opts: opts, reads: map[string]*read{}}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	v.secret(client.Token())
	v.secret(opts.JWT)
	for _, r := range separation(plans) {
		v.add(r.Status, r.What, "%s", r.Detail)
	}
	if !v.reachable() {
		return v.report
	}
	var checked []*wiring.Plan
	for _, p := range plans {
		if opts.Role == "" || p.RolePath() == opts.Role {
			checked = append(checked, p)
		}
	}
	if opts.JWT != "" {
		if len(checked) == 0 {
			v.add(Fail, "login", "no plan logs in with role %s", opts.Role)
			return v.report
		}
		if !v.login(checked[0], plans) {
			return v.report
		}
	}
	for _, p := range plans {
		if opts.Role == "" || p.RolePath() == opts.Role {
			v.plan(p, plans)
		} else {
			v.skip(p, plans)
			if opts.JWT != "" {
				v.denied(p, plans)
			}
		}
	}
	return v.report
}

// roleLabel is how a message names a plan's role to pass to --role: its
// name, or its path where another auth path has a role of that name.
func roleLabel(p *wiring.Plan, plans []*wiring.Plan) string {
	for _, o := range plans {
		if o.Role == p.Role && o.AuthPath != p.AuthPath {
			return p.RolePath()
		}
	}
	return p.Role
}

// planName names a plan in the report: istiod, or a gateway by its
// selector.
func planName(p *wiring.Plan) string {
	if p.Selector == nil {
		return "istiod"
	}
	return "gateway " + selectorString(p.Selector)
}

// skip says that a plan of another role was not checked, and how to check
// it: with its own role's login, never by granting the checked role its
// paths.
func (v *run) skip(p *wiring.Plan, plans []*wiring.Plan) {
	label := roleLabel(p, plans)
	how := "--role " + label + " --jwt FILE (the gateway's service-account token)"
	if p.Selector == nil {
		how = "--jwt FILE (istiod's service-account token)"
	}
	checked := v.opts.Role
	for _, o := range plans {
		if o.RolePath() == v.opts.Role {
			checked = roleLabel(o, plans)
			break
		}
	}
	v.add(Skip, planName(p), "not checked: its paths are role %s's, not %s's; check them with %s, or with a VAULT_TOKEN that may read them", label, checked, how)
}

// denied checks, for a token logged in as one role, that it can do nothing
// on another role's paths: a gateway's token that reads istiod's CA key is
// the failure the per-role policies exist to prevent, and a policy written
// by hand or under a name Vault folds onto another can still bring it
// back. It asks Vault for the token's capabilities, so nothing is read or
// issued.
func (v *run) denied(p *wiring.Plan, plans []*wiring.Plan) {
	for _, pc := range p.APIPaths() {
		caps, err := v.client.Sys().CapabilitiesSelfWithContext(v.ctx, pc.Path)
		if err != nil {
			v.add(Warn, planName(p), "could not ask Vault what the logged-in token may do on %s: %v", pc.Path, err) // add redacts
			continue
		}
		if len(caps) == 0 || (len(caps) == 1 && caps[0] == "deny") {
			continue
		}
		v.add(Fail, planName(p), "the token of role %s may %s %s, a path of role %s: its policies grant another role's material; give each role only its own policy (istio-vault-ca policy --output commands)",
			v.opts.Role, strings.Join(caps, ", "), pc.Path, roleLabel(p, plans))
	}
}

type run struct {
	ctx    context.Context
	client *api.Client
	cfg    *config.VaultCA
	plans  []*wiring.Plan
	opts   Options
	report Report
	reads  map[string]*read
	// secrets are never printed: the tokens and the login JWT, in case
	// Vault or something posing as it echoes one back.
	secrets []string
}

// secret adds a value the report must not print. Values shorter than 8
// characters are left alone: a dev-mode token such as "root" would
// otherwise blank out every file name that contains the word.
func (v *run) secret(s string) {
	if len(s) >= 8 {
		v.secrets = append(v.secrets, s)
	}
}

// read is one Vault read, shared by every file that reads the path.
type read struct {
	data map[string]any
	err  error
}

func (v *run) add(s Status, what, format string, args ...any) {
	v.report = append(v.report, Result{s, v.redact(what), v.redact(fmt.Sprintf(format, args...))})
}

func (v *run) redact(s string) string {
	for _, secret := range v.secrets {
		s = strings.ReplaceAll(s, secret, "xxxxx")
	}
	return redactText(s)
}

func (v *run) reachable() bool {
	addr := v.client.Address()
	if u, err := url.Parse(addr); err == nil {
		addr = redactURL(u)
	}
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
	var oerr *originError
	switch {
	case errors.As(err, &oerr):
		return oerr.Error()
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return "TLS handshake failed (" + msg + "): set VAULT_CACERT (or pass --ca-cert FILE) to the CA that signed Vault's certificate; with spec.vault.tlsSecret, the ca.crt of that Secret"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &uerr) && uerr.Timeout():
		return "timed out: is the address right, and is a firewall in the way? (" + msg + ")"
	case strings.Contains(msg, "connection refused"):
		return "connection refused: nothing listens there; check VAULT_ADDR (" + msg + ")"
	}
	return "cannot reach Vault: " + msg
}

// login replaces the client's token with one the plan's agent would get.
func (v *run) login(p *wiring.Plan, plans []*wiring.Plan) bool {
	what := "login " + p.AuthPath + " role " + p.Role
	shows := "istio-vault-ca policy --output role shows what istiod needs"
	if p.Selector != nil {
		label := roleLabel(p, plans)
		shows = "istio-vault-ca policy --role " + label + " --output role shows what role " + label + " needs"
	}
	// A login needs no token: VAULT_TOKEN, stale or not, is not sent with
	// the JWT, nor can it fail the login.
	v.client.ClearToken()
	secret, err := v.client.Logical().WriteWithContext(v.ctx, p.AuthPath+"/login", map[string]any{"role": p.Role, "jwt": v.opts.JWT})
	if err != nil {
		v.add(Fail, what, "%s", v.loginError(err, p, shows))
		return false
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		v.add(Fail, what, "Vault answered without a token")
		return false
	}
	v.client.SetToken(secret.Auth.ClientToken)
	v.secret(secret.Auth.ClientToken)
	v.add(Pass, what, "logged in with policies %s", strings.Join(secret.Auth.Policies, ", "))
	return true
}

// loginError explains a failed Kubernetes-auth login by what Vault said:
// a role it does not have (400, invalid role name), a service account or
// namespace the role does not bind (403, ... not authorized), or, with
// permission denied alone, a token Kubernetes' TokenReview did not accept.
func (v *run) loginError(err error, p *wiring.Plan, shows string) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		said := vaultSaid(re.Errors)
		switch {
		case re.StatusCode == 400 && strings.Contains(said, "invalid role name"):
			return fmt.Sprintf("Vault has no role %s at %s (Vault said: %s): write it (%s)", p.Role, p.AuthPath, said, shows)
		case strings.Contains(said, "could not load backend configuration"):
			// The auth method is enabled but was never configured.
			return fmt.Sprintf("the Kubernetes auth method at %s has no configuration (Vault said: %s): write it, e.g. vault write %s/config kubernetes_host=https://KUBERNETES-API:443 (with kubernetes_ca_cert=@ca.crt when Vault runs outside the cluster)", p.AuthPath, said, p.AuthPath)
		case strings.Contains(said, "invalid audience"):
			aud := v.cfg.Spec.Vault.Audience
			return fmt.Sprintf("the token's audience is not the one role %s requires (%q, from spec.vault.audience) (Vault said: %s): pass a token issued for it (kubectl create token ... --audience %s), or set spec.vault.audience to the audience your cluster's service-account tokens carry and re-apply the role", p.Role, aud, said, aud)
		case re.StatusCode == 403 && !strings.Contains(said, "not authorized") && !strings.Contains(said, "invalid token"):
			sa, ns := "SERVICE-ACCOUNT", "NAMESPACE"
			if len(p.ServiceAccounts) > 0 && len(p.Namespaces) > 0 {
				sa, ns = p.ServiceAccounts[0], p.Namespaces[0]
			}
			return fmt.Sprintf("the service-account token was not accepted (Vault said: %s): Kubernetes' TokenReview refused it (expired, of another cluster, or not a service-account token), or Vault cannot review tokens (check %s/config); pass a current one, e.g. from kubectl create token %s -n %s", said, p.AuthPath, sa, ns)
		}
	}
	return explainAPIError(err, "the role's bound service account names and namespaces do not match the token's ("+shows+")")
}

// explainAPIError says what Vault answered, and what to do about it; on403
// is the likely cause of a permission denied other than a bad token.
func explainAPIError(err error, on403 string) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		said := vaultSaid(re.Errors)
		switch re.StatusCode {
		case 403:
			// Vault answers a revoked, expired or unknown token with
			// "invalid token" beside "permission denied"; a policy that
			// does not grant the path with "permission denied" alone.
			if strings.Contains(said, "invalid token") {
				return "invalid token (Vault said: " + said + "): the token expired, was revoked or is not one of this Vault's; set VAULT_TOKEN to a current one (vault login), or pass --jwt"
			}
			return "permission denied: " + on403 + " (Vault said: " + said + ")"
		case 400:
			return fmt.Sprintf("rejected (400): %s", said)
		}
		return fmt.Sprintf("Vault answered %d: %s", re.StatusCode, said)
	}
	return explainConnError(err)
}

// vaultSaid is Vault's errors on one line. Vault often sends one error
// that lists several, as "2 errors occurred:\n\t* permission denied\n\t*
// invalid token\n\n": those are taken out of the list.
func vaultSaid(errs []string) string {
	var out []string
	for _, e := range errs {
		head, list, ok := strings.Cut(e, "\n\t* ")
		if !ok || !strings.HasSuffix(head, "occurred:") {
			out = append(out, strings.Join(strings.Fields(e), " "))
			continue
		}
		for _, item := range strings.Split(list, "\n\t* ") {
			out = append(out, strings.Join(strings.Fields(item), " "))
		}
	}
	return strings.Join(out, "; ")
}

// get reads a path of plan p. A denied read names the role whose policy
// should grant it, p's: advice to grant it to whatever token was used
// could hand a gateway's key to istiod, or istiod's to a gateway.
func (v *run) get(path string, p *wiring.Plan, plans []*wiring.Plan) *read {
	if r, ok := v.reads[path]; ok {
		return r
	}
	r := &read{}
	secret, err := v.client.Logical().ReadWithContext(v.ctx, path)
	switch {
	case err != nil && strings.Contains(err.Error(), "unable to find PKI issuer for reference"):
		// issuer/<ref>/json of a minted intermediate's caPath.
		mount, ref, _ := strings.Cut(strings.TrimSuffix(path, "/json"), "/issuer/")
		r.err = fmt.Errorf("mount %s has no issuer %q, which caPath names (Vault said: %s): name one of its issuers (vault list %s/issuers), or sign with its default at %s/root/sign-intermediate", mount, ref, strings.TrimSpace(vaultSaidOf(err)), mount, mount)
	case err != nil:
		label := roleLabel(p, plans)
		hint := fmt.Sprintf("role %s's policy %s should grant read on %s (istio-vault-ca policy --role %s prints it)", label, p.Policy, path, label)
		if v.opts.JWT == "" {
			hint = "VAULT_TOKEN's policies do not allow it; " + hint
		}
		r.err = errors.New(explainAPIError(err, hint))
	case secret == nil || secret.Data == nil:
		r.err = v.notFound(path)
	default:
		r.data = secret.Data
	}
	v.reads[path] = r
	return r
}

// vaultSaidOf is what Vault said in an API error, or the error's text.
func vaultSaidOf(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return vaultSaid(re.Errors)
	}
	return err.Error()
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
			want := kvVersionOf(v.plans, path)
			if want != "" && want != version {
				return fmt.Errorf("no secret at %s: mount %s is KV version %s but the config says version %s; set version: %s", path, mount, version, want, version)
			}
		}
		return fmt.Errorf("no secret at %s (mount %s, type %s): write it first, or fix the path", path, mount, typ)
	}
	return fmt.Errorf("no secret at %s: write it first, or fix the path (no mount matches it)", path)
}

// kvVersionOf is the KV version the plans read a path with, "" if not KV:
// istiod's files and every gateway's, as wiring recorded it.
func kvVersionOf(plans []*wiring.Plan, path string) string {
	for _, p := range plans {
		for _, f := range p.Files {
			for _, r := range f.Reads() {
				if r.KVVersion != 0 && r.APIPath == path {
					return fmt.Sprint(r.KVVersion)
				}
			}
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

// part is one file's PEM, with its file name and where in Vault it comes
// from, so that a failure names the field to fix. A part that could not be
// read (reported already) is kept without its PEM, ok false: the checks
// that need it are skipped, and the others still name it.
type part struct {
	pem, name, source string
	ok                bool
}

// plan checks the files of one plan and then what they make: istiod's CA
// bundle, or each certificate of a gateway.
func (v *run) plan(p *wiring.Plan, plans []*wiring.Plan) {
	if p.CSR != nil {
		v.csrPlan(p, plans)
		return
	}
	groups := map[string]map[wiring.Part]part{}
	var order []string
	mounts := map[string]bool{}
	for _, f := range p.Files {
		for _, r := range f.Requests {
			if r.Capability == wiring.Update && !mounts[r.Path] {
				mounts[r.Path] = true
				v.writeMount(r.Path, len(mounts) == 1)
			}
		}
		if f.Capability != wiring.Read {
			continue // issuing a certificate to check it would be a write
		}
		source := f.APIPath + "#" + strings.Join(f.Keys, ".")
		what := f.Name + " <- " + source
		if groups[f.Certificate] == nil {
			groups[f.Certificate] = map[wiring.Part]part{}
			order = append(order, f.Certificate)
		}
		x := part{name: f.Name, source: source}
		groups[f.Certificate][f.Part] = x
		r := v.get(f.APIPath, p, plans)
		if r.err != nil {
			v.add(Fail, what, "%v", r.err)
			continue
		}
		s, err := value(r.data, f.Keys)
		if err != nil {
			v.add(Fail, what, "%v", err)
			continue
		}
		x.pem, x.ok = s, true
		groups[f.Certificate][f.Part] = x
		v.add(Pass, what, "present")
	}
	if len(mounts) > 0 {
		v.mintAccess(p, plans)
	}
	var extra []*x509.Certificate
	for _, f := range p.Files {
		for _, r := range f.ExtraRoots {
			extra = append(extra, v.extraRoot(f.Name, r, p, plans)...)
		}
	}
	for _, c := range order {
		if p.Selector == nil {
			v.bundle(groups[c], extra)
		} else {
			v.gatewayCertificate(c, groups[c])
		}
	}
}

// writeMount checks, without writing, that the mount a write request of
// the agent goes to exists and is a PKI engine: a minted intermediate's
// generate (first) and sign. It asks Vault which mount serves the path,
// which any token with a capability there may do; Vault answers a path no
// mount serves with permission denied, so a root token's 403 means the
// mount is missing.
func (v *run) writeMount(path string, generate bool) {
	what := path + " (written by the agent, not by verify)"
	enable := "enable the PKI engine there (vault secrets enable -path=MOUNT pki) and generate or import the root"
	if generate {
		// The agent mints into an empty mount: nothing is set-signed.
		enable = "enable it (vault secrets enable -path=" + wiring.MintMount(path) + " pki); the agent mints into it, nothing else is needed"
	}
	m, err := v.client.Logical().ReadWithContext(v.ctx, "sys/internal/ui/mounts/"+path)
	if err != nil || m == nil || m.Data == nil {
		detail := "no mount serves it"
		var re *api.ResponseError
		switch {
		case errors.As(err, &re) && re.StatusCode == 403 && v.isRoot(path):
			detail = "no mount serves it (Vault answers a missing mount with permission denied)"
		case err != nil:
			detail = explainAPIError(err, "the token may do nothing there, or no mount serves it")
		}
		v.add(Fail, what, "%s: %s", detail, enable)
		return
	}
	mount, _ := m.Data["path"].(string)
	typ, _ := m.Data["type"].(string)
	if typ != "pki" {
		v.add(Fail, what, "mount %s is a %s engine, not pki", mount, typ)
		return
	}
	v.add(Pass, what, "mount %s is a PKI engine", mount)
}

// isRoot: the token has every capability on path.
func (v *run) isRoot(path string) bool {
	caps, err := v.client.Sys().CapabilitiesSelfWithContext(v.ctx, path)
	return err == nil && slices.Contains(caps, "root")
}

// failer reports failures of parts, each naming the Vault field it came
// from, and remembers whether there was one.
type failer struct {
	v      *run
	parts  map[wiring.Part]part
	failed bool
}

func (f *failer) fail(p wiring.Part, format string, args ...any) {
	f.failed = true
	x := f.parts[p]
	f.v.add(Fail, x.name, "%s (in %s)", fmt.Sprintf(format, args...), x.source)
}

// bundle checks what istiod checks when it loads a plugged-in CA, and more:
// the key matches the CA cert, the CA cert is a CA, the chain starts with
// the CA cert, is in order and leads to the root, and how long each
// certificate has left. Each check runs when the parts it needs were read
// and parse, so one run shows every problem: a missing root does not hide
// a key that is not the CA certificate's.
//
// extra are the extra roots that were read: istiod verifies its CA
// certificate against the whole root file, so the chain may lead to one of
// them (in a rotation done in place, the new chain before the source's own
// root field is the new root).
func (v *run) bundle(parts map[wiring.Part]part, extra []*x509.Certificate) {
	f := &failer{v: v, parts: parts}
	names := func(p wiring.Part) string { return parts[p].name }
	read := func(p wiring.Part) (string, bool) {
		x, ok := parts[p]
		return x.pem, ok && x.ok
	}
	var key crypto.Signer
	var certs, roots, chain []*x509.Certificate
	var err error
	if s, ok := read(wiring.PartKey); ok {
		if key, err = parseKey(s); err != nil {
			f.fail(wiring.PartKey, "%v", err)
		}
	}
	if s, ok := read(wiring.PartCert); ok {
		if certs, err = parseCerts(s); err != nil {
			f.fail(wiring.PartCert, "%v", err)
		}
	}
	if s, ok := read(wiring.PartRoot); ok {
		if roots, err = parseCerts(s); err != nil {
			f.fail(wiring.PartRoot, "%v", err)
		}
	}
	// kubernetes-tls has no chain file: istiod chains tls.crt and ca.crt,
	// so a fault in that chain is one of tls.crt.
	chainPart := wiring.PartCert
	if _, planned := parts[wiring.PartChain]; planned {
		chainPart = wiring.PartChain
		if s, ok := read(wiring.PartChain); ok {
			if chain, err = parseCerts(s); err != nil {
				f.fail(wiring.PartChain, "%v", err)
			}
		}
	} else if certs != nil && roots != nil {
		chain = append(append(chain, certs...), roots...)
	}
	var ca *x509.Certificate
	if certs != nil {
		ca = certs[0]
	}
	if key != nil && ca != nil && !samePublicKey(key.Public(), ca.PublicKey) {
		f.fail(wiring.PartKey, "does not match the public key of %s (%s): the key and certificate come from different issuances", names(wiring.PartCert), ca.Subject)
	}
	if ca != nil && (!ca.IsCA || ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0) {
		f.fail(wiring.PartCert, "%s is not a CA certificate (basicConstraints CA:TRUE with keyCertSign needed to sign workload certificates)", ca.Subject)
	}
	if chain != nil {
		// istiod loads a chain that lacks its CA certificate, and signs;
		// but it hands the chain to workloads as what lies above their
		// certificates, so theirs then verify to no root.
		if ca != nil && !chain[0].Equal(ca) {
			f.fail(chainPart, "does not start with the CA certificate of %s (%s) but with %s: workload certificates istiod signs would not verify to %s; put the CA certificate first, then any intermediates, then the root",
				names(wiring.PartCert), ca.Subject, chain[0].Subject, names(wiring.PartRoot))
		}
		if err := chainOrderError(chain); err != nil {
			f.fail(chainPart, "%v", err)
		}
		if last := chain[len(chain)-1]; roots != nil && rootOf(last, append(slices.Clip(roots), extra...)) == nil {
			f.fail(chainPart, "ends with %s, which is neither in %s nor signed by a certificate in it: end the chain with the root", last.Subject, names(wiring.PartRoot))
		}
	}
	if ca != nil && roots != nil && chain != nil {
		rootPool, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, r := range append(slices.Clip(roots), extra...) {
			rootPool.AddCert(r)
		}
		for _, c := range append(certs[1:], chain...) {
			inter.AddCert(c)
		}
		if _, err := ca.Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: v.opts.Now()}); err != nil {
			f.fail(wiring.PartCert, "does not verify to %s through the chain: %v", names(wiring.PartRoot), err)
		}
	}
	if roots != nil && !roots[0].IsCA {
		f.fail(wiring.PartRoot, "%s is not a CA certificate (basicConstraints CA:TRUE): it cannot be the mesh's root", roots[0].Subject)
	}
	if key != nil && ca != nil && roots != nil && chain != nil && !f.failed {
		top := rootOf(chain[len(chain)-1], append(slices.Clip(roots), extra...))
		v.add(Pass, "bundle", "key matches %s; %s is a CA; chain starts with it and leads to %s", names(wiring.PartCert), ca.Subject, top.Subject)
	}
	now := v.opts.Now()
	for _, c := range []struct {
		part  wiring.Part
		certs []*x509.Certificate
	}{{wiring.PartCert, certs}, {wiring.PartRoot, roots}} {
		if c.certs == nil {
			continue
		}
		cert := c.certs[0]
		days := daysLeft(cert, now)
		switch {
		case now.After(cert.NotAfter):
			v.add(Fail, names(c.part), "%s expired on %s", cert.Subject, cert.NotAfter.Format(time.DateOnly))
		case cert.NotAfter.Sub(now) < v.opts.WarnWithin:
			v.add(Warn, names(c.part), "%s expires in %d days (%s)", cert.Subject, days, cert.NotAfter.Format(time.DateOnly))
		default:
			v.add(Pass, names(c.part), "%s valid for %d more days", cert.Subject, days)
		}
	}
}

// gatewayCertificate checks one KV certificate of a gateway as its proxy
// will load it: certificate fields hold certificates only, the key field
// one private key, and the key is the certificate's.
func (v *run) gatewayCertificate(name string, parts map[wiring.Part]part) {
	f := &failer{v: v, parts: parts}
	var certs []*x509.Certificate
	var key crypto.Signer
	for _, p := range []wiring.Part{wiring.PartCert, wiring.PartKey, wiring.PartCA} {
		x, ok := parts[p]
		if !ok || !x.ok {
			continue
		}
		var err error
		switch p {
		case wiring.PartKey:
			key, err = parseKey(x.pem)
		case wiring.PartCert:
			certs, err = parseCerts(x.pem)
		default:
			_, err = parseCerts(x.pem)
		}
		if err != nil {
			f.fail(p, "%v", err)
		}
	}
	if certs != nil && key != nil && !samePublicKey(key.Public(), certs[0].PublicKey) {
		f.fail(wiring.PartKey, "does not match the public key of %s (%s): the key and certificate come from different issuances", parts[wiring.PartCert].name, certs[0].Subject)
	}
	if !f.failed && certs != nil && key != nil {
		v.add(Pass, "gateway certificate "+name, "%s holds certificates only; %s holds one key, and it matches %s", parts[wiring.PartCert].name, parts[wiring.PartKey].name, certs[0].Subject)
	}
}

// extraRoot checks one extra root of istiod's root file (spec.rootRotation):
// it is read as the agent reads it, and holds only self-signed CA
// certificates, roots workloads can be told to trust, that have not
// expired.
func (v *run) extraRoot(file string, r wiring.SecretRead, p *wiring.Plan, plans []*wiring.Plan) []*x509.Certificate {
	what := file + " <- " + r.APIPath + "#" + strings.Join(r.Keys, ".") + " (extra root)"
	got := v.get(r.APIPath, p, plans)
	if got.err != nil {
		v.add(Fail, what, "%v", got.err)
		return nil
	}
	s, err := value(got.data, r.Keys)
	if err != nil {
		v.add(Fail, what, "%v", err)
		return nil
	}
	certs, err := parseCerts(s)
	if err != nil {
		v.add(Fail, what, "%v", err)
		return nil
	}
	now := v.opts.Now()
	for _, c := range certs {
		switch {
		case !c.IsCA || c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
			v.add(Fail, what, "%s is not a CA certificate (basicConstraints CA:TRUE with keyCertSign): a root added for rotation must be the new CA's root", c.Subject)
		case c.CheckSignatureFrom(c) != nil:
			v.add(Fail, what, "%s is not self-signed (issued by %s): give the root, the last certificate of the new CA's chain, not an intermediate", c.Subject, c.Issuer)
		case now.After(c.NotAfter):
			v.add(Fail, what, "%s expired on %s", c.Subject, c.NotAfter.Format(time.DateOnly))
		case c.NotAfter.Sub(now) < v.opts.WarnWithin:
			v.add(Warn, what, "%s, a self-signed CA, expires in %d days (%s)", c.Subject, daysLeft(c, now), c.NotAfter.Format(time.DateOnly))
		default:
			v.add(Pass, what, "%s is a self-signed CA, valid for %d more days", c.Subject, daysLeft(c, now))
		}
	}
	return certs
}
