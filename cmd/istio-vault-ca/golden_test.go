package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
)

// TestGolden runs the command on every case under testdata/golden. A case is
// a directory with:
//
//	config.yaml    the VaultCA passed with --config
//	input.yaml     stdin, or `input`: one line naming a shared input file
//	args           optional arguments placed before --config, e.g. a subcommand
//	expected.yaml  stdout of a successful run (exit 0), or
//	errors.txt     regexps stderr must match, one per line; the run must
//	               exit 2 and write nothing to stdout
//
// Successful cases are also run on their own output, which must not change.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := readInput(t, dir)
			extra := readArgs(t, dir)
			args := append(extra, "--config", filepath.Join(dir, "config.yaml"))
			code, stdout, stderr := runCmd(args, in)

			if patterns, err := os.ReadFile(filepath.Join(dir, "errors.txt")); err == nil {
				if code != cli.ExitBadInput {
					t.Errorf("exit code %d, want %d; stderr:\n%s", code, cli.ExitBadInput, stderr)
				}
				if len(stdout) != 0 {
					t.Errorf("stdout must be empty on error, got %d bytes", len(stdout))
				}
				for _, p := range strings.Split(strings.TrimSpace(string(patterns)), "\n") {
					if !regexp.MustCompile(p).MatchString(stderr) {
						t.Errorf("stderr does not match %q:\n%s", p, stderr)
					}
				}
				return
			}
			if code != cli.ExitOK {
				t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
			}
			golden.Check(t, filepath.Join(dir, "expected.yaml"), stdout)

			if len(extra) > 0 && !strings.HasPrefix(extra[0], "-") {
				return // a subcommand's output is not a manifest stream
			}
			code, again, stderr := runCmd(args, stdout)
			if code != cli.ExitOK || !bytes.Equal(again, stdout) {
				t.Errorf("not idempotent: second run exit %d, output changed=%v; stderr:\n%s", code, !bytes.Equal(again, stdout), stderr)
			}
		})
	}
}

func runCmd(args []string, stdin []byte) (int, []byte, string) {
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.Bytes(), errb.String()
}

func readInput(t *testing.T, dir string) []byte {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, "input.yaml")); err == nil {
		return b
	}
	ref, err := os.ReadFile(filepath.Join(dir, "input"))
	if err != nil {
		t.Fatalf("case has neither input.yaml nor input: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, strings.TrimSpace(string(ref))))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readArgs(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "args"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}
