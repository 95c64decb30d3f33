package transform

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Hostile inputs over a limit are refused, the document that crossed it
// named, and nothing written.
func TestHostileInputsAreRefused(t *testing.T) {
	tr := newTransformer(t, corpusConfig)
	nullKeys := hostileIstiod("x-null: &n {~: 1}\nx-uses: [" + strings.TrimSuffix(strings.Repeat("*n, ", 40), ", ") + "]\n")
	var big strings.Builder
	for i := 0; i < 33; i++ {
		// 1 MiB each, and nothing in them an alias: only what is held
		// for the second pass is too much.
		fmt.Fprintf(&big, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod-%d, namespace: istio-system, annotations: {big: %s}}\nspec:\n  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery}]}\n", i, strings.Repeat("b", 1<<20))
	}
	// The same, as one-line JSON documents: they are written by their own
	// writer, and held all the same.
	var bigJSON strings.Builder
	for i := 0; i < 33; i++ {
		fmt.Fprintf(&bigJSON, `---
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "istiod-%d", "namespace": "istio-system", "annotations": {"big": "%s"}}, "spec": {"template": {"metadata": {"labels": {"app": "istiod"}}, "spec": {"containers": [{"name": "discovery"}]}}}}
`, i, strings.Repeat("b", 1<<20))
	}
	for _, tc := range []struct {
		name  string
		in    []byte
		index int
		line  int
		err   string
	}{
		// Within the million nodes once allowed: 14 s and 720 MB resident
		// here, writing 3 MB.
		{"12 KB alias bomb", []byte(aliasBomb(5, 10, 3, 200)), 0, 1, `its aliases expand to more than 100000 nodes beyond its own \(the limit for one input, all its documents together\)`},
		// Once eight times that, every document's edit held for the second
		// pass.
		{"eight 12 KB alias bombs", times(8, aliasBomb(5, 10, 3, 200)), 0, 2, `more than 100000 nodes`},
		// Each within the limit, together not.
		{"eight alias bombs each within the limit", times(8, aliasBomb(4, 10, 3, 200)), 1, 2 + strings.Count(aliasBomb(4, 10, 3, 200), "\n") + 1, `more than 100000 nodes`},
		{"one string, aliased", []byte(stringBomb(10000, 3)), 0, 1, `its aliases expand to more than 8 MiB of text beyond its own`},
		{"kyaml's null key, added again at each alias", []byte(nullKeys), 0, 1, `more than 100000 nodes`},
		{"33 MiB of changed documents", []byte(big.String()), 31, 2 + 31*8, `the changed documents come to more than 32 MiB \(the limit for one input`},
		{"33 MiB of changed JSON documents", []byte(bigJSON.String()), 31, 2 + 31*2, `the changed documents come to more than 32 MiB \(the limit for one input`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tr.Stream(tc.in)
			var de *DocError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%d bytes out), want a DocError", err, len(out))
			}
			if out != nil {
				t.Errorf("%d bytes out with the error", len(out))
			}
			if de.Index != tc.index || de.Kind != "Deployment" || !strings.HasPrefix(de.Name, "istiod") || de.Namespace != "istio-system" || de.Line != tc.line {
				t.Errorf("error names document %d (%s %s/%s), line %d; want document %d, line %d", de.Index, de.Kind, de.Namespace, de.Name, de.Line, tc.index, tc.line)
			}
			if !regexp.MustCompile(tc.err).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, tc.err)
			}
		})
	}
}

// Hostile inputs within the limits cost what the limits allow: output and
// allocations stay in proportion to them.
func TestHostileInputsWithinLimitsAreBounded(t *testing.T) {
	tr := newTransformer(t, corpusConfig)
	for _, tc := range []struct {
		name      string
		in        []byte
		maxOut    int
		maxAllocs float64
	}{
		// 91,000 nodes added: 7 allocations each, at most, most of them the
		// serialiser's.
		{"alias bomb within the limit", []byte(aliasBomb(4, 10, 3, 200)), 1 << 20, 700_000},
		// 7.8 MB of text added, in 1,110 nodes.
		{"aliased string within the limit", []byte(stringBomb(7000, 3)), 9 << 20, 10_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out []byte
			allocs := testing.AllocsPerRun(1, func() {
				var err error
				if out, err = tr.Stream(tc.in); err != nil {
					t.Fatal(err)
				}
			})
			if !strings.Contains(string(out), "ROOT_CA_DIR") {
				t.Fatalf("istiod was not changed:\n%.2000s", out)
			}
			t.Logf("%d bytes out, %.0f allocations", len(out), allocs)
			if len(out) > tc.maxOut || allocs > tc.maxAllocs {
				t.Errorf("%d bytes out (at most %d), %.0f allocations (at most %.0f)", len(out), tc.maxOut, allocs, tc.maxAllocs)
			}
		})
	}
}
