package config

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// sourceSpec is one type of secret source (a vault:"source" field): it
// fills and checks its own fields. at is its field path, such as
// spec.source.kv; s the whole spec, for what the source depends on.
type sourceSpec interface {
	setDefaults(s *Spec)
	validate(add adder, at string, s *Spec)
}

// certificateSource is a source of a gateway certificate: it names the
// files the certificate is rendered into.
type certificateSource interface {
	sourceSpec
	fileNames(name string) []string
}

// adder records one error of a field.
type adder = func(field, format string, args ...any)

// Selected is the source s reads istiod's CA from (a *KV, *PKI or *Mint), nil
// if none; with more than one set, which Validate refuses, the first.
func (s *Source) Selected() any { return selected(s) }

// Selected is the source c's files come from (a *CertificateKV or a
// *CertificatePKI), as Source.Selected.
func (c *Certificate) Selected() any { return selected(c) }

// Selected is the source an extra root is read from (a *RootKV or a
// *RootPKI), as Source.Selected.
func (r *ExtraRoot) Selected() any { return selected(r) }

func selected(v any) any {
	rv := reflect.ValueOf(v).Elem()
	for _, f := range fieldsOf(rv.Type()) {
		if fv := rv.Field(f.index); f.source && !fv.IsNil() {
			return fv.Interface()
		}
	}
	return nil
}

// validateSources checks that v (a *Source or *Certificate) sets exactly
// one source, and that source's fields. what is what is chosen: "layout"
// for istiod's, "" for a certificate's.
func validateSources(add adder, at string, v any, s *Spec, what string) {
	all, names, set := sources(v)
	choose := strings.TrimSpace("one " + what)
	switch len(set) {
	case 0:
		lead := ""
		if what != "" {
			lead = choose + ": "
		}
		add(at, "must set %s%s", lead, orList(all))
	case 1:
		set[0].validate(add, at+"."+names[0], s)
	default:
		both := "both "
		if len(set) > 2 {
			both = ""
		}
		add(at, "sets %s%s: choose %s", both, andList(names), choose)
	}
}

// defaultSources fills every source v sets: a config that sets two is
// refused, with both shown as they would be read.
func defaultSources(v any, s *Spec) {
	rv := reflect.ValueOf(v).Elem()
	for _, f := range fieldsOf(rv.Type()) {
		if fv := rv.Field(f.index); f.source && !fv.IsNil() {
			fv.Interface().(sourceSpec).setDefaults(s)
		}
	}
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	return out
}

// orList is `a` or `b`, `a`, `b` or `c`.
func orList(names []string) string { return list(quoted(names), " or ") }

// andList is `a` and `b`, `a`, `b` and `c`.
func andList(names []string) string { return list(quoted(names), " and ") }

func list(items []string, last string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + last + items[len(items)-1]
}

// istiod's CA from one KV secret.

func (kv *KV) setDefaults(s *Spec) {
	if kv.Version == 0 {
		kv.Version = DefaultKVVersion
	}
	def := DefaultFields(s.FileLayout)
	fillEmpty(&kv.Fields.CAKey, def.CAKey)
	fillEmpty(&kv.Fields.CACert, def.CACert)
	fillEmpty(&kv.Fields.CertChain, def.CertChain)
	fillEmpty(&kv.Fields.RootCert, def.RootCert)
}

func (kv *KV) validate(add adder, at string, s *Spec) {
	validateKVSecret(add, at, kv.KVSecret)
	if s.FileLayout == LayoutKubernetesTLS && kv.Fields.CertChain != "" {
		add(at+".fields.certChain", "is not used with fileLayout %q (istiod builds the chain from tls.crt and ca.crt): remove it", LayoutKubernetesTLS)
	}
}

// istiod's CA certificates from PKI mounts, its key from KV.

func (pki *PKI) setDefaults(*Spec) {
	if pki.Key.Version == 0 {
		pki.Key.Version = DefaultPKIKeyKVVersion
	}
	fillEmpty(&pki.Key.Field, DefaultPKIKeyField)
}

