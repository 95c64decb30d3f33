package twopass

import (
	"io"
	"os"
	"syscall"
)

// fSetPipeSize is F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7).
const fSetPipeSize = 1031

// widenPipe lets the writer of a pipe on stdin (helm) put a whole install
// stream into it at once: with the default 64 KiB, reader and writer wake
// each other some sixteen times a megabyte. It asks for 1 MiB, what an
// unprivileged process may have; a refusal changes nothing.
func widenPipe(stdin io.Reader) {
	f, ok := stdin.(*os.File)
	if !ok {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, 1<<20)
		})
	}
}
