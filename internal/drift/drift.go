// Package drift tells whether committed manifests already carry the config,
// for the pre-commit check: it never writes.
package drift

import (
	"bytes"
	"os"

	"github.com/pmezard/go-difflib/difflib"
)

// Renderer is what produces the converged form of a stream.
type Renderer interface {
	Stream(in []byte) ([]byte, error)
}

// File returns a unified diff from the file as it is to the file as it
// should be, or "" when it is converged.
func File(r Renderer, name string) (string, error) {
	in, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	return Diff(r, name, in)
}

// Diff is File for bytes already read.
func Diff(r Renderer, name string, in []byte) (string, error) {
	want, err := r.Stream(in)
	if err != nil {
		return "", err
	}
	if bytes.Equal(in, want) {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(in)),
		B:        difflib.SplitLines(string(want)),
		FromFile: "a/" + name,
		ToFile:   "b/" + name,
		Context:  3,
	})
}
