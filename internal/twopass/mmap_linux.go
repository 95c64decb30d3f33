package twopass

import (
	"os"
	"syscall"
)

// mapFile maps size bytes of f from off, read-only. The stream is then
// scanned where the kernel holds it: no copy into a buffer of ours, and no
// fresh pages to zero. MAP_POPULATE sets up every page in the one call
// instead of one fault at a time.
func mapFile(f *os.File, off, size int64) (data []byte, unmap func() error, ok bool) {
	if size <= 0 {
		return nil, nil, false
	}
	page := int64(os.Getpagesize())
	base := off &^ (page - 1)
	m, err := syscall.Mmap(int(f.Fd()), base, int(size+off-base), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, nil, false
	}
	return m[off-base:], func() error { return syscall.Munmap(m) }, true
}
