package lint

import (
	"bytes"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// Whatever comes in, the lint either refuses it or returns findings that
// each name a document of the stream and a line in it, and print as one
// line.
func FuzzStream(f *testing.F) {
	for _, c := range golden.Cases(f, "../../testdata/golden") {
		f.Add(c.Input)
	}
	f.Add([]byte("kind: Secret\nmetadata: {name: cacerts}\ndata: {\"ca-key.pem\\n\": x}\n"))
	f.Add([]byte("kind: Deployment\nmetadata: {annotations: {\"vault.hashicorp.com/\\nx\": y}}\nspec: {template: {spec: {containers: [{name: discovery, image: \"p:1.11.0\"}]}}}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fs, err := Stream(in)
		if err != nil {
			return
		}
		docs, lines := len(stream.Split(in)), bytes.Count(in, []byte("\n"))+1
		for _, fd := range fs {
			line := fd.Format("f")
			if strings.ContainsAny(line, "\n\r") {
				t.Errorf("finding is not one line: %q", line)
			}
			if fd.Doc < 0 || fd.Doc >= docs || fd.Line < 1 || fd.Line > lines {
				t.Errorf("finding at document %d line %d of a stream of %d documents, %d lines: %s", fd.Doc, fd.Line, docs, lines, line)
			}
		}
	})
}
