package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

// A service-account token, shaped as Kubernetes issues them.
const testJWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aXN0aW8tc3lzdGVtOmlzdGlvZCJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"

// The record outlives the run: it keeps how the tool was invoked, but no
// value, since `verify --jwt "$JWT"` passes the token itself where a path
// belongs; and a token a message echoes back is not kept either.
func TestRecordKeepsNoArgumentValues(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir()) // verify's executable is not found: the run fails
	cfg := filepath.Join(t.TempDir(), "private-name-of-the-config.yaml")
	if code, _, _ := runCmd([]string{"verify", "--jwt", testJWT, "--config=" + cfg, "--warn-days", "9"}, nil); code != cli.ExitBadInput {
		t.Fatalf("verify without its executable: exit %d", code)
	}
	code, out, _ := runCmd([]string{"explain"}, nil)
	if code != cli.ExitOK || !strings.Contains(string(out), " istio-vault-ca verify --jwt=… --config=… --warn-days=…\n") {
		t.Errorf("the record does not say how the run was invoked: exit %d, %q", code, out)
	}
	for _, secret := range []string{testJWT, "eyJ", "private-name-of-the-config", " 9"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("the record keeps %q:\n%s", secret, out)
		}
	}

	// A token given where nothing is expected is echoed on stderr (the
	// user sees what they typed), but not kept.
	code, _, stderr := runCmd([]string{testJWT}, nil)
	if code != cli.ExitBadInput || !strings.Contains(stderr, "unexpected argument") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, out, _ = runCmd([]string{"explain"}, nil)
	if strings.Contains(string(out), "eyJ") || !strings.Contains(string(out), "unexpected argument \"[redacted token]\"") {
		t.Errorf("the record keeps the token the message echoed:\n%s", out)
	}
}

func TestArgvShape(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--config", "c.yaml", "--verbose"}, "--config=… --verbose"},
		{[]string{"-config=c.yaml"}, "--config=…"},
		{[]string{"verify", "--jwt", testJWT, "--allow-insecure-http", "--timeout=3s"}, "verify --jwt=… --allow-insecure-http --timeout=…"},
		{[]string{"check", "--verbose", "a.yaml", "--config", "b.yaml"}, "check --verbose … … …"}, // flags end at the first argument
		{[]string{"check", "--", "-a.yaml"}, "check -- …"},
		{[]string{"policy", "--output"}, "policy --output"},
		{[]string{"verify", "--role", "istio-ingressgateway", "--jwt", "gw.jwt"}, "verify --role=… --jwt=…"},
		{[]string{"policy", "--role=istiod", "--output", "role"}, "policy --role=… --output=…"},
		{[]string{"bootstrap", "--rotate", "--ttl", "720h", "--common-name", "CA", "--key-type=ec"}, "bootstrap --rotate --ttl=… --common-name=… --key-type=…"},
		{[]string{"--" + testJWT, "x"}, "--unknown-flag …"},
		{[]string{"--" + testJWT + "=y"}, "--unknown-flag=…"},
		{[]string{testJWT}, "…"},
		{[]string{"-"}, "…"},
		{[]string{"explain"}, "explain"},
	} {
		if got := argvShape(tc.args); got != tc.want {
			t.Errorf("argvShape(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// A malformed ResourceList fails in the function's executable, whose
// stderr is recorded: neither it nor the record quotes the list, which may
// carry Secrets.
func TestRecordOfAMalformedListQuotesNoContents(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "../istio-vault-ca-fn")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the function: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: ca, annotations: [c2VjcmV0LWtleS1tYXRlcmlhbA==]}\ndata: {key: c2VjcmV0LWtleS1tYXRlcmlhbA==}"
	code, _, stderr := runCmd(nil, []byte(resourceList(secret, testConfig)))
	if code != cli.ExitBadInput || !strings.Contains(stderr, "v1/Secret/ca metadata.annotations: items[0], line 6: metadata.annotations is a list") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, record, _ := runCmd([]string{"explain"}, nil)
	for what, s := range map[string]string{"stderr": stderr, "the record": string(record)} {
		if strings.Contains(s, "c2VjcmV0") {
			t.Errorf("%s quotes the Secret:\n%s", what, s)
		}
	}
}

// What the record must not keep, even when a message quotes it: Vault
// tokens of either format, JSON Web Tokens, and the userinfo of a URL.
func TestRedactTokens(t *testing.T) {
	for in, want := range map[string]string{
		"token s.AbCdEfGhIjKlMnOpQrStUvWx rejected":            "token [redacted token] rejected",
		`"s.AbCdEfGhIjKlMnOpQrStUvWx"`:                         `"[redacted token]"`,
		"token hvs.CAESIAbCdEfGhIjKlMnOpQrStUvWxYz0123 denied": "token [redacted token] denied",
		"jwt " + testJWT: "jwt [redacted token]",
		`got "http://admin:Sup3rS3cretPassw0rd@vault.example.com:8200"`: `got "http://xxxxx@vault.example.com:8200"`,
		"proxy https://tok3n@proxy:3128/x@y":                            "proxy https://xxxxx@proxy:3128/x@y",
		// Not tokens: a file name, a short s. word, a dotted field.
		"reads secrets.yaml and s.short and data.root_cert": "reads secrets.yaml and s.short and data.root_cert",
		"mail me at user@example.com":                       "mail me at user@example.com",
	} {
		if got := string(redactTokens([]byte(in))); got != want {
			t.Errorf("redactTokens(%q) = %q, want %q", in, got, want)
		}
	}
}

// A password in spec.vault.address is refused, and neither the message nor
// the record of the failed run repeats it.
func TestAddressPasswordNeitherPrintedNorRecorded(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	for _, address := range []string{
		"http://admin:Sup3rS3cretPassw0rd@vault.example.com:8200",
		"https://user:Sup3rS3cretPassw0rd@vault.example.com:8200",
	} {
		cfg := writeFile(t, dir, "vaultca.yaml", strings.Replace(testConfig, "vault: {role: istiod}", `vault: {role: istiod, address: "`+address+`"}`, 1))
		code, out, stderr := runCmd([]string{"--config", cfg}, []byte(istiod))
		if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "`spec.vault.address` holds credentials") {
			t.Errorf("%s: exit %d, %d bytes on stdout, stderr %q", address, code, len(out), stderr)
		}
		_, record, _ := runCmd([]string{"explain"}, nil)
		for what, s := range map[string]string{"stderr": stderr, "the record": string(record)} {
			if strings.Contains(s, "Sup3rS3cretPassw0rd") {
				t.Errorf("%s: %s holds the password:\n%s", address, what, s)
			}
		}
	}
}

// The record keeps stderr only: a drifted check's message, which explain
// shows without the diff, must say where the diff is, not that it is
// "above".
func TestRecordOfADriftedCheckSaysWhereTheDiffIs(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	manifest := writeFile(t, dir, "istiod.yaml", istiod)
	if code, _, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil); code != cli.ExitFailed {
		t.Fatalf("drifted file: exit %d, want %d; %s", code, cli.ExitFailed, stderr)
	}
	_, out, _ := runCmd([]string{"explain"}, nil)
	record := string(out)
	if !strings.Contains(record, "drifted from the config") || strings.Contains(record, "above") || !strings.Contains(record, "istio-vault-ca check writes to standard output") {
		t.Errorf("the record of a drifted check does not say where the diff is:\n%s", record)
	}
}