func (pki *PKI) validate(add adder, at string, _ *Spec) {
	if pki.Mount == "" {
		add(at+".mount", "must be set: the intermediate CA's PKI mount")
	}
	if pki.RootMount == "" {
		add(at+".rootMount", "must be set: the root CA's PKI mount")
	}
	validateKVSecret(add, at+".key", pki.Key.KVSecret)
}

// A gateway's certificate and key stored in one KV secret.

func (kv *CertificateKV) setDefaults(*Spec) {
	if kv.Version == 0 {
		kv.Version = DefaultKVVersion
	}
	fillEmpty(&kv.CertField, DefaultCertField)
	fillEmpty(&kv.KeyField, DefaultKeyField)
}

func (kv *CertificateKV) fileNames(name string) []string {
	files := []string{name + ".crt", name + ".key"}
	if kv.CAField != "" {
		files = append(files, name+"-ca.crt")
	}
	return files
}

func (kv *CertificateKV) validate(add adder, at string, _ *Spec) {
	validateKVSecret(add, at, kv.KVSecret)
}

// A gateway's leaf, issued by a PKI role.

func (pki *CertificatePKI) setDefaults(*Spec) {}

func (pki *CertificatePKI) fileNames(name string) []string { return []string{name + ".pem"} }

func (pki *CertificatePKI) validate(add adder, at string, _ *Spec) {
	if pki.Mount == "" {
		add(at+".mount", "must be set: the PKI mount that issues the leaf")
	}
	if pki.Role == "" {
		add(at+".role", "must be set: the PKI role that issues the leaf")
	}
	if pki.CommonName == "" {
		add(at+".commonName", "must be set")
	}
	if pki.TTL != "" {
		if d, err := time.ParseDuration(pki.TTL); err != nil || d <= 0 {
			add(at+".ttl", "must be a positive duration such as 72h, got %q", pki.TTL)
		}
	}
}

// Vault signs every workload certificate, through cert-manager and
// istio-csr: istiod holds no CA.

func (c *IstioCSR) setDefaults(s *Spec) {
	fillEmpty(&c.TrustDomain, DefaultTrustDomain)
	fillEmpty(&c.Address, DefaultIstioCSRAddress)
	fillEmpty(&c.PKI.MaxTTL, DefaultIstioCSRMaxTTL)
	fillEmpty(&c.Issuer.Name, DefaultIssuerName)
	fillEmpty(&c.Issuer.Kind, IssuerKind)
	ns := DefaultIstiodNamespace
	if len(s.Istiod.Namespaces) > 0 {
		ns = s.Istiod.Namespaces[0]
	}
	if c.Issuer.Kind == ClusterIssuerKind {
		// A ClusterIssuer's service account lives in cert-manager's
		// cluster resource namespace, by default its own.
		ns = DefaultCertManagerNamespace
	}
	fillEmpty(&c.Issuer.Namespace, ns)
	fillEmpty(&c.Issuer.ServiceAccount, c.Issuer.Name+IssuerServiceAccountSuffix)
	fillEmpty(&c.CertManager.Name, DefaultCertManagerServiceAccount)
	fillEmpty(&c.CertManager.Namespace, DefaultCertManagerNamespace)
}

