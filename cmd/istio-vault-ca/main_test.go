package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
)

const testConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: t}
spec:
  vault: {role: istiod}
  source:
    kv: {version: 2, path: secret/istiod}
`

const istiod = `apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod}
spec:
  template:
    metadata:
      labels: {app: istiod}
    spec:
      containers:
      - name: discovery
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigResolutionOrder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	flagFile := writeFile(t, dir, "flag.yaml", testConfig)
	envFile := writeFile(t, dir, "env.yaml", strings.Replace(testConfig, "secret/istiod", "env/istiod", 1))
	writeFile(t, dir, "vaultca.yaml", strings.Replace(testConfig, "secret/istiod", "cwd/istiod", 1))

	for _, tc := range []struct {
		name, env string
		args      []string
		wantPath  string
		wantHow   string
	}{
		{"flag wins", envFile, []string{"--config", flagFile, "--verbose"}, "secret/data/istiod", "(--config)"},
		{"then the environment", envFile, []string{"--verbose"}, "env/data/istiod", "($ISTIO_VAULT_CA_CONFIG)"},
		{"then ./vaultca.yaml", "", []string{"--verbose"}, "cwd/data/istiod", "(./vaultca.yaml)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(cli.EnvConfig, tc.env)
			code, out, stderr := runCmd(tc.args, []byte(istiod))
			if code != cli.ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(string(out), "agent-inject-secret-ca-key.pem: "+tc.wantPath) {
				t.Errorf("wrong config used:\n%s", out)
			}
			if !strings.Contains(stderr, tc.wantHow) {
				t.Errorf("--verbose does not say %s: %q", tc.wantHow, stderr)
			}
		})
	}
}

