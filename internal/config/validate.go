package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Validate reports every problem of a defaulted, expanded config.
func (c *VaultCA) Validate() Errors {
	var errs Errors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.APIVersion != APIVersion {
		add("apiVersion", "must be %q, got %q", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		add("kind", "must be %q, got %q", Kind, c.Kind)
	}
	s := &c.Spec
	if s.Vault.Role == "" {
		if s.Source.IstioCSR != nil {
			add("spec.vault.role", "must be set: the Vault Kubernetes-auth role cert-manager's issuer logs in with")
		} else {
			add("spec.vault.role", "must be set: the Vault Kubernetes-auth role bound to istiod's service account")
		}
	}
	if r := s.Vault.Role; !validRoleName(r) {
		add("spec.vault.role", "%s", badRoleName(r))
	}
	if !strings.HasPrefix(s.Vault.AuthPath, "auth/") {
		add("spec.vault.authPath", "must start with auth/ (e.g. auth/kubernetes), got %q", s.Vault.AuthPath)
	}
	if a := s.Vault.Address; a != "" {
		// Messages show the address without its userinfo: stderr reaches
		// CI logs and explain's record.
		shown := RedactUserinfo(a)
		u, err := url.Parse(a)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			add("spec.vault.address", "must be an http(s) URL such as https://vault.example.com:8200, got %q", shown)
		case u.User != nil && s.Source.IstioCSR != nil:
			add("spec.vault.address", "holds credentials (%q): they would be written into the cert-manager Issuer's server; remove them: cert-manager logs in with Kubernetes auth (spec.vault.role)", shown)
		case u.User != nil:
			add("spec.vault.address", "holds credentials (%q): they would be written into every manifest, in the injector's service annotation; remove them: the agent logs in with Kubernetes auth (spec.vault.role)", shown)
		case PlainHTTP(u) && !s.Vault.AllowPlainHTTP && s.Source.IstioCSR != nil:
			add("spec.vault.address", "is plain http:// to a host that is not loopback (%q): cert-manager would send its Vault token and every CSR, and get the signed certificates, across the network in clear; use https://, or set spec.vault.allowPlainHTTP: true if something else encrypts that link", shown)
		case PlainHTTP(u) && !s.Vault.AllowPlainHTTP:
			add("spec.vault.address", "is plain http:// to a host that is not loopback (%q): the agent would fetch the CA key across the network in clear; use https://, or set spec.vault.allowPlainHTTP: true if something else encrypts that link", shown)
		}
	}
	// Vault keeps whole seconds (600ms would be a non-periodic 0) and, by
	// default, refuses a period past its maximum lease of 768h.
	if d := s.Vault.TokenPeriod; d != "" {
		if v, err := time.ParseDuration(d); err != nil || v < time.Second || v%time.Second != 0 || v > 768*time.Hour {
			add("spec.vault.tokenPeriod", "must be whole seconds from 1s to 768h (Vault's default maximum lease), such as 600s or 1h, got %q", d)
		}
	}
	// The vault CLI reads a value starting with @ from a file and - from
	// stdin: `audience=@ca-key.pem` in the policy script would copy the CA
	// key into every role.
	if a := s.Vault.Audience; a != "" {
		switch {
		case strings.IndexFunc(a, func(r rune) bool { return r <= ' ' || r == 0x7f || r == ',' }) >= 0:
			add("spec.vault.audience", "must be one audience, with no space, comma or control character, got %q", a)
		case strings.HasPrefix(a, "@") || strings.HasPrefix(a, "-"):
			add("spec.vault.audience", "must not start with @ or - (the vault CLI reads such a value from a file or stdin), got %q", a)
		case len(a) > 1024:
			add("spec.vault.audience", "is %d bytes long: an audience is a URL or a short name, at most 1024 bytes", len(a))
		}
	}
	// With istioCSR no pod reads caCert: it is a file `issuer` reads,
	// which may be relative to the config.
	if p := s.Vault.CACert; p != "" && !path.IsAbs(p) && s.Source.IstioCSR == nil {
		add("spec.vault.caCert", "must be an absolute path inside the pod, got %q", p)
	}
	if n := s.Vault.TLSSecret; n != "" {
		if !isDNSSubdomain(n) {
			add("spec.vault.tlsSecret", "must be a Kubernetes Secret name (lowercase letters, digits, - and ., at most 253 characters), got %q", n)
		}
		// The agent's tls_skip_verify ignores ca_cert: the Secret would be
		// mounted and never read, and the config say both "trust this CA"
		// and "trust anyone".
		if s.Vault.TLSSkipVerify && s.Source.IstioCSR == nil { // with istioCSR both are unused: warnings say so
			add("spec.vault.tlsSkipVerify", "is true with spec.vault.tlsSecret %q: the agent would not check Vault's certificate at all, so the Secret's CA is never used; remove tlsSkipVerify (the Secret's CA is what makes the agent trust a Vault served by a private CA)", n)
		}
	}
	if p := s.SecretVolumePath; !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.Contains(p, "$") {
		add("spec.secretVolumePath", "must be a clean absolute directory other than /, with no $ (Kubernetes expands $(VAR) in ROOT_CA_DIR but not in a mountPath), got %q", p)
	}
	if s.OnConflict != ConflictError && s.OnConflict != ConflictOverride {
		add("spec.onConflict", "must be %q or %q, got %q", ConflictError, ConflictOverride, s.OnConflict)
	}
	for i, sa := range s.Istiod.ServiceAccounts {
		if !isDNSLabel(sa) {
			add(fmt.Sprintf("spec.istiod.serviceAccounts[%d]", i), "must be a service account name, got %q", sa)
		}
	}
	if s.FileLayout != LayoutIstio && s.FileLayout != LayoutKubernetesTLS {
		add("spec.fileLayout", "must be %q or %q, got %q", LayoutIstio, LayoutKubernetesTLS, s.FileLayout)
	}
	// The agent must not run as root, nor write keys group-readable by
	// root's group: Istio's images run istiod and the proxy as 1337.
	if u := s.Agent.RunAsUser; u != nil && *u <= 0 {
		add("spec.agent.runAsUser", "must be a non-root uid (istiod's is 1337), got %d", *u)
	}
	if g := s.Agent.RunAsGroup; g != nil && *g <= 0 {
		add("spec.agent.runAsGroup", "must be a non-root gid (istiod's is 1337), got %d", *g)
	}
	if !isKeyPerms(s.Agent.KeyPerms) {
		add("spec.agent.keyPerms", "must be \"0400\" (only the owner, istiod's uid, reads the key) or \"0440\" (its group too), got %q: istiod only reads the key and the agent replaces it, so no write, execute or others' bits", s.Agent.KeyPerms)
	}
	if d := s.Agent.StaticSecretRenderInterval; d != "" {
		if v, err := time.ParseDuration(d); err != nil || v <= 0 {
			add("spec.agent.staticSecretRenderInterval", "must be a positive duration such as 30s or 5m, got %q", d)
		} else if !s.Rotation {
			add("spec.agent.staticSecretRenderInterval", "applies only with spec.rotation: true (an init-only agent renders once)")
		}
	}
	for i, ns := range s.Istiod.Namespaces {
		if !isDNSLabel(ns) {
			add(fmt.Sprintf("spec.istiod.namespaces[%d]", i), "must be a Kubernetes namespace name, got %q", ns)
		}
	}
	for i, r := range s.Istiod.Revisions {
		if !isDNSLabel(r) {
			add(fmt.Sprintf("spec.istiod.revisions[%d]", i), "must be a revision name such as canary or 1-30, got %q", r)
		}
	}
	validateSources(add, "spec.source", &s.Source, s, "layout")
	for i := range s.ExtraRoots() {
		validateSources(add, fmt.Sprintf("spec.rootRotation.extraRoots[%d]", i), &s.RootRotation.ExtraRoots[i], s, "")
	}
	validateRootRotation(add, s)
	for i := range s.Gateways {
		validateGateway(add, fmt.Sprintf("spec.gateways[%d]", i), &s.Gateways[i], s)
	}
	errs = append(errs, c.injectionErrors()...)
	errs = append(errs, c.separationErrors()...)
	errs = append(errs, c.wildcardErrors()...)
	sortErrors(errs)
	return errs
}

