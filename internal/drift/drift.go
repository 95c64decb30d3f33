// Package drift tells whether committed manifests already carry the config,
// for the pre-commit check: it never writes.
package drift

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pmezard/go-difflib/difflib"
)

// Renderer is what produces the converged form of a stream.
type Renderer interface {
	Stream(in []byte) ([]byte, error)
}

// Files expands the names a user gives check: a file stands for itself, a
// directory for every .yaml, .yml and .json file below it, in lexical
// order, as pre-commit and CI users point it at a manifests folder. A
// symbolic link to a file is checked like the file; .git is passed over,
// and so is what cannot be walked without a loop (a link to a directory)
// or read as a manifest (a FIFO, a socket): skipped names each, so that a
// drift check never passes on a file it did not read without saying so.
func Files(names []string) (files, skipped []string, err error) {
	for _, name := range names {
		st, err := os.Stat(name)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			files = append(files, name)
			continue
		}
		err = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" && p != name {
					return filepath.SkipDir
				}
				return nil
			}
			manifest := false
			switch filepath.Ext(p) {
			case ".yaml", ".yml", ".json":
				manifest = true
			}
			if !manifest && d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if manifest && d.Type().IsRegular() {
				files = append(files, p) // the walk knows already; a link needs its target
				return nil
			}
			st, err := os.Stat(p) // through a link, to what it names
			switch {
			case err != nil && !manifest:
				return nil // a dangling link of no manifest's name
			case err != nil:
				return err
			case st.IsDir():
				skipped = append(skipped, p) // a link to a directory: could loop
			case !manifest:
			case st.Mode().IsRegular():
				files = append(files, p)
			default:
				skipped = append(skipped, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return files, skipped, nil
}

// Diff returns a unified diff from a file's bytes, in as they are, to what
// they should be, or "" when they are converged. check reads each file
// once, for this and for the lint.
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
