// Package migrate turns the settings of Istio 1.1's node agent with
// CA_PROVIDER=VaultCA (seed 004) into the VaultCA of the istioCSR source:
// Vault still signs every workload certificate, now through cert-manager's
// Vault issuer and istio-csr. It reads a values file or rendered manifests
// and writes the new config, saying what it could not carry over. It
// writes no manifest: that stays the transform's job.
package migrate

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// Options are the choices the input cannot make.
type Options struct {
	// Cluster becomes spec.cluster and metadata.name; Istio 1.1 had no
	// cluster name.
	Cluster string
	// AllowPlainHTTP carries an http:// VAULT_ADDR to a host other than
	// loopback over, as spec.vault.allowPlainHTTP: true.
	AllowPlainHTTP bool
	// CACertFile is where the caller writes VAULT_TLS_ROOT_CERT's PEM: it
	// becomes spec.vault.caCert, the PEM file `issuer` reads for the
	// Issuer's caBundle.
	CACertFile string
}

// Note is one line of the report: a setting and what became of it.
type Note struct {
	Where   string // "line 17" or "document 2 (DaemonSet ns/name), line 40"
	Setting string // as the input names it: nodeagent.env.CA_ADDR, env CA_ADDR
	Text    string
}

func (n Note) String() string { return fmt.Sprintf("%s: `%s` %s", n.Where, n.Setting, n.Text) }

// Result is the migrated config and its report.
type Result struct {
	Cluster        string
	Address        string
	AllowPlainHTTP bool
	AuthPath       string // the mount, e.g. auth/kubernetes; "" for the config's default
	// Role is the issuer's own Kubernetes-auth role (IssuerRole), never
	// NodeAgentRole: policy --output commands rewrites the role it names,
	// and the node agents still running log in with theirs.
	Role          string
	NodeAgentRole string
	PKIMount      string
	PKIRole       string
	TrustDomain   string
	// TrustDomainDefaulted: the input set none, cluster.local was written.
	TrustDomainDefaulted bool
	// VaultCACert is the PEM VAULT_TLS_ROOT_CERT held, nil if unset.
	VaultCACert []byte
	// CACert is spec.vault.caCert: Options.CACertFile when there is a
	// certificate to write there.
	CACert string
	// Todo are what the user must do before the config works as the node
	// agent did; Dropped the settings with no counterpart.
	Todo, Dropped []Note
	// From says where the settings were read.
	From string
}

// Error lists everything wrong with an input, each located.
type Error struct{ Problems []string }

func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// IssuerRole is the name migrate gives cert-manager's issuer's
// Kubernetes-auth role, beside the node agent's.
const IssuerRole = "istio-csr"

// DefaultTrustDomain is what Istio 1.1 used when global.trustDomain was empty.
const DefaultTrustDomain = "cluster.local"

// The node agent's Vault settings, as Istio 1.1's node agent read them.
const (
	envProvider    = "CA_PROVIDER"
	envAddr        = "VAULT_ADDR"
	envAuthPath    = "VAULT_AUTH_PATH"
	envRole        = "VAULT_ROLE"
	envSignCSRPath = "VAULT_SIGN_CSR_PATH"
	envTLSRootCert = "VAULT_TLS_ROOT_CERT"
)

var vaultSettings = []string{envAddr, envAuthPath, envRole, envSignCSRPath, envTLSRootCert}

// knownDropped are node agent settings with no counterpart, and why.
var knownDropped = map[string]string{
	"CA_ADDR":                    "proxies now get certificates from istio-csr (cert-manager-istio-csr.cert-manager.svc:443), and the transform points them there",
	"VALID_TOKEN":                "istio-agent sends the pod's own service-account token and istio-csr checks it with a TokenReview; there is nothing to switch",
	"SECRET_TTL":                 "the node agent's workload certificate lifetime; now istio-agent asks for one, capped by istio-csr's app.server.maxCertificateDuration and the PKI role's max_ttl (migrate sets neither)",
	"SECRET_GRACE_DURATION":      "istio-agent renews certificates itself; tune it with istio-agent's SECRET_GRACE_PERIOD_RATIO if needed",
	"SECRET_JOB_RUN_INTERVAL":    "istio-agent has no rotation job setting",
	"ENABLE_WORKLOAD_SDS":        "SDS is built into istio-agent since Istio 1.6",
	"ENABLE_INGRESS_GATEWAY_SDS": "gateways read their credentials through istio-agent's SDS since Istio 1.6",
	"Plugins":                    "the node agent's token-exchange plugins have no counterpart",
}

