// An external test package: it builds the plans (wiring imports config) to
// check what reaches the agent, not validation's own list of values.
package config_test

import (
	"fmt"
	"strings"
	"testing"
	"text/template/parse"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/templates"
)

// hostileSeeds put a quote into each value of the config that reaches an
// agent template or a Vault path, after two benign configs that write each
// such value out; validation refuses every hostile one. Without
// the refusal they load, and the check below must catch them.
var hostileSeeds = func() []string {
	const head = "apiVersion: istio-vault-ca.dev/v1alpha1\nkind: VaultCA\nmetadata: {name: f}\nspec:\n  vault: {role: istiod}\n"
	const kv = "  source: {kv: {version: 2, path: secret/istiod}}\n"
	gateway := func(cert string) string {
		return head + kv + "  gateways:\n  - selector: {istio: ingressgateway}\n    mountPath: /etc/certs\n    certificates: [" + cert + "]\n"
	}
	return []string{
		// Benign, every templated value written out: one mutation from
		// each hostile value.
		head + "  source: {pki: {mount: istioca, rootMount: pki, key: {version: 1, path: secret/istioca, field: key}}}\n",
		head + "  source: {mint: {csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: Istio intermediate, ttl: 720h, rootMount: pki, keyType: ec, keyBits: 384}}\n",
		gateway("{name: a, kv: {version: 1, path: secret/gw, certField: c, keyField: k, caField: ca}}, {name: b, pki: {mount: pki_int, role: gw, commonName: b.example.com, altNames: [c.example.com], ttl: 72h}}"),
		head + "  source: {kv: {version: 2, path: 'secret/x\"\"y'}}\n",
		head + "  source: {kv: {version: 1, path: secret/istiod, fields: {caKey: 'k\" \"x'}}}\n",
		head + "  source: {kv: {version: 2, path: secret/istiod, fields: {rootCert: 'r\" \"x'}}}\n",
		head + "  source: {pki: {mount: 'pki\"\"x', rootMount: pki, key: {path: secret/istioca}}}\n",
		head + "  source: {pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca, field: 'k\" \"x'}}}\n",
		head + "  source: {pki: {mount: istioca, rootMount: pki, key: {path: secret/istioca, field: 'k}}{{x'}}}\n",
		gateway("{name: a, kv: {version: 2, path: secret/gw, certField: 'c\" \"x', keyField: k}}"),
		gateway("{name: a, pki: {mount: pki_int, role: gw, commonName: 'a\" \"x.example.com'}}"),
		gateway("{name: a, pki: {mount: pki_int, role: gw, commonName: a.example.com, ttl: '72h\" \"x'}}"),
		head + "  source: {mint: {csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: 'Istio\" \"x', ttl: 720h}}\n",
		head + "  source: {mint: {csrPath: 'pki_int\"\"x/intermediate/generate/exported', caPath: pki/root/sign-intermediate, commonName: a, ttl: 720h}}\n",
		head + "  source: {mint: {csrPath: pki_int/intermediate/generate/exported, caPath: pki/root/sign-intermediate, commonName: a, ttl: 720h, keyType: 'rsa\" \"x'}}\n",
		head + kv + "  rootRotation: {extraRoots: [{kv: {version: 1, path: secret/next, field: root}}, {pki: {mount: pki_next}}]}\n",
		head + kv + "  rootRotation: {extraRoots: [{kv: {version: 2, path: secret/next, field: 'r\" \"x'}}]}\n",
		head + kv + "  rootRotation: {extraRoots: [{pki: {mount: 'pki\"\"x'}}]}\n",
	}
}()

// Loading never panics, and a config that loads is safe to put into agent
// templates: every template the plans carry, parsed as the agent parses it,
// holds exactly the actions the tool's templates write, and every string in
// it and every Vault path is written plain, with nothing that could end a
// string or an action early.
func FuzzLoad(f *testing.F) {
	for _, c := range golden.Cases(f, "../../testdata/golden") {
		f.Add(c.Config)
	}
	golden.AddSeeds(f, "../../testdata/fuzz/config/*")
	f.Add(config.DefaultsYAML)
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg, err := config.Load(in, "fuzz.yaml")
		if err != nil {
			return
		}
		tr, err := transform.New(cfg)
		if err != nil {
			return
		}
		for _, p := range tr.Plans() {
			checkPlanTemplates(t, cfg, p)
		}
	})
}

