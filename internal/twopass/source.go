// Package twopass is a command's stdin and stdout for a run that must not
// write before it has read everything: stdin is made readable twice (once
// to find every change and every error, once to write), and stdout gets
// the unchanged runs of a file by the kernel (sendfile) rather than through
// a buffer. A stdin file changed by someone else during the run, appended
// to or cut short under a mapping, is an error, not a crash or a silent
// mix of two versions.
//
// It knows bytes and documents (internal/stream), nothing of what the
// documents mean: a front end finds its edits in Docs, then calls Write.
package twopass

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// Source is stdin made readable twice: a run reads the whole stream once to
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
// Either way memory holds at most MemLimit bytes of the stream, or one
// document when a document is larger.
type Source struct {
	data   []byte   // the whole stream, when it is in memory
	mapped bool     // data is a mapping of file
	file   *os.File // the file holding the stream from start, if there is one
	start  int64
	stat   os.FileInfo // stdin's, when it is a regular file read twice
	close  func() error
}

// MemLimit is how large a stream may be to be held in memory whole.
const MemLimit = 4 << 20

// Open makes stdin readable twice. Close the Source when done.
func Open(stdin io.Reader) (*Source, error) {
	if f, fi, start, ok := regularFile(stdin); ok {
		s := &Source{file: f, start: start, stat: fi, close: func() error { return nil }}
		size := fi.Size() - start
		if size <= MemLimit {
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
	head := make([]byte, MemLimit+1)
	n, err := io.ReadFull(stdin, head)
	head = head[:n]
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Source{data: head, close: func() error { return nil }}, nil
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
	return &Source{file: tmp, close: tmp.Close}, nil
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

// ErrChanged is a stdin file written to while it was being read twice:
// what was checked may not be what would be written.
var ErrChanged = errors.New("stdin changed while it was being read: run again on a file nothing else writes")

// unchanged fails when stdin is a file whose size or modification time
// differs from when the run began.
func (s *Source) unchanged() error {
	if s.stat == nil {
		return nil
	}
	now, err := s.file.Stat()
	if err != nil {
		return err
	}
	if now.Size() != s.stat.Size() || !now.ModTime().Equal(s.stat.ModTime()) {
		return ErrChanged
	}
	return nil
}

// Docs reads the stream's documents, the first read: slices of the data in
// memory, or through a buffer that holds one document at a time.
func (s *Source) Docs() *stream.Reader {
	if s.data != nil {
		return stream.NewBytesReader(s.data)
	}
	return stream.NewReader(s.Reader())
}

// Reader reads the whole stream from its start, for a front end that
// takes it as it is.
func (s *Source) Reader() io.Reader {
	if s.data != nil {
		return bytes.NewReader(s.data)
	}
	return io.NewSectionReader(s.file, s.start, 1<<62)
}

// LineReader hands out a stream's lines, each up to and with its line
// break, or in pieces, all but the last ending in bufio.ErrBufferFull;
// io.EOF comes with the last. A *bufio.Reader is one.
type LineReader interface {
	ReadSlice(delim byte) ([]byte, error)
}

// LineBuffer is how much of a line Lines hands out at once when the stream
// is read from a file; a longer line comes in pieces.
const LineBuffer = 64 << 10

// Lines reads the stream's lines from its start, to tell what it is before
// it is read as documents: in place when it is in memory, through a buffer
// of LineBuffer bytes from a file.
func (s *Source) Lines() LineReader {
	if s.data != nil {
		return LinesOf(s.data)
	}
	return bufio.NewReaderSize(s.Reader(), LineBuffer)
}

// LinesOf is a LineReader over bytes in memory: its lines are slices of
// them, never copied.
func LinesOf(b []byte) LineReader { return &sliceLines{b} }

type sliceLines struct{ b []byte }

func (s *sliceLines) ReadSlice(delim byte) ([]byte, error) {
	if i := bytes.IndexByte(s.b, delim); i >= 0 {
		line := s.b[:i+1]
		s.b = s.b[i+1:]
		return line, nil
	}
	line := s.b
	s.b = nil
	return line, io.EOF
}

// Write is the second read: it writes the stream's first size bytes (what
// Docs read) to stdout with edits applied. A stdin file written to since
// Open fails it: before anything is written, with nothing on stdout; after,
// with the error alone to say not to use what was written. A failed write
// is "writing stdout: ...".
func (s *Source) Write(stdout io.Writer, size int64, edits []stream.Edit) error {
	if err := s.unchanged(); err != nil {
		return err
	}
	if err := stream.Apply(toFile(stdout), s.again(size), size, edits); err != nil {
		return fmt.Errorf("writing stdout: %w", err)
	}
	return s.unchanged()
}

// again reads the stream's first size bytes a second time. A file is read
// as a file, so that its unchanged runs can go out by sendfile.
func (s *Source) again(size int64) io.ReaderAt {
	if s.file != nil {
		return io.NewSectionReader(s.file, s.start, size)
	}
	return bytes.NewReader(s.data)
}

// Close unmaps or removes what Open set up; stdin itself stays open.
func (s *Source) Close() error { return s.close() }

// Guard turns the fault of reading a mapped file that someone truncated
// meanwhile into a call of changed with ErrChanged: without it, the process
// would die of SIGBUS. It covers the reads of the goroutine that defers it,
// until the function that defers it returns:
//
//	defer src.Guard(func(err error) { ... })()
func (s *Source) Guard(changed func(error)) func() {
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
		changed(ErrChanged)
	}
}