func (c *IstioCSR) validate(add adder, at string, s *Spec) {
	if c.PKI.Mount == "" {
		add(at+".pki.mount", "must be set: the PKI mount that signs the workload certificates")
	}
	if c.PKI.Role == "" {
		add(at+".pki.role", "must be set: the PKI role the issuer signs with (<mount>/sign/<role>)")
	}
	if c.PKI.RootMount != "" && c.PKI.RootMount == c.PKI.Mount {
		add(at+".pki.rootMount", "is the signing mount itself: set it only when pki.mount is an intermediate, to the mount of its root")
	}
	if d, err := time.ParseDuration(c.PKI.MaxTTL); err != nil || d < time.Hour || d%time.Second != 0 {
		add(at+".pki.maxTTL", "must be whole seconds of at least 1h (istio-csr asks for 1h certificates by default), such as 24h, got %q", c.PKI.MaxTTL)
	}
	if !isDNSName(c.TrustDomain) {
		add(at+".trustDomain", "must be a trust domain such as cluster.local (the host of spiffe://<trustDomain>/ns/...), got %q", c.TrustDomain)
	}
	if host, port, err := net.SplitHostPort(c.Address); err != nil || host == "" || port == "" || strings.ContainsAny(c.Address, "/ \"") {
		add(at+".address", "must be istio-csr's host:port, such as %s, got %q", DefaultIstioCSRAddress, c.Address)
	}
	if c.Issuer.Kind != IssuerKind && c.Issuer.Kind != ClusterIssuerKind {
		add(at+".issuer.kind", "must be %q or %q, got %q", IssuerKind, ClusterIssuerKind, c.Issuer.Kind)
	}
	for _, f := range []struct{ field, v string }{
		{"issuer.name", c.Issuer.Name}, {"issuer.namespace", c.Issuer.Namespace}, {"issuer.serviceAccount", c.Issuer.ServiceAccount},
		{"certManager.name", c.CertManager.Name}, {"certManager.namespace", c.CertManager.Namespace},
	} {
		if !isDNSLabel(f.v) {
			add(at+"."+f.field, "must be a Kubernetes name (lowercase letters, digits and -), got %q", f.v)
		}
	}
	if s.Vault.Address == "" {
		add("spec.vault.address", "must be set with %s: it is the cert-manager issuer's server", at)
	}
	if len(s.Gateways) > 0 {
		add("spec.gateways", "is not used with %s: gateways get their workload certificates from istio-csr like every proxy; remove it", at)
	}
}

// isDNSName: an RFC 1123 subdomain whose labels are DNS labels (at most
// 63 characters each), as a trust domain is a host name.
func isDNSName(s string) bool {
	return isDNSSubdomain(s) && !slices.ContainsFunc(strings.Split(s, "."), func(l string) bool { return len(l) > 63 })
}

// istiod's intermediate, minted by Vault at every agent start.

func (m *Mint) setDefaults(s *Spec) {
	if mount, _, ok := MintCAPath(m.CAPath); ok && m.RootMount == "" {
		m.RootMount = mount
	}
	fillEmpty(&m.KeyType, DefaultMintKeyType)
	if bits := mintKeyBits[m.KeyType]; m.KeyBits == 0 && bits != nil {
		m.KeyBits = bits[0]
	}
	// A running agent re-runs the generate on every static-secret render
	// (the response carries no lease): that interval is the rotation
	// period, well before the intermediate expires.
	if s.Rotation && s.Agent.StaticSecretRenderInterval == "" {
		if d, err := time.ParseDuration(m.TTL); err == nil && d >= 3*time.Second {
			s.Agent.StaticSecretRenderInterval = ShortDuration(d * mintRenewNumerator / mintRenewDenominator)
		}
	}
}

// mintKeyBits are the key sizes each key type allows, the default first:
// the sizes Vault's PKI engine and istiod's CA both take.
var mintKeyBits = map[string][]int{"rsa": {2048, 3072, 4096}, "ec": {256, 384, 521}}

