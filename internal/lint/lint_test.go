package lint

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// findingLine is a line lint writes: FILE:LINE: SEVERITY ID: ...
var findingLine = regexp.MustCompile(`^[^:]+:\d+: (error|warning|info) ([a-z0-9.-]+): document \d+`)

// TestEveryFindingHasAGoldenCase: the lint's golden cases (args `lint`,
// run by cmd/istio-vault-ca's TestGolden) show every finding, and show
// only findings the package knows. Without any lint case it fails.
func TestEveryFindingHasAGoldenCase(t *testing.T) {
	shown := map[string]bool{}
	cases := 0
	for _, c := range golden.Cases(t, "../../testdata/golden") {
		if len(c.Args) == 0 || c.Args[0] != "lint" || c.Fails() {
			continue
		}
		cases++
		out, err := readExpected(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if line == "" {
				continue
			}
			m := findingLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s: not a finding line: %q", c.Name, line)
				continue
			}
			if !slices.Contains(IDs, m[2]) {
				t.Errorf("%s: finding %q is not in IDs", c.Name, m[2])
			}
			shown[m[2]] = true
		}
	}
	if cases == 0 {
		t.Fatal("no golden case runs lint")
	}
	for _, id := range IDs {
		if !shown[id] {
			t.Errorf("no golden case shows %s", id)
		}
	}
}

func readExpected(c golden.Case) (string, error) {
	b, err := os.ReadFile(c.Expected())
	return string(b), err
}

func TestImageVersion(t *testing.T) {
	for image, want := range map[string]string{
		"istio/pilot:1.18.2": "1.18.2 minor 18",
		"hub.example.com/istio-release/pilot:1.22.0-distroless": "1.22.0-distroless minor 22",
		"pilot:1.27.0-beta.1":                         "1.27.0-beta.1 minor 27 beta",
		"pilot:1.27.0-rc.1":                           "1.27.0-rc.1 minor 27 beta",
		"pilot:1.27.1-rc.0":                           "1.27.1-rc.0 minor 27",
		"pilot:v1.11.0":                               "v1.11.0 minor 11",
		"pilot:v1.27.0-beta.0":                        "v1.27.0-beta.0 minor 27 beta",
		"registry.example.com:5000/istio/pilot:1.9.9": "1.9.9 minor 9",
		"istio/pilot:1.20.8@sha256:abcdef":            "1.20.8 minor 20",
		"hub.example.com/istio-testing/pilot:1.28-alpha.0123abcdef": "1.28-alpha.0123abcdef minor 28",
		"istio/pilot@sha256:abcdef":                                 "pinned by digest",
		"registry.example.com:5000/istio/pilot":                     "no tag",
		"istio/pilot:latest":                                        "not an Istio version",
		"istio/pilot:2.0.0":                                         "not an Istio version",
		"":                                                          "is not set",
	} {
		v, why := imageVersion(image)
		got := why
		if why == "" {
			got = v.String() + " minor " + strconv.Itoa(v.minor)
			if v.isBeta(betaNoReload) {
				got += " beta"
			}
		}
		if !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", image, got, want)
		}
	}
}

// A finding's line is the stream's: after other documents, and after a
// marker that carries content of its own (the parser reads the marker's
// line as the document's first).
func TestFindingLinesAreTheStreams(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n" +
		"--- !!map\nkind: Secret\nmetadata: {name: cacerts}\ndata:\n  ca-key.pem: eA==\n" +
		"---\nkind: Secret\nmetadata: {name: cacerts}\nstringData:\n  tls.key: x\n"
	fs, err := Stream([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Format("f.yaml"))
	}
	want := []string{
		"f.yaml:8: error ca-key-in-stream: document 2 (Secret cacerts) data[ca-key.pem]: ",
		"f.yaml:13: error ca-key-in-stream: document 3 (Secret cacerts) stringData[tls.key]: ",
	}
	if len(got) != len(want) {
		t.Fatalf("findings %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %q, want it to start %q", got[i], want[i])
		}
	}
}

// A document that does not parse is bad input, named as the transformer
// names it; a kind no check reads is not even parsed.
func TestBadInput(t *testing.T) {
	_, err := Stream([]byte("kind: Secret\nmetadata: {name: x\n"))
	var de *transform.DocError
	if !errors.As(err, &de) || de.Index != 0 || de.Line != 1 {
		t.Errorf("error %v, want a DocError for document 1, line 1", err)
	}
	if fs, err := Stream([]byte("kind: CustomResourceDefinition\nspec: {a\n")); err != nil || len(fs) != 0 {
		t.Errorf("a CRD was parsed: %v, %v", fs, err)
	}
}
