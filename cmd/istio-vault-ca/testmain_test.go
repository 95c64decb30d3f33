package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Failed runs keep their message in the user's cache; tests keep theirs
// in a directory of their own. The go command, which a test runs to build
// the KRM function, keeps the user's build cache.
func TestMain(m *testing.M) {
	if os.Getenv("GOCACHE") == "" {
		if user, err := os.UserCacheDir(); err == nil {
			os.Setenv("GOCACHE", filepath.Join(user, "go-build"))
		}
	}
	dir, err := os.MkdirTemp("", "istio-vault-ca-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
