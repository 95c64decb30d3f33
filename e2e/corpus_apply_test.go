package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// corpusCharts holds upstream Istio charts rendered with helm template, one
// directory per release. It lives in ../shared beside the repository, not in
// it: the test skips when it is absent.
const corpusCharts = "../../shared/corpus/istio-charts"

// corpusApplyConfig changes every istiod and every gateway the charts
// render: istiod of the default and the canary revision, the ingress
// gateways (gateway chart and legacy istio-ingress) and the legacy egress
// gateway by their chart's istio label, and the revisioned gateway install
// by its app and revision. The gateways keep their default roles, service
// accounts and namespaces (see TestCorpusGateways in internal/transform); the
// revisioned one takes a PKI leaf, so its agent stays a sidecar and that
// shape is applied too.
const corpusApplyConfig = `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: corpus}
spec:
  cluster: cluster1
  vault: {role: istiod, authPath: "auth/kubernetes-{{ .Cluster }}"}
  istiod: {revisions: [default, canary]}
  source:
    kv: {version: 2, path: "secret/{{ .Cluster }}/istiod"}
  gateways:
  - selector: {istio: ingressgateway}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: shop
      kv: {version: 2, path: "secret/{{ .Cluster }}/shop"}
  - selector: {istio: egressgateway}
    mountPath: /etc/istio/egress-certs
    certificates:
    - name: upstream
      kv: {version: 2, path: "secret/{{ .Cluster }}/upstream"}
  - selector: {app: gw-canary, istio.io/rev: canary}
    mountPath: /etc/istio/ingress-certs
    certificates:
    - name: api
      pki: {mount: pki_int, role: gateway, commonName: api.example.com, ttl: 72h}
`

// corpusExpectation is what the tool should do to one chart file under
// corpusApplyConfig, from what the file is, not from what the tool detects.
type corpusExpectation struct {
	changed []string // namespace/name of the Deployments the tool changes
	why     string   // when it changes none: why that is right
}

func corpusExpected(file string) (corpusExpectation, bool) {
	switch filepath.Base(file) {
	case "istiod.yaml", "istiod-ambient.yaml", "istiod-with-podannotations-and-env.yaml":
		return corpusExpectation{changed: []string{"istio-system/istiod"}}, true
	case "istiod-revision-canary.yaml":
		return corpusExpectation{changed: []string{"istio-system/istiod-canary"}}, true
	case "istiod-remote.yaml":
		return corpusExpectation{why: "profile=remote renders no istiod Deployment (istiod runs in the primary cluster) and no gateway"}, true
	case "ztunnel.yaml":
		return corpusExpectation{why: "ztunnel is a DaemonSet, neither istiod nor a gateway"}, true
	case "gateway.yaml":
		return corpusExpectation{changed: []string{"istio-ingress/istio-ingressgateway"}}, true
	case "gateway-revision.yaml":
		return corpusExpectation{changed: []string{"istio-ingress/gw-canary"}}, true
	case "legacy-ingressgateway.yaml":
		return corpusExpectation{changed: []string{"istio-system/istio-ingressgateway"}}, true
	case "legacy-egressgateway.yaml":
		return corpusExpectation{changed: []string{"istio-system/istio-egressgateway"}}, true
	}
	return corpusExpectation{}, false
}

// TestCorpusDeploymentsDryRunApply shows that every Deployment the tool
// writes for the real Istio charts, every version of the corpus, is
// accepted by a real kube-apiserver with the CRDs of base.yaml installed,
// and that what the server would store still carries every change the tool
// made: the API server neither refused nor silently pruned them. A server-
// side dry run runs validation, defaulting and admission without storing.
func TestCorpusDeploymentsDryRunApply(t *testing.T) {
	if _, err := os.Stat(corpusCharts); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no corpus at %s (it lives in ../shared, beside the repository)", corpusCharts)
	} else if err != nil {
		t.Fatal(err)
	}
	versions := corpusVersions(t)
	if len(versions) == 0 {
		t.Fatalf("no chart version under %s", corpusCharts)
	}
	// Only the newest release of the corpus was rendered with the base
	// chart. Istio's CRDs keep serving every older API version, so a
	// release without its own base.yaml gets the newest one there is.
	var newestBase string
	for _, v := range versions {
		if p := filepath.Join(corpusCharts, v, "base.yaml"); fileExists(t, p) {
			newestBase = p
		}
	}
	if newestBase == "" {
		t.Fatalf("no base.yaml under %s: the CRDs cannot be installed", corpusCharts)
	}
	cfgFile := writeTestConfig(t, corpusApplyConfig)

	checked, changed := 0, 0
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			base := filepath.Join(corpusCharts, v, "base.yaml")
			if !fileExists(t, base) {
				base = newestBase
			}
			c, n := dryRunCorpusVersion(t, filepath.Join(corpusCharts, v), base, cfgFile)
			checked += c
			changed += n
		})
	}
	if checked == 0 || changed == 0 {
		t.Fatalf("%d Deployments dry-run applied, %d of them changed by the tool: the test checked nothing", checked, changed)
	}
	t.Logf("%d Deployments dry-run applied over %d chart versions, %d changed by the tool", checked, len(versions), changed)
}

