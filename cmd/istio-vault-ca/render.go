package main

import (
	"fmt"
	"io"
	"os"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// render reads the stream twice: the first read finds every change and
// every error, the second writes the stream with the changes. So a bad
// document anywhere means nothing on stdout, and memory holds only the
// changed documents, however long the stream. A regular file is simply
// read again from where the stream started in it; anything else (helm's
// pipe) is kept while the first read goes, in memory up to spoolMemory and
// beyond that in an unlinked temporary file.
func render(t *transform.Transformer, in io.Reader, file *os.File, start int64, stdout, stderr io.Writer) int {
	var sp *spool
	if file == nil {
		sp = &spool{limit: spoolMemory}
		defer sp.Close()
		in = io.TeeReader(in, sp)
	}
	edits, size, err := t.Edits(in)
	if err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", err)
		return exitBadInput
	}
	var again io.ReaderAt
	if file != nil {
		again = io.NewSectionReader(file, start, size)
	} else {
		again = sp.ReaderAt()
	}
	if err := stream.Apply(toFile(stdout), again, size, edits); err != nil {
		fmt.Fprintf(stderr, "istio-vault-ca: writing stdout: %v\n", err)
		return exitBadInput
	}
	return exitOK
}

// rereadable returns stdin as a file that can be read again and the offset
// at which the stream starts in it, or nil when stdin is not a regular file
// (a pipe, a terminal) or not a file at all. It must be called before
// anything reads stdin.
func rereadable(stdin io.Reader) (*os.File, int64) {
	f, ok := stdin.(*os.File)
	if !ok {
		return nil, 0
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, 0
	}
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0
	}
	return f, start
}
