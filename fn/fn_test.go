package fn

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
)

const resourceList = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: istiod
    namespace: istio-system
    annotations:
      config.kubernetes.io/path: istiod.yaml
      config.kubernetes.io/index: "0"
  spec:
    template:
      metadata:
        labels: {app: istiod}
      spec:
        containers:
        - name: discovery
- apiVersion: v1
  kind: Service
  metadata: {name: istiod}
functionConfig:
  apiVersion: istio-vault-ca.dev/v1alpha1
  kind: VaultCA
  metadata: {name: fn}
  spec:
    vault: {role: istiod}
    source:
      kv: {version: 2, path: ROLE_PATH}
`

func runList(t *testing.T, in string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := Run(&kio.ByteReadWriter{Reader: strings.NewReader(in), Writer: &out, KeepReaderAnnotations: true})
	return out.String(), err
}

func TestFunctionWiresIstiod(t *testing.T) {
	out, err := runList(t, strings.Replace(resourceList, "ROLE_PATH", "secret/istiod", 1))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"kind: ResourceList",
		"vault.hashicorp.com/agent-inject-secret-ca-key.pem: secret/data/istiod",
		"name: ROOT_CA_DIR",
		"config.kubernetes.io/path: istiod.yaml", // kept for the orchestrator
		"kind: Service",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFunctionReportsConfigErrorsAsResults(t *testing.T) {
	out, err := runList(t, strings.Replace(resourceList, "ROLE_PATH", `"a\"b"`, 1))
	if err == nil {
		t.Fatal("no error for an injected path")
	}
	for _, want := range []string{"results:", "severity: error", "spec.source.kv.path", "quote or backslash"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vault.hashicorp.com/") {
		t.Errorf("items were changed despite the bad config:\n%s", out)
	}
}

func TestFunctionReportsItemErrorsWithFile(t *testing.T) {
	in := strings.Replace(resourceList, "ROLE_PATH", "secret/istiod", 1)
	in = strings.Replace(in, "- name: discovery", "- name: pilot", 1)
	out, err := runList(t, in)
	if err == nil {
		t.Fatal("no error for istiod without discovery")
	}
	for _, want := range []string{"has no container named", "path: istiod.yaml", "name: istiod", "spec.template.spec.containers"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFunctionWithoutConfig(t *testing.T) {
	in := resourceList[:strings.Index(resourceList, "functionConfig:")]
	out, err := runList(t, in)
	if err == nil || !strings.Contains(out, "no functionConfig") {
		t.Errorf("err %v, out:\n%s", err, out)
	}
}

// A ResourceList may carry Secrets: a malformed one is reported by where
// it is wrong (item index, line, kind and name when they can be read),
// never by its contents, which kyaml's messages quoted. Every bad node
// below holds SECRETDATA.
func TestMalformedListsAreReportedWithoutContents(t *testing.T) {
	const fc = "functionConfig:\n  apiVersion: istio-vault-ca.dev/v1alpha1\n  kind: VaultCA\n  metadata: {name: fn}\n  spec:\n    vault: {role: istiod}\n    source:\n      kv: {version: 2, path: secret/istiod}\n"
	const head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\n"
	list := func(items string) string { return head + "items:\n" + items + fc }
	configMap := "- {apiVersion: v1, kind: ConfigMap, metadata: {name: fine}}\n"
	for _, tc := range []struct {
		name, in string
		want     string // regexp the error must match; empty: the list is fine
		listed   bool   // the list is written back, with the results
	}{
		{"scalar item", list("- just-SECRETDATA\n"), `^\[error\]: items\[0\], line 4: is a scalar, not a resource: each item must be a mapping with apiVersion, kind and metadata$`, true},
		{"empty string item", list(`- ""` + "\n"), `items\[0\], line 4: is a scalar, not a resource`, true},
		{"list item", list(configMap + "- [a, SECRETDATA]\n"), `^\[error\]: items\[1\], line 5: is a list, not a resource`, true},
		{"list item in block style", list(configMap + "- - SECRETDATA\n"), `items\[1\], line 5: is a list`, true},
		{"alias item", list("- &a {apiVersion: v1, kind: Secret, metadata: {name: s}, data: {k: SECRETDATA}}\n- *a\n"), `items\[1\], line 5: is an alias, not a resource`, true},
		{"scalar metadata", list("- {apiVersion: v1, kind: Secret, metadata: SECRETDATA}\n"), `^\[error\] v1/Secret metadata: items\[0\], line 4: metadata is a scalar: it must be a mapping`, true},
		{"list metadata", list("- {apiVersion: v1, kind: Secret, metadata: [SECRETDATA]}\n"), `v1/Secret metadata: items\[0\], line 4: metadata is a list`, true},
		{"alias metadata", list("- {x: &m {name: SECRETDATA}, apiVersion: v1, kind: Secret, metadata: *m}\n"), `items\[0\], line 4: metadata is an alias`, true},
		{"list annotations", list("- {apiVersion: v1, kind: Secret, metadata: {name: s, annotations: [SECRETDATA]}}\n"), `^\[error\] v1/Secret/s metadata.annotations: items\[0\], line 4: metadata.annotations is a list: it must be a mapping`, true},
		{"scalar annotations", list("- {apiVersion: v1, kind: Secret, metadata: {name: s, annotations: SECRETDATA}}\n"), `v1/Secret/s metadata.annotations: items\[0\], line 4: metadata.annotations is a scalar`, true},
		{"every bad item is named", list("- SECRETDATA\n" + configMap + "- [SECRETDATA]\n"), `(?s)items\[0\], line 4: is a scalar.*\n\n.*items\[2\], line 6: is a list`, true},
		{"items a mapping", head + "items: {a: SECRETDATA}\n" + fc, `^failed to read ResourceList input: line 3: items is a mapping: it must be a list of resources$`, false},
		{"items a scalar", head + "items: SECRETDATA\n" + fc, `line 3: items is a scalar: it must be a list`, false},
		{"stdin a scalar", "SECRETDATA\n", `stdin is a scalar, not a ResourceList`, false},
		{"stdin a list", "- SECRETDATA\n", `stdin is a list, not a ResourceList`, false},
		{"two documents", list(configMap) + "---\n" + list("- SECRETDATA\n"), `stdin holds 2 YAML documents: a KRM function takes a single ResourceList`, false},
		// kyaml set its reader annotations on the list itself, and failed
		// on its metadata with the contents; the list's metadata is not used.
		{"scalar metadata of the list", head + "metadata: SECRETDATA\nitems:\n" + configMap + fc, "", true},
		{"keys that are not strings", list("- {apiVersion: v1, kind: Secret, metadata: {name: s, annotations: {? [SECRETDATA]: x}}, ? {SECRETDATA: 1}: 2}\n"), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runList(t, tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if strings.Contains(err.Error(), "SECRETDATA") || strings.Contains(err.Error(), "node contents") {
				t.Errorf("the message quotes the list: %v", err)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("message %q does not match %q", err, tc.want)
			}
			if !tc.listed {
				if out != "" {
					t.Errorf("output for a list that could not be read:\n%s", out)
				}
				return
			}
			i := strings.Index(out, "\nresults:")
			if i < 0 {
				t.Fatalf("the list is not written back with the results:\n%s", out)
			}
			if results := out[i:]; !strings.Contains(out, "kind: ResourceList") || strings.Contains(results, "SECRETDATA") || !strings.Contains(results, "severity: error") {
				t.Errorf("the list is not written back with the results, or they quote it:\n%s", out)
			}
			if strings.Contains(out, "vault.hashicorp.com/") {
				t.Errorf("items were changed despite the bad item:\n%s", out)
			}
		})
	}
}

// aliasList is a ResourceList whose istiod reaches its pod labels through
// an alias, as a hand-written manifest may: kyaml's reader expands no
// alias, so the function must, as the stream does.
func aliasList(extra string) string {
	return `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: istiod
    namespace: istio-system
    labels: &l {app: istiod}
  spec:
    template:
      metadata:
        labels: *l
      spec:
        containers:
        - name: discovery
