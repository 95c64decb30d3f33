package main

import (
	"fmt"
	"io"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// render writes the stream with the transformer's changes, in two reads of
// it (see source): the first finds every change and every error, the
// second writes. Only the changed documents are held in memory. A stdin
// file written to meanwhile fails the run: before the second read, with
// nothing on stdout; after it, with an exit code that says not to use what
// was written.
func render(t *transform.Transformer, src *source, stdout, stderr io.Writer) int {
	edits, size, err := t.Edits(src.docs())
	if err == nil {
		err = src.unchanged()
	}
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return cli.ExitBadInput
	}
	if err := stream.Apply(toFile(stdout), src.again(size), size, edits); err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: writing stdout: %v\n", err)
		return cli.ExitBadInput
	}
	if err := src.unchanged(); err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return cli.ExitBadInput
	}
	return cli.ExitOK
}