// PlainHTTP reports an http:// URL whose host is not loopback, which the
// config refuses without spec.vault.allowPlainHTTP (migrate applies the
// same test to what it carries over). url.Parse has already lowered the
// scheme.
func PlainHTTP(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		return !ip.IsLoopback()
	}
	return !strings.EqualFold(host, "localhost")
}

// Warnings are what the config allows but a reader should know is risky,
// located in the file when it came from Load. The front ends print them on
// stderr; they never change the output or the exit code.
func (c *VaultCA) Warnings() Errors {
	return c.warnings
}

// workloadCertTTL is Istio's default workload certificate lifetime.
const workloadCertTTL = 24 * time.Hour

// warningList finds the warnings of a defaulted, valid config.
func (c *VaultCA) warningList() Errors {
	var ws Errors
	v := c.Spec.Vault
	csr := c.Spec.Source.IstioCSR != nil
	if v.TLSSkipVerify && csr {
		ws = append(ws, &FieldError{Field: "spec.vault.tlsSkipVerify", Msg: "is true: with istioCSR cert-manager's Issuer checks Vault's certificate against its caBundle (spec.vault.caCert) or the system roots, and this setting is not used; remove it"})
	} else if v.TLSSkipVerify {
		ws = append(ws, &FieldError{Field: "spec.vault.tlsSkipVerify", Msg: "is true: the agent accepts any certificate for Vault, so whoever can intercept the connection can pose as Vault and read the CA key it fetches; name the CA of Vault's certificate instead, with tlsSecret (a Secret holding it) or caCert"})
	}
	switch inTLS := underTLSSecretMount(v.CACert); {
	case csr && v.TLSSecret != "":
		ws = append(ws, &FieldError{Field: "spec.vault.tlsSecret", Msg: fmt.Sprintf("is %q, but with istioCSR no pod gets Vault annotations, so nothing mounts it: cert-manager's Issuer trusts the caBundle that istio-vault-ca issuer takes from spec.vault.caCert, a file beside the config; remove tlsSecret", v.TLSSecret)})
	case csr:
		// caCert is a file istio-vault-ca issuer reads, not a pod's.
	case v.TLSSecret != "" && !inTLS:
		ws = append(ws, &FieldError{Field: "spec.vault.caCert", Msg: fmt.Sprintf("is %q, outside %s where the injector mounts the Secret spec.vault.tlsSecret (%q): the agent trusts that file, not the Secret's CA; remove caCert to use %s/%s, or remove tlsSecret", v.CACert, TLSSecretMountPath, v.TLSSecret, TLSSecretMountPath, TLSSecretCAKey)})
	case v.TLSSecret == "" && inTLS:
		ws = append(ws, &FieldError{Field: "spec.vault.caCert", Msg: fmt.Sprintf("is %q, under %s, where the injector mounts only the Secret of vault.hashicorp.com/tls-secret: without spec.vault.tlsSecret nothing is there and the agent cannot start; set spec.vault.tlsSecret to the Secret holding Vault's CA under %s", v.CACert, TLSSecretMountPath, TLSSecretCAKey)})
	}
	if m := c.Spec.Source.Mint; m != nil {
		if d, err := time.ParseDuration(m.TTL); err == nil && d < workloadCertTTL {
			// istiod clamps a workload certificate to its CA's expiry
			// (security/pkg/pki/util, GenCertFromCSR) and refuses to sign
			// once the CA has expired.
			ws = append(ws, &FieldError{Field: "spec.source.mint.ttl", Msg: fmt.Sprintf("is %s, shorter than 24h, Istio's default workload certificate TTL: istiod cuts every workload certificate at the intermediate's expiry, so they live less than 24h, and once it expires istiod signs nothing until a new intermediate comes (spec.rotation: true, or a restart); use 24h or more unless that is meant", m.TTL)})
		}
	}
	if u, err := url.Parse(v.Address); err == nil && PlainHTTP(u) && v.AllowPlainHTTP && csr {
		ws = append(ws, &FieldError{Field: "spec.vault.address", Msg: fmt.Sprintf("is plain http:// (%q), allowed by spec.vault.allowPlainHTTP: cert-manager's Vault token, the CSRs and the signed certificates cross the network in clear unless something else encrypts that link", RedactUserinfo(v.Address))})
	} else if err == nil && PlainHTTP(u) && v.AllowPlainHTTP {
		ws = append(ws, &FieldError{Field: "spec.vault.address", Msg: fmt.Sprintf("is plain http:// (%q), allowed by spec.vault.allowPlainHTTP: the CA key crosses the network in clear unless something else encrypts that link", RedactUserinfo(v.Address))})
	}
	return ws
}

