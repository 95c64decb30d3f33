package stream

import (
	"bytes"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/golden"
)

// Splitting never loses or reorders a byte.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "a: 1\n", "---\na: 1\n---\nb: 2", "--- {a: 1}\n...\n---\r\n", "a: |\n  ---\n---x\n"} {
		f.Add([]byte(s))
	}
	golden.AddSeeds(f, "../../testdata/fuzz/stream/*")
	f.Fuzz(func(t *testing.T, in []byte) {
		docs := Split(in)
		if got := join(docs); !bytes.Equal(got, in) {
			t.Fatalf("join(Split(%q)) = %q", in, got)
		}
		var at int64
		for i, d := range docs {
			if d.Index != i || (len(d.Marker) > 0 && !isMarker(d.Marker)) || d.Offset != at {
				t.Fatalf("doc %d: index %d, offset %d (want %d), marker %q", i, d.Index, d.Offset, at, d.Marker)
			}
			at += d.Len()
		}
	})
}