// dryRunCorpusVersion starts a control plane, installs base for real,
// runs the tool over every other chart file of dir and dry-run applies each
// Deployment it writes. It returns how many Deployments were applied and
// how many of them the tool changed.
func dryRunCorpusVersion(t *testing.T, dir, base, cfgFile string) (checked, changed int) {
	cp := startControlPlane(t)
	baseYAML, err := os.ReadFile(base)
	must(t, err)
	// For real: apply waits until each CRD is established.
	crds := 0
	for _, o := range cp.apply(t, baseYAML, applyOptions{}) {
		if o.GetKind() == "CustomResourceDefinition" {
			crds++
		}
	}
	if crds == 0 {
		t.Fatalf("%s holds no CustomResourceDefinition", base)
	}
	own := ""
	if filepath.Dir(base) != dir {
		own = fmt.Sprintf(" (%s has no base.yaml of its own)", filepath.Base(dir))
	}
	t.Logf("installed %s: %d CRDs established%s", strings.TrimPrefix(base, corpusCharts+"/"), crds, own)

	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	must(t, err)
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "base.yaml" })
	if len(files) == 0 {
		t.Fatalf("no chart file in %s besides base.yaml", dir)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, n := dryRunCorpusFile(t, cp, file, cfgFile)
			checked += c
			changed += n
		})
	}
	t.Logf("%s: %d Deployments dry-run applied, %d changed by the tool and accepted with their changes", filepath.Base(dir), checked, changed)
	if changed == 0 {
		t.Errorf("no Deployment of %s was changed by the tool and accepted", dir)
	}
	return checked, changed
}

func dryRunCorpusFile(t *testing.T, cp *controlPlane, file, cfgFile string) (checked, changed int) {
	want, ok := corpusExpected(file)
	if !ok {
		t.Fatalf("no expectation for %s: say in corpusExpected which Deployments the tool should change in it", file)
	}
	in, err := os.ReadFile(file)
	must(t, err)
	// No chart file is refused under corpusApplyConfig: every istiod runs
	// as a service account the config binds, every gateway as one its
	// defaults bind, none as root in group 0. A refusal is a failure.
	out, stderr, code := tool(t, in, nil, "--config", cfgFile)
	if code != 0 {
		t.Fatalf("the tool refused %s (exit %d): %s", file, code, stderr)
	}
	if len(want.changed) == 0 && out != string(in) {
		t.Errorf("the tool changed %s, which it should pass through (%s)", file, want.why)
	}

	inDeps := map[string]*unstructured.Unstructured{}
	for _, o := range decodeObjects(t, in) {
		if o.GetKind() == "Deployment" {
			inDeps[o.GetNamespace()+"/"+o.GetName()] = o
		}
	}
	var gotChanged []string
	for _, o := range decodeObjects(t, []byte(out)) {
		if o.GetKind() != "Deployment" {
			continue
		}
		key := o.GetNamespace() + "/" + o.GetName()
		orig, found := inDeps[key]
		if !found {
			t.Errorf("the tool wrote Deployment %s, which is not in its input", key)
			continue
		}
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		// A dry run does not create the namespace it would need.
		cp.ensureNamespace(t, ns)
		toolChanged := !reflect.DeepEqual(orig.Object, o.Object)
		if toolChanged {
			gotChanged = append(gotChanged, key)
		}
		stored, err := cp.applyObject(t, o, applyOptions{dryRun: true})
		checked++
		if err != nil {
			t.Errorf("the API server refuses Deployment %s as the tool wrote it: %v", key, err)
			continue
		}
		if !toolChanged {
			continue
		}
		// Every place the tool's output differs from its input must hold
		// the tool's value in what the server would store (which may add
		// defaults inside it, but not drop or alter anything).
		diffs := 0
		var lost []string
		changesOf(orig.Object, o.Object, nil, func(path []any, wrote any) {
			diffs++
			got, ok := lookupPath(stored.Object, path)
			if !ok {
				lost = append(lost, fmt.Sprintf("%s: wrote %s, server drops it", formatPath(path), short(wrote)))
			} else if m := missing(got, wrote, path); m != "" {
				lost = append(lost, m)
			}
		})
		if len(lost) > 0 {
			t.Errorf("the server would store Deployment %s without %d of the tool's %d changes:\n%s", key, len(lost), diffs, strings.Join(lost, "\n"))
			continue
		}
		annotations, _, _ := unstructured.NestedStringMap(stored.Object, "spec", "template", "metadata", "annotations")
		if annotations["vault.hashicorp.com/agent-inject"] != "true" {
			t.Errorf("Deployment %s as the server would store it has vault.hashicorp.com/agent-inject %q on its pod template", key, annotations["vault.hashicorp.com/agent-inject"])
			continue
		}
		changed++
	}
	sort.Strings(gotChanged)
	if !slices.Equal(gotChanged, want.changed) {
		t.Errorf("the tool changed Deployments %v, want %v", gotChanged, want.changed)
	}
	if len(want.changed) == 0 {
		t.Logf("%s: no Deployment to change, as expected: %s", filepath.Base(file), want.why)
	}
	return checked, changed
}

