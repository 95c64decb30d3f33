package stream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	src := "a: 1\n---\nb: 2\n---\nc: 3\n"
	for name, tc := range map[string]struct {
		edits []Edit
		size  int64
		want  string
	}{
		"none":         {nil, int64(len(src)), src},
		"middle":       {[]Edit{{Offset: 5, Len: 9, New: []byte("---\nB: 20\n")}}, int64(len(src)), "a: 1\n---\nB: 20\n---\nc: 3\n"},
		"first, last":  {[]Edit{{Offset: 0, Len: 5, New: []byte("A\n")}, {Offset: 14, Len: 9, New: []byte("C\n")}}, int64(len(src)), "A\n---\nb: 2\nC\n"},
		"size is kept": {nil, 5, "a: 1\n"},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Apply(&out, strings.NewReader(src), tc.size, tc.edits); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

// A source shorter on the second read than on the first is an error, not a
// quietly truncated stream.
func TestApplyShrunkSource(t *testing.T) {
	err := Apply(io.Discard, strings.NewReader("a: 1\n"), 10, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}
