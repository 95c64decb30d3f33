package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// fake builds by copying this test's own executable (a Go binary, so it has
// build information) and accepts or rejects it as told, counting builds.
type fake struct {
	builds int
	reject error
}

func (f *fake) build(bin string) error {
	f.builds++
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return err
	}
	return os.WriteFile(bin, b, 0o755)
}

func (f *fake) check(*buildinfo.BuildInfo) error { return f.reject }

func cacheDir(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	return filepath.Join(home, "cache", "istio-vault-ca", "tools")
}

// A tool is built once, with its sha256 beside it, and reused while both
// checks pass.
func TestEnsureBuildsOnceThenReuses(t *testing.T) {
	dest := filepath.Join(cacheDir(t), "tool-v1")
	f := &fake{}
	var log bytes.Buffer
	for range 3 {
		if err := ensure(dest, f, &log); err != nil {
			t.Fatal(err)
		}
	}
	if f.builds != 1 {
		t.Errorf("built %d times, want 1", f.builds)
	}
	if log.Len() != 0 {
		t.Errorf("a first build or a reuse is no mismatch, logged: %s", log.String())
	}
	sum, err := os.ReadFile(dest + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := fileSum(dest); strings.TrimSpace(string(sum)) != got {
		t.Errorf("recorded sum %s, file's %s", sum, got)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".build-*"))
	if len(left) != 0 {
		t.Errorf("build directories left behind: %v", left)
	}
}

// A cached file whose bytes or recorded sum do not match, or whose build
// information the recipe rejects, is rebuilt, and the mismatch is said.
func TestEnsureRebuildsAMismatch(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dest string, f *fake)
		log   string
	}{
		{"changed bytes", func(t *testing.T, dest string, f *fake) {
			b, err := os.ReadFile(dest)
			must(t, err)
			b[len(b)/2] ^= 0xff
			must(t, os.WriteFile(dest, b, 0o755))
		}, "not the"},
		{"truncated", func(t *testing.T, dest string, f *fake) {
			must(t, os.Truncate(dest, 100))
		}, "not the"},
		{"no recorded sum", func(t *testing.T, dest string, f *fake) {
			must(t, os.Remove(dest+".sha256"))
		}, "no sha256 recorded"},
		{"another build with its own sum", func(t *testing.T, dest string, f *fake) {
			f.reject = errors.New("built from package example.com/other")
		}, "built from package example.com/other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dest := filepath.Join(cacheDir(t), "tool-v1")
			f := &fake{}
			must(t, ensure(dest, f, &bytes.Buffer{}))
			c.spoil(t, dest, f)
			var log bytes.Buffer
			err := ensure(dest, &rejectOnce{f}, &log)
			if err != nil {
				t.Fatal(err)
			}
			if f.builds != 2 {
				t.Errorf("built %d times, want a rebuild", f.builds)
			}
			if !strings.Contains(log.String(), c.log) || !strings.Contains(log.String(), "rebuilding") {
				t.Errorf("log %q does not say %q and rebuilding", log.String(), c.log)
			}
			if err := verify(dest, &fake{}); err != nil {
				t.Errorf("after the rebuild: %v", err)
			}
		})
	}
}

// rejectOnce rejects with the fake's error on the first check only: the
// cached file is refused, the fresh build accepted.
type rejectOnce struct{ *fake }

func (r *rejectOnce) check(bi *buildinfo.BuildInfo) error {
	err := r.fake.check(bi)
	r.fake.reject = nil
	return err
}

// A fresh build that fails the check is an error, and nothing is left at
// the destination.
func TestEnsureFailsOnABadFreshBuild(t *testing.T) {
	dest := filepath.Join(cacheDir(t), "tool-v1")
	err := ensure(dest, &fake{reject: errors.New("module example.com/x at v2, not v1")}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "fresh build") || !strings.Contains(err.Error(), "not v1") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected build was left at %s", dest)
	}
}

// Tools are not cached in the directory of istio-vault-ca's explain record.
func TestEnsureRefusesTheRecordDirectory(t *testing.T) {
	dir := filepath.Dir(cacheDir(t))
	f := &fake{}
	err := ensure(filepath.Join(dir, "vault-123"), f, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "explain record") {
		t.Fatalf("err = %v", err)
	}
	if f.builds != 0 {
		t.Error("built anyway")
	}
	if err := ensure(filepath.Join(dir, "tools", "vault-123"), f, &bytes.Buffer{}); err != nil {
		t.Errorf("a subdirectory is apart from the record: %v", err)
	}
}

