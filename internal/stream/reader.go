package stream

import (
	"bytes"
	"errors"
	"io"
)

// Reader yields the documents of a stream one at a time, so memory is
// bounded by the largest document, not the stream. It cuts exactly where
// Split does.
//
// A document is handed out as a slice of the read buffer, not copied out
// of it: the buffer grows only when one document does not fit, and only
// the unfinished document is moved to its front before the next read.
type Reader struct {
	src   io.Reader
	buf   []byte
	start int  // the current document's first byte in buf
	end   int  // buf[:end] holds what has been read
	eof   bool // src has no more
	err   error
	index int
	off   int64 // the current document's offset in the stream
	line  int   // lines before the current document
}

// readSize is the least room a read is given.
const readSize = 256 << 10

// NewReader reads documents from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{src: r}
}

// NewBytesReader reads the documents of a stream held whole in memory,
// handing out slices of b itself.
func NewBytesReader(b []byte) *Reader {
	return &Reader{buf: b, end: len(b), eof: true}
}

// Next returns the next document, or io.EOF after the last one. The
// returned slices stay valid until the next call.
func (r *Reader) Next() (Doc, error) {
	if r.start == r.end {
		r.fill()
	}
	if r.err != nil {
		return Doc{}, r.err
	}
	if r.start == r.end {
		return Doc{}, io.EOF
	}
	markerLen, err := r.markerLine()
	if err != nil {
		return Doc{}, err
	}
	end, err := r.bodyEnd(markerLen)
	if err != nil {
		return Doc{}, err
	}
	raw := r.buf[r.start : r.start+end]
	d := Doc{Index: r.index, Marker: raw[:markerLen:markerLen], Body: raw[markerLen:], Line: r.line + 1, Offset: r.off}
	if markerLen > 0 {
		d.Line++
	}
	if markerLen == 0 {
		d.Marker = nil
	}
	r.index++
	r.off += int64(end)
	r.line += bytes.Count(raw, []byte{'\n'})
	r.start += end
	return d, nil
}

// markerLine returns the length of the document's first line if that line
// is a marker, else 0. Four bytes tell whether it is one; only a marker
// needs its whole line.
func (r *Reader) markerLine() (int, error) {
	for {
		b := r.buf[r.start:r.end]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if isMarker(b[:i+1]) {
				return i + 1, nil
			}
			return 0, nil
		}
		if len(b) >= 4 && !isMarker(b) {
			return 0, nil
		}
		if r.eof {
			if isMarker(b) {
				return len(b), nil
			}
			return 0, nil
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
}

// bodyEnd returns where the document ends, relative to its start: at the
// next marker line, or at the end of the stream. Searching resumes at the
// last line start already searched, so each byte is looked at about once.
func (r *Reader) bodyEnd(from int) (int, error) {
	for {
		b := r.buf[r.start:r.end]
		p, short := findMarker(b, from, r.eof)
		switch {
		case p >= 0 && !short:
			return p, nil
		case r.eof:
			return len(b), nil
		case p >= 0:
			from = p // "---" at the very end: the next byte decides
		default:
			from = max(from, bytes.LastIndexByte(b, '\n')+1)
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
}

// findMarker returns the first marker line at or after from, which must
// start a line, or -1. short reports that b ends right after a "---" that
// starts a line, too early to tell whether it is a marker.
func findMarker(b []byte, from int, atEOF bool) (p int, short bool) {
	for {
		i := IndexAtLineStart(b[from:], marker)
		if i < 0 {
			return -1, false
		}
		p = from + i
		if p+len(marker) == len(b) && !atEOF {
			return p, true
		}
		if isMarker(b[p:]) {
			return p, false
		}
		nl := bytes.IndexByte(b[p:], '\n')
		if nl < 0 {
			return -1, false
		}
		from = p + nl + 1
	}
}

var marker = []byte("---")

// fill reads more of the stream after buf[start:end], first moving the
// current document to the front, then growing buf, when there is too
// little room left.
func (r *Reader) fill() error {
	if r.eof {
		return r.err
	}
	if len(r.buf)-r.end < readSize/2 {
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
		if len(r.buf)-r.end < readSize/2 {
			grown := make([]byte, max(2*len(r.buf), r.end+readSize))
			copy(grown, r.buf[:r.end])
			r.buf = grown
		}
	}
	n, err := r.src.Read(r.buf[r.end:])
	r.end += n
	if err != nil {
		r.eof = true
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
	}
	return r.err
}

// ForEach calls fn on every document of r, in order, until fn fails.
func ForEach(r io.Reader, fn func(*Doc) error) error {
	return NewReader(r).Each(fn)
}

// Each calls fn on every remaining document, in order, until fn fails.
func (r *Reader) Each(fn func(*Doc) error) error {
	for {
		d, err := r.Next()
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
