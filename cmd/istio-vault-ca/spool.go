package main

import (
	"bytes"
	"io"
	"os"
)

// spool holds a run's output until the run has succeeded, so that nothing
// reaches stdout when a later document turns out bad. It keeps up to limit
// bytes in memory and the rest in an unlinked temporary file, so memory
// stays bounded however large the stream.
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

// WriteTo copies everything spooled to w.
func (s *spool) WriteTo(w io.Writer) (int64, error) {
	if s.file == nil {
		return s.mem.WriteTo(w)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, s.file)
}

// Close releases the temporary file, if there is one.
func (s *spool) Close() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}