func TestInstalledCheck(t *testing.T) {
	r := installed{"helm.sh/helm/v3/cmd/helm", "v3.22.0"}
	good := func() *buildinfo.BuildInfo {
		return &debug.BuildInfo{Path: r.pkg, Main: debug.Module{Path: "helm.sh/helm/v3", Version: "v3.22.0", Sum: "h1:abc="}}
	}
	if err := r.check(good()); err != nil {
		t.Fatalf("the pinned build rejected: %v", err)
	}
	cases := []struct {
		name  string
		spoil func(*buildinfo.BuildInfo)
		err   string
	}{
		{"other package", func(b *buildinfo.BuildInfo) { b.Path = "sigs.k8s.io/kustomize/kustomize/v5" }, "built from package sigs.k8s.io/kustomize/kustomize/v5, not helm.sh/helm/v3/cmd/helm"},
		{"other major version", func(b *buildinfo.BuildInfo) { b.Main.Path = "helm.sh/helm/v4" }, "main module helm.sh/helm/v4 does not hold"},
		{"module path a mere prefix", func(b *buildinfo.BuildInfo) { b.Main.Path = "helm.sh/helm/v" }, "does not hold"},
		{"other version", func(b *buildinfo.BuildInfo) { b.Main.Version = "v3.21.0" }, "at v3.21.0, not v3.22.0"},
		{"local checkout", func(b *buildinfo.BuildInfo) { b.Main.Version = "(devel)"; b.Main.Sum = "" }, "not v3.22.0"},
		{"local checkout at the tag", func(b *buildinfo.BuildInfo) { b.Main.Sum = "" }, "no checksum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := good()
			c.spoil(b)
			if err := r.check(b); err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("err = %v, want %q", err, c.err)
			}
		})
	}
}

// writeModule lays out a main module that pins a library by a local
// replacement, as e2e/vaultbin pins Vault by a version.
func writeModule(t *testing.T, root, lib string) string {
	t.Helper()
	for _, l := range []string{"lib1", "lib2"} {
		d := filepath.Join(root, l)
		must(t, os.MkdirAll(d, 0o755))
		must(t, os.WriteFile(filepath.Join(d, "go.mod"), []byte("module example.com/lib\n\ngo 1.22\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(d, "lib.go"), []byte("package lib\n\nconst Name = \""+l+"\"\n"), 0o644))
	}
	dir := filepath.Join(root, "tool")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tool\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../"+lib+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Name) }\n"), 0o644))
	return dir
}

// The build recipe, with the real go command: a cached binary linking the
// library its module no longer pins, or built from another module, is
// rebuilt.
func TestBuiltFollowsTheModule(t *testing.T) {
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
	root := t.TempDir()
	dir := writeModule(t, root, "lib1")
	dest := filepath.Join(cacheDir(t), "tool")
	var log bytes.Buffer
	must(t, ensure(dest, built{dir, "."}, &log))
	if out := runBin(t, dest); out != "lib1" {
		t.Fatalf("built tool prints %q", out)
	}
	if err := verify(dest, built{dir, "."}); err != nil {
		t.Fatalf("fresh build rejected: %v", err)
	}

	// The module now pins lib2: the cached build of lib1 is stale.
	writeModule(t, root, "lib2")
	err := verify(dest, built{dir, "."})
	if err == nil || !strings.Contains(err.Error(), "links example.com/lib v0.0.0 => ../lib1, where") || !strings.Contains(err.Error(), "requires example.com/lib v0.0.0 => ../lib2") {
		t.Fatalf("stale pin: err = %v", err)
	}
	must(t, ensure(dest, built{dir, "."}, &log))
	if out := runBin(t, dest); out != "lib2" || !strings.Contains(log.String(), "rebuilding") {
		t.Fatalf("after the pin moved: prints %q, log %q", out, log.String())
	}

	// Another program put at the name, with a sum that matches it.
	other := filepath.Join(root, "other")
	must(t, os.MkdirAll(other, 0o755))
	must(t, os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n\ngo 1.22\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(other, "main.go"), []byte("package main\n\nfunc main() { println(\"other\") }\n"), 0o644))
	must(t, built{other, "."}.build(dest))
	sum, err := fileSum(dest)
	must(t, err)
	must(t, os.WriteFile(dest+".sha256", []byte(sum+"\n"), 0o644))
	if err := verify(dest, built{dir, "."}); err == nil || !strings.Contains(err.Error(), "built from package example.com/other, not example.com/tool") {
		t.Fatalf("another program: err = %v", err)
	}
	log.Reset()
	must(t, ensure(dest, built{dir, "."}, &log))
	if out := runBin(t, dest); out != "lib2" || !strings.Contains(log.String(), "example.com/other") {
		t.Fatalf("after another program: prints %q, log %q", out, log.String())
	}
}

