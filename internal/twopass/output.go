package twopass

import (
	"io"
	"os"
)

// fileOutput is stdout when it is a file descriptor. The unchanged runs of
// a stream arrive as sections of the input (stream.Apply); when the input
// is a file they are moved by the kernel (sendfile on Linux), without
// passing through a buffer here.
type fileOutput struct{ f *os.File }

func toFile(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		return fileOutput{f}
	}
	return w
}

func (o fileOutput) Write(p []byte) (int, error) { return o.f.Write(p) }

func (o fileOutput) ReadFrom(r io.Reader) (int64, error) {
	if sr, ok := r.(*io.SectionReader); ok {
		if n, handled, err := sendSection(o.f, sr); handled {
			return n, err
		}
	}
	// Not *os.File itself: its ReadFrom would only come back here.
	return io.Copy(struct{ io.Writer }{o.f}, r)
}

// fileSection returns the file, offset and length a section reader reads,
// seeing through sections of sections; ok is false when it is not a file
// or has been read from already.
func fileSection(sr *io.SectionReader) (f *os.File, off, n int64, ok bool) {
	if pos, err := sr.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return nil, 0, 0, false
	}
	r, off, n := sr.Outer()
	for {
		switch x := r.(type) {
		case *os.File:
			return x, off, n, true
		case *io.SectionReader:
			var base int64
			r, base, _ = x.Outer()
			off += base
		default:
			return nil, 0, 0, false
		}
	}
}
