package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// rotate-plan writes the three steps of Istio's own root rotation
// (tests/integration/security/cacert_rotation) as VaultCA configs, from the
// config in use (--config: the old CA) and the config to end with (--next:
// the new CA in spec.source; without it, the config with its
// spec.rootRotation.next as spec.source):
//
//  1. the old key, certificate and chain, with the old and the new root;
//  2. the new key, certificate and chain, with the old and the new root;
//  3. the new root alone: --next as written.
//
// Steps 1 and 2 are the two files with the other's root added to
// spec.rootRotation.extraRoots. Each step is a whole document, as written
// in its file (comments kept), so that a GitOps repository applies them
// one after the other; the checks between them head each document.
func runRotatePlan(args []string, stdout, stderr io.Writer) int {
	fs, c := newFlags("rotate-plan", stderr)
	next := fs.String("next", "", "the VaultCA to end with: the config whose spec.source is the new CA (default: the --config file with spec.rootRotation.next as its spec.source)")
	dir := fs.String("output-dir", "", "write step-1.yaml, step-2.yaml and step-3.yaml into this directory (created if absent) instead of one stream on stdout")
	force := fs.Bool("force", false, "with --output-dir: replace step files that exist already")
	if !cli.ParseNoArgs(fs, args, stderr, "") {
		return cli.ExitBadInput
	}
	file, _, err := cli.ResolveConfig(c.ConfigFile)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	steps, err := rotationSteps(file, *next)
	if err != nil {
		return cli.Fail(stderr, err)
	}
	if *dir == "" {
		for i, s := range steps {
			if i > 0 {
				stdout.Write([]byte("---\n"))
			}
			stdout.Write(s)
		}
		return cli.ExitOK
	}
	// Step files are a rotation's record, often committed: one written
	// before (another rotation's, or this one's, half applied) is replaced
	// only when asked, and none is written unless all three can be.
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return cli.Fail(stderr, err)
	}
	names := make([]string, len(steps))
	for i := range steps {
		names[i] = filepath.Join(*dir, fmt.Sprintf("step-%d.yaml", i+1))
		if _, err := os.Lstat(names[i]); err == nil && !*force {
			fmt.Fprintf(stderr, "istio-vault-ca rotate-plan: %s exists already: not replaced (it may be the record of a rotation under way); move it away, or give --force to replace the step files\n", names[i])
			return cli.ExitBadInput
		}
	}
	for i, s := range steps {
		if err := os.WriteFile(names[i], s, 0o644); err != nil {
			return cli.Fail(stderr, err)
		}
		fmt.Fprintf(stderr, "istio-vault-ca rotate-plan: wrote %s\n", names[i])
	}
	return cli.ExitOK
}

// rotationConfig is one of the two configs of a rotation: its document,
// loaded (checked, defaulted and expanded) and as written.
type rotationConfig struct {
	file   string
	doc    *yaml.Node
	loaded *config.VaultCA
	// root is the source's own root as an extra root, from the values as
	// written ({{ .Cluster }} kept) with the defaults filled in.
	root *yaml.Node
	// rootRead is where the loaded config reads its root from.
	rootRead string
}

func readRotationConfig(file, flag string) (*rotationConfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return parseRotationConfig(data, file, filepath.Base(file))
}

