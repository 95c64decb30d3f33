package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

// verifyCommand runs `verify`. It is an executable of its own so that the
// Vault client is not loaded by every post-renderer run (see its package
// comment); it is looked for next to this one, then on PATH.
const verifyCommand = "istio-vault-ca-verify"

func runVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	path, err := helperPath(verifyCommand)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca verify: %s is neither next to istio-vault-ca nor on PATH: "+
			"install it with go install github.com/istio-vault-ca/istio-vault-ca/cmd/%s (make build puts both in bin/)\n", verifyCommand, verifyCommand)
		return cli.ExitBadInput
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return cli.ExitOK
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(stderr, "istio-vault-ca verify: running %s: %v\n", path, err)
		return cli.ExitBadInput
	}
}

func helperPath(name string) (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return exec.LookPath(name)
}