// checkPlanTemplates checks every file of a plan, and every template
// annotation, against what the tool's templates write for the file's
// layout, the layout taken from the config.
func checkPlanTemplates(t *testing.T, cfg *config.VaultCA, p *wiring.Plan) {
	t.Helper()
	if p.CSR != nil {
		// istioCSR: nothing reaches an agent, and the one Vault path is
		// the issuer's sign request.
		if len(p.Annotations) > 0 {
			t.Fatalf("%s: an istioCSR plan has annotations: %v", p.Setting, p.Annotations)
		}
		for _, f := range p.Files {
			if msg := unplain(f.APIPath); msg != "" || f.Template != "" {
				t.Fatalf("%s: the Vault path %q %s (template %q)", p.Setting, f.APIPath, msg, f.Template)
			}
		}
		return
	}
	files := map[string]bool{}
	for _, f := range p.Files {
		files[f.Name] = true
		if got := p.Annotation("agent-inject-secret-" + f.Name); got != f.APIPath {
			t.Fatalf("%s: the secret annotation of %s is %q, its file reads %q", p.Setting, f.Name, got, f.APIPath)
		}
		if msg := unplain(f.APIPath); msg != "" {
			t.Fatalf("%s: the Vault path of %s, %q, %s", p.Setting, f.Name, f.APIPath, msg)
		}
		if got := p.Annotation("agent-inject-template-" + f.Name); got != f.Template {
			t.Fatalf("%s: the template annotation of %s is not its file's template", p.Setting, f.Name)
		}
		layout, benign, strs := expectedLayout(t, cfg, p, f)
		want, err := templates.Render(layout, benign)
		if err != nil {
			t.Fatal(err)
		}
		gotShape, gotStrings := shape(t, f.Template)
		wantShape, _ := shape(t, want)
		if gotShape != wantShape {
			t.Fatalf("%s: the template of %s has other actions than %s writes:\n%s\n---- %s writes:\n%s", p.Setting, f.Name, layout, f.Template, layout, want)
		}
		for i, s := range gotStrings {
			if s.Quoted != `"`+s.Text+`"` {
				t.Fatalf("%s: string %s in the template of %s is not written plain: a reader that stops at its first quote ends it early:\n%s", p.Setting, s.Quoted, f.Name, f.Template)
			}
			if msg := unplain(s.Text); msg != "" {
				t.Fatalf("%s: string %s in the template of %s %s:\n%s", p.Setting, s.Quoted, f.Name, msg, f.Template)
			}
			if strs != nil && s.Text != strs[i] {
				t.Fatalf("%s: string %d in the template of %s is %s, want %q", p.Setting, i, f.Name, s.Quoted, strs[i])
			}
		}
	}
	for _, a := range p.Annotations {
		if name, ok := strings.CutPrefix(a.Name, wiring.Prefix+"agent-inject-template-"); ok && !files[name] {
			t.Fatalf("%s: template annotation %s belongs to no file", p.Setting, a.Name)
		}
	}
}