// parseRotationConfig is readRotationConfig of a config's bytes; shown is
// how the steps' comments name it.
func parseRotationConfig(data []byte, file, shown string) (*rotationConfig, error) {
	loaded, err := config.Load(data, file)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	written := &config.VaultCA{}
	if err := sigsyaml.Unmarshal(data, written); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	written.Default()
	root, err := rootOf(written.Spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	plan, err := wiring.ForIstiod(loaded)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	rc := &rotationConfig{file: shown, doc: &doc, loaded: loaded, root: root}
	for _, f := range plan.Files {
		if f.Part == wiring.PartRoot {
			rc.rootRead = f.APIPath + "#" + strings.Join(f.Keys, ".")
		}
	}
	return rc, nil
}

// rootOf is the root of a source, as an extra root in flow style: the
// root field of a KV source's secret, or a PKI source's root mount.
func rootOf(s config.Spec) (*yaml.Node, error) {
	var kind string
	var fields []string // key, value, ...
	switch src := s.Source.Selected().(type) {
	case *config.KV:
		kind, fields = "kv", []string{"version", strconv.Itoa(src.Version)}
		if src.Mount != "" {
			fields = append(fields, "mount", src.Mount)
		}
		fields = append(fields, "path", src.Path, "field", src.Fields.RootCert)
	case *config.PKI:
		kind, fields = "pki", []string{"mount", src.RootMount}
	case *config.Mint:
		// A minted intermediate's root is its signer's certificate: the
		// root mount's default issuer, or the issuer caPath names (the
		// usual way to add a root inside one mount).
		kind, fields = "pki", []string{"mount", src.RootMount}
		if _, issuer, _ := config.MintCAPath(src.CAPath); issuer != "" {
			fields = append(fields, "issuer", issuer)
		}
	case *config.IstioCSR:
		return nil, errors.New("`spec.source.istioCSR`: rotate-plan cannot rotate it: in the istioCSR mode istiod holds no CA and no root file (istio-csr's rootCAFile is the trust bundle), so the root is rotated in istio-csr and cert-manager, not with extra roots")
	default:
		return nil, errors.New("`spec.source` sets no source rotate-plan can rotate (kv, pki or mint)")
	}
	inner := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	for i := 0; i < len(fields); i += 2 {
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fields[i+1]}
		if fields[i] == "version" {
			v.Tag = "!!int"
		}
		inner.Content = append(inner.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fields[i]}, v)
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle,
		Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: kind}, inner}}, nil
}

func rotationSteps(currentFile, nextFile string) ([][]byte, error) {
	cur, err := readRotationConfig(currentFile, "--config")
	if err != nil {
		return nil, err
	}
	var next *rotationConfig
	if nextFile != "" {
		next, err = readRotationConfig(nextFile, "--next")
	} else {
		nextFile = currentFile + " (spec.rootRotation.next)"
		next, err = nextFromConfig(cur, currentFile)
	}
	if err != nil {
		return nil, err
	}
	// No step carries spec.rootRotation.next: the rotation it names is
	// the one these steps make.
	cur.doc = withoutNext(cur.doc)
	if cur.rootRead == next.rootRead {
		return nil, fmt.Errorf("%s and %s read istiod's root from the same place (%s): --next must hold the new CA in spec.source, at paths or mounts of its own", currentFile, nextFile, cur.rootRead)
	}
	ns := cur.loaded.Spec.Istiod.Namespaces[0]
	steps := []struct {
		from     *rotationConfig
		addRoot  *yaml.Node
		head     string
		roots    int
		checkNow string
	}{
		{cur, next.root, "the old key, certificate and chain, with the old and the new root", 2,
			"workloads still get certificates from the old intermediate, and now trust both roots"},
		{next, cur.root, "the new key, certificate and chain, with the old and the new root", 2,
			"new workload certificates come from the new intermediate and chain to the new root; those signed before still verify"},
		{next, nil, "the new root alone", 1,
			"only the new root is published: a workload certificate still under the old root no longer verifies"},
	}
	var out [][]byte
	for i, s := range steps {
		doc, err := withExtraRoot(s.from.doc, s.addRoot)
		if err != nil {
			return nil, err
		}
		var body bytes.Buffer
		enc := yaml.NewEncoder(&body)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return nil, err
		}
		if _, err := config.Load(body.Bytes(), fmt.Sprintf("step %d", i+1)); err != nil {
			return nil, fmt.Errorf("rotate-plan: step %d does not load (a bug; please report it): %w", i+1, err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# istio-vault-ca rotate-plan, step %d of 3: %s.\n", i+1, s.head)
		if s.addRoot != nil {
			fmt.Fprintf(&b, "# %s, with %s's root added to spec.rootRotation.extraRoots.\n", s.from.file, otherFile(s.from, cur, next))
		} else {
			fmt.Fprintf(&b, "# %s as written.\n", s.from.file)
		}
		b.WriteString("# Apply it as any config change: re-render istiod's manifests with it. Its agent templates\n")
		b.WriteString("# name other Vault paths than the step before, so istiod's pod template changes and the\n")
		b.WriteString("# Deployment rolls out a new istiod, which starts from the whole bundle.\n")
		b.WriteString("# Before applying:\n")
		b.WriteString("#   istio-vault-ca verify --config THIS-FILE  (every path; each extra root a self-signed CA)\n")
		b.WriteString("# After applying:\n")
		fmt.Fprintf(&b, "#   kubectl -n %s rollout status deployment/istiod\n", ns)
		fmt.Fprintf(&b, "#   kubectl -n NAMESPACE get configmap istio-ca-root-cert -o jsonpath='{.data.root-cert\\.pem}' | grep -c 'BEGIN CERTIFICATE'\n")
		fmt.Fprintf(&b, "#     must print %d in every namespace with workloads: %s.\n", s.roots, s.checkNow)
		if i == 0 {
			b.WriteString("#   Workloads get the new root through PCDS at once when their proxies run with\n")
			b.WriteString("#   PROXY_CONFIG_XDS_AGENT=true (meshConfig.defaultConfig.proxyMetadata), as Istio's own test\n")
			b.WriteString("#   sets it; otherwise with their next certificate.\n")
		}
		if i < 2 {
			b.WriteString("#   Before the next step, wait until every workload holds a certificate istiod signed after\n")
			b.WriteString("#   this step (24h by default, or restart the workloads): istioctl proxy-config secret POD\n")
			b.WriteString("#   shows its issuer and validity; a workload that missed a step loses mTLS at the next.\n")
		}
		out = append(out, append([]byte(b.String()), body.Bytes()...))
	}
	return out, nil
}

func otherFile(from, cur, next *rotationConfig) string {
	if from == cur {
		return next.file
	}
	return cur.file
}

// withExtraRoot is a copy of doc with root appended to
// spec.rootRotation.extraRoots; doc itself when root is nil.
func withExtraRoot(doc, root *yaml.Node) (*yaml.Node, error) {
	if root == nil {
		return doc, nil
	}
	cp := deepCopy(doc)
	top := cp
	if top.Kind == yaml.DocumentNode {
		top = top.Content[0]
	}
	spec := mappingAt(top, "spec")
	if spec == nil {
		return nil, errors.New("rotate-plan: the config has no spec mapping")
	}
	rr := mappingAt(spec, "rootRotation")
	if rr == nil {
		rr = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		spec.Content = append(spec.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "rootRotation"}, rr)
	}
	rr.Style &^= yaml.FlowStyle
	var list *yaml.Node
	for i := 0; i+1 < len(rr.Content); i += 2 {
		if rr.Content[i].Value == "extraRoots" {
			list = rr.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		list = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		rr.Content = append(rr.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "extraRoots"}, list)
	}
	list.Style &^= yaml.FlowStyle
	list.Content = append(list.Content, root)
	return cp, nil
}

