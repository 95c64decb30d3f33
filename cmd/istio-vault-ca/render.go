package main

import (
	"fmt"
	"io"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
)

// render writes the stream with the transformer's changes, in two reads of
// it (see twopass): the first finds every change and every error, the
// second writes. Only the changed documents are held in memory. A stdin
// file written to meanwhile fails the run: before the second read, with
// nothing on stdout; after it, with an exit code that says not to use what
// was written.
// With verbose, a stream that holds no target at all (the remote profile,
// a chart without istiod) says so: it passes through unchanged.
func render(t *transform.Transformer, src *twopass.Source, verbose bool, stdout, stderr io.Writer) int {
	lim := transform.NewLimits()
	edits, size, err := t.EditsWithin(src.Docs(), lim)
	if err == nil {
		err = src.Write(stdout, size, edits)
	}
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return cli.ExitBadInput
	}
	for _, w := range lim.Warnings() {
		fmt.Fprintf(stderr, "istio-vault-ca: warning: %s\n", w)
	}
	if verbose {
		switch {
		case lim.Targets() == 0:
			fmt.Fprintln(stderr, "istio-vault-ca: the stream holds no target (no istiod Deployment, no IstioOperator that installs istiod, no ControlPlane, no gateway a selector picks): passed through unchanged")
		case len(edits) == 0:
			fmt.Fprintf(stderr, "istio-vault-ca: %d target(s), all already converged\n", lim.Targets())
		default:
			fmt.Fprintf(stderr, "istio-vault-ca: %d target(s), %d changed\n", lim.Targets(), len(edits))
		}
	}
	return cli.ExitOK
}