// RedactUserinfo replaces what precedes the last @ of a URL's authority
// with xxxxx. It works on the raw string, so that an address that does not
// parse is shown without its password too; a user name alone may be a
// token, so it goes as well.
func RedactUserinfo(a string) string {
	start := 0
	if i := strings.Index(a, "://"); i >= 0 {
		start = i + len("://")
	}
	end := len(a)
	if i := strings.IndexAny(a[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(a[start:end], '@')
	if at < 0 {
		return a
	}
	return a[:start] + "xxxxx" + a[start+at:]
}

// The name checks are plain loops, not regular expressions: a compiled
// expression is built at start-up, which every run of the binary paid.

// isKeyPerms: 0400 or 0440, the leading 0 optional. istiod only reads the
// key, and the agent renders to a temporary file it renames over the old
// one, so it needs no write bit on the file: any bit beyond read for the
// owner and group lets another process change or run the CA key.
func isKeyPerms(s string) bool {
	if len(s) == 4 && s[0] == '0' {
		s = s[1:]
	}
	return s == "400" || s == "440"
}

// underTLSSecretMount: a file inside the directory where the injector
// mounts the tls-secret.
func underTLSSecretMount(p string) bool {
	return p != "" && strings.HasPrefix(path.Clean(p), TLSSecretMountPath+"/")
}

// isDNSSubdomain: an RFC 1123 subdomain, as Kubernetes names Secrets: dot-
// separated labels, at most 253 characters.
func isDNSSubdomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !isName(l, "-") {
			return false
		}
	}
	return true
}

