package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// source is stdin made readable twice: a run reads the whole stream once to
// find every change and every error, and only then writes it, so a bad
// document anywhere means nothing on stdout.
//
//   - A regular file is read where it is: mapped into memory when it is
//     small, read again from the offset the stream started at when it is
//     not.
//   - Anything else (helm's pipe) is read into memory when it is small, and
//     otherwise copied into an unlinked temporary file, which is then read
//     like a regular one.
//
// Either way memory holds at most memLimit bytes of the stream, or one
// document when a document is larger.
type source struct {
	data   []byte   // the whole stream, when it is in memory
	mapped bool     // data is a mapping of file
	file   *os.File // the file holding the stream from start, if there is one
	start  int64
	stat   os.FileInfo // stdin's, when it is a regular file read twice
	close  func() error
}

// memLimit is how large a stream may be to be held in memory whole.
const memLimit = 4 << 20

func readSource(stdin io.Reader) (*source, error) {
	if f, fi, start, ok := regularFile(stdin); ok {
		s := &source{file: f, start: start, stat: fi, close: func() error { return nil }}
		size := fi.Size() - start
		if size <= memLimit {
			if data, unmap, ok := mapFile(f, start, size); ok {
				s.data, s.mapped, s.close = data, true, unmap
			}
		}
		return s, nil
	}
	widenPipe(stdin)
	// One allocation of the limit: the kernel hands out its pages only as
	// they are written, so a small stream touches little of it, and nothing
	// is copied the way a buffer that doubles as it fills is.
	head := make([]byte, memLimit+1)
	n, err := io.ReadFull(stdin, head)
	head = head[:n]
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &source{data: head, close: func() error { return nil }}, nil
	case err != nil:
		return nil, err
	}
	tmp, err := os.CreateTemp("", "istio-vault-ca-*")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name()) // gone when closed, whatever happens
	if _, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(head), stdin)); err != nil {
		tmp.Close()
		return nil, err
	}
	return &source{file: tmp, close: tmp.Close}, nil
}

// regularFile returns stdin as a regular file, what it was when the run
// began, and the offset at which the stream starts in it (someone may have
// read part of it).
func regularFile(stdin io.Reader) (f *os.File, fi os.FileInfo, start int64, ok bool) {
	f, ok = stdin.(*os.File)
	if !ok {
		return nil, nil, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil, 0, false
	}
	start, err = f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil, 0, false
	}
	return f, fi, start, true
}

// errChanged is a stdin file written to while it was being read twice:
// what was checked may not be what would be written.
var errChanged = errors.New("stdin changed while it was being read: run again on a file nothing else writes")

// unchanged fails when stdin is a file whose size or modification time
// differs from when the run began.
func (s *source) unchanged() error {
	if s.stat == nil {
		return nil
	}
	now, err := s.file.Stat()
	if err != nil {
		return err
	}
	if now.Size() != s.stat.Size() || !now.ModTime().Equal(s.stat.ModTime()) {
		return errChanged
	}
	return nil
}

// docs reads the stream's documents: slices of the data in memory, or
// through a buffer that holds one document at a time.
func (s *source) docs() *stream.Reader {
	if s.data != nil {
		return stream.NewBytesReader(s.data)
	}
	return stream.NewReader(s.reader())
}

// reader reads the whole stream from its start.
func (s *source) reader() io.Reader {
	if s.data != nil {
		return bytes.NewReader(s.data)
	}
	return io.NewSectionReader(s.file, s.start, 1<<62)
}

// lines reads the stream's lines from its start, to tell what it is
// (isResourceList): in place when it is in memory, through a buffer from a
// file.
func (s *source) lines() lineReader {
	if s.data != nil {
		return &sliceLines{s.data}
	}
	return bufio.NewReaderSize(s.reader(), readBuffer)
}

// again reads the stream's first size bytes a second time. A file is read
// as a file, so that its unchanged runs can go out by sendfile.
func (s *source) again(size int64) io.ReaderAt {
	if s.file != nil {
		return io.NewSectionReader(s.file, s.start, size)
	}
	return bytes.NewReader(s.data)
}

func (s *source) Close() error { return s.close() }

// guard turns the fault of reading a mapped file that someone truncated
// meanwhile into errChanged: without it, the process would die of SIGBUS.
// Use as defer s.guard(stderr, &code)().
func (s *source) guard(stderr io.Writer, code *int) func() {
	if !s.mapped {
		return func() {}
	}
	old := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(interface{ Addr() uintptr }); !ok || f == nil {
			panic(r)
		}
		fmt.Fprintf(stderr, "istio-vault-ca: %v\n", errChanged)
		*code = cli.ExitBadInput
	}
}
