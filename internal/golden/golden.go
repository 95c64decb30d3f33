// Package golden loads the golden cases, compares test output with files
// under testdata and rewrites them with `go test ./... -update`. It is the
// one reader of testdata/golden, so every test sees the cases alike. Every
// test package imports it, so the -update flag is defined in every test
// binary that `go test ./...` runs.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// Update rewrites golden files instead of comparing against them.
var Update = flag.Bool("update", false, "rewrite golden files under testdata (review the diff)")

// Check compares got with the golden file at path, or rewrites the file.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(got)),
			FromFile: path, ToFile: "got", Context: 3,
		})
		t.Errorf("output differs from %s (rerun with -update if the change is intended):\n%s", path, diff)
	}
}

// AddSeeds adds every file matching the patterns to a fuzz target's seed
// corpus; the patterns are relative to the test's package directory.
func AddSeeds(f *testing.F, patterns ...string) {
	f.Helper()
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// ConfigFree are the subcommands that read no config: their cases have no
// config.yaml and run without --config.
var ConfigFree = []string{"migrate", "lint"}

// Case is one directory under testdata/golden:
//
//	config.yaml    the VaultCA passed with --config; absent only for a
//	               subcommand in ConfigFree, which reads none
//	input.yaml     stdin, or `input`: one line naming a shared input file
//	args           optional arguments placed before --config, e.g. a subcommand
//	expected.yaml  stdout of a successful run (exit 0), or
//	exit           with expected.yaml: the run's exit code when it is not 0
//	               (1: lint's findings); or
//	errors.txt     regexps stderr must match, one per line; the run must
//	               exit 2 and write nothing to stdout
type Case struct {
	Name, Dir string
	Config    []byte // nil when the case has no config.yaml
	Input     []byte
	Args      []string
	// Errors are the regexps of errors.txt; nil for a successful case,
	// whose output is in the file Expected names.
	Errors []string
	// Exit is the exit code of a successful case (0 unless `exit` says).
	Exit int
}

// Expected is the path of a successful case's output.
func (c Case) Expected() string { return filepath.Join(c.Dir, "expected.yaml") }

// Fails reports whether the case is an error case.
func (c Case) Fails() bool { return c.Errors != nil }

// Transformation reports whether the case is a plain run of the
// transformer on a manifest stream: no arguments, so no subcommand (whose
// output, a policy or patches, is not a manifest stream) and no flag.
func (c Case) Transformation() bool { return len(c.Args) == 0 }

// Cases loads every case under root (testdata/golden, relative to the test's
// package). It fails the test when there are none, and when a case lacks a
// file it must have: a harness that reads no case, or half a case, must not
// pass.
func Cases(t testing.TB, root string) []Case {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []Case
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		c, err := load(dir)
		if err != nil {
			t.Fatalf("golden case %s: %v", filepath.Base(dir), err)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatalf("no golden cases under %s", root)
	}
	return cases
}

func load(dir string) (Case, error) {
	c := Case{Name: filepath.Base(dir), Dir: dir}
	var err error
	c.Config, err = os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil && !os.IsNotExist(err) {
		return c, err
	}
	configErr := err
	if c.Input, err = os.ReadFile(filepath.Join(dir, "input.yaml")); os.IsNotExist(err) {
		ref, rerr := os.ReadFile(filepath.Join(dir, "input"))
		if rerr != nil {
			return c, fmt.Errorf("neither input.yaml nor input: %v", rerr)
		}
		c.Input, err = os.ReadFile(filepath.Join(dir, strings.TrimSpace(string(ref))))
	}
	if err != nil {
		return c, err
	}
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil && !os.IsNotExist(err) {
		return c, err
	}
	c.Args = strings.Fields(string(args))
	// Only a subcommand that reads no config (migrate writes one) goes
	// without: a transformation case without its config is a mistake.
	if configErr != nil && (len(c.Args) == 0 || !slices.Contains(ConfigFree, c.Args[0])) {
		return c, configErr
	}
	exit, err := os.ReadFile(filepath.Join(dir, "exit"))
	switch {
	case err == nil:
		if c.Exit, err = strconv.Atoi(strings.TrimSpace(string(exit))); err != nil || c.Exit <= 0 {
			return c, fmt.Errorf("exit holds %q: it must be the exit code of a run that writes expected.yaml, 1 or more", exit)
		}
	case !os.IsNotExist(err):
		return c, err
	}
	patterns, err := os.ReadFile(filepath.Join(dir, "errors.txt"))
	switch {
	case err == nil:
		c.Errors = strings.Split(strings.TrimSpace(string(patterns)), "\n")
		if len(strings.TrimSpace(string(patterns))) == 0 {
			return c, fmt.Errorf("errors.txt is empty: an error case names what its message must say")
		}
		if c.Exit != 0 {
			return c, fmt.Errorf("both errors.txt and exit: an error case exits 2, and exit is for a run that writes expected.yaml")
		}
	case !os.IsNotExist(err):
		return c, err
	case !*Update:
		// -update writes a missing expected.yaml; otherwise a case that
		// says nothing of its outcome is a mistake.
		if _, err := os.Stat(c.Expected()); err != nil {
			return c, fmt.Errorf("neither errors.txt nor expected.yaml: %v", err)
		}
	}
	return c, nil
}
