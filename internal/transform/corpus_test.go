package transform

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// corpusDir holds upstream Istio charts rendered with helm template. It is
// not part of the repository: the test skips when it is absent.
const corpusDir = "../../../shared/corpus/istio-charts"

const corpusConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: corpus}
spec:
  cluster: cluster1
  vault: {role: istiod, authPath: "auth/kubernetes-{{ .Cluster }}"}
  istiod: {revisions: [default, canary]}
  source:
    kv: {version: 2, path: "secret/{{ .Cluster }}/istiod"}
`

// newTransformer loads a config and builds its transformer, failing tb if
// either fails.
func newTransformer(tb testing.TB, cfg string) *Transformer {
	tb.Helper()
	c, err := config.Load([]byte(cfg), "test-config")
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// TestCorpus runs every rendered chart through the tool and checks, for each
// document, that it is either byte-identical to its input or is the one
// istiod Deployment the file is expected to hold; that the output parses; and
// that a second run changes nothing.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*", "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s (it lives in ../shared, beside the repository)", corpusDir)
	}
	tr := newTransformer(t, corpusConfig)
	for _, file := range files {
		name := strings.TrimPrefix(file, corpusDir+"/")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tr.Stream(in)
			if err != nil {
				t.Fatal(err)
			}
			inDocs, outDocs := stream.Split(in), stream.Split(out)
			if len(inDocs) != len(outDocs) {
				t.Fatalf("%d documents in, %d out", len(inDocs), len(outDocs))
			}
			var changed []string
			for i := range inDocs {
				if bytes.Equal(inDocs[i].Raw(), outDocs[i].Raw()) {
					continue
				}
				var obj struct {
					Kind     string
					Metadata struct{ Name string }
					Spec     struct {
						Template struct {
							Metadata struct{ Annotations map[string]string }
							Spec     struct {
								Containers []struct {
									Name string
									Env  []struct{ Name, Value string }
								}
							}
						}
					}
				}
				if err := sigsyaml.Unmarshal(outDocs[i].Body, &obj); err != nil {
					t.Fatalf("changed document %d does not parse: %v", i, err)
				}
				changed = append(changed, obj.Kind+"/"+obj.Metadata.Name)
				if got := obj.Spec.Template.Metadata.Annotations["vault.hashicorp.com/agent-inject-secret-ca-key.pem"]; got != "secret/data/cluster1/istiod" {
					t.Errorf("%s: ca-key.pem reads %q", obj.Metadata.Name, got)
				}
				rootCADirs := 0
				for _, c := range obj.Spec.Template.Spec.Containers {
					for _, e := range c.Env {
						if e.Name == "ROOT_CA_DIR" {
							rootCADirs++
							if c.Name != "discovery" || e.Value != "/vault/secrets" {
								t.Errorf("ROOT_CA_DIR=%q on container %q", e.Value, c.Name)
							}
						}
					}
				}
				if rootCADirs != 1 {
					t.Errorf("%d ROOT_CA_DIR variables, want 1", rootCADirs)
				}
			}
			if want := expectedIstiod(name); strings.Join(changed, ",") != want {
				t.Errorf("changed %v, want %q", changed, want)
			}
			for i, d := range outDocs {
				var v any
				if err := sigsyaml.Unmarshal(d.Body, &v); err != nil {
					t.Errorf("output document %d does not parse: %v", i, err)
				}
			}
			again, err := tr.Stream(out)
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("second run changed the output (err %v)", err)
			}
			checkOutputHoldsTheTree(t, tr, in, out)
		})
	}
}

// checkOutputHoldsTheTree fails when the output has another number of
// documents than the input, or a changed document, as written (in its own
// bytes, inplace.go, or re-serialised), does not parse or holds other data
// than the tree the transformer built for it.
func checkOutputHoldsTheTree(t *testing.T, tr *Transformer, in, out []byte) {
	t.Helper()
	inDocs, outDocs := stream.Split(in), stream.Split(out)
	if len(inDocs) != len(outDocs) {
		t.Fatalf("%d documents in, %d out", len(inDocs), len(outDocs))
	}
	for i := range inDocs {
		if bytes.Equal(inDocs[i].Raw(), outDocs[i].Raw()) {
			continue
		}
		// Only for what Kubernetes can read: the tool does not mend what it
		// cannot, and the serialiser loses what only YAML can hold (a null
		// key becomes an empty string).
		var v any
		if sigsyaml.Unmarshal(inDocs[i].Source(), &v) != nil {
			continue
		}
		if err := sigsyaml.Unmarshal(outDocs[i].Source(), &v); err != nil {
			t.Fatalf("changed document %d does not parse: %v\n%s", i, err, outDocs[i].Raw())
		}
		doc, _, err := parseDoc(&inDocs[i], NewLimits())
		if err != nil || doc == nil {
			t.Fatalf("document %d changed, but does not parse: %v", i, err)
		}
		if _, err := tr.Node(yamlnode.Root(doc)); err != nil {
			t.Fatalf("document %d changed, but its tree fails: %v", i, err)
		}
		written, err := yamlnode.Parse(outDocs[i].Source())
		if err != nil || !sameNode(written, doc) {
			t.Fatalf("document %d as written (error %v) holds other data than its tree:\n%s", i, err, outDocs[i].Raw())
		}
	}
}

// expectedIstiod names the one Deployment each chart file should have
// changed, from what the file is, not from what the tool detects.
func expectedIstiod(file string) string {
	base := filepath.Base(file)
	switch {
	case base == "istiod-remote.yaml": // profile=remote: no istiod runs here
		return ""
	case base == "istiod-revision-canary.yaml":
		return "Deployment/istiod-canary"
	case strings.HasPrefix(base, "istiod"):
		return "Deployment/istiod"
	}
	return "" // gateways, ztunnel, base CRDs
}
