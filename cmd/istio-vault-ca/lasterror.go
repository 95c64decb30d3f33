package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

// Helm 4 runs post-renderers as plugins and does not show their stderr: a
// user sees only that the plugin failed. So every failed run also leaves
// its message in a file, and `istio-vault-ca explain` prints it.

// lastErrorFile is where a failed run's message is kept.
func lastErrorFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "istio-vault-ca", "last-error.log")
}

// recorder copies stderr so a failure can be kept.
type recorder struct {
	w   io.Writer
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.buf.Write(p)
	return r.w.Write(p)
}

// keepFailure writes what a failed run said, with when and how it was run.
func keepFailure(args []string, said []byte) {
	path := lastErrorFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	msg := fmt.Sprintf("%s istio-vault-ca %s\n%s", time.Now().UTC().Format(time.RFC3339), strings.Join(args, " "), said)
	_ = os.WriteFile(path, []byte(msg), 0o600)
}

func runExplain(stdout, stderr io.Writer) int {
	b, err := os.ReadFile(lastErrorFile())
	if os.IsNotExist(err) {
		fmt.Fprintln(stdout, "istio-vault-ca: no failed run recorded")
		return cli.ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return cli.ExitBadInput
	}
	stdout.Write(b)
	return cli.ExitOK
}
