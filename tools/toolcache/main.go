// Command toolcache makes sure a tool binary that make caches outside the
// clone is the build the Makefile pins, checked on every use rather than
// trusted because a file of the right name exists. A cached binary is used
// only when its bytes match the sha256 recorded beside it when it was built
// (catching a truncated, corrupted or swapped file) and the build
// information the Go toolchain embedded in it names the pinned package,
// module and version (catching a file from another build that was given the
// name). Anything else is rebuilt, loudly; a fresh build that fails the same
// check is an error.
//
// usage:
//
//	toolcache install DEST PKG@VERSION   go install PKG@VERSION, as DEST
//	toolcache build DEST DIR [PKG]       go build the main package in DIR (or PKG,
//	                                     a tool of DIR's module), as DEST
//	toolcache version BINARY WANT [ARG...]
//	                                     fail unless BINARY ARG... prints WANT
//
// The go command is $GO, or go.
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

func main() {
	err := run(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "toolcache:", err)
		os.Exit(1)
	}
}

const usage = "usage: toolcache install DEST PKG@VERSION | build DEST DIR [PKG] | version BINARY WANT [ARG...]"

func run(args []string, log io.Writer) error {
	if len(args) < 3 {
		return errors.New(usage)
	}
	switch args[0] {
	case "install":
		if len(args) != 3 {
			return errors.New(usage)
		}
		pkg, version, ok := strings.Cut(args[2], "@")
		if !ok || pkg == "" || version == "" {
			return fmt.Errorf("%q is not PKG@VERSION", args[2])
		}
		return ensure(args[1], installed{pkg, version}, log)
	case "build":
		switch len(args) {
		case 3:
			return ensure(args[1], built{args[2], "."}, log)
		case 4:
			return ensure(args[1], built{args[2], args[3]}, log)
		}
		return errors.New(usage)
	case "version":
		return checkVersion(args[1], args[2], args[3:])
	}
	return errors.New(usage)
}

// A recipe builds a tool and says whether a binary's build information is
// that of the recipe's build.
type recipe interface {
	build(tmp string) error
	check(bi *buildinfo.BuildInfo) error
}

// ensure leaves at dest a binary that passes both checks, building it when
// dest is missing or fails them.
func ensure(dest string, r recipe, log io.Writer) error {
	if err := outsideRecordDir(dest); err != nil {
		return err
	}
	err := verify(dest, r)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(log, "toolcache: %s: %v: rebuilding it\n", dest, err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	// Built beside dest under a name of its own, then renamed: a concurrent
	// make or an interrupted build never leaves a partial file at dest.
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	if err := r.build(bin); err != nil {
		return fmt.Errorf("building %s: %w", dest, err)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("the fresh build of %s: %w", dest, err)
	}
	if err := r.check(bi); err != nil {
		return fmt.Errorf("the fresh build of %s: %w", dest, err)
	}
	sum, err := fileSum(bin)
	if err != nil {
		return err
	}
	// The sum goes in place first: a reader that sees the new binary then
	// finds its sum, and one that sees the old sum with no binary rebuilds.
	if err := os.WriteFile(filepath.Join(tmp, "sum"), []byte(sum+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "sum"), sumFile(dest)); err != nil {
		return err
	}
	return os.Rename(bin, dest)
}

// verify reports why the binary at path is not the recipe's build: a missing
// file (os.ErrNotExist), a sha256 other than the recorded one, or build
// information the recipe rejects.
func verify(path string, r recipe) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	want, err := os.ReadFile(sumFile(path))
	if err != nil {
		return fmt.Errorf("no sha256 recorded beside it (%s)", sumFile(path))
	}
	got, err := fileSum(path)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(want)) != got {
		return fmt.Errorf("sha256 %s, not the %s recorded when it was built", got, strings.TrimSpace(string(want)))
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return err
	}
	return r.check(bi)
}

func sumFile(path string) string { return path + ".sha256" }

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// outsideRecordDir refuses a tool in the directory where istio-vault-ca
// keeps the record `explain` reads (the user's cache dir, istio-vault-ca):
// the tool's own files and the tools' binaries stay apart, so neither can be
// taken for, or clobber, the other.
func outsideRecordDir(dest string) error {
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil // no record directory, nothing to collide with
	}
	record, err := filepath.Abs(filepath.Join(cache, "istio-vault-ca"))
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Dir(dest))
	if err != nil {
		return err
	}
	if dir == record {
		return fmt.Errorf("%s is in %s, where istio-vault-ca keeps its explain record: cache tools in a directory of their own (the Makefile's TOOLS)", dest, record)
	}
	return nil
}