// isDNSLabel: an RFC 1123 label, as Kubernetes names namespaces.
func isDNSLabel(s string) bool { return len(s) <= 63 && isName(s, "-") }

// isCertName: a name that is safe in a file name.
func isCertName(s string) bool { return isName(s, "-.") }

// isName reports whether s is lowercase letters and digits, with the bytes
// of inner allowed too, but not first or last.
func isName(s, inner string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && i < len(s)-1 && strings.IndexByte(inner, c) >= 0:
		default:
			return false
		}
	}
	return true
}

func validateKVSecret(add func(string, string, ...any), field string, kv KVSecret) {
	if kv.Version != 1 && kv.Version != 2 {
		add(field+".version", "must be 1 or 2, got %d", kv.Version)
	}
	if kv.Path == "" {
		add(field+".path", "must be set: the secret's path as `vault kv get` takes it")
		return
	}
	if kv.Mount != "" && !strings.HasPrefix(kv.Path, strings.TrimSuffix(kv.Mount, "/")+"/") {
		add(field+".mount", "%q must be a prefix of path %q", kv.Mount, kv.Path)
	}
	if kv.Version == 2 && kv.Mount == "" && strings.Contains(kv.Path, "/data/") {
		add(field+".path", "%q looks like a KV v2 API path: write the logical path without data/ (it is added), or set mount", kv.Path)
	}
}

// injectionErrors refuses any value that ends up inside a Vault agent
// template or a Vault path (tagged vault:"template") and could end the string or action it is placed in, and any
// key material pasted into the config.
func (c *VaultCA) injectionErrors() Errors {
	var errs Errors
	for _, tv := range c.templateValues() {
		if msg := unsafeValue(*tv.v, c.Spec.Source.IstioCSR != nil); msg != "" {
			errs = append(errs, &FieldError{Field: tv.field(), Msg: msg})
		}
	}
	return errs
}

// wildcardErrors refuses * and + in every value that becomes a Vault
// policy path, a mount, a role or a policy name (tagged
// vault:"template,...,name"; not the Vault Enterprise namespace, a request
// header, nor a certificate's common and alternative names, where
// *.example.com asks for a wildcard certificate, as it should). Vault reads them in a
// policy path as wildcards: path "secret/*" became `path "secret/data/*"`,
// which reads every secret of the mount, not the one the agent renders.
// Checked after expansion, so {{ .Cluster }} cannot bring one in either.
func (c *VaultCA) wildcardErrors() Errors {
	var errs Errors
	for _, tv := range c.templateValues() {
		if !tv.vaultName {
			continue
		}
		v := tv.v
		if strings.ContainsAny(*v, "*+") {
			errs = append(errs, &FieldError{Field: tv.field(), Msg: fmt.Sprintf("contains a wildcard (%q): refused, Vault reads * and + in a policy path as wildcards, and the policy would grant every path they match; write the exact value", *v)})
		}
		// Vault trims the names it stores (a policy "default " is the
		// default policy every token has): a space would make two names the
		// tool tells apart one and the same in Vault.
		if strings.IndexFunc(*v, unicode.IsSpace) >= 0 {
			errs = append(errs, &FieldError{Field: tv.field(), Msg: fmt.Sprintf("contains white space (%q): refused, Vault trims names, so it would not be the name the tool checks; write it without", *v)})
		}
	}
	return errs
}

