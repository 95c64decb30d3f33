//go:build !linux

package twopass

import (
	"io"
	"os"
)

// sendSection leaves the copy to io.Copy where there is no sendfile here.
func sendSection(*os.File, *io.SectionReader) (int64, bool, error) { return 0, false, nil }
