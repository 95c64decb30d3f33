package main

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// outcome is what a case must produce.
type outcome int

const (
	same    outcome = iota // exit 0, stdout byte-identical to stdin
	changed                // exit 0, stdout differs, parses, and a rerun is a no-op
	refused                // exit 2, nothing on stdout, stderr matches
)

// TestAdversarial is the table of hostile and odd inputs and configs, with
// the exact behaviour each must have. README's "Guarantees" rests on it.
func TestAdversarial(t *testing.T) {
	istiodWith := func(spec string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system}\nspec:\n" + spec
	}
	plainIstiod := istiodWith("  template:\n    metadata:\n      labels: {app: istiod}\n    spec:\n      containers:\n      - name: discovery\n        image: pilot\n")
	configWith := func(extra string) string { return strings.Replace(testConfig, "spec:\n", "spec:\n"+extra, 1) }
	aliasBomb := istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery}]}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		aliasBomb += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	hookIstiod := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: istiod\n  namespace: istio-system\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation\n    postrenderer.helm.sh/postrender-filename: istiod/templates/deployment.yaml\nspec:\n  template:\n    metadata:\n      labels: {app: istiod}\n    spec:\n      containers:\n      - name: discovery\n        image: pilot\n"
	helm4Istiod := strings.Replace(plainIstiod, "metadata: {name: istiod, namespace: istio-system}", "metadata: {name: istiod, namespace: istio-system, annotations: {postrenderer.helm.sh/postrender-filename: d.yaml}}", 1)
	huge := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  blob: |\n" + strings.Repeat("    "+strings.Repeat("y", 120)+"\n", 50000)

	for _, tc := range []struct {
		name   string
		input  string
		config string // default testConfig
		args   []string
		want   outcome
		stderr string                         // regexp, for refused
		check  func(t *testing.T, out []byte) // more, for changed
	}{
		// Malformed and odd YAML.
		{name: "malformed target", input: "kind: Deployment\nmetadata: {name: istiod\n  app: istiod\n", want: refused, stderr: `document 1, line \d+: is not valid YAML`},
		{name: "malformed non-target passes untouched", input: "kind: ConfigMap\ndata: {a: [\n", want: same},
		{name: "tab indentation in a target", input: istiodWith("\ttemplate: {metadata: {labels: {app: istiod}}}\n"), want: refused, stderr: `not valid YAML`},
		{name: "byte order mark", input: "\ufeff" + plainIstiod, want: changed},
		{name: "CRLF line ends", input: strings.ReplaceAll(plainIstiod, "\n", "\r\n"), want: changed},
		{name: "duplicate keys in a target", input: plainIstiod + "metadata: {name: other}\n", want: refused, stderr: `already defined`},
		{name: "alias bomb in a target", input: aliasBomb, want: refused, stderr: `document 1 \(Deployment istio-system/istiod\), line 1: its aliases expand to more than 100000 nodes`},
		{name: "anchor and alias to the pod template", input: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\nx: &t\n  metadata: {labels: {app: istiod}}\n  spec: {containers: [{name: discovery}]}\nspec:\n  template: *t\n", want: changed},
		{name: "inline merge key into the labels", input: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\nspec:\n  template:\n    metadata:\n      labels: {<<: {app: istiod}}\n    spec: {containers: [{name: discovery}]}\n", want: changed},
		{name: "merge key inside a merged mapping", input: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\nbase: &b {app: istiod}\npod: &p {<<: *b}\nspec:\n  template:\n    metadata:\n      labels: {<<: *p}\n    spec: {containers: [{name: discovery}]}\n", want: refused, stderr: `document 1 \(Deployment istiod\), line 5: a merge key \(<<\) brings in a mapping that has a merge key of its own`},
		{name: "merge key into the labels", input: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod}\nbase: &b {app: istiod}\nspec:\n  template:\n    metadata:\n      labels:\n        <<: *b\n    spec: {containers: [{name: discovery}]}\n", want: changed},
		{name: "document end markers", input: "kind: ConfigMap\n...\n---\nkind: Secret\n...\n", want: same},
		{name: "--- inside a block scalar", input: "kind: ConfigMap\ndata:\n  t: |\n    ---\n    kind: Deployment\n    app: istiod\n", want: same},
		{name: "marker with content", input: "--- !!map\n" + plainIstiod, want: changed},
		{name: "marker with a comment", input: "--- # istiod\n" + plainIstiod, want: changed},
		{name: "huge document", input: huge, want: same},
		{name: "very long line", input: "kind: ConfigMap\ndata: {a: " + strings.Repeat("z", 1<<20) + "}\n", want: same},
		{name: "no final newline", input: "kind: ConfigMap\n---\nkind: Secret", want: same},
		{name: "empty input", input: "", want: same},
		{name: "only comments and markers", input: "# nothing\n---\n# here\n---\n", want: same},
		{name: "binary garbage in a non-target", input: "kind: ConfigMap\ndata: {a: \"\x00\x01\xff\"}\n", want: same},
		{name: "JSON document", input: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"istiod"},"spec":{"template":{"metadata":{"labels":{"app":"istiod"}},"spec":{"containers":[{"name":"discovery"}]}}}}` + "\n", want: changed},
		{name: "JSON non-target", input: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"reviews"}}` + "\n", want: same},

		// Odd targets.
		{name: "null pod template", input: istiodWith("  template: null\n"), want: same},
		{name: "containers null", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: null}\n"), want: refused, stderr: `containers.*is missing or not a list`},
		{name: "no discovery container", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: pilot}]}\n"), want: refused, stderr: `has no container named "discovery"`},
		{name: "annotations are a list", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}, annotations: [a]}\n    spec: {containers: [{name: discovery}]}\n"), want: refused, stderr: `annotations`},
		{name: "conflicting literal annotation is replaced", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}, annotations: {vault.hashicorp.com/role: other}}\n    spec: {containers: [{name: discovery}]}\n"), want: changed},
		{name: "non-string annotation value is replaced", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}, annotations: {vault.hashicorp.com/agent-inject: true}}\n    spec: {containers: [{name: discovery}]}\n"), want: changed},
		{name: "ROOT_CA_DIR from valueFrom is replaced", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery, env: [{name: ROOT_CA_DIR, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}]}\n"), want: changed},
		{name: "unknown kind", input: "apiVersion: example.com/v1\nkind: Widget\nspec: {app: istiod}\n", want: same},
		{name: "List of Deployments", input: "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSpace(plainIstiod), "\n", "\n  ") + "\n", want: refused, stderr: `items\[0\].*is Deployment istio-system/istiod inside a List.*split the List into documents`},
		{name: "List of other Deployments", input: "apiVersion: v1\nkind: DeploymentList\nitems:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: shop}}\n", want: same},
		// As Helm 4 hands a hook to the post-renderer: its hook annotations
		// and the file name on the Deployment. It is wired like any istiod,
		// and the Deployment's own annotations come out as they went in.
		{name: "Helm hook istiod", input: hookIstiod, want: changed, check: deploymentAnnotationsKept(hookIstiod)},
		{name: "Helm 4 filename annotation survives", input: helm4Istiod, want: changed, check: deploymentAnnotationsKept(helm4Istiod)},
		{name: "volume path collides with cacerts", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery, volumeMounts: [{name: cacerts, mountPath: /vault/secrets}]}]}\n"), want: refused, stderr: `overlaps spec.secretVolumePath`},
		{name: "istiod runs as another uid", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery, securityContext: {runAsUser: 999}}]}\n"), want: refused, stderr: `runAsUser.*is 999`},
		{name: "revision the role does not bind", input: istiodWith("  template:\n    metadata: {labels: {app: istiod}}\n    spec: {serviceAccountName: istiod-canary, containers: [{name: discovery}]}\n"), want: refused, stderr: `add "canary" to spec.istiod.revisions`},
		{name: "IstioOperator with a null spec", input: "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n", want: changed},

		// Hostile or broken config.
		{name: "template injection through the path", config: strings.Replace(testConfig, "secret/istiod", `'secret/x"}}{{ with secret "sys/raw" }}'`, 1), input: plainIstiod, want: refused, stderr: `spec.source.kv.path`},
		{name: "template injection through a field", config: strings.Replace(testConfig, "path: secret/istiod}", "path: secret/istiod, fields: {caKey: \"k }}{{ .Data\"}}", 1), input: plainIstiod, want: refused, stderr: `spec.source.kv.fields.caKey. contains a template delimiter`},
		{name: "newline in a field", config: strings.Replace(testConfig, "path: secret/istiod}", "path: secret/istiod, fields: {caKey: \"a\\nb\"}}", 1), input: plainIstiod, want: refused, stderr: `contains a newline`},
		{name: "PEM pasted into the config", config: strings.Replace(testConfig, "path: secret/istiod}", "path: secret/istiod, fields: {caKey: \"-----BEGIN PRIVATE KEY-----\"}}", 1), input: plainIstiod, want: refused, stderr: `holds PEM material`},
		{name: "unknown config field", config: configWith("  rotaton: true\n"), input: plainIstiod, want: refused, stderr: "`spec.rotaton` is not a known field"},
		{name: "bad PKI TTL", config: configWith("  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    certificates: [{name: a, pki: {mount: p, role: r, commonName: a.example.com, ttl: 3days}}]\n"), input: plainIstiod, want: refused, stderr: `pki.ttl. must be a positive duration`},
		{name: "bad render interval", config: configWith("  rotation: true\n  agent: {staticSecretRenderInterval: soon}\n"), input: plainIstiod, want: refused, stderr: `staticSecretRenderInterval. must be a positive duration`},
		{name: "config not YAML", config: "{{{", input: plainIstiod, want: refused, stderr: `invalid config`},
		{name: "two configs in one file", config: testConfig + "---\n" + testConfig, input: plainIstiod, want: refused, stderr: `exactly one VaultCA document, found 2`},
		{name: "world-readable key", config: configWith("  agent: {keyPerms: \"0444\"}\n"), input: plainIstiod, want: refused, stderr: `keyPerms. must be "0400" .* or "0440"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config
			if cfg == "" {
				cfg = testConfig
			}
			cfgFile := writeFile(t, t.TempDir(), "c.yaml", cfg)
			args := append(append([]string{}, tc.args...), "--config", cfgFile)
			code, out, stderr := runCmd(args, []byte(tc.input))
			switch tc.want {
			case refused:
				if code != cli.ExitBadInput || len(out) != 0 || !regexp.MustCompile(tc.stderr).MatchString(stderr) {
					t.Fatalf("want refusal matching %q with empty stdout; got exit %d, %d bytes out, stderr %q", tc.stderr, code, len(out), stderr)
				}
				return
			case same:
				if code != cli.ExitOK || !bytes.Equal(out, []byte(tc.input)) {
					t.Fatalf("want byte-for-byte passthrough; got exit %d, stderr %q, identical=%v", code, stderr, bytes.Equal(out, []byte(tc.input)))
				}
				return
			}
			if code != cli.ExitOK || bytes.Equal(out, []byte(tc.input)) {
				t.Fatalf("want a change; got exit %d, identical=%v, stderr %q", code, bytes.Equal(out, []byte(tc.input)), stderr)
			}
			for i, d := range stream.Split(out) {
				var v any
				if err := sigsyaml.Unmarshal(d.Body, &v); err != nil {
					t.Errorf("output document %d does not parse: %v", i, err)
				}
			}
			if tc.check != nil {
				tc.check(t, out)
			}
			_, again, _ := runCmd(args, out)
			if !bytes.Equal(again, out) {
				t.Errorf("a second run changed the output")
			}
		})
	}
}

// deploymentAnnotationsKept checks that the output's first document is
// wired (the injector's annotations on its pod template) and carries the
// Deployment-level annotations of input unchanged: Helm reads its hook and
// file-name annotations there, and the tool's own belong on the pod.
func deploymentAnnotationsKept(input string) func(t *testing.T, out []byte) {
	return func(t *testing.T, out []byte) {
		t.Helper()
		type doc struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Template struct {
					Metadata struct {
						Annotations map[string]string `json:"annotations"`
					} `json:"metadata"`
				} `json:"template"`
			} `json:"spec"`
		}
		var in, got doc
		if err := sigsyaml.Unmarshal([]byte(input), &in); err != nil {
			t.Fatal(err)
		}
		if err := sigsyaml.Unmarshal(stream.Split(out)[0].Source(), &got); err != nil {
			t.Fatal(err)
		}
		if len(in.Metadata.Annotations) == 0 || !maps.Equal(got.Metadata.Annotations, in.Metadata.Annotations) {
			t.Errorf("the Deployment's annotations changed: %v, went in as %v", got.Metadata.Annotations, in.Metadata.Annotations)
		}
		if got.Spec.Template.Metadata.Annotations["vault.hashicorp.com/agent-inject"] != "true" {
			t.Errorf("the pod template is not wired: %v", got.Spec.Template.Metadata.Annotations)
		}
	}
}
