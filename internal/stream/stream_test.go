package stream

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
)

func TestSplit(t *testing.T) {
	for name, tc := range map[string]struct {
		in     string
		bodies []string // Body of each document
		lines  []int    // Line of each document
	}{
		"empty":                {in: "", bodies: nil},
		"one without marker":   {in: "a: 1\n", bodies: []string{"a: 1\n"}, lines: []int{1}},
		"leading marker":       {in: "---\na: 1\n", bodies: []string{"a: 1\n"}, lines: []int{2}},
		"two":                  {in: "a: 1\n---\nb: 2\n", bodies: []string{"a: 1\n", "b: 2\n"}, lines: []int{1, 3}},
		"empty documents":      {in: "---\n---\n---\na: 1", bodies: []string{"", "", "a: 1"}, lines: []int{2, 3, 4}},
		"marker with content":  {in: "--- {a: 1}\n--- !!map\nb: 2\n", bodies: []string{"", "b: 2\n"}, lines: []int{2, 3}},
		"marker with comment":  {in: "--- # one\na: 1\n", bodies: []string{"a: 1\n"}, lines: []int{2}},
		"crlf":                 {in: "a: 1\r\n---\r\nb: 2\r\n", bodies: []string{"a: 1\r\n", "b: 2\r\n"}, lines: []int{1, 3}},
		"dashes in a scalar":   {in: "a: |\n  ---\n  x\n", bodies: []string{"a: |\n  ---\n  x\n"}, lines: []int{1}},
		"not a marker":         {in: "----\n---x\n", bodies: []string{"----\n---x\n"}, lines: []int{1}},
		"no trailing newline":  {in: "---\na: 1", bodies: []string{"a: 1"}, lines: []int{2}},
		"comment before first": {in: "# c\n---\na: 1\n", bodies: []string{"# c\n", "a: 1\n"}, lines: []int{1, 3}},
	} {
		t.Run(name, func(t *testing.T) {
			docs := Split([]byte(tc.in))
			if got := string(join(docs)); got != tc.in {
				t.Fatalf("join(Split(in)) = %q, want %q", got, tc.in)
			}
			var bodies []string
			var at int64
			for i, d := range docs {
				bodies = append(bodies, string(d.Body))
				if d.Index != i {
					t.Errorf("doc %d has Index %d", i, d.Index)
				}
				if d.Offset != at {
					t.Errorf("doc %d has Offset %d, want %d", i, d.Offset, at)
				}
				at += d.Len()
				if tc.lines != nil && d.Line != tc.lines[i] {
					t.Errorf("doc %d starts at line %d, want %d", i, d.Line, tc.lines[i])
				}
			}
			if strings.Join(bodies, "|") != strings.Join(tc.bodies, "|") || len(bodies) != len(tc.bodies) {
				t.Errorf("bodies %q, want %q", bodies, tc.bodies)
			}
		})
	}
}

func TestSourceKeepsInlineMarkerContent(t *testing.T) {
	docs := Split([]byte("--- {a: 1}\n"))
	if got := string(docs[0].Source()); got != "--- {a: 1}\n" {
		t.Errorf("Source = %q", got)
	}
	docs = Split([]byte("--- # c\nb: 1\n"))
	if got := string(docs[0].Source()); got != "b: 1\n" {
		t.Errorf("Source = %q", got)
	}
}

func TestIndexAtLineStart(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"---", 0},
		{"a---\n---", 5},
		{"a: ---\n  ---\n", -1},
		{"x---y---\n", -1},
		{"\n---", 1},
		{"", -1},
	} {
		if got := IndexAtLineStart([]byte(tc.in), []byte("---")); got != tc.want {
			t.Errorf("IndexAtLineStart(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// The streaming Reader cuts exactly where Split does, however the bytes
// arrive: all at once, or one at a time.
func FuzzReaderMatchesSplit(f *testing.F) {
	for _, s := range []string{"", "a: 1\n", "---\na: 1\n---\nb: 2", "--- {a: 1}\n...\n---\r\n", "# c\n---\n---\n", "---", "x\n---", "x\n----\n---", "a\n--"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := Split(in)
		checkReader(t, NewReader(bytes.NewReader(in)), want)
		checkReader(t, NewReader(iotest.OneByteReader(bytes.NewReader(in))), want)
		checkReader(t, NewBytesReader(in), want)
	})
}

// Large documents and reads of every size: the buffer is compacted and
// grown along the way, and a document larger than it still comes whole.
func TestReaderAcrossBuffers(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var in bytes.Buffer
	for in.Len() < 8*readSize {
		switch rnd.IntN(4) {
		case 0:
			in.WriteString("---\n")
		case 1:
			in.WriteString("--- # c\n")
		}
		for n := rnd.IntN(3 * readSize / 4); n > 0; n -= 40 {
			in.WriteString("  line: ----- " + strings.Repeat("x", rnd.IntN(30)) + "\n")
		}
	}
	in.WriteString("---\n" + strings.Repeat("big: "+strings.Repeat("y", 100)+"\n", 3*readSize/100))
	want := Split(in.Bytes())
	checkReader(t, NewReader(&chunkyReader{r: bytes.NewReader(in.Bytes()), rnd: rnd}), want)
}

// chunkyReader returns reads of random sizes, from a byte to a megabyte.
type chunkyReader struct {
	r   io.Reader
	rnd *rand.Rand
}

func (c *chunkyReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), 1+c.rnd.IntN(1<<c.rnd.IntN(21)))])
}

func checkReader(t *testing.T, r *Reader, want []Doc) {
	t.Helper()
	for i := 0; ; i++ {
		d, err := r.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("Reader gave %d documents, Split %d", i, len(want))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) || !bytes.Equal(d.Marker, want[i].Marker) || !bytes.Equal(d.Body, want[i].Body) ||
			d.Line != want[i].Line || d.Index != i || d.Offset != want[i].Offset {
			t.Fatalf("document %d: Reader %q line %d offset %d differs from Split", i, d.Raw(), d.Line, d.Offset)
		}
	}
}

// A read error is returned, not taken for the end of the stream.
func TestReaderReportsReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("a: 1\n---\nb: 2\n"), iotest.ErrReader(boom)))
	for {
		_, err := r.Next()
		if err == io.EOF {
			t.Fatal("read error taken for the end of the stream")
		}
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
			return
		}
	}
}

// join concatenates documents' Raw bytes: the inverse of Split.
func join(docs []Doc) []byte {
	var b bytes.Buffer
	for _, d := range docs {
		b.Write(d.Raw())
	}
	return b.Bytes()
}