// expectedLayout is the layout template of a file, decided by the config,
// benign data of the same layout, and, for a file read from a response,
// the strings its template must hold, in order.
func expectedLayout(t *testing.T, cfg *config.VaultCA, p *wiring.Plan, f wiring.File) (string, templates.Data, []string) {
	t.Helper()
	read := func(version int) (string, templates.Data, []string) {
		field := f.Keys[len(f.Keys)-1]
		return templates.KV, templates.Data{APIPath: "a/b", Field: "f", Version: version},
			[]string{f.APIPath, field, fmt.Sprintf("istio-vault-ca: field %s is missing or empty in %s", field, f.APIPath)}
	}
	if p.Setting == "spec.istiod" && len(f.ExtraRoots) > 0 {
		// The root file with extra roots: one read per root, in order.
		var d templates.Data
		var strs []string
		for _, r := range f.Reads() {
			field := r.Keys[len(r.Keys)-1]
			d.Roots = append(d.Roots, templates.Data{APIPath: "a/b", Field: "f", Version: r.KVVersion})
			strs = append(strs, r.APIPath, field,
				"-----BEGIN CERTIFICATE-----", "-----BEGIN", "-----BEGIN CERTIFICATE-----", "",
				fmt.Sprintf("istio-vault-ca: field %s in %s is not only PEM CERTIFICATE blocks (a private key?): refused, the root file is published to every namespace", field, r.APIPath),
				fmt.Sprintf("istio-vault-ca: field %s is missing or empty in %s", field, r.APIPath))
		}
		return templates.Roots, d, strs
	}
	if p.Setting == "spec.istiod" {
		src := cfg.Spec.Source
		switch {
		case src.KV != nil:
			return read(src.KV.Version)
		case src.Mint != nil && f.Part != wiring.PartRoot:
			// Three arguments to the generate, four after the CSR to the
			// sign: a value split in two would add one.
			kv := []string{"k=v", "k=v", "k=v"}
			return templates.Mint, templates.Data{APIPath: "a/b", Params: kv, SignPath: "c/d", SignParams: append(kv, "k=v"), Part: string(f.Part)}, nil
		case src.Mint != nil:
			_, _, strs := read(1)
			return templates.PKI, templates.Data{APIPath: "a/b"}, strs
		case f.Part == wiring.PartKey:
			return read(src.PKI.Key.Version)
		}
		_, _, strs := read(1)
		return templates.PKI, templates.Data{APIPath: "a/b"}, strs
	}
	var index int
	if _, err := fmt.Sscanf(p.Setting, "spec.gateways[%d]", &index); err != nil {
		t.Fatalf("plan %q: %v", p.Setting, err)
	}
	for _, c := range cfg.Spec.Gateways[index].Certificates {
		switch {
		case c.Name != f.Certificate:
		case c.KV != nil:
			return read(c.KV.Version)
		default:
			// One parameter for the common name, one each for alt names
			// and TTL when set: a value split in two would add one.
			params := []string{"k=v"}
			if len(c.PKI.AltNames) > 0 {
				params = append(params, "k=v")
			}
			if c.PKI.TTL != "" {
				params = append(params, "k=v")
			}
			return templates.PKICert, templates.Data{APIPath: "a/b", Params: params}, nil
		}
	}
	t.Fatalf("%s: file %s belongs to no certificate of the config", p.Setting, f.Name)
	return "", templates.Data{}, nil
}

// unplain says what in a value placed into a template, or into a Vault path
// the injector may put into one, could end a string or an action early.
func unplain(v string) string {
	switch {
	case strings.Contains(v, "{{") || strings.Contains(v, "}}"):
		return "holds a template delimiter"
	case strings.ContainsAny(v, "\"`\\'"):
		return "holds a quote or a backslash"
	case strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return "holds a control character"
	}
	return ""
}

// shape parses an agent template as the agent does (Go's text/template, its
// default delimiters; the functions are the agent's, so not checked) and
// returns it written back with every string as "S", and its strings.
func shape(t *testing.T, text string) (string, []*parse.StringNode) {
	t.Helper()
	tree := parse.New("agent")
	tree.Mode = parse.SkipFuncCheck | parse.ParseComments
	if _, err := tree.Parse(text, "{{", "}}", map[string]*parse.Tree{}); err != nil {
		t.Fatalf("the agent could not parse the template: %v\n%s", err, text)
	}
	var strs []*parse.StringNode
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.StringNode:
			s := *n
			strs = append(strs, &s)
			n.Quoted, n.Text = `"S"`, "S"
		}
	}
	walk(tree.Root)
	return tree.Root.String(), strs
}