// installed is `go install PKG@VERSION`: the binary must be built from PKG,
// inside the module at VERSION as the module proxy served it (a checksum
// recorded, which a build from a local checkout lacks).
type installed struct{ pkg, version string }

func (r installed) build(bin string) error {
	gobin := filepath.Join(filepath.Dir(bin), "gobin")
	cmd := exec.Command(goCmd(), "install", r.pkg+"@"+r.version)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	return os.Rename(filepath.Join(gobin, execName(r.pkg)), bin)
}

// execName is the file name go install gives the binary of pkg: its last
// path element, or the one before a major-version suffix (kustomize's
// sigs.k8s.io/kustomize/kustomize/v5 installs as kustomize, not v5), as
// cmd/go's DefaultExecName does in module mode.
func execName(pkg string) string {
	elems := strings.Split(pkg, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && majorSuffix(last) {
		return elems[len(elems)-2]
	}
	return last
}

// majorSuffix: v2, v3, ... (v0 and v1 are not major-version suffixes).
func majorSuffix(elem string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(elem, "v"))
	return strings.HasPrefix(elem, "v") && err == nil && n >= 2 && strconv.Itoa(n) == elem[1:]
}

func (r installed) check(bi *buildinfo.BuildInfo) error {
	if bi.Path != r.pkg {
		return fmt.Errorf("built from package %s, not %s", bi.Path, r.pkg)
	}
	if r.pkg != bi.Main.Path && !strings.HasPrefix(r.pkg, bi.Main.Path+"/") {
		return fmt.Errorf("main module %s does not hold package %s", bi.Main.Path, r.pkg)
	}
	if bi.Main.Version != r.version {
		return fmt.Errorf("module %s at %s, not %s", bi.Main.Path, bi.Main.Version, r.version)
	}
	if bi.Main.Sum == "" {
		return fmt.Errorf("module %s %s has no checksum in the binary: not built with go install from the published module", bi.Main.Path, bi.Main.Version)
	}
	return nil
}

// built is `go build` of a main package in the build list of a module in
// this repository that pins a tool's version: the module's own package
// (e2e/vaultbin), or a `tool` of its go.mod (e2e/injectorbin), for a main
// module whose `go install PKG@VERSION` the module proxy refuses. The binary
// must be that package, and every module linked into it must be at the
// version, and the replacement, that the module's build list has now.
type built struct{ dir, pkg string }

func (r built) build(bin string) error {
	cmd := exec.Command(goCmd(), "build", "-trimpath", "-o", bin, r.pkg)
	cmd.Dir = r.dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func (r built) check(bi *buildinfo.BuildInfo) error {
	pkg, err := goList(r.dir, "-f", "{{.ImportPath}}", r.pkg)
	if err != nil {
		return err
	}
	if bi.Path != pkg {
		return fmt.Errorf("built from package %s, not %s", bi.Path, pkg)
	}
	list, err := goList(r.dir, "-m", "-f", "{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}}{{with .Version}} {{.}}{{end}}{{end}}", "all")
	if err != nil {
		return err
	}
	want := map[string]string{}
	for _, line := range strings.Split(list, "\n") {
		path, _, _ := strings.Cut(line, " ")
		want[path] = line
	}
	linked := bi.Deps
	// A tool of the module (r.pkg is another module's package): the Go
	// toolchain records that module as the binary's main module, not as a
	// dependency, and it is the pin that matters most.
	self, err := goList(r.dir, "-m", "-f", "{{.Path}}")
	if err != nil {
		return err
	}
	if bi.Main.Path != self {
		linked = append([]*debug.Module{&bi.Main}, bi.Deps...)
	}
	if len(linked) == 0 && len(want) > 1 {
		return errors.New("no modules recorded in the binary")
	}
	for _, d := range linked {
		got := d.Path + " " + d.Version
		if d.Replace != nil {
			got += " => " + d.Replace.Path
			// A replacement by a local directory has no version: the
			// binary records "(devel)", go list nothing.
			if v := d.Replace.Version; v != "" && v != "(devel)" {
				got += " " + v
			}
		}
		if w, ok := want[d.Path]; !ok {
			return fmt.Errorf("links %s, which %s does not require", got, r.dir)
		} else if w != got {
			return fmt.Errorf("links %s, where %s now requires %s", got, r.dir, w)
		}
	}
	return nil
}

func goList(dir string, args ...string) (string, error) {
	cmd := exec.Command(goCmd(), append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// checkVersion is for a tool taken from the machine or from Debian's
// packages rather than built here: it runs and must report the version the
// Makefile pins, on its first line of output.
func checkVersion(bin, want string, args []string) error {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	got, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if strings.TrimSpace(got) != want {
		return fmt.Errorf("%s reports version %q, not the pinned %q", bin, strings.TrimSpace(got), want)
	}
	return nil
}
