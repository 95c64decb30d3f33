package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image holds the binary, executable, at the entrypoint, as a non-root
// user: what kpt and kustomize run as a container function.
func TestImage(t *testing.T) {
	bin := []byte("#!/bin/sh\necho function\n")
	dir := t.TempDir()
	binFile := filepath.Join(dir, "istio-vault-ca-fn")
	if err := os.WriteFile(binFile, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	if err := build(binFile, out, "istio-vault-ca:test"); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != binPath || cf.Config.User == "" || cf.Config.User[0] == '0' || cf.OS != "linux" {
		t.Errorf("config: entrypoint %v, user %q, os %q", cf.Config.Entrypoint, cf.Config.User, cf.OS)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 || len(cf.RootFS.DiffIDs) != 1 {
		t.Fatalf("want one layer recorded in the config: %d layers, %d diff IDs, %v", len(layers), len(cf.RootFS.DiffIDs), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("no %s in the layer", binPath)
		}
		if err != nil {
			t.Fatal(err)
		}
		if "/"+h.Name == binPath {
			got, _ := io.ReadAll(tr)
			if !bytes.Equal(got, bin) || h.Mode&0o111 == 0 {
				t.Errorf("binary in the image: mode %o, same bytes %v", h.Mode, bytes.Equal(got, bin))
			}
			return
		}
	}
}
