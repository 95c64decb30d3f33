package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// verifyRoleConfig is istiod and one gateway, each with a role and policy
// of its own (the defaults), as a user writes them.
const verifyRoleConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: roles}
spec:
  vault: {role: istiod}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: bookinfo
      kv: {version: 2, path: secret/gateways/bookinfo, caField: ca.crt}
  source:
    kv: {version: 2, path: secret/verify}
`

// verifyRoleLayout seeds verifyRoleConfig's paths: istiod's bundle, and the
// gateway's certificate, key and CA.
func verifyRoleLayout(t *testing.T, serial int64) layout {
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA roles", serial)
	crt, key := leaf(t, ca, ca.keyPEM, "bookinfo.example.com")
	return layout{name: "roles", config: verifyRoleConfig, seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "verify", ca.fields())
		kvPut(t, v, 2, "secret", "gateways/bookinfo", map[string]any{"tls.crt": crt + ca.certPEM, "tls.key": key, "ca.crt": ca.rootPEM})
	}}
}

// verifyAs runs verify with no VAULT_TOKEN and a --jwt file holding jwt,
// plus args.
func verifyAs(t *testing.T, e *env, cfgFile, jwt string, args ...string) (string, int) {
	t.Helper()
	jwtFile := filepath.Join(t.TempDir(), "jwt")
	must(t, os.WriteFile(jwtFile, []byte(jwt), 0o600))
	out, stderr, code := tool(t, nil, []string{"VAULT_ADDR=" + e.vault.addr, "VAULT_TOKEN=", "VAULT_CACERT=", "VAULT_SKIP_VERIFY=", "VAULT_PROXY_ADDR=", "VAULT_HTTP_PROXY="},
		append([]string{"verify", "--config", cfgFile, "--timeout", "5s", "--jwt", jwtFile}, args...)...)
	all := out + stderr
	for _, secret := range []string{jwt, rootToken, "PRIVATE KEY-----"} {
		if strings.Contains(all, secret) {
			t.Errorf("verify printed %q:\n%s", secret, all)
		}
	}
	return all, code
}

// With the policies and roles `policy --output commands` writes, verify
// --jwt checks istiod's paths as istiod (not a gateway's, which istiod's
// token must not read), and --role picks a gateway's login and paths. A
// denied path names the role whose policy should hold it: never advice to
// grant istiod a gateway's key. Before, --jwt read the gateway's paths with
// istiod's token and failed a correct setup, advising `istio-vault-ca
// policy`, which is istiod's.
func TestVerifyRoles(t *testing.T) {
	e := newEnv(t)
	cfgFile, _ := e.setup(t, verifyRoleLayout(t, 54))
	gwJWT := e.k8s.token(t, gatewaySA)

	lines := func(out, what string) []string {
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, what) {
				got = append(got, line)
			}
		}
		return got
	}
	t.Run("istiod", func(t *testing.T) {
		out, code := verifyAs(t, e, cfgFile, e.jwt)
		if code != 0 || !strings.Contains(out, "PASS  login auth/kubernetes role istiod: logged in") ||
			!strings.Contains(out, "PASS  bundle:") || len(lines(out, "bookinfo.")) != 0 ||
			!strings.Contains(out, "SKIP  gateway {istio: ingressgateway}: not checked: its paths are role istio-ingressgateway's, not istiod's; check them with --role istio-ingressgateway --jwt FILE (the gateway's service-account token), or with a VAULT_TOKEN that may read them") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("istiod by name", func(t *testing.T) {
		out, code := verifyAs(t, e, cfgFile, e.jwt, "--role", "istiod")
		if code != 0 || !strings.Contains(out, "PASS  bundle:") || len(lines(out, "bookinfo.")) != 0 {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("gateway", func(t *testing.T) {
		out, code := verifyAs(t, e, cfgFile, gwJWT, "--role", "istio-ingressgateway")
		if code != 0 || !strings.Contains(out, "PASS  login auth/kubernetes role istio-ingressgateway: logged in with policies") ||
			!strings.Contains(out, "PASS  gateway certificate bookinfo:") || len(lines(out, "ca-key.pem")) != 0 ||
			!strings.Contains(out, "SKIP  istiod: not checked: its paths are role istiod's, not istio-ingressgateway's; check them with --jwt FILE (istiod's service-account token)") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("gateway by path", func(t *testing.T) {
		out, code := verifyAs(t, e, cfgFile, gwJWT, "--role", "auth/kubernetes/role/istio-ingressgateway")
		if code != 0 || !strings.Contains(out, "PASS  gateway certificate bookinfo:") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("gateway's token at istiod's role", func(t *testing.T) {
		out, code := verifyAs(t, e, cfgFile, gwJWT)
		if code != 1 || !regexp.MustCompile(`FAIL  login auth/kubernetes role istiod: permission denied: .*istio-vault-ca policy --output role shows what istiod needs`).MatchString(out) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("unknown role", func(t *testing.T) {
		jwtFile := filepath.Join(t.TempDir(), "jwt")
		must(t, os.WriteFile(jwtFile, []byte(gwJWT), 0o600))
		out, stderr, code := tool(t, nil, []string{"VAULT_ADDR=" + e.vault.addr, "VAULT_TOKEN="}, "verify", "--config", cfgFile, "--jwt", jwtFile, "--role", "nope")
		if code != 2 || out != "" || !strings.Contains(stderr, `istio-vault-ca verify: --role: no role "nope" in the config; its roles are auth/kubernetes/role/istiod, auth/kubernetes/role/istio-ingressgateway`) {
			t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, stderr)
		}
	})
	t.Run("root token checks everything", func(t *testing.T) {
		out, code := verifyConfigWith(t, verifyRoleConfig, e.vault.addr)
		if code != 0 || !strings.Contains(out, "PASS  bundle:") || !strings.Contains(out, "PASS  gateway certificate bookinfo:") || strings.Contains(out, "SKIP") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})

	// A policy that lost a path: the hint names the role whose policy
	// should hold it, and the command that prints that policy.
	gwPolicy, stderr, code := tool(t, nil, nil, "policy", "--config", cfgFile, "--role", "istio-ingressgateway")
	if code != 0 {
		t.Fatal(stderr)
	}
	name := regexp.MustCompile(`# Vault policy "([^"]+)"`).FindStringSubmatch(gwPolicy)
	if name == nil {
		t.Fatalf("no policy name in:\n%s", gwPolicy)
	}
	must(t, e.vault.client.Sys().PutPolicy(name[1], `path "secret/data/nothing" { capabilities = ["read"] }`))
	deniedHint := `FAIL  bookinfo.crt <- secret/data/gateways/bookinfo#data.tls.crt: permission denied: .*role istio-ingressgateway's policy ` + regexp.QuoteMeta(name[1]) +
		` should grant read on secret/data/gateways/bookinfo \(istio-vault-ca policy --role istio-ingressgateway prints it\)`
	t.Run("gateway's policy lost its path", func(t *testing.T) {
		out, code := verifyAs(t, e, cfgFile, gwJWT, "--role", "istio-ingressgateway")
		if code != 1 || !regexp.MustCompile(deniedHint).MatchString(out) {
			t.Errorf("exit %d, output does not match %q:\n%s", code, deniedHint, out)
		}
	})
	t.Run("a token with istiod's policy only", func(t *testing.T) {
		istiodPolicy, stderr, code := tool(t, nil, nil, "policy", "--config", cfgFile)
		if code != 0 {
			t.Fatal(stderr)
		}
		n := regexp.MustCompile(`# Vault policy "([^"]+)"`).FindStringSubmatch(istiodPolicy)
		if n == nil {
			t.Fatalf("no policy name in:\n%s", istiodPolicy)
		}
		tok, err := e.vault.client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{n[1]}})
		must(t, err)
		out, code := verifyConfigWith(t, verifyRoleConfig, e.vault.addr, "VAULT_TOKEN="+tok.Auth.ClientToken)
		if code != 1 || !strings.Contains(out, "PASS  bundle:") || !regexp.MustCompile(deniedHint).MatchString(out) || strings.Contains(out, "(istio-vault-ca policy prints") {
			t.Errorf("exit %d, output does not match %q:\n%s", code, deniedHint, out)
		}
	})
}

// A token Vault does not know is named as such for VAULT_TOKEN, and a
// service-account token Kubernetes does not accept as a login failure;
// a stale VAULT_TOKEN left in the environment does not fail a --jwt login,
// which needs no token (issue 16's message, checked against a real Vault).
func TestVerifyBadTokens(t *testing.T) {
	e := newEnv(t)
	ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA bad tokens", 55)
	l := layout{name: "bad-tokens", config: verifyConfig, seed: func(t *testing.T, v *api.Client) {
		kvPut(t, v, 2, "secret", "verify", ca.fields())
	}}
	cfgFile, _ := e.setup(t, l)
	const stale = "hvs.not-a-token-of-this-vault-at-all"
	run := func(t *testing.T, token, jwt string) (string, int) {
		t.Helper()
		args := []string{"verify", "--config", cfgFile, "--timeout", "5s"}
		if jwt != "" {
			f := filepath.Join(t.TempDir(), "jwt")
			must(t, os.WriteFile(f, []byte(jwt), 0o600))
			args = append(args, "--jwt", f)
		}
		out, stderr, code := tool(t, nil, []string{"VAULT_ADDR=" + e.vault.addr, "VAULT_TOKEN=" + token, "VAULT_CACERT=", "VAULT_SKIP_VERIFY="}, args...)
		for _, s := range []string{token, jwt} {
			if s != "" && strings.Contains(out+stderr, s) {
				t.Errorf("verify printed a token:\n%s", out+stderr)
			}
		}
		return out + stderr, code
	}
	t.Run("VAULT_TOKEN unknown", func(t *testing.T) {
		out, code := run(t, stale, "")
		if code != 1 || !regexp.MustCompile(`FAIL  ca-key.pem <- secret/data/verify#data.ca_key: invalid token \(Vault said: .*invalid token.*\): the token expired, was revoked or is not one of this Vault's`).MatchString(out) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("JWT Kubernetes rejects", func(t *testing.T) {
		// A token of another cluster, signed by another key than this API
		// server's: its TokenReview says unauthenticated.
		other := startControlPlane(t)
		out, code := run(t, "", other.token(t, istiodSA))
		if code != 1 || !strings.Contains(out, "FAIL  login auth/kubernetes role istiod: the service-account token was not accepted (Vault said: permission denied): Kubernetes' TokenReview refused it (expired, of another cluster, or not a service-account token), or Vault cannot review tokens (check auth/kubernetes/config); pass a current one, e.g. from kubectl create token istiod -n istio-system") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("JWT that is no JWT", func(t *testing.T) {
		out, code := run(t, "", "eyJhbGciOiJSUzI1NiJ9.bm90LWEtdG9rZW4.c2ln")
		if code != 1 || !strings.Contains(out, "FAIL  login auth/kubernetes role istiod: the service-account token was not accepted") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("role missing in Vault", func(t *testing.T) {
		_, err := e.vault.client.Logical().Delete("auth/kubernetes/role/istiod")
		must(t, err)
		t.Cleanup(func() { e.applyPolicy(t, cfgFile) })
		out, code := run(t, "", e.jwt)
		if code != 1 || !strings.Contains(out, `FAIL  login auth/kubernetes role istiod: Vault has no role istiod at auth/kubernetes (Vault said: invalid role name "istiod"): write it (istio-vault-ca policy --output role shows what istiod needs)`) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("stale VAULT_TOKEN beside --jwt", func(t *testing.T) {
		out, code := run(t, stale, e.jwt)
		if code != 0 || !strings.Contains(out, "PASS  login auth/kubernetes role istiod: logged in") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}

// TestVerifyFailsAGatewayTokenThatReachesIstiod gives the gateway's role
// istiod's policy too, as a hand-written role or a name Vault folds onto
// another would: verify logged in as the gateway reports that its token
// may read istiod's CA, without reading it. The setup the tool writes has
// no such line.
func TestVerifyFailsAGatewayTokenThatReachesIstiod(t *testing.T) {
	e := newEnv(t)
	cfgFile, authPath := e.setup(t, verifyRoleLayout(t, 55))
	gwJWT := e.k8s.token(t, gatewaySA)
	const reach = "may read secret/data/verify, a path of role istiod"
	if out, code := verifyAs(t, e, cfgFile, gwJWT, "--role", "istio-ingressgateway"); code != 0 || strings.Contains(out, reach) {
		t.Fatalf("the tool's own setup: exit %d:\n%s", code, out)
	}
	role := authPath + "/role/istio-ingressgateway"
	r, err := e.vault.client.Logical().Read(role)
	must(t, err)
	body := r.Data
	body["token_policies"] = []string{"istio-ingressgateway-certs", "istiod-ca"}
	_, err = e.vault.client.Logical().Write(role, body)
	must(t, err)
	out, code := verifyAs(t, e, cfgFile, gwJWT, "--role", "istio-ingressgateway")
	if code != 1 || !strings.Contains(out, "FAIL  istiod: the token of role "+role+" "+reach) {
		t.Errorf("a gateway token that may read istiod's CA: exit %d:\n%s", code, out)
	}
}
