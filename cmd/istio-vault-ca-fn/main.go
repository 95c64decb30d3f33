// Command istio-vault-ca-fn is the KRM function: a ResourceList on stdin,
// with a VaultCA as its functionConfig, and the same list out, its targets
// changed and any errors in its results. kustomize and kpt run it as an exec
// function, and it is the entrypoint of the function's container image.
//
// istio-vault-ca runs it when it finds a ResourceList on stdin. It is an
// executable of its own because it speaks the protocol through kyaml, whose
// package initialisation (kube-openapi and protobuf registries) costs about
// a millisecond: every post-renderer run and pre-commit check would pay it.
//
// Exit codes: 0 success, 1 the lint found an error in the items (written
// as the config asks), 2 the config or a resource is wrong (the results
// say which; stdout still carries the ResourceList, as the protocol wants).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/istio-vault-ca/istio-vault-ca/fn"
	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

// run writes the output list even on failure: the results in it are the
// error report kpt and kustomize show.
func run(stdin io.Reader, stdout, stderr io.Writer) int {
	in, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: reading stdin: %v\n", err)
		return cli.ExitBadInput
	}
	var out bytes.Buffer
	rw := &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: &out, KeepReaderAnnotations: true}
	err = fn.Run(rw)
	stdout.Write(out.Bytes())
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
	}
	return fn.ExitCode(err)
}
