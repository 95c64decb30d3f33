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

// Parts of the tool that link libraries a post-renderer run does not need
// are executables of their own (see their package comments), looked for
// next to this one, then on PATH.
const (
	verifyCommand   = "istio-vault-ca-verify" // the Vault client
	functionCommand = "istio-vault-ca-fn"     // kyaml's KRM protocol code
)

func runVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runHelper("istio-vault-ca verify", verifyCommand, args, stdin, stdout, stderr)
}

// runBootstrap runs the verify executable's bootstrap: it is the tool's
// Vault client.
func runBootstrap(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runHelper("istio-vault-ca bootstrap", verifyCommand, append([]string{"bootstrap"}, args...), stdin, stdout, stderr)
}

// runFunction runs the KRM function on a ResourceList read from stdin.
func runFunction(list io.Reader, stdout, stderr io.Writer) int {
	return runHelper("istio-vault-ca", functionCommand, nil, list, stdout, stderr)
}

// runHelper runs a helper executable with the same streams and passes its
// exit code on.
func runHelper(what, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	path, err := helperPath(name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s is neither next to istio-vault-ca nor on PATH: "+
			"install it with go install github.com/istio-vault-ca/istio-vault-ca/cmd/%s (make build puts all three in bin/)\n", what, name, name)
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
		fmt.Fprintf(stderr, "%s: running %s: %v\n", what, path, err)
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
