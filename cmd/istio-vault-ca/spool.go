package main

import (
	"bytes"
	"io"
	"os"
)

// spool keeps a stream that cannot be read twice (a pipe) as it is read,
// so that it can be: up to limit bytes in memory and the rest in an
// unlinked temporary file, so memory stays bounded however large the
// stream.
type spool struct {
	mem   bytes.Buffer
	file  *os.File
	limit int
}

func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) <= s.limit {
		return s.mem.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "istio-vault-ca-*")
		if err != nil {
			return 0, err
		}
		os.Remove(f.Name()) // gone when closed, whatever happens
		s.file = f
		if _, err := s.mem.WriteTo(f); err != nil {
			return 0, err
		}
	}
	return s.file.Write(p)
}

// ReaderAt is what was spooled, to be read again.
func (s *spool) ReaderAt() io.ReaderAt {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes())
	}
	return s.file
}

// Close releases the temporary file, if there is one.
func (s *spool) Close() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}