// isControl: a C0 control character, DEL or a C1 control character
// (U+0080-U+009F), none of which a name or template value may hold.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// unsafeValue: csr is the istioCSR mode, where no agent template is
// written and the values go into the policy, its script and the Issuer.
func unsafeValue(v string, csr bool) string {
	into, str := "the agent template", "the agent template string"
	if csr {
		into, str = "the policy and the Issuer the tool prints", "the quoted strings of the policy and the Issuer the tool prints"
	}
	switch {
	case strings.Contains(v, "-----BEGIN"):
		return "holds PEM material: key material never goes into the config, store it in Vault"
	case strings.Contains(v, "{{") || strings.Contains(v, "}}"):
		return fmt.Sprintf("contains a template delimiter after expansion (%q): refused, it would inject into %s", v, into)
	case strings.ContainsAny(v, "\"`\\'"):
		return fmt.Sprintf("contains a quote or backslash (%q): refused, it would break out of %s", v, str)
	case strings.IndexFunc(v, isControl) >= 0:
		return fmt.Sprintf("contains a newline or control character (%q): refused, it would inject into %s", v, into)
	case strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") || strings.Contains(v, "//"):
		return fmt.Sprintf("must not start or end with / or contain // (%q)", v)
	case v == ".." || strings.HasPrefix(v, "../") || strings.Contains(v, "/../") || strings.HasSuffix(v, "/.."):
		return fmt.Sprintf("must not contain .. segments (%q)", v)
	case v == "." || strings.HasPrefix(v, "./") || strings.Contains(v, "/./") || strings.HasSuffix(v, "/."):
		return fmt.Sprintf("must not contain . segments (%q): Vault reads the path without them, so it would not be the one the policy names", v)
	}
	return ""
}

// vaultNameRe is the name a Vault Kubernetes-auth role may have: the
// plugin's path is "role/" + framework.GenericNameRegex("name"), letters,
// digits and _ at both ends, and -, . between. Any other name gets "no
// handler for route" or a role at another path than the one written.
var vaultNameRe = regexp.MustCompile(`^\w(([\w-.]+)?\w)?$`)

// validRoleName: "" and wildcards or spaces have messages of their own.
func validRoleName(r string) bool {
	return r == "" || strings.ContainsAny(r, "*+") || strings.IndexFunc(r, unicode.IsSpace) >= 0 || vaultNameRe.MatchString(r)
}

func badRoleName(r string) string {
	return fmt.Sprintf("must be a Vault role name (letters, digits and _, with - and . between them, as Vault's Kubernetes auth accepts), got %q", r)
}

// globNote says why a glob in a role binding is refused.
func globNote(s string) string {
	if strings.Contains(s, "*") {
		return ": Vault's role would read it as a glob and bind every name it matches; list the exact names"
	}
	return ""
}

func sortErrors(errs Errors) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
}