// corpusVersions lists the release directories of the corpus, oldest
// first.
func corpusVersions(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(corpusCharts)
	must(t, err)
	var versions []string
	for _, e := range entries {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
	return versions
}

// versionLess orders dotted release numbers numerically (1.9 before 1.10).
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errX := strconv.Atoi(as[i])
		y, errY := strconv.Atoi(bs[i])
		if errX != nil || errY != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

func fileExists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	must(t, err)
	return true
}

// changesOf calls visit with each place where out differs from in: a key
// out adds or gives another value, recursing into maps and into lists of
// the same length. A list out makes longer or shorter (an env the tool
// adds to) is visited as its length (a listLen) and as each element that
// is not in the input list: the elements the input had are not the tool's
// change. Keys out drops are not visited: the tool adds and sets, it does
// not remove.
func changesOf(in, out any, path []any, visit func(path []any, wrote any)) {
	switch o := out.(type) {
	case map[string]any:
		i, ok := in.(map[string]any)
		if !ok {
			visit(path, out)
			return
		}
		for k, v := range o {
			iv, had := i[k]
			if !had {
				visit(append(slices.Clone(path), k), v)
				continue
			}
			changesOf(iv, v, append(slices.Clone(path), k), visit)
		}
	case []any:
		i, ok := in.([]any)
		if !ok {
			visit(path, out)
			return
		}
		if len(i) == len(o) {
			for n := range o {
				changesOf(i[n], o[n], append(slices.Clone(path), n), visit)
			}
			return
		}
		visit(path, listLen(len(o)))
		for n, v := range o {
			if !slices.ContainsFunc(i, func(e any) bool { return reflect.DeepEqual(e, v) }) {
				visit(append(slices.Clone(path), n), v)
			}
		}
	default:
		if !sameScalar(in, out) {
			visit(path, out)
		}
	}
}

// listLen stands for a list of that many elements, whatever they are.
type listLen int

// missing names the first thing of want that got lacks, "" when got
// carries all of it: every key of a map (the server may add defaulted
// ones), every element of a list in order, equal scalars.
func missing(got, want any, path []any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if len(w) == 0 && got == nil {
				return ""
			}
			return fmt.Sprintf("%s: wrote %s, server keeps %s", formatPath(path), short(want), short(got))
		}
		for k, v := range w {
			gv, had := g[k]
			if !had {
				if v == nil {
					continue // a null the server drops is no loss
				}
				return fmt.Sprintf("%s: wrote %s, server drops it", formatPath(append(slices.Clone(path), k)), short(v))
			}
			if m := missing(gv, v, append(slices.Clone(path), k)); m != "" {
				return m
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: wrote %s, server keeps %s", formatPath(path), short(want), short(got))
		}
		for n := range w {
			if m := missing(g[n], w[n], append(slices.Clone(path), n)); m != "" {
				return m
			}
		}
		return ""
	case listLen:
		if g, ok := got.([]any); !ok || len(g) != int(w) {
			return fmt.Sprintf("%s: wrote a list of %d, server keeps %s", formatPath(path), w, short(got))
		}
		return ""
	case nil:
		return ""
	default:
		if !sameScalar(got, want) {
			return fmt.Sprintf("%s: wrote %s, server keeps %s", formatPath(path), short(want), short(got))
		}
		return ""
	}
}

// sameScalar compares scalars, numbers by value: the manifests decode
// through JSON into float64, the server's response into int64.
func sameScalar(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func lookupPath(obj any, path []any) (any, bool) {
	cur := obj
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				return nil, false
			}
			cur = l[k]
		}
	}
	return cur, true
}

func formatPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if strings.ContainsAny(k, "./") {
				fmt.Fprintf(&b, "[%s]", k)
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(k)
			}
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

func short(v any) string {
	s := fmt.Sprintf("%v", v)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
