package targets

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

var nonSpecificTag = regexp.MustCompile(`(^|[\s:\[{,])!(\s|$)`)

// kubernetesID is what Kubernetes makes of runAsUser in a securityContext
// written as text: the manifest read whole through sigs.k8s.io/yaml into an
// *int64, as kubectl and Helm do, then the API server's range check. ok is
// false where Kubernetes refuses it.
func kubernetesID(text string) (v *int64, ok bool) {
	var sc struct {
		RunAsUser *int64 `json:"runAsUser"`
	}
	if err := sigsyaml.Unmarshal([]byte(text), &sc); err != nil {
		return nil, false
	}
	if sc.RunAsUser != nil && (*sc.RunAsUser < 0 || *sc.RunAsUser > maxID) {
		return nil, false
	}
	return sc.RunAsUser, true
}

// checkSecurityID compares securityID with Kubernetes on one
// securityContext; it reports false where the text is not one the
// comparison applies to (not a mapping with a scalar runAsUser for yaml.v3).
func checkSecurityID(t *testing.T, text string) bool {
	t.Helper()
	var doc yaml.Node
	if yaml.Unmarshal([]byte(text), &doc) != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode ||
		len(doc.Content[0].Content) != 2 || doc.Content[0].Content[0].Value != "runAsUser" {
		return false
	}
	sc := doc.Content[0]
	want, ok := kubernetesID(text)
	if !ok && (sc.Content[1].Tag == yamlnode.NullTag || nonSpecificTag.MatchString(text)) {
		// yaml.v3 drops the non-specific tag `!` (a string to YAML 1.1,
		// which Kubernetes refuses here) and reads what follows as if
		// untagged, or as null: the tool cannot see it. Kubernetes refuses
		// the manifest anyway, so no pod runs as what the tool read.
		return true
	}
	got, err := securityID(sc, "sc", "runAsUser")
	switch {
	case !ok && err == nil:
		t.Errorf("%q: Kubernetes refuses it, the tool reads %v", text, show(got))
	case ok && err != nil:
		t.Errorf("%q: Kubernetes reads %v, the tool refuses it: %v", text, show(want), err)
	case ok && show(got) != show(want):
		t.Errorf("%q: Kubernetes reads %v, the tool %v", text, show(want), show(got))
	}
	return true
}

func show(v *int64) string {
	if v == nil {
		return "unset"
	}
	return strconv.FormatInt(*v, 10)
}

var securityIDSeeds = []string{
	"0100", "0x0", "1_000", "-1", "9223372036854775807", "9223372036854775808", "2147483647", "2147483648",
	`"1000"`, `'1000'`, "1e3", "1.0", "0o17", "+5", "0b101", "!!str 5", "!!int 5", "!!int 0100", "0777", "08",
	"1000.5", "~", "null", "true", ".inf", "1__0", "_1", "0x_1", "-0x1", "1e+06", "-0", "1_", "0x1F", "00",
	"1:00", "12e1", "!!float 1000", "1337", "0", "{a: 1}", "[1]", "|\n  5", "abc", "",
}

// The tool reads a uid as Kubernetes does, on the cases where yaml.v3 and
// strconv.ParseInt(s, 10, 64) disagree with it.
func TestSecurityIDAsKubernetes(t *testing.T) {
	n := 0
	for _, in := range securityIDSeeds {
		if checkSecurityID(t, "runAsUser: "+in+"\n") {
			n++
		}
	}
	if n < len(securityIDSeeds)-1 {
		t.Fatalf("only %d of %d cases compared", n, len(securityIDSeeds))
	}
}

func FuzzSecurityID(f *testing.F) {
	for _, s := range securityIDSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkSecurityID(t, "runAsUser: "+s+"\n")
	})
}

// The messages name the field and say what Kubernetes accepts.
func TestSecurityIDMessages(t *testing.T) {
	for in, want := range map[string]string{
		"-1":                  "`sc.runAsUser`: is -1: Kubernetes accepts only 0 to 2147483647 here",
		"9223372036854775807": "`sc.runAsUser`: is 9223372036854775807: Kubernetes accepts only 0 to 2147483647 here",
		`"1000"`:              "`sc.runAsUser`: is \"1000\" (quoted, a string), which Kubernetes does not read as an integer: set an integer from 0 to 2147483647",
		"1_000x":              "`sc.runAsUser`: is 1_000x, which Kubernetes does not read as an integer",
	} {
		sc := mustParse(t, "runAsUser: "+in+"\n")
		_, err := securityID(sc, "sc", "runAsUser")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