func TestNoConfigIsUsageError(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(cli.EnvConfig, "")
	code, out, stderr := runCmd(nil, []byte(istiod))
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "no config: pass --config FILE") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// A ResourceList on stdin is handed to the KRM function's executable, which
// is built here and found on PATH.
func TestKRMFunctionOnStdin(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "../istio-vault-ca-fn")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the function: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(t.TempDir())
	t.Setenv(cli.EnvConfig, "")
	code, out, stderr := runCmd(nil, []byte(resourceList(istiod, testConfig)))
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(string(out), "kind: ResourceList") || !strings.Contains(string(out), "ROOT_CA_DIR") {
		t.Errorf("not run as a KRM function:\n%s", out)
	}
	// Its failures come back as they are: exit 2, the results on stdout.
	code, out, stderr = runCmd(nil, []byte(resourceList(istiod, "kind: VaultCA\n")))
	if code != cli.ExitBadInput || !strings.Contains(string(out), "results:") || stderr == "" {
		t.Errorf("bad functionConfig: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func resourceList(item, functionConfig string) string {
	indent := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ") }
	return "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- " + indent(item) +
		"\nfunctionConfig:\n  " + indent(functionConfig) + "\n"
}

// Without the function's executable, a ResourceList gets a message saying
// how to install it, and nothing on stdout.
func TestKRMFunctionWithoutItsExecutable(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, out, stderr := runCmd(nil, []byte(resourceList(istiod, testConfig)))
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "go install github.com/istio-vault-ca/istio-vault-ca/cmd/istio-vault-ca-fn") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	manifest := writeFile(t, dir, "istiod.yaml", istiod)

	code, out, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code != cli.ExitFailed {
		t.Fatalf("drifted file: exit %d, want %d; %s", code, cli.ExitFailed, stderr)
	}
	if !strings.Contains(string(out), "--- a/"+manifest) || !strings.Contains(string(out), "+        - name: ROOT_CA_DIR") {
		t.Errorf("no unified diff:\n%s", out)
	}
	if b, _ := os.ReadFile(manifest); string(b) != istiod {
		t.Error("check wrote the file")
	}

	// Converge it the way a user would: render and commit the output.
	_, rendered, _ := runCmd([]string{"--config", cfg}, []byte(istiod))
	writeFile(t, dir, "istiod.yaml", string(rendered))
	code, out, stderr = runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code != cli.ExitOK || len(out) != 0 {
		t.Errorf("converged file: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	code, out, _ = runCmd([]string{"check", "--config", cfg, filepath.Join(dir, "missing.yaml")}, nil)
	if code != cli.ExitBadInput || len(out) != 0 {
		t.Errorf("missing file: exit %d, stdout %q", code, out)
	}
}

// A converged file that also carries an annotation moving the key is not
// converged: check reports it instead of exit 0.
func TestCheckReportsForeignInjectorAnnotations(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	_, rendered, _ := runCmd([]string{"--config", cfg}, []byte(istiod))
	moved := strings.Replace(string(rendered), "vault.hashicorp.com/agent-inject: \"true\"",
		"vault.hashicorp.com/agent-inject: \"true\"\n        vault.hashicorp.com/agent-inject-file-ca-key.pem: moved/ca-key.pem", 1)
	if moved == string(rendered) {
		t.Fatal("the rendered file has no agent-inject annotation to add beside")
	}
	manifest := writeFile(t, dir, "istiod.yaml", moved)
	code, out, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code == cli.ExitOK || len(out) != 0 || !strings.Contains(stderr, "agent-inject-file-ca-key.pem`: changes where or how the injector writes ca-key.pem") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestConfigDefaults(t *testing.T) {
	code, out, _ := runCmd([]string{"config", "--defaults"}, nil)
	if code != cli.ExitOK || string(out) != string(config.DefaultsYAML) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestConfigShowsEffectiveConfig(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "c.yaml", strings.Replace(testConfig, "spec:\n", "spec:\n  cluster: east\n", 1))
	code, out, stderr := runCmd([]string{"config", "--config", cfg}, nil)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"authPath: auth/kubernetes", "secretVolumePath: /vault/secrets", "caKey: ca_key", "runAsUser: 1337"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}
}

func TestUnexpectedArgument(t *testing.T) {
	code, out, stderr := runCmd([]string{"istiod.yaml"}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "read from stdin") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// A bad document after megabytes of good ones: still nothing on stdout,
// from a stream too large to be held in memory.
func TestLateErrorWritesNothing(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "c.yaml", testConfig)
	var in strings.Builder
	filler := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filler}\ndata: {k: " + strings.Repeat("x", 1000) + "}\n"
	for in.Len() < 2*twopass.MemLimit {
		in.WriteString("---\n" + filler)
	}
	in.WriteString("---\n" + strings.Replace(istiod, "- name: discovery", "- name: pilot", 1))
	code, out, stderr := runCmd([]string{"--config", cfg}, []byte(in.String()))
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, `has no container named "discovery"`) {
		t.Errorf("exit %d, %d bytes on stdout, stderr %q", code, len(out), stderr)
	}
}

// Helm 4 hides a plugin's stderr: the message must be recoverable.
func TestExplainShowsTheLastFailure(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	code, out, _ := runCmd([]string{"explain"}, nil)
	if code != cli.ExitOK || !strings.Contains(string(out), "no failed run recorded") {
		t.Fatalf("before any failure: exit %d, %q", code, out)
	}
	cfg := writeFile(t, t.TempDir(), "c.yaml", strings.Replace(testConfig, "role: istiod", "rol: istiod", 1))
	if code, _, _ := runCmd([]string{"--config", cfg}, []byte(istiod)); code != cli.ExitBadInput {
		t.Fatalf("bad config: exit %d", code)
	}
	code, out, _ = runCmd([]string{"explain"}, nil)
	if code != cli.ExitOK || !strings.Contains(string(out), "`spec.vault.rol` is not a known field") || !strings.Contains(string(out), " istio-vault-ca --config=…\n") {
		t.Errorf("explain: exit %d, %q", code, out)
	}
}

