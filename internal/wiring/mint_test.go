package wiring

import (
	"reflect"
	"strings"
	"testing"
	"text/template/parse"
)

// secretCalls are the string arguments of every `secret` call of an agent
// template, outermost first: the requests the agent makes, as it keys them.
func secretCalls(t *testing.T, text string) [][]string {
	t.Helper()
	tree := parse.New("agent")
	tree.Mode = parse.SkipFuncCheck
	if _, err := tree.Parse(text, "{{", "}}", map[string]*parse.Tree{}); err != nil {
		t.Fatalf("the agent could not parse:\n%s\n%v", text, err)
	}
	var calls [][]string
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.PipeNode:
			for _, c := range n.Cmds {
				if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "secret" {
					var args []string
					for _, a := range c.Args[1:] {
						if s, ok := a.(*parse.StringNode); ok {
							args = append(args, s.Text)
						} else {
							args = append(args, a.String())
						}
					}
					calls = append(calls, args)
				}
			}
		}
	}
	walk(tree.Root)
	return calls
}

// One generate and one sign serve the key, the certificate and the chain:
// the agent keys a write by its path and arguments, so every template
// must send them byte for byte the same, and the policy must pin exactly
// those arguments, or the agent's own requests would be denied.
func TestMintTemplatesShareTheirRequests(t *testing.T) {
	p := load(t, `  cluster: cluster1
  vault: {role: r}
  source:
    mint:
      csrPath: "pki_int_{{ .Cluster }}/intermediate/generate/exported"
      caPath: pki/root/sign-intermediate
      commonName: "Istio intermediate {{ .Cluster }}"
      ttl: 720h
`)
	calls := map[string][][]string{}
	for _, f := range p.Files {
		calls[f.Name] = secretCalls(t, f.Template)
	}
	generate := []string{"pki_int_cluster1/intermediate/generate/exported", "common_name=Istio intermediate cluster1", "key_type=rsa", "key_bits=2048"}
	sign := []string{"pki/root/sign-intermediate", `printf "csr=%s" .Data.csr`, "common_name=Istio intermediate cluster1", "ttl=720h", "format=pem", "max_path_length=0"}
	want := map[string][][]string{
		"ca-key.pem":     {generate},
		"ca-cert.pem":    {generate, sign},
		"cert-chain.pem": {generate, sign},
		"root-cert.pem":  {{"pki/cert/ca"}},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("the templates make the requests\n%q\nwant\n%q", calls, want)
	}
	pins := map[string][]string{}
	for _, r := range p.APIPaths() {
		args := []string{r.Path}
		for _, pm := range r.Params {
			if pm.Value == "" {
				args = append(args, `printf "csr=%s" .Data.csr`)
				continue
			}
			args = append(args, pm.Name+"="+pm.Value)
		}
		pins[r.Path] = args
		if r.Params == nil && r.Capability != Read {
			t.Errorf("%s: an unpinned write", r.Path)
		}
	}
	if !reflect.DeepEqual(pins[generate[0]], generate) || !reflect.DeepEqual(pins[sign[0]], sign) {
		t.Errorf("the policy pins\n%q\n%q\nbut the templates send\n%q\n%q", pins[generate[0]], pins[sign[0]], generate, sign)
	}
	if !strings.Contains(p.Files[2].Template, "issuing_ca") {
		t.Errorf("cert-chain.pem does not write the issuer after the intermediate:\n%s", p.Files[2].Template)
	}
}

// root-cert.pem is the issuer that signs: caPath naming an issuer reads
// that issuer's certificate, not the mount's default issuer at cert/ca,
// which may be another root; the policy reads that path and no other.
func TestMintRootIsTheSigner(t *testing.T) {
	for caPath, rootPath := range map[string]string{
		"pki/root/sign-intermediate":               "pki/cert/ca",
		"pki/issuer/root-2026/sign-intermediate":   "pki/issuer/root-2026/json",
		"ns1/pki/issuer/default/sign-intermediate": "ns1/pki/issuer/default/json",
	} {
		p := load(t, "  vault: {role: r}\n  source: {mint: {csrPath: pki_int/intermediate/generate/exported, caPath: "+caPath+", commonName: x, ttl: 720h}}\n")
		var root []string
		for _, f := range p.Files {
			if f.Name == "root-cert.pem" {
				for _, c := range secretCalls(t, f.Template) {
					root = append(root, c[0])
				}
			}
		}
		if !reflect.DeepEqual(root, []string{rootPath}) {
			t.Errorf("caPath %s: root-cert.pem reads %q, want %s", caPath, root, rootPath)
		}
		var reads []string
		for _, r := range p.APIPaths() {
			if r.Capability == Read {
				reads = append(reads, r.Path)
			}
		}
		if !reflect.DeepEqual(reads, []string{rootPath}) {
			t.Errorf("caPath %s: the policy reads %q, want %s", caPath, reads, rootPath)
		}
	}
}