func validateGateway(add adder, at string, g *Gateway, s *Spec) {
	if len(g.Selector) == 0 {
		add(at+".selector", "must name at least one pod label, e.g. {istio: ingressgateway}")
	}
	if p := g.MountPath; !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		add(at+".mountPath", "must be a clean absolute directory other than /, got %q", p)
	}
	if !strings.HasPrefix(g.AuthPath, "auth/") {
		add(at+".authPath", "must start with auth/, got %q", g.AuthPath)
	}
	if g.Role == "" {
		add(at+".role", "must be set (its default, the gateway's service account, is not known either): the gateway's own Kubernetes-auth role")
	} else if !validRoleName(g.Role) {
		add(at+".role", "%s", badRoleName(g.Role))
	}
	if len(g.ServiceAccounts) == 0 {
		add(at+".serviceAccounts", "must be set: the selector has neither an app nor an istio label to take the gateway's service account from")
	}
	// The role binds exactly these names; Vault would read * in them as a
	// glob and let every account (or namespace) it matches log in.
	for i, sa := range g.ServiceAccounts {
		if !isDNSLabel(sa) {
			add(fmt.Sprintf("%s.serviceAccounts[%d]", at, i), "must be a service account name such as istio-ingressgateway, got %q%s", sa, globNote(sa))
		}
	}
	for i, ns := range g.Namespaces {
		if !isDNSLabel(ns) {
			add(fmt.Sprintf("%s.namespaces[%d]", at, i), "must be a Kubernetes namespace name such as istio-ingress, got %q%s", ns, globNote(ns))
		}
	}
	if len(g.Certificates) == 0 {
		add(at+".certificates", "must list at least one certificate")
	}
	seen := map[string]bool{}
	writer := map[string]int{} // file name -> the certificate that writes it
	for j, c := range g.Certificates {
		cat := fmt.Sprintf("%s.certificates[%d]", at, j)
		switch {
		case !isCertName(c.Name):
			add(cat+".name", "must be a file-name-safe name such as bookinfo, got %q", c.Name)
		case seen[c.Name]:
			add(cat+".name", "%q is used twice: file names would collide", c.Name)
		default:
			validateCertificateFiles(add, cat+".name", g, j, writer)
		}
		seen[c.Name] = true
		validateSources(add, cat, &g.Certificates[j], s, "")
	}
}

// FileNames are the files a certificate is rendered into in its gateway's
// mountPath: <name>.crt, <name>.key and, with caField, <name>-ca.crt from
// KV; <name>.pem, holding certificate, chain and key, from PKI.
func (c Certificate) FileNames() []string {
	if src, ok := c.Selected().(certificateSource); ok {
		return src.fileNames(c.Name)
	}
	return nil
}

const (
	// longestFileAnnotation is the longest of the annotations written once
	// per file, vault.hashicorp.com/<prefix><file> (agent-inject-secret-,
	// agent-inject-template-, agent-inject-perms-, error-on-missing-key-):
	// it decides how long a file name may be.
	longestFileAnnotation = "agent-inject-template-"
	// maxAnnotationName is what Kubernetes allows after the / of an
	// annotation's name.
	maxAnnotationName = 63
	// reservedFilePrefix: vault-k8s (v1.6.2) takes every annotation named
	// agent-inject-template-file-<x> for the template file of a secret <x>,
	// before it tries agent-inject-template-: the template of file-shop.crt
	// would make a phantom secret shop.crt whose template file does not
	// exist, and the agent would not start. The other prefixes it parses
	// (agent-inject-secret-, auth-config-, agent-telemetry-) cannot follow
	// the prefixes our annotations start with.
	reservedFilePrefix = "file-"
)

// validateCertificateFiles checks the files of certificate j of g against
// those of the certificates before it (writer), and the annotations that
// will be named after them.
func validateCertificateFiles(add func(string, string, ...any), field string, g *Gateway, j int, writer map[string]int) {
	c := g.Certificates[j]
	files := c.FileNames()
	if strings.HasPrefix(c.Name, reservedFilePrefix) {
		f := files
		if len(f) == 0 {
			f = []string{c.Name + ".crt"}
		}
		add(field, "must not start with %s: the injector reads the annotation %s%s as the template file of another secret, %s, and the agent cannot start; rename it",
			reservedFilePrefix, longestFileAnnotation, f[0], strings.TrimPrefix(f[0], reservedFilePrefix))
		return
	}
	longest := 0
	for _, f := range files {
		if other, ok := writer[f]; ok {
			add(field, "writes %s, which certificates[%d] (%s) writes too: one would silently replace the other; rename one", f, other, g.Certificates[other].Name)
			return
		}
		writer[f] = j
		if len(f) > longest {
			longest = len(f)
		}
	}
	for _, f := range files {
		if n := len(longestFileAnnotation) + len(f); n > maxAnnotationName {
			add(field, "gives the annotation vault.hashicorp.com/%s%s, whose name after the / is %d characters: Kubernetes allows %d; shorten the name to at most %d characters",
				longestFileAnnotation, f, n, maxAnnotationName, maxAnnotationName-len(longestFileAnnotation)-(longest-len(c.Name)))
			return
		}
	}
}