// Migrate reads the input and maps it, or says every reason it cannot.
// name is the input's name in the report.
func Migrate(data []byte, name string, opts Options) (*Result, error) {
	agents, err := read(data)
	if err != nil {
		return nil, &Error{Problems: []string{err.Error()}}
	}
	var results []*Result
	var problems []string
	for _, a := range agents {
		r, ps := mapAgent(a, opts)
		problems = append(problems, ps...)
		results = append(results, r)
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	first := results[0]
	for i, r := range results[1:] {
		if d := differences(first, r); len(d) > 0 {
			return nil, &Error{Problems: []string{fmt.Sprintf(
				"%s and %s configure different Vault CAs (%s): one VaultCA cannot hold both; migrate each from a stream that holds only its own node agent",
				agents[0].where, agents[i+1].where, strings.Join(d, "; "))}}
		}
	}
	first.From = name
	first.Cluster = opts.Cluster
	// Agents that agree add only their own dropped settings.
	for _, r := range results[1:] {
		first.Dropped = append(first.Dropped, r.Dropped...)
	}
	return first, nil
}

// differences names the mapped settings two agents set differently.
func differences(a, b *Result) []string {
	var d []string
	cmp := func(what, x, y string) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %q and %q", what, x, y))
		}
	}
	cmp(envAddr, a.Address, b.Address)
	cmp(envAuthPath+" (mount)", a.AuthPath, b.AuthPath)
	cmp(envRole, a.NodeAgentRole, b.NodeAgentRole)
	cmp(envSignCSRPath, a.PKIMount+"/sign/"+a.PKIRole, b.PKIMount+"/sign/"+b.PKIRole)
	cmp("trust domain", a.TrustDomain, b.TrustDomain)
	if string(a.VaultCACert) != string(b.VaultCACert) {
		d = append(d, envTLSRootCert+" differs")
	}
	return d
}