func (m *Mint) validate(add adder, at string, s *Spec) {
	csrMount := MintCSRMount(m.CSRPath)
	switch {
	case m.CSRPath == "":
		add(at+".csrPath", "must be set: the intermediate mount's exported generate endpoint, e.g. pki_int/intermediate/generate/exported")
	case csrMount == "":
		// <mount>/root/generate/exported would let istiod's token make
		// a self-signed root; only the intermediate forms return a CSR.
		add(at+".csrPath", "must be <mount>/intermediate/generate/exported or <mount>/issuers/generate/intermediate/exported (the exported intermediate generate: only it returns the key and a CSR for the root to sign), got %q", m.CSRPath)
	}
	caMount, _, caOK := MintCAPath(m.CAPath)
	switch {
	case m.CAPath == "":
		add(at+".caPath", "must be set: the root's sign-intermediate endpoint, e.g. pki/root/sign-intermediate")
	case !caOK:
		add(at+".caPath", "must be <rootMount>/root/sign-intermediate or <rootMount>/issuer/<ref>/sign-intermediate, got %q", m.CAPath)
	case m.RootMount != caMount:
		// root-cert.pem must be the certificate that signs: another
		// mount's CA would be a root the chain does not end at.
		add(at+".rootMount", "is %q, not caPath's mount %q: root-cert.pem must be the CA that signs at caPath; remove rootMount (it defaults to caPath's mount)", m.RootMount, caMount)
	case csrMount != "" && csrMount == caMount:
		add(at+".csrPath", "is on the root's mount %s (caPath %q): the root's mount would keep a key entry per pod start and sign its own CSR; use a mount of its own for the intermediate, e.g. %s_int/intermediate/generate/exported", caMount, m.CAPath, caMount)
	}
	switch {
	case m.CommonName == "":
		add(at+".commonName", "must be set: the intermediate's common name, the only one the policy allows")
	case utf8.RuneCountInString(m.CommonName) > MaxCommonName:
		add(at+".commonName", "is %d characters: Vault refuses a common name longer than %d (RFC 5280's upper bound); shorten it", utf8.RuneCountInString(m.CommonName), MaxCommonName)
	case strings.Contains(m.CommonName, "*"):
		// Vault reads a * at either end of an allowed_parameters value as
		// a glob: the pin would allow other names.
		add(at+".commonName", "contains * (%q): refused, Vault's allowed_parameters would read it as a glob and let istiod's token ask for other names", m.CommonName)
	}
	ttl, err := time.ParseDuration(m.TTL)
	if err != nil || ttl < 3*time.Second || ttl%time.Second != 0 {
		add(at+".ttl", "must be whole seconds of at least 3s, such as 720h, got %q", m.TTL)
	}
	if bits, ok := mintKeyBits[m.KeyType]; !ok {
		add(at+".keyType", "must be \"rsa\" or \"ec\", got %q", m.KeyType)
	} else if !slices.Contains(bits, m.KeyBits) {
		add(at+".keyBits", "must be one of %v for keyType %s, got %d", bits, m.KeyType, m.KeyBits)
	}
	if !s.Rotation || err != nil {
		return
	}
	// A new token starts the agent's template runner again, which re-runs
	// the generate: an agent that re-authenticates would mint a new
	// intermediate (and leave a key in the mount) at every login. A
	// periodic token, renewed by the running agent, never needs one.
	if s.Vault.TokenPeriod == "" {
		add("spec.vault.tokenPeriod", "must be set with spec.source.mint and spec.rotation: true: the running agent mints a new intermediate whenever it logs in again, and without a periodic token it does so each time the token's TTL runs out; set it (e.g. 1h) so the role issues a periodic token the agent renews")
	}
	if d, err := time.ParseDuration(s.Agent.StaticSecretRenderInterval); err == nil && d >= ttl {
		add("spec.agent.staticSecretRenderInterval", "is %s, not shorter than spec.source.mint.ttl %s: the running agent mints the next intermediate once per interval, so istiod's would expire first; leave it unset (2/3 of the ttl) or make it shorter", s.Agent.StaticSecretRenderInterval, m.TTL)
	}
}

// MaxCommonName is the longest subject common name Vault's PKI engine
// issues (RFC 5280's ub-common-name).
const MaxCommonName = 64

