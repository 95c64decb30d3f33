package twopass

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// sendSection copies a file section to dst with sendfile(2), which takes a
// pipe, a regular file or /dev/null as its destination. handled is false,
// and nothing was written, when the kernel refuses this pair (an O_APPEND
// destination, say): the caller copies instead.
func sendSection(dst *os.File, sr *io.SectionReader) (written int64, handled bool, err error) {
	src, off, n, ok := fileSection(sr)
	if !ok || n <= 0 {
		return 0, false, nil
	}
	rc, err := dst.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	in := int(src.Fd())
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for written < n {
			pos := off + written
			m, e := syscall.Sendfile(int(fd), in, &pos, int(min(n-written, 1<<30)))
			if m > 0 {
				written += int64(m)
			}
			switch {
			case errors.Is(e, syscall.EAGAIN):
				return false // wait until dst can take more
			case errors.Is(e, syscall.EINTR):
			case e != nil:
				serr = e
				return true
			case m == 0:
				serr = io.ErrUnexpectedEOF // the file shrank since the first read
				return true
			}
		}
		return true
	})
	if written == 0 && serr != nil && !errors.Is(serr, io.ErrUnexpectedEOF) {
		return 0, false, nil
	}
	sr.Seek(written, io.SeekStart)
	if serr == nil {
		serr = werr
	}
	return written, true, serr
}
