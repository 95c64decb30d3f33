package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// toolBin is istio-vault-ca built from the main module for this run: the
// tests drive the shipped binary, not its packages.
var toolBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "istio-vault-ca-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	toolBin = filepath.Join(dir, "istio-vault-ca")
	build := exec.Command("go", "build", "-o", toolBin, "./cmd/istio-vault-ca")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building istio-vault-ca: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tool runs istio-vault-ca and returns stdout, stderr and the exit code.
func tool(t testing.TB, stdin []byte, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(toolBin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}
