package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
)

// TestGolden runs the command on every case under testdata/golden (see
// golden.Case for what a case holds). Successful transformations are also
// run on their own output, which must not change.
func TestGolden(t *testing.T) {
	ran := map[string]int{}
	for _, c := range golden.Cases(t, "../../testdata/golden") {
		if len(c.Args) > 0 {
			ran[c.Args[0]]++
		}
		t.Run(c.Name, func(t *testing.T) {
			args := append([]string{}, c.Args...)
			if c.Config != nil {
				args = append(args, "--config", filepath.Join(c.Dir, "config.yaml"))
			}
			code, stdout, stderr := runCmd(args, c.Input)

			if c.Fails() {
				if code != cli.ExitBadInput {
					t.Errorf("exit code %d, want %d; stderr:\n%s", code, cli.ExitBadInput, stderr)
				}
				if len(stdout) != 0 {
					t.Errorf("stdout must be empty on error, got %d bytes", len(stdout))
				}
				for _, p := range c.Errors {
					if !regexp.MustCompile(p).MatchString(stderr) {
						t.Errorf("stderr does not match %q:\n%s", p, stderr)
					}
				}
				return
			}
			if code != c.Exit {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, c.Exit, stderr)
			}
			golden.Check(t, c.Expected(), stdout)

			if len(c.Args) > 0 && c.Args[0][0] != '-' {
				return // a subcommand's output is not a manifest stream
			}
			code, again, stderr := runCmd(args, stdout)
			if code != cli.ExitOK || !bytes.Equal(again, stdout) {
				t.Errorf("not idempotent: second run exit %d, output changed=%v; stderr:\n%s", code, !bytes.Equal(again, stdout), stderr)
			}
		})
	}
	// A subcommand whose cases are all gone must not pass on nothing.
	for _, sub := range golden.ConfigFree {
		if ran[sub] == 0 {
			t.Errorf("no golden case runs %s (args file starting with %q)", sub, sub)
		}
	}
}

func runCmd(args []string, stdin []byte) (int, []byte, string) {
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.Bytes(), errb.String()
}
