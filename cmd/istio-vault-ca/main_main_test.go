package main

import (
	"os"
	"testing"
)

// Failed runs keep their message in the user's cache; tests keep theirs
// in a directory of their own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "istio-vault-ca-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
