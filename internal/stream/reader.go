package stream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Reader yields the documents of a stream one at a time, so memory is
// bounded by the largest document, not the stream. It cuts exactly where
// Split does.
type Reader struct {
	br    *bufio.Reader
	line  int    // lines consumed so far
	next  []byte // a marker line read ahead: it opens the next document
	index int
	off   int64 // where the next document starts: documents are contiguous
	done  bool
	buf   bytes.Buffer // the body being collected
}

// NewReader reads documents from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next document, or io.EOF after the last one. The
// returned slices stay valid until the next call.
func (r *Reader) Next() (Doc, error) {
	if r.done {
		return Doc{}, io.EOF
	}
	d := Doc{Index: r.index, Marker: r.next, Line: r.line + 1, Offset: r.off}
	r.next = nil
	r.buf.Reset()
	for {
		// Most lines are not markers: copy every whole line up to the next
		// possible one in one go, without looking at them one by one.
		if n := r.copyPlainLines(); n > 0 {
			continue
		}
		line, err := r.readLine()
		if len(line) > 0 {
			r.line++
			switch {
			case !isMarker(line):
				r.buf.Write(line)
			case r.buf.Len() == 0 && len(d.Marker) == 0:
				// The stream starts with a marker: no empty first document.
				d.Marker, d.Line = append([]byte(nil), line...), r.line+1
			default:
				r.next = append([]byte(nil), line...)
			}
			if r.next != nil {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			r.done = true
			if len(d.Marker) == 0 && r.buf.Len() == 0 {
				return Doc{}, io.EOF
			}
			break
		}
		if err != nil {
			return Doc{}, err
		}
	}
	d.Body = r.buf.Bytes()
	r.index++
	r.off += d.Len()
	return d, nil
}

var marker = []byte("---")

// copyPlainLines appends to the body the buffered whole lines before the
// next line that could be a marker, and returns how many bytes it took. It
// is called at the start of a line, and takes nothing when that line could
// be a marker or is not wholly buffered: readLine decides those.
func (r *Reader) copyPlainLines() int {
	window, _ := r.br.Peek(r.br.Buffered())
	if len(window) < 4 || bytes.HasPrefix(window, marker) {
		return 0
	}
	end := IndexAtLineStart(window, marker)
	if end < 0 {
		end = bytes.LastIndexByte(window, '\n') + 1
		if end == 0 {
			return 0
		}
	}
	chunk := window[:end]
	r.buf.Write(chunk)
	r.line += bytes.Count(chunk, []byte{'\n'})
	r.br.Discard(len(chunk))
	return len(chunk)
}

// readLine returns the next line with its newline, however long it is;
// the slice is valid until the next read.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	long := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.br.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

// ForEach calls fn on every document of r, in order, until fn fails.
func ForEach(r io.Reader, fn func(*Doc) error) error {
	sr := NewReader(r)
	for {
		d, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
}
