package transform

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
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
									Env  []struct {
										Name, Value string
										ValueFrom   *struct{ FieldRef struct{ FieldPath string } }
									}
									VolumeMounts []struct {
										Name, MountPath string
										ReadOnly        bool
									}
								}
								Volumes []struct {
									Name        string
									DownwardAPI *struct{ Items []struct{ Path string } }
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
				rootCADirs, status := 0, false
				for _, c := range obj.Spec.Template.Spec.Containers {
					for _, e := range c.Env {
						switch e.Name {
						case "VAULT_AGENT_INJECT_STATUS":
							// Kubernetes expands $(VAR) only for a variable defined before.
							status = rootCADirs == 0 && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.annotations['vault.hashicorp.com/agent-inject-status']"
						case "ROOT_CA_DIR":
							rootCADirs++
							if c.Name != "discovery" || e.Value != "/vault/secrets/$(VAULT_AGENT_INJECT_STATUS)" || !status {
								t.Errorf("ROOT_CA_DIR=%q on container %q, after VAULT_AGENT_INJECT_STATUS from the injector's status: %v", e.Value, c.Name, status)
							}
						}
					}
					guarded := false
					for _, m := range c.VolumeMounts {
						guarded = guarded || m.Name == "istio-vault-ca-guard" && m.MountPath == "/vault/secrets" && m.ReadOnly
					}
					if guarded != (c.Name == "discovery") {
						t.Errorf("container %s: the guard is mounted read-only at /vault/secrets: %v", c.Name, guarded)
					}
				}
				if rootCADirs != 1 {
					t.Errorf("%d ROOT_CA_DIR variables, want 1", rootCADirs)
				}
				guards := 0
				for _, v := range obj.Spec.Template.Spec.Volumes {
					if v.Name != "istio-vault-ca-guard" || v.DownwardAPI == nil {
						continue
					}
					var paths []string
					for _, it := range v.DownwardAPI.Items {
						paths = append(paths, it.Path)
					}
					if strings.Join(paths, " ") == "ca-key.pem ca-cert.pem $(VAULT_AGENT_INJECT_STATUS)/ca-key.pem $(VAULT_AGENT_INJECT_STATUS)/ca-cert.pem" {
						guards++
					}
				}
				if guards != 1 {
					t.Errorf("%d guard volumes holding ca-key.pem and ca-cert.pem, want 1", guards)
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

// corpusGatewayConfig selects the ingress gateway with nothing but the
// selector: the default role, service accounts and namespaces must fit
// every gateway chart Istio ships, whatever it runs as.
const corpusGatewayConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: corpus}
spec:
  cluster: cluster1
  vault: {role: istiod}
  source:
    kv: {version: 2, path: "secret/{{ .Cluster }}/istiod"}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: shop
      kv: {version: 2, path: "secret/{{ .Cluster }}/shop"}
`

// TestCorpusGateways runs every ingress gateway chart (the gateway chart
// and the legacy istio-ingress chart, every version) through the default
// gateway identity: each is changed, its agent logs in with the gateway's
// own role, and writes the key as a user and mode the proxy can read and
// others cannot.
func TestCorpusGateways(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*/gateway.yaml", "*/legacy-ingressgateway.yaml"} {
		m, _ := filepath.Glob(filepath.Join(corpusDir, pattern))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no corpus at %s (it lives in ../shared, beside the repository)", corpusDir)
	}
	tr := newTransformer(t, corpusGatewayConfig)
	for _, file := range files {
		t.Run(strings.TrimPrefix(file, corpusDir+"/"), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tr.Stream(in)
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, d := range stream.Split(out) {
				var obj struct {
					Kind string
					Spec struct {
						Template struct {
							Metadata struct{ Annotations map[string]string }
							Spec     struct {
								SecurityContext struct{ RunAsUser, RunAsGroup *int64 }
								Containers      []struct {
									Name            string
									SecurityContext struct{ RunAsUser, RunAsGroup *int64 }
								}
							}
						}
					}
				}
				if err := sigsyaml.Unmarshal(d.Body, &obj); err != nil || obj.Kind != "Deployment" {
					continue
				}
				a := obj.Spec.Template.Metadata.Annotations
				if a["vault.hashicorp.com/agent-inject-secret-shop.key"] == "" {
					continue
				}
				changed++
				if a["vault.hashicorp.com/role"] != "istio-ingressgateway" {
					t.Errorf("gateway logs in as role %q", a["vault.hashicorp.com/role"])
				}
				uid, gid := obj.Spec.Template.Spec.SecurityContext.RunAsUser, obj.Spec.Template.Spec.SecurityContext.RunAsGroup
				for _, c := range obj.Spec.Template.Spec.Containers {
					if c.Name == "istio-proxy" {
						if c.SecurityContext.RunAsUser != nil {
							uid = c.SecurityContext.RunAsUser
						}
						if c.SecurityContext.RunAsGroup != nil {
							gid = c.SecurityContext.RunAsGroup
						}
					}
				}
				agentUID, agentGID, perms := a["vault.hashicorp.com/agent-run-as-user"], a["vault.hashicorp.com/agent-run-as-group"], a["vault.hashicorp.com/agent-inject-perms-shop.key"]
				if perms != "0400" && perms != "0440" {
					t.Errorf("key mode %s lets others read it", perms)
				}
				proxyUID, proxyGID := int64(1337), int64(1337) // the proxy image's user
				if uid != nil {
					proxyUID = *uid
				}
				if gid != nil {
					proxyGID = *gid
				}
				ownerReads := agentUID == strconv.FormatInt(proxyUID, 10)
				groupReads := perms == "0440" && agentGID == strconv.FormatInt(proxyGID, 10)
				if !ownerReads && !groupReads {
					t.Errorf("proxy runs as %d:%d, the agent writes the key as %s:%s mode %s: the proxy cannot read it", proxyUID, proxyGID, agentUID, agentGID, perms)
				}
				if agentUID == "0" {
					t.Errorf("the agent runs as root")
				}
			}
			if changed != 1 {
				t.Errorf("%d gateway Deployments changed, want 1", changed)
			}
		})
	}
}
