package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/drift"
	"github.com/istio-vault-ca/istio-vault-ca/internal/lint"
)

// stdinName is how findings in standard input name their file.
const stdinName = "<stdin>"

// runLint reports the known pitfalls in manifests: files, directories
// walked as check walks them, `-` for stdin. It reads no config: it judges
// what the manifests say, however they were written. Every file is read
// and linted before anything is printed, so bad input leaves stdout empty.
func runLint(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, subcommandUsage("lint")) }
	var config string
	fs.StringVar(&config, "config", "", "not read: lint judges the manifests alone")
	if err := fs.Parse(args); err != nil {
		return cli.ExitBadInput
	}
	if config != "" {
		// check's and lint's command lines differ only by it: say so
		// rather than what the flag package says of an unknown flag.
		fmt.Fprintln(stderr, "istio-vault-ca lint: reads no config (it judges what the manifests say): drop --config; `istio-vault-ca check --config FILE` lints too")
		return cli.ExitBadInput
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "istio-vault-ca lint: name the manifest files or directories to lint (- for stdin)")
		return cli.ExitBadInput
	}
	names := fs.Args()
	readStdin := slices.Contains(names, "-")
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "-" })
	files, skipped, err := drift.Files(names)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca lint: %v\n", err)
		return cli.ExitBadInput
	}
	for _, p := range skipped {
		fmt.Fprintf(stderr, "istio-vault-ca lint: %s: not linted (a link to a directory, or not a regular file): name it directly\n", p)
	}
	if len(files) == 0 && !readStdin {
		fmt.Fprintf(stderr, "istio-vault-ca lint: no .yaml, .yml or .json file in %s\n", strings.Join(names, ", "))
		return cli.ExitBadInput
	}
	var report bytes.Buffer
	var all []lint.Finding
	add := func(name string, in []byte) error {
		found, err := lint.Stream(in)
		if err != nil {
			return err
		}
		for _, f := range found {
			fmt.Fprintln(&report, f.Format(name))
		}
		all = append(all, found...)
		return nil
	}
	if readStdin {
		files = append([]string{stdinName}, files...)
	}
	for _, file := range files {
		var in []byte
		if file == stdinName {
			in, err = io.ReadAll(stdin)
		} else {
			in, err = os.ReadFile(file)
		}
		if err == nil {
			err = add(file, in)
		}
		if err != nil {
			fmt.Fprintf(stderr, "istio-vault-ca lint: %s: %v\n", file, err)
			return cli.ExitBadInput
		}
	}
	stdout.Write(report.Bytes())
	if len(all) > 0 {
		fmt.Fprintf(stderr, "istio-vault-ca lint: %s\n", lint.Summary(all))
	}
	if slices.ContainsFunc(all, lint.Finding.Fails) {
		return cli.ExitFailed
	}
	return cli.ExitOK
}

// checkFile is check's work on one file, read once: the unified diff to
// its converged form ("" when converged), and its lint findings, written
// to w (check's stdout is its diff). It reports whether a finding is an
// error, which fails the check. Warnings and information are shown, and do
// not fail a pre-commit hook: they are for `lint`, which fails on both.
func checkFile(r drift.Renderer, file string, w io.Writer) (diff string, failed bool, err error) {
	in, err := os.ReadFile(file)
	if err != nil {
		return "", false, err
	}
	if diff, err = drift.Diff(r, file, in); err != nil {
		return "", false, err
	}
	found, err := lint.Stream(in)
	if err != nil {
		return "", false, err
	}
	for _, f := range found {
		fmt.Fprintln(w, f.Format(file))
		failed = failed || f.Severity == lint.Error
	}
	return diff, failed, nil
}
