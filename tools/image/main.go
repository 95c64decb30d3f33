// Command image builds the container image of the KRM function without a
// Docker daemon or a base image from a registry: one layer holding the
// function's static executable (istio-vault-ca-fn, from make build), an
// entrypoint, a non-root user, written as a tarball that `docker load`,
// `podman load` or a registry push accept.
//
// usage: image BINARY OUT.tar [REF]
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const binPath = "/usr/local/bin/istio-vault-ca-fn"

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: image BINARY OUT.tar [REF]")
		os.Exit(2)
	}
	ref := "istio-vault-ca:dev"
	if len(os.Args) > 3 {
		ref = os.Args[3]
	}
	if err := build(os.Args[1], os.Args[2], ref); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(binary, out, ref string) error {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar(bin))), nil
	})
	if err != nil {
		return err
	}
	// The config first, on an empty image; appending the layer then records
	// its diff ID in that config.
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: time.Unix(0, 0)}, // reproducible
		Config: v1.Config{
			Entrypoint: []string{binPath},
			User:       "65532:65532",
			Labels:     map[string]string{"org.opencontainers.image.title": "istio-vault-ca"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}

// layerTar is a filesystem with the binary and the directories above it.
func layerTar(bin []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777 // the temporary file a large piped stream is copied into
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: mode, ModTime: time.Unix(0, 0)})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: binPath[1:], Mode: 0o755, Size: int64(len(bin)), ModTime: time.Unix(0, 0)})
	tw.Write(bin)
	tw.Close()
	return b.Bytes()
}