// mapAgent maps one agent's settings; problems are located messages.
func mapAgent(a *agent, opts Options) (*Result, []string) {
	r := &Result{}
	var problems []string
	bad := func(s setting, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: `%s` %s", a.at(s.line), s.key, fmt.Sprintf(format, args...)))
	}
	// Kubernetes and the chart both keep the last of two entries of a name.
	set := map[string]setting{}
	for _, s := range a.env {
		if prev, ok := set[s.name]; ok {
			r.Dropped = append(r.Dropped, Note{a.at(prev.line), prev.key, "set again below, and the later entry is the one the node agent saw"})
		}
		set[s.name] = s
	}
	p, ok := set[envProvider]
	switch {
	case !ok:
		return r, []string{fmt.Sprintf("%s: sets no %s: only a node agent with CA_PROVIDER: VaultCA had Vault sign its certificates, so there is nothing to migrate", a.where, envProvider)}
	case strings.TrimSpace(p.value) != "VaultCA":
		return r, []string{fmt.Sprintf("%s: `%s` is %q, not VaultCA: only the VaultCA provider had Vault sign certificates, so there is nothing to migrate", a.at(p.line), p.key, p.value)}
	}
	if !slices.ContainsFunc(vaultSettings, func(n string) bool { _, ok := set[n]; return ok }) {
		return r, []string{fmt.Sprintf("%s: sets CA_PROVIDER=VaultCA but none of %s: there are no Vault settings to migrate", a.where, strings.Join(vaultSettings, ", "))}
	}
	for _, n := range vaultSettings {
		if s, ok := set[n]; ok {
			switch {
			case s.fromRef:
				bad(s, "takes its value from elsewhere (valueFrom, or a value that is not a string): migrate cannot read it; write the value into the input, or write the VaultCA by hand")
				delete(set, n)
			case strings.Contains(s.value, "{{"):
				bad(s, "holds {{: the config reads {{ ... }} as a template; write the value without it")
				delete(set, n)
			}
		}
	}
	need := func(n, example string) (setting, bool) {
		s, ok := set[n]
		if !ok && !hasProblem(problems, n) {
			problems = append(problems, fmt.Sprintf("%s: sets no %s (such as %s): the VaultCA needs it; add it to the input", a.where, n, example))
		}
		return s, ok
	}

	if s, ok := need(envAddr, "https://vault.example.com:8200"); ok {
		u, err := url.Parse(s.value)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad(s, "is %q: must be an http(s) URL such as https://vault.example.com:8200", config.RedactUserinfo(s.value))
		case u.User != nil:
			bad(s, "holds credentials (%q): the VaultCA must not carry them (cert-manager logs in with Kubernetes auth); remove them", config.RedactUserinfo(s.value))
		case config.PlainHTTP(u) && !opts.AllowPlainHTTP:
			bad(s, "is plain http:// to a host that is not loopback (%q): the config refuses it unless spec.vault.allowPlainHTTP is set; use https:// in the input, or pass --allow-plain-http if something else encrypts that link", s.value)
		default:
			r.Address = s.value
			r.AllowPlainHTTP = config.PlainHTTP(u)
		}
	}
	if s, ok := set[envAuthPath]; ok {
		p := strings.Trim(s.value, "/")
		switch mount, found := strings.CutSuffix(p, "/login"); {
		case !found:
			bad(s, "is %q: Istio 1.1 logged in at this path, so it must end in /login (such as auth/kubernetes/login); the VaultCA takes the mount before it", s.value)
		case !strings.HasPrefix(mount, "auth/") || mount == "auth":
			bad(s, "is %q: must be an auth mount's login path, auth/<mount>/login (such as auth/kubernetes/login)", s.value)
		default:
			r.AuthPath = mount
		}
	} else if _, addr := set[envAddr]; addr {
		r.Todo = append(r.Todo, Note{a.where, envAuthPath, "is not set: spec.vault.authPath is left to the config's default, auth/kubernetes"})
	}
	if s, ok := need(envRole, "istio-cert"); ok {
		if strings.TrimSpace(s.value) == "" || strings.ContainsAny(s.value, "/ \t\n") {
			bad(s, "is %q: must be the name of a Kubernetes-auth role", s.value)
		} else {
			r.NodeAgentRole, r.Role = s.value, IssuerRole
			if s.value == IssuerRole {
				r.Role = IssuerRole + "-issuer"
			}
			r.Todo = append(r.Todo, Note{a.at(s.line), s.key, fmt.Sprintf("is %s, the Kubernetes-auth role the node agents log in with: left alone until the node agents are gone (then delete it), "+
				"since `istio-vault-ca policy --output commands` rewrites the role it names; cert-manager's issuer gets a role of its own, spec.vault.role %s", s.value, r.Role)})
		}
	}
	if s, ok := need(envSignCSRPath, "istio_ca/sign/istio-pki-role"); ok {
		p := strings.Trim(s.value, "/")
		i := strings.LastIndex(p, "/sign/")
		if i <= 0 || i+len("/sign/") == len(p) || strings.Contains(p[i+len("/sign/"):], "/") {
			bad(s, "is %q: must be <mount>/sign/<role>, the PKI endpoint that signed the CSR (such as istio_ca/sign/istio-pki-role)", s.value)
		} else {
			r.PKIMount, r.PKIRole = p[:i], p[i+len("/sign/"):]
			r.Todo = append(r.Todo, Note{a.at(s.line), s.key, fmt.Sprintf("names the PKI role %s/roles/%s, which `istio-vault-ca policy --output commands` rewrites whole: Vault resets every setting the write does not name, so read it first (vault read %s/roles/%s) and check the settings it had (ttl, key_bits, organization, ...) against the script's",
				r.PKIMount, r.PKIRole, r.PKIMount, r.PKIRole)})
		}
	}
	if s, ok := set[envTLSRootCert]; ok {
		if pemText, ids, err := rootCert(s.value); err != nil {
			bad(s, "%v", err)
		} else {
			r.VaultCACert = pemText
			note := "held the PEM text of the CA certificate(s) Vault's TLS certificate chains to (" + ids + "), not a path: " +
				"spec.vault.caCert is the path of such a PEM file, which `istio-vault-ca issuer` reads for the Issuer's caBundle. "
			if opts.CACertFile != "" {
				r.CACert = opts.CACertFile
				note += "It is set to " + opts.CACertFile + ", the file --ca-cert-out wrote; a relative path is read from the config file's directory, so keep the two side by side"
			} else {
				note += "It is not set: run migrate again with --ca-cert-out FILE, which writes the certificate to FILE and sets caCert to it"
			}
			r.Todo = append(r.Todo, Note{a.at(s.line), s.key, note})
		}
	}
	switch td := a.trustDomain; {
	case td != nil && (strings.Contains(td.value, "{{") || strings.ContainsAny(td.value, "/ \t\n")):
		bad(*td, "is %q: must be a trust domain such as cluster.local", td.value)
	case td != nil:
		r.TrustDomain = td.value
	default:
		r.TrustDomain, r.TrustDomainDefaulted = DefaultTrustDomain, true
		where, how := a.where, "is not set"
		if a.emptyTrustDomain > 0 {
			where, how = a.at(a.emptyTrustDomain), "is empty"
		}
		r.Todo = append(r.Todo, Note{where, a.trustDomainKey, how + ": spec.source.istioCSR.trustDomain is " + DefaultTrustDomain + ", Istio's default then; change it if the mesh's SPIFFE IDs use another"})
	}

	for _, s := range a.env {
		if s.name == envProvider || slices.Contains(vaultSettings, s.name) || set[s.name].line != s.line {
			continue
		}
		r.Dropped = append(r.Dropped, Note{a.at(s.line), s.key, droppedWhy(s.name)})
	}
	for _, s := range a.others {
		why := "the node agent is gone; istio-agent in each proxy asks istio-csr"
		if strings.HasPrefix(s.key, "global.sds.") {
			why = "SDS is built into istio-agent since Istio 1.6"
		}
		r.Dropped = append(r.Dropped, Note{a.at(s.line), s.key, why})
	}
	for _, notes := range [][]Note{r.Todo, r.Dropped} {
		sort.SliceStable(notes, func(i, j int) bool { return lineOf(notes[i].Where) < lineOf(notes[j].Where) })
	}
	return r, problems
}