// mappingAt is the mapping value of key in mapping m, nil if absent.
func mappingAt(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.MappingNode {
			return m.Content[i+1]
		}
	}
	return nil
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = deepCopy(x)
	}
	return &c
}

// nextFromConfig is the config to end with when no --next is given: the
// current one with spec.rootRotation.next as its spec.source.
func nextFromConfig(cur *rotationConfig, file string) (*rotationConfig, error) {
	top := cur.doc
	if top.Kind == yaml.DocumentNode {
		top = top.Content[0]
	}
	rr := mappingAt(mappingAt(top, "spec"), "rootRotation")
	if mappingAt(rr, "next") == nil {
		return nil, fmt.Errorf("%s: rotate-plan needs the new CA: set `spec.rootRotation.next` (the next CA, as spec.source: kv, pki or mint) in it, or give --next FILE, the VaultCA whose spec.source holds the new CA", file)
	}
	doc := withoutNext(cur.doc)
	spec := mappingAt(topOf(doc), "spec")
	for i := 0; i+1 < len(spec.Content); i += 2 {
		if spec.Content[i].Value == "source" {
			spec.Content[i+1] = deepCopy(mappingAt(rr, "next"))
			spec.Content[i+1].Style &^= yaml.FlowStyle
		}
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return parseRotationConfig(body.Bytes(), file+" (spec.rootRotation.next)", cur.file+"'s spec.rootRotation.next (as spec.source)")
}

// withoutNext is a copy of doc without spec.rootRotation.next, and without
// spec.rootRotation when nothing else is left in it; doc itself when it
// has none.
func withoutNext(doc *yaml.Node) *yaml.Node {
	if mappingAt(mappingAt(mappingAt(topOf(doc), "spec"), "rootRotation"), "next") == nil {
		return doc
	}
	cp := deepCopy(doc)
	spec := mappingAt(topOf(cp), "spec")
	rr := mappingAt(spec, "rootRotation")
	deleteKey(rr, "next")
	if len(rr.Content) == 0 {
		deleteKey(spec, "rootRotation")
	}
	return cp
}

func topOf(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return doc
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
