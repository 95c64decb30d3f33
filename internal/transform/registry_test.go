package transform

import (
	"bytes"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/targets"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// A kind registered once, in targets, is a target for every front end: the
// post-renderer's path over bytes (Stream, and Edits as the command line
// runs it) and the KRM function's over parsed items (Resource) both see it
// and change it alike, and neither once it is gone. A kind the byte
// prefilter did not know would pass the post-renderer unchanged while the
// function changed it.
func TestRegisteredKindIsSeenByEveryFrontEnd(t *testing.T) {
	const widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n"
	in := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n" + widget)
	tr := newTransformer(t, corpusConfig)

	unregister := targets.Register(targets.Kind{
		Name: "Widget", Group: "example.com",
		Is: func(*yaml.Node, *targets.Plans) bool { return true },
		Apply: func(rn *yaml.Node, ps *targets.Plans) (bool, error) {
			spec := yamlnode.Lookup(rn, "spec")
			if _, v := yamlnode.Field(spec, "role"); v != nil && v.Value == ps.Istiod.Role {
				return false, nil
			}
			yamlnode.SetField(spec, "role", yamlnode.NewString(ps.Istiod.Role))
			return true, nil
		},
	})
	role := tr.plans.Istiod.Role
	if role == "" {
		t.Fatal("the config's istiod plan has no role to write")
	}
	want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n" + widget + "  role: " + role + "\n"

	streamed, err := tr.Stream(in)
	if err != nil || string(streamed) != want {
		t.Errorf("Stream: error %v, got\n%s\nwant\n%s", err, streamed, want)
	}
	lim := NewLimits()
	edits, size, err := tr.EditsWithin(stream.NewReader(bytes.NewReader(in)), lim)
	var applied bytes.Buffer
	if err == nil {
		err = stream.Apply(&applied, bytes.NewReader(in), size, edits)
	}
	if err != nil || applied.String() != want || lim.Targets() != 1 {
		t.Errorf("Edits: error %v, %d targets, got\n%s\nwant\n%s", err, lim.Targets(), applied.Bytes(), want)
	}
	item := parseItem(t, widget)
	changed, err := tr.Resource(item, NewLimits())
	if got := marshalItem(t, item); err != nil || !changed || got != strings.TrimPrefix(want, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n") {
		t.Errorf("Resource: changed %v, error %v, got\n%s", changed, err, got)
	}

	unregister()
	if out, err := tr.Stream(in); err != nil || !bytes.Equal(out, in) {
		t.Errorf("Stream after unregistering: error %v, got\n%s", err, out)
	}
	if changed, err := tr.Resource(parseItem(t, widget), NewLimits()); err != nil || changed {
		t.Errorf("Resource after unregistering: changed %v, error %v", changed, err)
	}
}

func parseItem(t *testing.T, s string) *yaml.Node {
	t.Helper()
	doc, err := yamlnode.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return yamlnode.Root(doc)
}

func marshalItem(t *testing.T, rn *yaml.Node) string {
	t.Helper()
	out, err := yamlnode.Marshal(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{rn}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
