// Package drift tells whether committed manifests already carry the config,
// for the pre-commit check: it never writes.
package drift

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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

// Files expands the names a user gives check: a file stands for itself, a
// directory for every .yaml, .yml and .json file below it (in lexical
// order, hidden directories such as .git skipped), as pre-commit and CI
// users point it at a manifests folder.
func Files(names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		st, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, name)
			continue
		}
		err = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != name && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			switch filepath.Ext(p) {
			case ".yaml", ".yml", ".json":
				if d.Type().IsRegular() {
					out = append(out, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
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