` + extra + `- apiVersion: v1
  kind: ConfigMap
  metadata: {name: other}
  data: {a: &a x, b: *a}
functionConfig:
  apiVersion: istio-vault-ca.dev/v1alpha1
  kind: VaultCA
  metadata: {name: fn}
  spec:
    vault: {role: istiod}
    source:
      kv: {version: 2, path: secret/istiod}
`
}

func TestFunctionExpandsAliases(t *testing.T) {
	out, err := runList(t, aliasList(""))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"vault.hashicorp.com/agent-inject", "name: ROOT_CA_DIR", "data: {a: &a x, b: *a}"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The stream's checks and limits hold for the items: a duplicate key or an
// alias bomb in a target is an error result, and the list still comes out.
func TestFunctionRefusesWhatTheStreamRefuses(t *testing.T) {
	bomb := "    x0: &x0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 10; i++ {
		bomb += fmt.Sprintf("    x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d, ", i-1), 10), ", "))
	}
	for name, tc := range map[string]struct{ in, want string }{
		"alias bomb":    {strings.Replace(aliasList(""), "  spec:\n", "  spec:\n"+bomb, 1), "its aliases expand to more than 100000 nodes"},
		"duplicate key": {strings.Replace(aliasList(""), "    name: istiod\n", "    name: istiod\n    name: other\n", 1), `key "name" is already defined`},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runList(t, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			for _, want := range []string{"kind: ResourceList", "severity: error", "name: istiod", tc.want} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "vault.hashicorp.com/") {
				t.Errorf("the refused istiod was changed:\n%s", out)
			}
		})
	}
}

// A config error names the user's file and its line when kpt says which
// file the config came from (a Kptfile's configPath), and never a line of
// the ResourceList, whose functionConfig the user did not write.
func TestConfigErrorsAreLocatedInTheUsersFile(t *testing.T) {
	const userFile = "# the pipeline's config\napiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nmetadata:\n  name: fn\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\nspec:\n  vault:\n    role: istiod\n  source:\n    kv:\n      version: 3\n      path: secret/istiod\n"
	const versionLine = 13
	// The list as kpt writes it: the config indented under functionConfig,
	// with kpt's bookkeeping annotations added.
	list := func(annotations string) string {
		var b strings.Builder
		b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n")
		for _, l := range strings.Split(strings.TrimSuffix(userFile, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
			if strings.HasPrefix(l, "    config.kubernetes.io/local-config") {
				b.WriteString(annotations)
			}
		}
		return b.String()
	}
	pkg := t.TempDir()
	if err := os.WriteFile(filepath.Join(pkg, "vaultca.yaml"), []byte(userFile), 0o644); err != nil {
		t.Fatal(err)
	}
	kpt := func(pkg, path string) string {
		return "      config.kubernetes.io/index: '0'\n      config.kubernetes.io/path: '" + path + "'\n" +
			"      internal.config.kubernetes.io/index: '0'\n      internal.config.kubernetes.io/package-path: '" + pkg + "'\n" +
			"      internal.config.kubernetes.io/path: '" + path + "'\n      internal.config.kubernetes.io/seqindent: 'compact'\n" +
			"      internal.config.kubernetes.io/id: '3'\n      config.k8s.io/id: '3'\n"
	}
	edited := t.TempDir()
	if err := os.WriteFile(filepath.Join(edited, "vaultca.yaml"), []byte(strings.Replace(userFile, "role: istiod", "role: other", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	const msg = "`spec.source.kv.version` must be 1 or 2, got 3"
	for _, tc := range []struct {
		name, annotations string
		want              string // the message, exactly
		file              string // the result's file, if any
	}{
		{"kpt pipeline", kpt(pkg, "vaultca.yaml"), fmt.Sprintf("vaultca.yaml:%d: %s", versionLine, msg), "vaultca.yaml"},
		{"file edited since", kpt(edited, "vaultca.yaml"), "vaultca.yaml: " + msg, "vaultca.yaml"},
		{"file gone", kpt(filepath.Join(pkg, "gone"), "vaultca.yaml"), "vaultca.yaml: " + msg, "vaultca.yaml"},
		{"a directory", kpt(pkg, "."), ".: " + msg, "."},
		{"no path (kpt fn eval --fn-config, kustomize)", "", "functionConfig: " + msg, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runList(t, list(tc.annotations))
			var rs Results
			if !errors.As(err, &rs) || len(rs) != 1 {
				t.Fatalf("want one result, got %v\n%s", err, out)
			}
			if rs[0].Message != tc.want {
				t.Errorf("message %q, want %q", rs[0].Message, tc.want)
			}
			if got := rs[0].File; (got == nil) != (tc.file == "") || got != nil && got.Path != tc.file {
				t.Errorf("result file %+v, want %q", got, tc.file)
			}
			if regexp.MustCompile(`functionConfig:\d`).MatchString(out) {
				t.Errorf("a line of the ResourceList is shown as the config's:\n%s", out)
			}
		})
	}
}

// In the istioCSR mode the function edits the injector's values and
// leaves every other ConfigMap as it came, aliases included.
func TestFunctionIstioCSR(t *testing.T) {
	injector := `- apiVersion: v1
  kind: ConfigMap
  metadata: {name: istio-sidecar-injector, namespace: istio-system}
  data:
    values: |-
      {
        "global": {
          "caAddress": ""
        }
      }
`
	list := strings.NewReplacer("vault: {role: istiod}", "vault: {address: https://vault.example.com:8200, role: istio-csr}",
		"kv: {version: 2, path: secret/istiod}", "istioCSR: {pki: {mount: istioca, role: istio}}").Replace(aliasList(injector))
	out, err := runList(t, list)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{`"caAddress": "cert-manager-istio-csr.cert-manager.svc:443"`, "data: {a: &a x, b: *a}", "name: ENABLE_CA_SERVER"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