func runBin(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).CombinedOutput()
	must(t, err)
	return strings.TrimSpace(string(out))
}

func TestCheckVersion(t *testing.T) {
	sh := []string{"-c", "echo 'pre-commit 3.0.4'; echo second line"}
	if err := checkVersion("/bin/sh", "pre-commit 3.0.4", sh); err != nil {
		t.Errorf("the pinned version rejected: %v", err)
	}
	err := checkVersion("/bin/sh", "pre-commit 3.0.5", sh)
	if err == nil || !strings.Contains(err.Error(), `reports version "pre-commit 3.0.4", not the pinned "pre-commit 3.0.5"`) {
		t.Errorf("another version: err = %v", err)
	}
	err = checkVersion("/bin/sh", "1.0.0", []string{"-c", "echo no such command >&2; exit 127"})
	if err == nil || !strings.Contains(err.Error(), "no such command") {
		t.Errorf("a failing tool: err = %v", err)
	}
}

func TestRunArgs(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"install", "dest"},
		{"install", "dest", "helm.sh/helm/v3/cmd/helm"},
		{"install", "dest", "@v1"},
		{"build", "dest", "dir", "extra"},
		{"fetch", "dest", "x"},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The build recipe for a tool of the module (`build DEST DIR PKG`, as
// e2e/injectorbin builds vault-k8s): the main package of a dependency, at
// the version the module pins; a pin that moves makes the cached binary
// stale, and the three-argument form (the module's own package) is not
// that binary.
func TestBuiltToolOfTheModule(t *testing.T) {
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOWORK", "off")
	root := t.TempDir()
	for _, l := range []string{"cmd1", "cmd2"} {
		d := filepath.Join(root, l)
		must(t, os.MkdirAll(filepath.Join(d, "x"), 0o755))
		must(t, os.WriteFile(filepath.Join(d, "go.mod"), []byte("module example.com/cmd\n\ngo 1.24\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(d, "x", "main.go"), []byte("package main\n\nfunc main() { println(\""+l+"\") }\n"), 0o644))
	}
	dir := filepath.Join(root, "pin")
	must(t, os.MkdirAll(dir, 0o755))
	pin := func(to string) {
		must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/pin\n\ngo 1.24\n\ntool example.com/cmd/x\n\nrequire example.com/cmd v0.0.0\n\nreplace example.com/cmd => ../"+to+"\n"), 0o644))
	}
	pin("cmd1")
	dest := filepath.Join(cacheDir(t), "x")
	var log bytes.Buffer
	must(t, run([]string{"build", dest, dir, "example.com/cmd/x"}, &log))
	if out := runBin(t, dest); out != "cmd1" {
		t.Fatalf("built tool prints %q", out)
	}
	if err := verify(dest, built{dir, "example.com/cmd/x"}); err != nil {
		t.Fatalf("fresh build rejected: %v", err)
	}
	if err := verify(dest, built{dir, "."}); err == nil {
		t.Fatal("the tool's binary passes as the module's own package")
	}
	pin("cmd2")
	if err := verify(dest, built{dir, "example.com/cmd/x"}); err == nil || !strings.Contains(err.Error(), "=> ../cmd1, where") {
		t.Fatalf("stale pin: err = %v", err)
	}
	must(t, run([]string{"build", dest, dir, "example.com/cmd/x"}, &log))
	if out := runBin(t, dest); out != "cmd2" || !strings.Contains(log.String(), "rebuilding") {
		t.Fatalf("after the pin moved: prints %q, log %q", out, log.String())
	}
	if err := run([]string{"build", dest, dir, "a", "b"}, &log); err == nil {
		t.Error("five arguments accepted")
	}
}

// TestExecName: the file go install writes is what install renames; with
// the last element taken as it is, kustomize's v5 package was looked for
// as gobin/v5 and a fresh cache could not install it.
func TestExecName(t *testing.T) {
	for pkg, want := range map[string]string{
		"sigs.k8s.io/kustomize/kustomize/v5": "kustomize",
		"helm.sh/helm/v3/cmd/helm":           "helm",
		"helm.sh/helm/v4/cmd/helm":           "helm",
		"example.com/tool/v1":                "v1",
		"example.com/tool/v02":               "v02",
		"example.com/v2":                     "example.com",
		"tool":                               "tool",
	} {
		if got := execName(pkg); got != want {
			t.Errorf("execName(%q) = %q, want %q", pkg, got, want)
		}
	}
}
