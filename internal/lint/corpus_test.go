package lint

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// corpusDir holds upstream Istio charts rendered with helm template, one
// directory per release (istio-charts/1.30.3/...), and IstioOperator
// inputs. It is not part of the repository: the test skips when it is
// absent.
const corpusDir = "../../../shared/corpus"

// corpusConfig is what the tool writes for istiod (every revision the
// charts render, in every namespace the IstioOperator inputs install it)
// and the ingress gateways (under every service account istioctl gives
// them there), with rotation set by the test.
const corpusConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: corpus}
spec:
  cluster: cluster1
  vault: {role: istiod}
  istiod: {revisions: [default, canary, test-rev], namespaces: [istio-system, istio-control]}
  rotation: ROTATION
  source:
    kv: {version: 2, path: "secret/{{ .Cluster }}/istiod"}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    namespaces: [istio-system, istio-control, istio-ingress, istio-egress, user-ingressgateway-ns]
    serviceAccounts: [istio-ingressgateway, istio-ingressgateway-service-account, user-ingressgateway-service-account, istio-ingressgateway-custom-service-account, ilb-gateway-service-account]
    certificates:
    - name: shop
      kv: {version: 2, path: "secret/{{ .Cluster }}/shop"}
`

// pilotLatest is the image tag the charts render istiod with (a testing
// hub's latest): a tag that names no version.
var pilotLatest = regexp.MustCompile(`(/pilot):latest`)

// TestCorpus: real Istio manifests, as rendered and as the tool writes
// them, make no false finding. Raw, and written without rotation, they
// make none at all. Written with rotation, the charts' istiod images
// (tagged latest) make exactly one istiod-version-unknown each, at
// information level, and none once tagged with their chart's release (the
// directory's name; every release in the corpus, 1.20 and later, reloads
// its files).
func TestCorpus(t *testing.T) {
	charts, _ := filepath.Glob(filepath.Join(corpusDir, "istio-charts", "*", "*.yaml"))
	operators, _ := filepath.Glob(filepath.Join(corpusDir, "istio-operator", "*.yaml"))
	if len(charts)+len(operators) == 0 {
		t.Skipf("no corpus at %s (it lives in ../shared, beside the repository)", corpusDir)
	}
	static, rotating := corpusTransformer(t, "false"), corpusTransformer(t, "true")
	written := map[bool]int{} // charts, IstioOperator inputs
	for _, file := range append(charts, operators...) {
		name := strings.TrimPrefix(file, corpusDir+"/")
		chart := strings.HasPrefix(name, "istio-charts/")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			noFinding(t, "as rendered", in)
			written[chart]++
			noFinding(t, "as written without rotation", render(t, static, in))

			out := render(t, rotating, in)
			if !chart {
				// The tool writes an IstioOperator's values, which no check
				// reads: the Deployments istioctl makes of them are linted
				// when they are rendered.
				noFinding(t, "as written with rotation", out)
				return
			}
			fs, err := Stream(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				if f.ID != IDIstiodVersionUnknown || f.Severity != Info || !strings.Contains(f.Message, `has the tag "latest`) {
					t.Errorf("as written with rotation: %s", f.Format(name))
				}
			}
			if want := strings.Count(string(out), `vault.hashicorp.com/agent-pre-populate-only: "false"`) - gatewayAgents(out); len(fs) != want {
				t.Errorf("as written with rotation: %d findings, want one for each of the %d istiod agents", len(fs), want)
			}
			release := filepath.Base(filepath.Dir(file))
			tagged := pilotLatest.ReplaceAll(in, []byte("${1}:"+release))
			noFinding(t, "as written with rotation, istiod tagged "+release, render(t, rotating, tagged))
		})
	}
	if written[true] == 0 || written[false] == 0 {
		t.Errorf("%d charts and %d IstioOperator inputs linted: each kind must have some", written[true], written[false])
	}
}

// gatewayAgents counts the gateway agents the tool wrote: they render the
// shop certificate, istiod's do not.
func gatewayAgents(out []byte) int {
	return strings.Count(string(out), "vault.hashicorp.com/agent-inject-secret-shop.key:")
}

func noFinding(t *testing.T, what string, in []byte) {
	t.Helper()
	fs, err := Stream(in)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, f := range fs {
		t.Errorf("%s: %s", what, f.Format("corpus"))
	}
}

func corpusTransformer(t *testing.T, rotation string) *transform.Transformer {
	t.Helper()
	cfg, err := config.Load([]byte(strings.Replace(corpusConfig, "ROTATION", rotation, 1)), "corpus-config")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func render(t *testing.T, tr *transform.Transformer, in []byte) []byte {
	t.Helper()
	out, err := tr.Stream(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
