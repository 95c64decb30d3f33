package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spec.vault.caCert is read whole into the Issuer's caBundle: a file past
// 1 MiB is refused rather than read into memory, and a CA-sized one is read.
func TestReadCACertBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, maxCACert+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCACert(big); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("a file of 1 MiB + 1: got %v, want refused as larger than 1 MiB", err)
	}
	ok := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ok, make([]byte, maxCACert), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readCACert(ok); err != nil || len(b) != maxCACert {
		t.Errorf("a file of 1 MiB: %d bytes, %v", len(b), err)
	}
	if _, err := readCACert(dir); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("a directory: got %v, want not a regular file", err)
	}
}
