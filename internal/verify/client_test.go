package verify

import (
	"net/url"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

func TestInsecureHop(t *testing.T) {
	for addr, refused := range map[string]bool{
		"https://vault.example.com:8200": false,
		"http://127.0.0.1:8200":          false,
		"http://localhost:8200":          false,
		"http://[::1]:8200":              false,
		"http://vault.example.com:8200":  true,
		"http://10.0.0.5:8200":           true,
		"socks5://10.0.0.5:1080":         true,
	} {
		u, err := url.Parse(addr)
		if err != nil {
			t.Fatal(err)
		}
		err = insecureHop("VAULT_ADDR", u)
		if (err != nil) != refused {
			t.Errorf("insecureHop(%q) = %v, want refused=%v", addr, err, refused)
		}
		if err != nil && !strings.Contains(err.Error(), "--allow-insecure-http") {
			t.Errorf("the refusal does not say how to override: %v", err)
		}
	}
}

// Through a proxy an https request is a tunnel the proxy cannot read: it
// is allowed, with a warning, wherever the proxy is.
func TestProxyForHTTPSWarns(t *testing.T) {
	t.Setenv(api.EnvVaultAddress, "https://vault.example.com:8200")
	t.Setenv(api.EnvVaultAgentAddr, "")
	t.Setenv(api.EnvHTTPProxy, "")
	t.Setenv(api.EnvVaultProxyAddr, "http://u:proxypass@192.0.2.1:3128")
	_, notes, err := NewClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Status != Warn || notes[0].What != "proxy http://xxxxx@192.0.2.1:3128" {
		t.Errorf("got %+v", notes)
	}
}

// VAULT_AGENT_ADDR is where the client sends: it is the address checked.
func TestAgentAddressIsChecked(t *testing.T) {
	t.Setenv(api.EnvVaultAddress, "https://vault.example.com:8200")
	t.Setenv(api.EnvVaultAgentAddr, "http://10.0.0.5:8100")
	t.Setenv(api.EnvVaultProxyAddr, "")
	t.Setenv(api.EnvHTTPProxy, "")
	_, _, err := NewClient(ClientOptions{})
	if err == nil || !strings.Contains(err.Error(), "http://10.0.0.5:8100 is plain HTTP to another machine") {
		t.Errorf("got %v", err)
	}
}

// VAULT_ADDR overrides spec.vault.address, as for the vault CLI, but a
// run that checks another Vault than the agents reach says so; the same
// address written with its default port does not.
func TestEnvAddressOtherThanConfigWarns(t *testing.T) {
	t.Setenv(api.EnvVaultAgentAddr, "")
	t.Setenv(api.EnvVaultProxyAddr, "")
	t.Setenv(api.EnvHTTPProxy, "")
	for env, warns := range map[string]bool{
		"https://127.0.0.1:8297":          true,
		"https://vault.example.com:8200/": false,
		"https://VAULT.example.com:8200":  false,
	} {
		t.Setenv(api.EnvVaultAddress, env)
		_, notes, err := NewClient(ClientOptions{Address: "https://vault.example.com:8200"})
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, n := range notes {
			got = got || (n.Status == Warn && strings.Contains(n.Detail, "not spec.vault.address https://vault.example.com:8200"))
		}
		if got != warns {
			t.Errorf("VAULT_ADDR %s: warns %v, want %v (%+v)", env, got, warns, notes)
		}
	}
	if origin(&url.URL{Scheme: "https", Host: "v"}) != origin(&url.URL{Scheme: "https", Host: "v:443"}) {
		t.Errorf("the default port is not filled in")
	}
}

// A secret that comes back in an answer is not printed.
func TestReportRedactsSecrets(t *testing.T) {
	v := &run{}
	v.secret(testToken)
	v.secret("root") // too short to blank out without mangling file names
	v.add(Fail, "vault http://admin:p4ssw0rd@127.0.0.1:8200", "Vault said: token %s is bad; see https://u:pw@host/x", testToken)
	got := v.report[0]
	if got.What != "vault http://xxxxx@127.0.0.1:8200" || got.Detail != "Vault said: token xxxxx is bad; see https://xxxxx@host/x" {
		t.Errorf("got %+v", got)
	}
	v.add(Pass, "root-cert.pem", "present")
	if v.report[1].What != "root-cert.pem" {
		t.Errorf("a short secret mangled %q", v.report[1].What)
	}
}
