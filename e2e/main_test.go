package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// toolBin is istio-vault-ca built from the main module for this run, with
// istio-vault-ca-verify beside it: the tests drive the shipped binaries,
// not their packages.
var toolBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "istio-vault-ca-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	toolBin = filepath.Join(dir, "istio-vault-ca")
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/...")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building istio-vault-ca: %v\n%s", err, out)
		os.Exit(2)
	}
	// The agent and istiod run as the pod's uids, which cannot reach a
	// binary under root's home: give them one in a directory every user
	// can enter.
	for env, name := range map[string]string{"VAULT_BIN": "vault", "ISTIOD_BIN": "pilot-discovery"} {
		src := os.Getenv(env)
		if src == "" {
			continue
		}
		must := func(err error) {
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
		must(os.Chmod(dir, 0o755))
		dst := filepath.Join(dir, name)
		if err := os.Link(src, dst); err != nil {
			must(copyFile(src, dst))
		}
		must(os.Setenv(env, dst))
	}
	// Failed runs of the tool keep their message in the user's cache; the
	// tests' failures stay in this run's directory.
	if err := os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// checkedTool is a client binary the Makefile checked to be the pinned
// version and named in env (KPT_BIN, PRE_COMMIT_BIN): not whatever PATH
// happens to find.
func checkedTool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: run with `make e2e`, which checks the pinned version", env)
	}
	return p
}

// writeTestConfig writes a VaultCA for one test and returns its path.
func writeTestConfig(t *testing.T, cfg string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "vaultca.yaml")
	must(t, os.WriteFile(f, []byte(cfg), 0o644))
	return f
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
