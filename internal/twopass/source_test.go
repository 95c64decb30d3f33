package twopass

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, which `go test ./... -update` passes to every package
)

const target = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: target}\n"

// streamOf is about size bytes with the target in the middle: the edited
// document sits between two unchanged runs.
func streamOf(size int) string {
	var in strings.Builder
	filler := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filler}\ndata: {k: " + strings.Repeat("x", 1000) + "}\n"
	for in.Len() < size/2 {
		in.WriteString("---\n" + filler)
	}
	in.WriteString("---\n" + target)
	for in.Len() < size {
		in.WriteString("---\n" + filler)
	}
	return in.String()
}

const replacement = "---\n# edited\n" + target

// edited is the stream as Write should write it.
func edited(in string) string { return strings.Replace(in, "---\n"+target, replacement, 1) }

// firstRead is what a front end does with Docs: the target document is
// replaced, every other one kept.
func firstRead(t *testing.T, src *Source) (edits []stream.Edit, size int64) {
	t.Helper()
	err := src.Docs().Each(func(d *stream.Doc) error {
		size = d.Offset + d.Len()
		if bytes.Equal(d.Body, []byte(target)) {
			edits = append(edits, stream.Edit{Offset: d.Offset, Len: d.Len(), New: []byte(replacement)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) != 1 {
		t.Fatalf("%d edits, want 1", len(edits))
	}
	return edits, size
}

// However stdin and stdout are connected, a run writes the same bytes. A
// small stream is held in memory (a file mapped, a pipe read), a large one
// is read twice from a file (stdin itself, or a temporary file a pipe was
// copied into); a regular file is read from where the stream starts in it;
// unchanged runs of a file go to a file, a pipe or an appending file by
// sendfile or, where the kernel refuses, by copying.
func TestReadsAnyStdinAlike(t *testing.T) {
	for name, size := range map[string]int{"small": MemLimit / 4, "large": 2 * MemLimit} {
		t.Run(name, func(t *testing.T) { testReadsAnyStdinAlike(t, streamOf(size)) })
	}
}

func testReadsAnyStdinAlike(t *testing.T, in string) {
	want := []byte(edited(in))
	const skipped = "# read by someone before us\n"
	inFile := writeFile(t, skipped+in)

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
	fileStdout := func(flag int) func(t *testing.T) (io.Writer, func() []byte) {
		return func(t *testing.T) (io.Writer, func() []byte) {
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
	pipeStdout := func(t *testing.T) (io.Writer, func() []byte) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte)
		go func() { b, _ := io.ReadAll(r); r.Close(); got <- b }()
		return w, func() []byte { w.Close(); return <-got }
	}
	bufferStdout := func(t *testing.T) (io.Writer, func() []byte) {
		var b bytes.Buffer
		return &b, b.Bytes
	}
	for name, tc := range map[string]struct {
		stdin  func(*testing.T) *os.File
		stdout func(*testing.T) (io.Writer, func() []byte)
	}{
		"file to file":           {fileStdin, fileStdout(os.O_TRUNC)},
		"file to pipe":           {fileStdin, pipeStdout},
		"file to appending file": {fileStdin, fileStdout(os.O_APPEND)},
		"file to buffer":         {fileStdin, bufferStdout},
		"pipe to file":           {pipeStdin, fileStdout(os.O_TRUNC)},
		"pipe to pipe":           {pipeStdin, pipeStdout},
	} {
		t.Run(name, func(t *testing.T) {
			src, err := Open(tc.stdin(t))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got, err := io.ReadAll(src.Reader()); err != nil || string(got) != in {
				t.Fatalf("Reader: %d bytes (want %d), error %v", len(got), len(in), err)
			}
			edits, size := firstRead(t, src)
			stdout, output := tc.stdout(t)
			err = src.Write(stdout, size, edits)
			got := output()
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("error %v, %d bytes (want %d), same=%v", err, len(got), len(want), bytes.Equal(got, want))
			}
		})
	}
}

// A small file is mapped (where mapping is set up: Linux), a large one is
// read twice where it is, a pipe is read into memory.
func TestOnlyASmallFileIsMapped(t *testing.T) {
	for name, tc := range map[string]struct {
		size   int
		mapped bool
	}{"small": {MemLimit / 4, runtime.GOOS == "linux"}, "large": {2 * MemLimit, false}} {
		f, err := os.Open(writeFile(t, streamOf(tc.size)))
		if err != nil {
			t.Fatal(err)
		}
		src, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if src.mapped != tc.mapped || src.file != f {
			t.Errorf("%s: mapped %v (want %v), read from stdin itself %v", name, src.mapped, tc.mapped, src.file == f)
		}
		src.Close()
		f.Close()
	}
}

// A mapped file cut short by someone else between the two reads is an
// error, not a crash.
func TestTruncatedMappedFileIsAnError(t *testing.T) {
	name := writeFile(t, streamOf(MemLimit/2))
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := Open(f)
	if err != nil || !src.mapped {
		t.Skipf("stdin is not mapped here (err %v)", err)
	}
	defer src.Close()
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var changed []error
	func() {
		defer src.Guard(func(err error) { changed = append(changed, err) })()
		edits, size := firstRead(t, src)
		src.Write(&out, size, edits)
		t.Error("the truncated mapping was read without a fault")
	}()
	if len(changed) != 1 || !errors.Is(changed[0], ErrChanged) || out.Len() != 0 {
		t.Errorf("changed called with %v, %d bytes out", changed, out.Len())
	}
}

// A Guard that sees no fault does nothing, and one that sees another panic
// passes it on.
func TestGuardPassesOtherPanicsOn(t *testing.T) {
	f, err := os.Open(writeFile(t, streamOf(MemLimit/4)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := Open(f)
	if err != nil || !src.mapped {
		t.Skipf("stdin is not mapped here (err %v)", err)
	}
	defer src.Close()
	called := false
	func() { defer src.Guard(func(error) { called = true })() }()
	defer func() {
		if r := recover(); r != "other" || called {
			t.Errorf("recovered %v, changed called %v", r, called)
		}
	}()
	func() {
		defer src.Guard(func(error) { called = true })()
		panic("other")
	}()
}

// A file written to between the two reads fails Write with nothing on
// stdout: what was checked is not what would be written.
func TestFileChangedBetweenReadsIsAnError(t *testing.T) {
	for name, size := range map[string]int{"mapped": MemLimit / 4, "read twice": 2 * MemLimit} {
		t.Run(name, func(t *testing.T) {
			file := writeFile(t, streamOf(size))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			src, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			edits, size := firstRead(t, src)
			w, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			w.WriteString("---\nkind: Deployment\n")
			w.Close()
			var out bytes.Buffer
			if err := src.Write(&out, size, edits); !errors.Is(err, ErrChanged) || out.Len() != 0 {
				t.Errorf("error %v, %d bytes out", err, out.Len())
			}
		})
	}
}

// A failed write says it was stdout's.
func TestWriteErrorNamesStdout(t *testing.T) {
	src, err := Open(strings.NewReader(streamOf(1 << 10)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	edits, size := firstRead(t, src)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	w.Close()
	if err := src.Write(w, size, edits); err == nil || !strings.HasPrefix(err.Error(), "writing stdout: ") {
		t.Errorf("error %v", err)
	}
}

// Lines hands out the same lines however the stream is held.
func TestLinesAlike(t *testing.T) {
	in := streamOf(2 * MemLimit)
	var want []string
	for _, l := range strings.SplitAfter(in, "\n") {
		if l != "" {
			want = append(want, l)
		}
	}
	for _, how := range []string{"memory", "file"} {
		var src *Source
		var err error
		if how == "memory" {
			src, err = Open(strings.NewReader(in))
		} else {
			f, ferr := os.Open(writeFile(t, in))
			if ferr != nil {
				t.Fatal(ferr)
			}
			defer f.Close()
			src, err = Open(f)
		}
		if err != nil {
			t.Fatal(err)
		}
		lines, n := src.Lines(), 0
		for {
			l, err := lines.ReadSlice('\n')
			if len(l) > 0 {
				if n >= len(want) || string(l) != want[n] {
					t.Fatalf("%s: line %d %.40q", how, n, l)
				}
				n++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
		}
		if n != len(want) {
			t.Errorf("%s: %d lines, want %d", how, n, len(want))
		}
		src.Close()
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