// patches reads documents as a run does: a pod template behind an alias is
// still found, and a duplicate key still refused.
func TestPatchesParseLikeARun(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "c.yaml", testConfig)
	aliased := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\nx: &t\n  metadata: {labels: {app: istiod}}\n  spec: {containers: [{name: discovery}]}\nspec:\n  template: *t\n"
	code, out, stderr := runCmd([]string{"patches", "--config", cfg}, []byte(aliased))
	if code != cli.ExitOK || !strings.Contains(string(out), "vault.hashicorp.com/agent-inject") {
		t.Errorf("aliased istiod: exit %d, stderr %q, out:\n%s", code, stderr, out)
	}
	code, out, stderr = runCmd([]string{"patches", "--config", cfg}, []byte(istiod+"metadata: {name: again}\n"))
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "already defined") {
		t.Errorf("duplicate key: exit %d, %d bytes out, stderr %q", code, len(out), stderr)
	}
}

// verify is its own executable: without it, a run says how to get it.
func TestVerifyWithoutItsExecutable(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, out, stderr := runCmd([]string{"verify", "--config", "x.yaml"}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "go install github.com/istio-vault-ca/istio-vault-ca/cmd/istio-vault-ca-verify") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// A JSON manifest converges like a YAML one: rendered, it is JSON still,
// and check then finds nothing to change.
func TestCheckJSON(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	const in = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"istiod"},` +
		`"spec":{"template":{"metadata":{"labels":{"app":"istiod"}},"spec":{"containers":[{"name":"discovery"}]}}}}` + "\n"
	manifest := writeFile(t, dir, "istiod.json", in)
	if code, _, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil); code != cli.ExitFailed {
		t.Fatalf("drifted file: exit %d, want %d; %s", code, cli.ExitFailed, stderr)
	}
	code, rendered, stderr := runCmd([]string{"--config", cfg}, []byte(in))
	if code != cli.ExitOK {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	if !json.Valid(rendered) || bytes.Count(rendered, []byte("\n")) != 1 {
		t.Fatalf("rendered, it is not one line of JSON:\n%s", rendered)
	}
	writeFile(t, dir, "istiod.json", string(rendered))
	code, out, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code != cli.ExitOK || len(out) != 0 {
		t.Errorf("converged file: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// policy, config and patches take no file argument: one would otherwise be
// ignored and ./vaultca.yaml (or $ISTIO_VAULT_CA_CONFIG) used in its place,
// with exit 0.
func TestSubcommandsRefuseAPositionalArgument(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(cli.EnvConfig, "")
	writeFile(t, dir, "vaultca.yaml", testConfig)
	other := writeFile(t, dir, "other.yaml", strings.Replace(testConfig, "secret/istiod", "other/istiod", 1))
	for _, args := range [][]string{
		{"policy", other},
		{"policy", "--output", "json", other},
		{"config", other},
		{"config", "--defaults", other},
		{"patches", other},
	} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			code, out, stderr := runCmd(args, []byte(istiod))
			if code != cli.ExitBadInput || len(out) != 0 {
				t.Errorf("exit %d, %d bytes on stdout; stderr %q", code, len(out), stderr)
			}
			if want := `unexpected argument "` + other + `": pass the config with --config ` + other; !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not say %q", stderr, want)
			}
		})
	}
}

// A warning is not an error: it goes to stderr, with the exit code and the
// output of a run without it.
func TestWarningsGoToStderrOnly(t *testing.T) {
	dir := t.TempDir()
	base := strings.Replace(testConfig, "vault: {role: istiod}", "vault: {role: istiod, address: \"https://vault.example.com:8200\"", 1)
	quiet := writeFile(t, dir, "quiet.yaml", strings.Replace(base, `8200"`, `8200"}`, 1))
	skip := writeFile(t, dir, "skip.yaml", strings.Replace(base, `8200"`, `8200", tlsSkipVerify: true}`, 1))
	for _, args := range [][]string{{"policy"}, {"config"}, {"patches"}, {}} {
		qcode, want, qerr := runCmd(append(args, "--config", quiet), []byte(istiod))
		if qcode != cli.ExitOK || len(want) == 0 || qerr != "" {
			t.Fatalf("%v without tlsSkipVerify: exit %d, stderr %q", args, qcode, qerr)
		}
		code, out, stderr := runCmd(append(args, "--config", skip), []byte(istiod))
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if !strings.Contains(stderr, "istio-vault-ca: warning: "+skip+":5: `spec.vault.tlsSkipVerify` is true") {
			t.Errorf("%v: no warning on stderr: %q", args, stderr)
		}
		if strings.Contains(string(out), "warning") {
			t.Errorf("%v: the warning reached stdout:\n%s", args, out)
		}
		// Only what tlsSkipVerify itself changes differs from the quiet run.
		if got := withoutLines(string(out), "tlsSkipVerify: true", "tls-skip-verify"); got != string(want) {
			t.Errorf("%v: output differs beyond tls-skip-verify:\n%s\nwant:\n%s", args, out, want)
		}
	}
}

// withoutLines drops the lines of s that contain any of subs.
func withoutLines(s string, subs ...string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		keep := true
		for _, sub := range subs {
			keep = keep && !strings.Contains(line, sub)
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// A subcommand's --help prints that subcommand's usage on stdout and exits
// 0; it is not a failure, so explain does not record it.
func TestSubcommandHelp(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, sub := range subcommands {
		for _, flag := range []string{"--help", "-h"} {
			code, out, stderr := runCmd([]string{sub, flag}, nil)
			if code != cli.ExitOK || !strings.Contains(string(out), "  istio-vault-ca "+sub) || strings.Contains(string(out), "istio-vault-ca patches [") && sub != "patches" {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q", sub, flag, code, out, stderr)
			}
		}
	}
	_, out, _ := runCmd([]string{"explain"}, nil)
	if !strings.Contains(string(out), "no failed run recorded") {
		t.Errorf("a --help was recorded as a failure: %s", out)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"policy", "--version"}, {"--version", "verify"}} {
		code, out, _ := runCmd(args, nil)
		if code != cli.ExitOK || !strings.HasPrefix(string(out), "istio-vault-ca ") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
}

// `--config FILE policy` is read as `policy --config FILE`.
func TestCommonFlagsBeforeTheSubcommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	_, want, _ := runCmd([]string{"policy", "--config", cfg}, nil)
	for _, args := range [][]string{{"--config", cfg, "policy"}, {"--config=" + cfg, "policy"}, {"--verbose", "--config", cfg, "policy"}} {
		code, got, stderr := runCmd(args, nil)
		if code != cli.ExitOK || string(got) != string(want) {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// check DIR checks every manifest below it, as pre-commit and CI users
// point it at a folder.
func TestCheckDirectory(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	manifests := filepath.Join(dir, "manifests")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(manifests, "istiod", ".git"), 0o755))
	_, rendered, _ := runCmd([]string{"--config", cfg}, []byte(istiod))
	writeFile(t, filepath.Join(manifests, "istiod"), "converged.yaml", string(rendered))
	writeFile(t, filepath.Join(manifests, "istiod", ".git"), "ignored.yaml", istiod)
	writeFile(t, manifests, "README.md", istiod)
	code, out, stderr := runCmd([]string{"check", "--config", cfg, manifests}, nil)
	if code != cli.ExitOK || len(out) != 0 {
		t.Fatalf("converged folder: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	writeFile(t, manifests, "drifted.yml", istiod)
	code, out, _ = runCmd([]string{"check", "--config", cfg, manifests}, nil)
	if code != cli.ExitFailed || !strings.Contains(string(out), "drifted.yml") || strings.Contains(string(out), "converged.yaml") {
		t.Errorf("drifted folder: exit %d, stdout %q", code, out)
	}
	// A drifted manifest behind a link, and one in a hidden directory, are
	// checked; a link to a directory is named as not checked.
	must(os.Remove(filepath.Join(manifests, "drifted.yml")))
	outside := writeFile(t, dir, "outside.yaml", istiod)
	must(os.Symlink(outside, filepath.Join(manifests, "link.yaml")))
	code, out, _ = runCmd([]string{"check", "--config", cfg, manifests}, nil)
	if code != cli.ExitFailed || !strings.Contains(string(out), "link.yaml") {
		t.Errorf("drift behind a link: exit %d, stdout %q", code, out)
	}
	must(os.Remove(filepath.Join(manifests, "link.yaml")))
	must(os.MkdirAll(filepath.Join(manifests, ".overlays"), 0o755))
	writeFile(t, filepath.Join(manifests, ".overlays"), "hidden.yaml", istiod)
	code, out, _ = runCmd([]string{"check", "--config", cfg, manifests}, nil)
	if code != cli.ExitFailed || !strings.Contains(string(out), "hidden.yaml") {
		t.Errorf("drift in a hidden directory: exit %d, stdout %q", code, out)
	}
	must(os.RemoveAll(filepath.Join(manifests, ".overlays")))
	must(os.Symlink(filepath.Join(manifests, "istiod"), filepath.Join(manifests, "loop")))
	code, _, stderr = runCmd([]string{"check", "--config", cfg, manifests}, nil)
	if code != cli.ExitOK || !strings.Contains(stderr, "loop: not checked (a link to a directory") {
		t.Errorf("a link to a directory: exit %d, stderr %q", code, stderr)
	}
	empty := filepath.Join(dir, "empty")
	must(os.Mkdir(empty, 0o755))
	if code, out, stderr := runCmd([]string{"check", "--config", cfg, empty}, nil); code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "no .yaml, .yml or .json file in") {
		t.Errorf("empty folder: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// --verbose says when a stream holds no target, which otherwise passes
// through unchanged without a word (the remote profile, a CRD-only chart).
func TestVerboseSaysWhetherThereWasATarget(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	service := "apiVersion: v1\nkind: Service\nmetadata: {name: istiod}\n"
	_, rendered, _ := runCmd([]string{"--config", cfg}, []byte(istiod))
	for _, tc := range []struct{ in, want string }{
		{service, "the stream holds no target"},
		{istiod, "1 target(s), 1 changed"},
		{string(rendered), "1 target(s), all already converged"},
	} {
		if tc.in == istiod {
			if _, _, stderr := runCmd([]string{"patches", "--config", cfg, "--verbose"}, []byte(tc.in)); !strings.Contains(stderr, "1 patch(es)") {
				t.Errorf("patches --verbose: %q", stderr)
			}
		}
		if tc.in == service {
			code, out, stderr := runCmd([]string{"patches", "--config", cfg, "--verbose"}, []byte(tc.in))
			if code != cli.ExitOK || len(out) != 0 || !strings.Contains(stderr, "no patch: the stream holds no target") {
				t.Errorf("patches: exit %d, stdout %q, stderr %q", code, out, stderr)
			}
		}
		code, out, stderr := runCmd([]string{"--config", cfg, "--verbose"}, []byte(tc.in))
		if code != cli.ExitOK || len(out) == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("exit %d, stderr %q, want %q", code, stderr, tc.want)
		}
	}
}

// check lints the files it reads: an error finding fails it, with the
// finding on stderr (stdout stays the diff, empty here: the file is
// converged); a warning is shown and does not fail it.
func TestCheckLints(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	_, rendered, _ := runCmd([]string{"--config", cfg}, []byte(istiod))
	const cacerts = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: cacerts, namespace: istio-system}\ndata:\n  ca-key.pem: eA==\n"
	manifest := writeFile(t, dir, "istiod.yaml", string(rendered)+cacerts)
	keyLine := strings.Count(string(rendered), "\n") + 6
	code, out, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if want := manifest + ":" + strconv.Itoa(keyLine) + ": error ca-key-in-stream: document 2 (Secret istio-system/cacerts) data[ca-key.pem]: "; code != cli.ExitFailed || len(out) != 0 || !strings.Contains(stderr, want) {
		t.Errorf("a CA key in a converged file: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, stderr, want)
	}

	copied := strings.Replace(string(rendered), "metadata: {name: istiod}", "metadata:\n  name: istiod\n  annotations: {vault.hashicorp.com/role: istiod}", 1)
	if copied == string(rendered) {
		t.Fatal("the rendered istiod has no metadata line to annotate")
	}
	writeFile(t, dir, "istiod.yaml", copied)
	code, out, stderr = runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code != cli.ExitOK || len(out) != 0 || !strings.Contains(stderr, manifest+":5: warning vault-annotations-on-workload: ") {
		t.Errorf("a warning in a converged file: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	// A Secret the drift check passes over, but the lint reads: bad input.
	writeFile(t, dir, "istiod.yaml", string(rendered)+"---\nkind: Secret\nmetadata: {name: x\n")
	code, out, stderr = runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "document 2, line") {
		t.Errorf("a Secret that does not parse: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// lint names files, directories and - alike, reads no config, and on bad
// input writes nothing to stdout, even after files with findings.
func TestLintArguments(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(cli.EnvConfig, "")
	const secret = "kind: Secret\nmetadata: {name: cacerts}\nstringData: {tls.key: x}\n"
	writeFile(t, dir, "a.yaml", secret)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sub/b.yml", secret)
	code, out, stderr := runCmd([]string{"lint", "-", "a.yaml", "sub"}, []byte(secret))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if code != cli.ExitFailed || len(lines) != 3 || !strings.HasPrefix(lines[0], "<stdin>:3: error ca-key-in-stream") ||
		!strings.HasPrefix(lines[1], "a.yaml:3: ") || !strings.HasPrefix(lines[2], filepath.Join("sub", "b.yml")+":3: ") ||
		!strings.Contains(stderr, "3 findings: 3 errors") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	writeFile(t, dir, "sub/c.yaml", "kind: Secret\nmetadata: {name: x\n")
	code, out, stderr = runCmd([]string{"lint", "a.yaml", "sub"}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, filepath.Join("sub", "c.yaml")+": document 1, line 1: is not valid YAML") {
		t.Errorf("bad input: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if code, out, stderr := runCmd([]string{"--config", "vaultca.yaml", "lint", "a.yaml"}, nil); code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, "reads no config") {
		t.Errorf("--config: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	for _, args := range [][]string{{"lint"}, {"lint", "missing.yaml"}, {"lint", "--nope", "a.yaml"}} {
		if code, out, stderr := runCmd(args, nil); code != cli.ExitBadInput || len(out) != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	if code, out, stderr := runCmd([]string{"lint", "-"}, []byte("kind: ConfigMap\n")); code != cli.ExitOK || len(out) != 0 || stderr != "" {
		t.Errorf("clean: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// check refuses a committed List (kubectl get -o yaml) holding istiod, as
// the transformer does: it would otherwise say the file has converged.
func TestCheckRefusesAListHoldingIstiod(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "vaultca.yaml", testConfig)
	list := "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSpace(istiod), "\n", "\n  ") + "\n"
	manifest := writeFile(t, dir, "got.yaml", list)
	code, out, stderr := runCmd([]string{"check", "--config", cfg, manifest}, nil)
	if code != cli.ExitBadInput || len(out) != 0 || !strings.Contains(stderr, manifest+": document 1 (List), line 4: `items[0]`") || !strings.Contains(stderr, "split the List into documents") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