// CommonNameProblem says why Vault's PKI engine or an agent template could
// not take cn as a CA's common name ("" when it can): a quote or
// backslash, a control character (C0, DEL or C1), more than MaxCommonName
// characters. The mint config refuses the same (unsafeValue and validate).
func CommonNameProblem(cn string) string {
	switch n := utf8.RuneCountInString(cn); {
	case strings.ContainsAny(cn, "\"`\\'"):
		return fmt.Sprintf("contains a quote or backslash (%q): refused, it would break out of the agent template string", cn)
	case strings.IndexFunc(cn, isControl) >= 0:
		return fmt.Sprintf("contains a newline or control character (%q): refused", cn)
	case n > MaxCommonName:
		return fmt.Sprintf("is %d characters: Vault refuses a common name longer than %d (RFC 5280's upper bound)", n, MaxCommonName)
	}
	return ""
}

// ReservedMount names the Vault path a mount (or a path's first segment)
// must not be under: auth/, sys/, identity and cubbyhole are Vault's own,
// no PKI or KV mount there is possible, and a path there reads (or, for
// sys, configures) Vault itself. "" when m is not reserved.
func ReservedMount(m string) string {
	m = strings.Trim(m, "/")
	for _, r := range []string{"auth", "sys", "identity", "cubbyhole"} {
		if m == r || strings.HasPrefix(m, r+"/") {
			return r
		}
	}
	return ""
}

// MintCSRMount is the PKI mount of an exported intermediate generate
// endpoint (<mount>/intermediate/generate/exported or
// <mount>/issuers/generate/intermediate/exported), "" for any other path.
func MintCSRMount(csrPath string) string {
	for _, suffix := range []string{"/issuers/generate/intermediate/exported", "/intermediate/generate/exported"} {
		if m, ok := strings.CutSuffix(csrPath, suffix); ok && m != "" {
			return m
		}
	}
	return ""
}

// MintCAPath splits a sign-intermediate endpoint into its mount and the
// issuer it names: <mount>/root/sign-intermediate signs with the mount's
// default issuer (issuer ""), <mount>/issuer/<ref>/sign-intermediate with
// <ref>. ok is false for any other path.
func MintCAPath(caPath string) (mount, issuer string, ok bool) {
	if m, found := strings.CutSuffix(caPath, "/root/sign-intermediate"); found && m != "" {
		return m, "", true
	}
	rest, found := strings.CutSuffix(caPath, "/sign-intermediate")
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", false
	}
	m, found := strings.CutSuffix(rest[:i], "/issuer")
	if !found || m == "" || rest[i+1:] == "" {
		return "", "", false
	}
	return m, rest[i+1:], true
}

// RootPath is where root-cert.pem is read: the certificate of the issuer
// that signs at CAPath (its field certificate). <mount>/cert/ca is the
// mount's default issuer, which root/sign-intermediate signs with; a named
// issuer's certificate is at <mount>/issuer/<ref>/json.
func (m *Mint) RootPath() string {
	mount, issuer, _ := MintCAPath(m.CAPath)
	if issuer == "" {
		return mount + "/cert/ca"
	}
	return mount + "/issuer/" + issuer + "/json"
}

// ShortDuration writes d in its largest whole unit (480h, 90m, 45s), as
// a Vault or agent duration; d is whole seconds or is cut to them.
func ShortDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Hour, "h"}, {time.Minute, "m"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.unit
		}
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// An extra root from a field of a KV secret.

func (kv *RootKV) setDefaults(s *Spec) {
	if kv.Version == 0 {
		kv.Version = DefaultKVVersion
	}
	fillEmpty(&kv.Field, DefaultFields(s.FileLayout).RootCert)
}

func (kv *RootKV) validate(add adder, at string, _ *Spec) {
	validateKVSecret(add, at, kv.KVSecret)
}

// An extra root from a PKI mount's CA certificate.

func (pki *RootPKI) setDefaults(*Spec) {}

func (pki *RootPKI) validate(add adder, at string, _ *Spec) {
	if pki.Mount == "" {
		add(at+".mount", "must be set: the PKI mount whose CA certificate (<mount>/cert/ca) is the extra root")
	}
	if strings.ContainsAny(pki.Issuer, "/ ") {
		add(at+".issuer", "must be one issuer's name or ID (vault list %s/issuers), got %q", pki.Mount, pki.Issuer)
	}
}
