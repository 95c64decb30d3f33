package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/transform"
)

// streamOf is about size bytes with istiod in the middle: the changed
// document sits between two unchanged runs.
func streamOf(size int) string {
	var in strings.Builder
	filler := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filler}\ndata: {k: " + strings.Repeat("x", 1000) + "}\n"
	for in.Len() < size/2 {
		in.WriteString("---\n" + filler)
	}
	in.WriteString("---\n" + istiod)
	for in.Len() < size {
		in.WriteString("---\n" + filler)
	}
	return in.String()
}

// bigStream is more than is held in memory.
func bigStream() string { return streamOf(2 * memLimit) }

// However stdin and stdout are connected, a run writes the same bytes. A
// small stream is held in memory (a file mapped, a pipe read), a large one
// is read twice from a file (stdin itself, or a temporary file a pipe was
// copied into); a regular file is read from where the stream starts in it;
// unchanged runs of a file go to a file, a pipe or an appending file by
// sendfile or, where the kernel refuses, by copying.
func TestRenderReadsAnyStdinAlike(t *testing.T) {
	for name, size := range map[string]int{"small": memLimit / 4, "large": 2 * memLimit} {
		t.Run(name, func(t *testing.T) { testRenderReadsAnyStdinAlike(t, streamOf(size)) })
	}
}

func testRenderReadsAnyStdinAlike(t *testing.T, in string) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", testConfig)
	code, want, stderr := runCmd([]string{"--config", cfg}, []byte(in))
	if code != cli.ExitOK || bytes.Equal(want, []byte(in)) || !bytes.Contains(want, []byte("vault.hashicorp.com/agent-inject")) {
		t.Fatalf("reference run: exit %d, changed=%v, stderr %s", code, !bytes.Equal(want, []byte(in)), stderr)
	}
	const skipped = "# read by someone before us\n"
	inFile := writeFile(t, dir, "in.yaml", skipped+in)

	fileStdin := func(t *testing.T) *os.File {
		f, err := os.Open(inFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.Seek(int64(len(skipped)), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		return f
	}
	pipeStdin := func(t *testing.T) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		go func() { io.WriteString(w, in); w.Close() }()
		return r
	}
	fileStdout := func(flag int) func(t *testing.T) (*os.File, func() []byte) {
		return func(t *testing.T) (*os.File, func() []byte) {
			name := filepath.Join(t.TempDir(), "out.yaml")
			f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|flag, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			return f, func() []byte {
				f.Close()
				b, _ := os.ReadFile(name)
				return b
			}
		}
	}
	pipeStdout := func(t *testing.T) (*os.File, func() []byte) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(r); r.Close(); got <- b }()
		return w, func() []byte { w.Close(); return <-got }
	}
	for name, tc := range map[string]struct {
		stdin  func(*testing.T) *os.File
		stdout func(*testing.T) (*os.File, func() []byte)
	}{
		"file to file":           {fileStdin, fileStdout(os.O_TRUNC)},
		"file to pipe":           {fileStdin, pipeStdout},
		"file to appending file": {fileStdin, fileStdout(os.O_APPEND)},
		"pipe to file":           {pipeStdin, fileStdout(os.O_TRUNC)},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, output := tc.stdout(t)
			var errb bytes.Buffer
			code := run([]string{"--config", cfg}, tc.stdin(t), stdout, &errb)
			got := output()
			if code != cli.ExitOK || !bytes.Equal(got, want) {
				t.Errorf("exit %d, %d bytes (want %d), same=%v; stderr %s", code, len(got), len(want), bytes.Equal(got, want), errb.String())
			}
		})
	}
}

// A large regular file is read twice, not copied, and a late error still
// writes nothing.
func TestLateErrorInAFileWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", testConfig)
	bad := bigStream() + "---\n" + strings.Replace(istiod, "- name: discovery", "- name: pilot", 1)
	stdin, err := os.Open(writeFile(t, dir, "in.yaml", bad))
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	outName := filepath.Join(dir, "out.yaml")
	stdout, err := os.Create(outName)
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	code := run([]string{"--config", cfg}, stdin, stdout, &errb)
	stdout.Close()
	got, _ := os.ReadFile(outName)
	if code != cli.ExitBadInput || len(got) != 0 || !strings.Contains(errb.String(), `has no container named "discovery"`) {
		t.Errorf("exit %d, %d bytes on stdout, stderr %q", code, len(got), errb.String())
	}
}

// A mapped file cut short by someone else between the two reads is an
// error, not a crash.
func TestTruncatedMappedFileIsAnError(t *testing.T) {
	dir, tr := t.TempDir(), testTransformer(t)
	name := writeFile(t, dir, "in.yaml", streamOf(memLimit/2))
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := readSource(f)
	if err != nil || !src.mapped {
		t.Skipf("stdin is not mapped here (err %v)", err)
	}
	defer src.Close()
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := func() (code int) { // as runRender guards it
		defer src.guard(&errb, &code)()
		return render(tr, src, false, &out, &errb)
	}()
	if code != cli.ExitBadInput || out.Len() != 0 || !strings.Contains(errb.String(), "changed while it was being read") {
		t.Errorf("exit %d, %d bytes out, stderr %q", code, out.Len(), errb.String())
	}
}

// A file written to between the two reads fails the run with nothing on
// stdout: what was checked is not what would be written.
func TestFileChangedBetweenReadsIsAnError(t *testing.T) {
	dir, tr := t.TempDir(), testTransformer(t)
	for name, size := range map[string]int{"mapped": memLimit / 4, "read twice": 2 * memLimit} {
		t.Run(name, func(t *testing.T) {
			file := writeFile(t, dir, "in.yaml", streamOf(size))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			src, err := readSource(f)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			w, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.WriteString("---\nkind: Deployment\n")
			w.Close()
			var out, errb bytes.Buffer
			if code := render(tr, src, false, &out, &errb); code != cli.ExitBadInput || out.Len() != 0 || !strings.Contains(errb.String(), "changed while it was being read") {
				t.Errorf("exit %d, %d bytes out, stderr %q", code, out.Len(), errb.String())
			}
		})
	}
}

func testTransformer(t *testing.T) *transform.Transformer {
	t.Helper()
	cfg, err := config.Load([]byte(testConfig), "test")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
