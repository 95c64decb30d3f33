package verify

import (
	"errors"
	"fmt"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// ClientOptions say how to reach Vault beyond what the environment says.
type ClientOptions struct {
	// Address is used when neither VAULT_ADDR nor VAULT_AGENT_ADDR is set:
	// the config's spec.vault.address.
	Address string
	// AllowInsecureHTTP lets plain HTTP cross the network.
	AllowInsecureHTTP bool
	// Timeout bounds each request.
	Timeout time.Duration
	// CACert is --ca-cert: the file of the CA that signed Vault's
	// certificate, over VAULT_CACERT.
	CACert string
	// AgentCACert is spec.vault.caCert, the agent's CA file in its pod,
	// which verify trusts too when neither --ca-cert nor the environment
	// names a CA. TLSSecret (spec.vault.tlsSecret) is the Secret it comes
	// from, in SecretNamespace, for the message when the file is not here.
	AgentCACert, TLSSecret, SecretNamespace string
}

// NewClient is the Vault client verify reads with, configured from the
// environment as the vault CLI is (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT,
// VAULT_PROXY_ADDR, ...), but made safe for the token and the login JWT it
// carries: it sends them only to the address it has checked. The Vault
// client on its own follows one 301, 302 or 307 to any host and re-sends
// both there, and a proxy or an SRV record moves the traffic elsewhere too.
// The returned report holds the warnings a run starts with: TLS
// verification off, a proxy in the way, plain HTTP allowed across the
// network. An error is bad input; it never holds a password or token.
func NewClient(o ClientOptions) (*api.Client, Report, error) {
	// The Vault client's own parse errors quote the whole URL, password
	// included: parse first and name the variable instead.
	for _, name := range []string{api.EnvVaultAddress, api.EnvVaultAgentAddr, api.EnvVaultProxyAddr, api.EnvHTTPProxy} {
		if v := os.Getenv(name); v != "" {
			u, err := parseURL(name, v)
			if err != nil {
				return nil, nil, err
			}
			if name == api.EnvVaultAddress || name == api.EnvVaultAgentAddr {
				if err := vaultScheme(name, u); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	vc := api.DefaultConfig()
	if vc.Error != nil {
		return nil, nil, errors.New(redactText(vc.Error.Error()))
	}
	if os.Getenv(api.EnvVaultAddress) == "" && os.Getenv(api.EnvVaultAgentAddr) == "" {
		if o.Address == "" {
			return nil, nil, errors.New("set VAULT_ADDR (or spec.vault.address)")
		}
		u, err := parseURL("spec.vault.address", o.Address)
		if err != nil {
			return nil, nil, err
		}
		if err := vaultScheme("spec.vault.address", u); err != nil {
			return nil, nil, err
		}
		vc.Address = o.Address
	}
	vc.Timeout = o.Timeout
	vc.MaxRetries = 0
	vc.DisableRedirects = true
	client, err := api.NewClient(vc)
	if err != nil {
		return nil, nil, errors.New(redactText(err.Error()))
	}
	// The address the client sends to: VAULT_AGENT_ADDR wins over
	// VAULT_ADDR, and a unix:// socket reads as http://localhost.
	target, err := url.Parse(client.Address())
	if err != nil {
		return nil, nil, err
	}
	var notes Report
	what := "vault " + redactURL(target)
	if o.Address != "" {
		if configured, err := url.Parse(o.Address); err == nil && origin(configured) != origin(target) {
			// The environment wins, as for the vault CLI: a user may mean
			// it (a port-forward to the same Vault), but a PASS then says
			// nothing of the Vault the agents reach.
			notes = append(notes, Result{Warn, what, fmt.Sprintf("is where VAULT_ADDR (or VAULT_AGENT_ADDR) sends this run, not spec.vault.address %s, which the agents use: the checks are of this Vault; unset the variable to check that one", redactURL(configured))})
		}
	}
	if target.Scheme == "https" {
		note, err := trustVaultCA(vc, o)
		if err != nil {
			return nil, nil, err
		}
		if note != "" {
			notes = append(notes, Result{Note, what, note})
		}
	}
	if err := insecureHop("VAULT_ADDR", target); err != nil {
		if !o.AllowInsecureHTTP {
			return nil, nil, err
		}
		notes = append(notes, Result{Warn, what, "plain HTTP to another machine (--allow-insecure-http): the token and the CA key cross the network in clear"})
	}
	tr, ok := vc.HttpClient.Transport.(*http.Transport)
	if !ok {
		return nil, nil, fmt.Errorf("the Vault client's transport is a %T, not an *http.Transport", vc.HttpClient.Transport)
	}
	if tr.Proxy != nil {
		proxy, err := tr.Proxy(&http.Request{URL: target, Header: http.Header{}})
		if err != nil {
			return nil, nil, errors.New(redactText(err.Error()))
		}
		if proxy != nil {
			// Through a proxy an https request is a CONNECT tunnel the
			// proxy cannot read; a plain HTTP one is handed to it whole.
			if target.Scheme != "https" && insecureHop("proxy", proxy) != nil && !o.AllowInsecureHTTP {
				return nil, nil, fmt.Errorf("VAULT_ADDR %s is plain HTTP and goes through the proxy %s (VAULT_PROXY_ADDR, VAULT_HTTP_PROXY or HTTP_PROXY), which is %s on another machine: the token and the CA key would cross the network in clear; use https, unset the proxy, or pass --allow-insecure-http",
					redactURL(target), redactURL(proxy), strings.ToUpper(proxy.Scheme))
			}
			notes = append(notes, Result{Warn, "proxy " + redactURL(proxy), fmt.Sprintf("requests to %s go through this proxy (VAULT_PROXY_ADDR, VAULT_HTTP_PROXY or HTTP(S)_PROXY); make sure it is one you trust", redactURL(target))})
		}
	}
	if target.Scheme == "https" && tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify {
		notes = append(notes, Result{Warn, what, "TLS verification is off (VAULT_SKIP_VERIFY): any server on the way can pose as Vault and receive the token; set VAULT_CACERT (or pass --ca-cert FILE) to the CA that signed Vault's certificate instead"})
	}
	vc.HttpClient.Transport = &sameOrigin{next: tr, origin: target}
	return client, notes, nil
}

// trustVaultCA makes the client trust the CA that signed Vault's
// certificate: --ca-cert's file; else the environment's (VAULT_CACERT,
// VAULT_CACERT_BYTES, VAULT_CAPATH, which DefaultConfig has read); else
// the agent's, spec.vault.caCert, which must then be on this machine:
// verify is to trust what the agent trusts, not the system's roots. With
// tlsSecret that file is the Secret's, mounted in the agent's container
// only, so the error says how to fetch it. note says which CA is used.
func trustVaultCA(vc *api.Config, o ClientOptions) (note string, err error) {
	file, from := o.CACert, "--ca-cert"
	switch {
	case file != "":
	case os.Getenv(api.EnvVaultCACert) != "" || os.Getenv(api.EnvVaultCACertBytes) != "" || os.Getenv(api.EnvVaultCAPath) != "":
		return "", nil
	case o.AgentCACert == "":
		return "", nil
	default:
		file, from = o.AgentCACert, "spec.vault.caCert, the agent's"
		if _, statErr := os.Stat(file); errors.Is(statErr, os.ErrNotExist) {
			return "", agentCAMissing(o)
		}
	}
	if err := vc.ConfigureTLS(&api.TLSConfig{CACert: file}); err != nil {
		return "", fmt.Errorf("%s %s: cannot use it as the CA of Vault's certificate: %v", strings.SplitN(from, ",", 2)[0], file, err)
	}
	return fmt.Sprintf("uses the CA in %s (%s) to check Vault's certificate", file, from), nil
}

// agentCAMissing says what to pass when the agent's CA file is not on this
// machine, as /vault/tls/ca.crt never is outside the agent's container.
func agentCAMissing(o ClientOptions) error {
	if o.TLSSecret == "" {
		return fmt.Errorf("spec.vault.caCert %s, the CA the agent trusts for Vault, is not on this machine: pass --ca-cert FILE (or set VAULT_CACERT) with a copy of it, so that verify trusts what the agent trusts", o.AgentCACert)
	}
	ns := o.SecretNamespace
	if ns == "" {
		ns = config.DefaultIstiodNamespace
	}
	return fmt.Errorf("spec.vault.caCert %s is where the injector mounts the Secret %s (spec.vault.tlsSecret) in the agent's container, not on this machine: pass --ca-cert FILE (or set VAULT_CACERT) with its %s, e.g. from kubectl -n %s get secret %s -o jsonpath='{.data.%s}' | base64 -d > vault-ca.crt",
		o.AgentCACert, o.TLSSecret, config.TLSSecretCAKey, ns, o.TLSSecret, strings.ReplaceAll(config.TLSSecretCAKey, ".", `\.`))
}

// parseURL parses a URL, keeping the URL itself out of the error. The
// parser's own message quotes a part of it, such as what it took for the
// port: with a / ? or # in a password, that is the password's start. So an
// address holding an @ gets a message of ours instead of a quoting one.
func parseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if strings.Contains(raw, "@") && strings.Contains(err.Error(), `"`) {
			return nil, fmt.Errorf("%s is not a URL: it holds an @, so perhaps a user name or password, which the parser's message would quote in part; percent-encode a / ? # @ [ or ] in them, or better leave credentials out of %s", name, name)
		}
		return nil, fmt.Errorf("%s is not a URL: %v", name, err)
	}
	return u, nil
}

// vaultScheme refuses a Vault address the client cannot send to. Without
// a scheme, user:password@host parses as a URL of scheme "user" whose
// password is no userinfo, so it would be printed whole.
func vaultScheme(name string, u *url.URL) error {
	switch u.Scheme {
	case "http", "https", "unix":
		return nil
	}
	return fmt.Errorf("%s must be an http://, https:// or unix:// URL such as https://vault.example.com:8200, got %s", name, redactURL(u))
}

// insecureHop refuses a hop the token would cross in clear: anything but
// https, unless it stays on this machine.
func insecureHop(what string, u *url.URL) error {
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %s is plain %s to another machine: the token and the CA key would cross the network in clear; use https, or pass --allow-insecure-http",
		what, redactURL(u), strings.ToUpper(u.Scheme))
}

// sameOrigin sends requests to one scheme, host and port only, and follows
// no redirect: a redirect would carry the token, and a login's JWT, to an
// address no check has seen.
type sameOrigin struct {
	next   http.RoundTripper
	origin *url.URL
}

func (s *sameOrigin) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != s.origin.Scheme || !strings.EqualFold(req.URL.Host, s.origin.Host) {
		return nil, &originError{fmt.Sprintf("refused to send a request to %s://%s: only %s has been checked (an SRV record or a redirect points elsewhere); set VAULT_ADDR to the address you mean",
			req.URL.Scheme, req.URL.Host, redactURL(s.origin))}
	}
	resp, err := s.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return resp, err
	}
	resp.Body.Close()
	to := "nowhere"
	if loc, err := resp.Location(); err == nil {
		to = redactURL(loc)
	}
	return nil, &originError{fmt.Sprintf("Vault at %s answered %d, redirecting to %s: verify follows no redirect, since it would send the token and the login JWT to an address it has not checked; if that is the active node you trust, set VAULT_ADDR to it",
		redactURL(s.origin), resp.StatusCode, to)}
}

// originError is a request verify refused to send or to follow.
type originError struct{ msg string }

func (e *originError) Error() string { return e.msg }

// redactURL prints a URL without its userinfo, which may hold a password;
// an opaque URL (user:password@host, no //) without what precedes its @.
func redactURL(u *url.URL) string {
	if u.User == nil {
		return config.RedactUserinfo(u.String())
	}
	c := *u
	c.User = url.User("xxxxx")
	return c.String()
}

var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@"'<>]+@`)

// redactText removes the userinfo of every URL in a message.
func redactText(s string) string {
	return userinfo.ReplaceAllString(s, "${1}xxxxx@")
}

// origin is scheme://host:port, the port filled in from the scheme, so
// that https://vault:443 and https://vault are one address.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