func hasProblem(problems []string, name string) bool {
	return slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, name+"`") })
}

// droppedWhy explains a node agent setting migrate leaves behind.
func droppedWhy(name string) string {
	if why, ok := knownDropped[name]; ok {
		return why
	}
	for _, known := range vaultSettings {
		if name != known && (strings.HasSuffix(name, known) || strings.HasPrefix(name, known) || strings.EqualFold(name, known)) {
			return "not a setting Istio 1.1's node agent read (a misspelling of " + known + "? the node agent ignored it too); if it was meant, fix the name in the input and run migrate again"
		}
	}
	if strings.Contains(strings.ToUpper(name), "VAULT") {
		return "not a Vault setting Istio 1.1's node agent read; configure its equivalent by hand if it had one"
	}
	return "the VaultCA has no counterpart"
}

// rootCert checks VAULT_TLS_ROOT_CERT. Istio 1.1's node agent passed the
// variable's text itself to its Vault client as the trust root for Vault's
// TLS certificate ([]byte(VaultTLSRootCert)): it held PEM, not a path.
// It returns the certificates re-encoded, and says which they are.
func rootCert(v string) ([]byte, string, error) {
	text := []byte(strings.TrimSpace(v))
	var certs []*x509.Certificate
	for rest := text; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(strings.TrimSpace(string(rest))) > 0 && len(certs) > 0 {
				return nil, "", fmt.Errorf("holds text after its last PEM block: Istio 1.1's node agent read PEM certificates from it; remove the rest")
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, "", fmt.Errorf("holds a PEM %s block: it is the CA certificate of Vault's TLS server certificate, and must hold certificates only", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, "", fmt.Errorf("holds a certificate that does not parse (%v)", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, "", fmt.Errorf("holds no PEM certificate: Istio 1.1's node agent read the certificate text itself from it, not a file path; put the PEM text of the CA that signed Vault's TLS certificate in the input")
	}
	var ids []string
	var out []byte
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		ids = append(ids, fmt.Sprintf("subject %q, expires %s, SHA-256 %x", c.Subject.String(), c.NotAfter.UTC().Format("2006-01-02"), sum[:8]))
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out, strings.Join(ids, "; "), nil
}

// lineOf is the last "line N" of a location, for ordering notes.
func lineOf(where string) int {
	i := strings.LastIndex(where, "line ")
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range where[i+5:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
