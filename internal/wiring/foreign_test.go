package wiring

import (
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

const foreignIstiod = "  vault: {role: istiod}\n  source: {kv: {version: 2, path: secret/istio/cacerts}}\n"

// Each annotation an attacker (or a stale edit) can leave on a target to
// undo the plan, with what the refusal must say; "" where the annotation is
// harmless and must be kept.
func TestForeignAnnotation(t *testing.T) {
	p := load(t, foreignIstiod)
	for _, tc := range []struct{ name, value, want string }{
		// Another secret rendered by the same agent, which may read the key.
		{"agent-inject-secret-x", "secret/data/istio/cacerts", `is for another secret, "x"`},
		{"agent-inject-file-x", "ca-key.pem", `is for another secret, "x"`},
		{"agent-inject-perms-x", "0644", `is for another secret, "x"`},
		{"agent-inject-command-x", "cat /vault/secrets/ca-key.pem", `is for another secret, "x"`},
		{"agent-inject-template-x", "{{ . }}", `is for another secret, "x"`},
		{"agent-inject-template-file-x", "/x", `is for another secret, "x"`},
		{"secret-volume-path-x", "/tmp", `is for another secret, "x"`},
		{"error-on-missing-key-x", "false", `is for another secret, "x"`},
		{"agent-template-left-delim-x", "[[", `is for another secret, "x"`},
		// The injector lowercases secret names: a second ca-key.pem.
		{"agent-inject-template-CA-KEY.PEM", "{{ . }}", "is a second secret the injector also writes as ca-key.pem"},
		{"agent-inject-perms-CA-KEY.PEM", "0644", "is a second secret the injector also writes as ca-key.pem"},
		// The plan's own files, settings the tool does not write.
		{"agent-inject-file-ca-key.pem", "moved/ca-key.pem", "changes where or how the injector writes ca-key.pem"},
		{"agent-inject-perms-ca-cert.pem", "0600", "changes where or how the injector writes ca-cert.pem"},
		{"agent-template-left-delim-ca-key.pem", "[[", "changes where or how the injector writes ca-key.pem"},
		// No agent at all.
		{"agent-pre-populate", "false", `is "false": only "true" is accepted`},
		{"agent-pre-populate", "true", ""},
		{"agent-inject-status", "injected", "tells the injector the pod is already mutated, so it adds no agent and no secret volume: istiod's ROOT_CA_DIR is then /vault/secrets/injected, where nothing is mounted"},
		// The injector mutates a pod of any other status, but one it does
		// not mutate keeps it, and ROOT_CA_DIR misses the guard.
		{"agent-inject-status", "update", `is "update": the injector still mutates the pod and sets it to "injected", but in a pod it does not mutate`},
		{"agent-inject-status", "update", "ROOT_CA_DIR, built from it, is /vault/secrets/update, which the guard volume does not hold"},
		{"agent-inject-status", "", "only the injector may write"},
		{"agent-inject-status", ".", "only the injector may write"},
		// Values: say which one is accepted.
		{"agent-inject-token", "False", `is "False": only "false" is accepted, since anything meaning otherwise writes the agent's Vault token`},
		{"agent-inject-token", "0", `is "0": only "false" is accepted`},
		{"agent-inject-token", "false", ""},
		// Which Vault the agent talks to, and how, when the config does not say.
		{"service", "http://10.1.2.3:8200", "points the agent at a Vault address the config does not set"},
		{"tls-skip-verify", "true", "turns off the agent's verification"},
		{"tls-skip-verify", "false", ""},
		{"ca-cert", "/x/ca.crt", "makes the agent trust a CA"},
		{"namespace", "other", "logs the agent in to a Vault namespace"},
		{"agent-request-namespace", "other", "reads the files from a Vault namespace"},
		{"proxy-address", "http://proxy:3128", "sends the agent's Vault traffic through a proxy"},
		{"auth-type", "jwt", "logs the agent in with another auth method"},
		{"auth-type", "kubernetes", ""},
		{"auth-config-token-path", "/x", "changes the agent's Kubernetes login"},
		{"tls-secret", "s", "mounts a Secret the config does not name into the agent"},
		{"tls-server-name", "s", "changes the agent's TLS to Vault"},
		{"client-cert", "s", "changes the agent's TLS to Vault"},
		{"client-key", "s", "changes the agent's TLS to Vault"},
		{"ca-key", "s", "changes the agent's TLS to Vault"},
		// Harmless: kept.
		{"agent-limits-cpu", "1", ""},
		{"agent-requests-mem", "64Mi", ""},
		{"agent-image", "hashicorp/vault:1.20", ""},
		{"log-level", "debug", ""},
		{"agent-cache-enable", "true", ""},
		{"preserve-secret-case", "true", ""},
		// The injector matches its prefix and annotation names
		// case-sensitively: these it ignores.
		{"Agent-Inject-File-ca-key.pem", "moved", ""},
	} {
		f := p.ForeignAnnotation(Prefix+tc.name, tc.value)
		switch {
		case tc.want == "" && f != nil:
			t.Errorf("%s: %q refused: %s", tc.name, tc.value, f.Why)
		case tc.want != "" && f == nil:
			t.Errorf("%s: %q accepted, want %q", tc.name, tc.value, tc.want)
		case f != nil && !strings.Contains(f.Why+": "+f.Remedy("remove it"), tc.want):
			t.Errorf("%s: %q: %q, want it to contain %q", tc.name, tc.value, f.Why+": "+f.Remedy("remove it"), tc.want)
		}
	}
	if f := p.ForeignAnnotation("Vault.Hashicorp.com/agent-inject-file-ca-key.pem", "moved"); f != nil {
		t.Errorf("another prefix, which the injector ignores, refused: %s", f.Why)
	}
}

// Where the config leaves a setting to the injector, the refusal names the
// config field that sets it, so the config's own checks apply.
func TestForeignAnnotationNamesTheConfigField(t *testing.T) {
	p := load(t, foreignIstiod)
	for name, field := range map[string]string{"service": "spec.vault.address", "tls-skip-verify": "spec.vault.tlsSkipVerify",
		"ca-cert": "spec.vault.caCert", "namespace": "spec.vault.namespace", "tls-secret": "spec.vault.tlsSecret"} {
		f := p.ForeignAnnotation(Prefix+name, "x")
		if f == nil || f.Remedy("remove it") != "remove it and set "+field+" in the config instead" {
			t.Errorf("%s: %+v", name, f)
		}
	}
}

// The tool's own output passes its own check, whatever the config sets
// (every optional setting; gateways with KV and PKI certificates; a
// gateway plan adjusted to a root proxy): a second run is not refused.
func TestOwnAnnotationsAreNotForeign(t *testing.T) {
	istiod, gw := istiodAndGateway(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
spec:
  rotation: true
  vault: {role: istiod, namespace: ns, address: "https://vault:8200", caCert: /ca.crt, tlsSkipVerify: true}
  agent: {keyPerms: "0440", staticSecretRenderInterval: 5m}
  source: {kv: {version: 2, path: secret/istio/cacerts}}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - {name: bookinfo, kv: {version: 2, path: secret/gw/bookinfo, certField: tls.crt, keyField: tls.key, caField: ca.crt}}
    - {name: api, pki: {mount: pki_int, role: gateway, commonName: api.example.com}}
`)
	root, group := int64(0), int64(1337)
	rootGW, err := gw.ForWorkload(RunAs{User: &root, Group: &group})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range []*Plan{istiod, gw, rootGW} {
		for _, a := range p.Annotations {
			n++
			if f := p.ForeignAnnotation(a.Name, a.Value); f != nil {
				t.Errorf("%s (%s) refuses its own %s: %s", p.Setting, p.Container, a.Name, f.Why)
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d annotations checked", n)
	}
}

// spec.vault.tlsSecret reaches istiod's agent and every gateway's alike:
// the Secret to mount (tls-secret) and the file in it to trust (ca-cert,
// which the injector does not set by itself), and a second run does not
// refuse them.
func TestTLSSecretReachesEveryAgent(t *testing.T) {
	istiod, gw := istiodAndGateway(t, `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
spec:
  vault: {role: istiod, address: "https://vault.example.com:8200", tlsSecret: vault-tls}
  source: {kv: {version: 2, path: secret/istio/cacerts}}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - {name: bookinfo, kv: {version: 2, path: secret/gw/bookinfo}}
`)
	for _, p := range []*Plan{istiod, gw} {
		got := map[string]string{}
		for _, a := range p.Annotations {
			got[a.Name] = a.Value
			if f := p.ForeignAnnotation(a.Name, a.Value); f != nil {
				t.Errorf("%s refuses its own %s: %s", p.Setting, a.Name, f.Why)
			}
		}
		if got[Prefix+"tls-secret"] != "vault-tls" || got[Prefix+"ca-cert"] != "/vault/tls/ca.crt" {
			t.Errorf("%s: tls-secret %q, ca-cert %q; want vault-tls and /vault/tls/ca.crt", p.Setting, got[Prefix+"tls-secret"], got[Prefix+"ca-cert"])
		}
		if _, ok := got[Prefix+"tls-skip-verify"]; ok {
			t.Errorf("%s: tls-skip-verify written", p.Setting)
		}
	}
}

// istiodAndGateway are the plans of istiod and of the first gateway of a
// config.
func istiodAndGateway(t *testing.T, cfgText string) (istiod, gw *Plan) {
	t.Helper()
	cfg, err := config.Load([]byte(cfgText), "test")
	if err != nil {
		t.Fatal(err)
	}
	if istiod, err = ForIstiod(cfg); err != nil {
		t.Fatal(err)
	}
	if gw, err = ForGateway(cfg, 0); err != nil {
		t.Fatal(err)
	}
	return istiod, gw
}
