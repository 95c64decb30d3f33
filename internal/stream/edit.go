package stream

import "io"

// Edit replaces the Len bytes at Offset of a stream with New.
type Edit struct {
	Offset, Len int64
	New         []byte
}

// Apply writes the first size bytes of src to w with edits applied; edits
// are in stream order and do not overlap. Every unchanged run goes to w as
// an *io.SectionReader of src, so a writer that knows src's kind can move
// it without copying it through a buffer (see io.ReaderFrom).
func Apply(w io.Writer, src io.ReaderAt, size int64, edits []Edit) error {
	var pos int64
	for _, e := range edits {
		if err := copyRange(w, src, pos, e.Offset); err != nil {
			return err
		}
		if _, err := w.Write(e.New); err != nil {
			return err
		}
		pos = e.Offset + e.Len
	}
	return copyRange(w, src, pos, size)
}

func copyRange(w io.Writer, src io.ReaderAt, from, to int64) error {
	if to <= from {
		return nil
	}
	n, err := io.Copy(w, io.NewSectionReader(src, from, to-from))
	if err == nil && n != to-from {
		err = io.ErrUnexpectedEOF // the source shrank between the two reads
	}
	return err
}
