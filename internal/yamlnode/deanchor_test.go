package yamlnode

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update, which `go test ./... -update` passes to every package
)

// bomb is ten levels of lists, each of ten aliases to the one before: 400
// bytes that expand to ten billion nodes.
func bomb() string {
	s := "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 10; i++ {
		s += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	return s
}

func TestDeAnchorWithinRefusesABombUntouched(t *testing.T) {
	doc := parse(t, bomb())
	b := &Budget{Nodes: 100_000, Bytes: 1 << 20}
	if _, err := DeAnchorWithin(doc, b); !errors.Is(err, ErrNodeBudget) {
		t.Fatalf("error %v, want ErrNodeBudget", err)
	}
	if got, want := write(t, doc), write(t, parse(t, bomb())); got != want {
		t.Errorf("the tree was changed before the refusal:\n%s", got)
	}
	if *b != (Budget{Nodes: 100_000, Bytes: 1 << 20}) {
		t.Errorf("a refusal was charged: %+v", *b)
	}
}

func TestDeAnchorWithinCountsText(t *testing.T) {
	doc := "s: &s " + strings.Repeat("x", 1000) + "\nl: [" + strings.TrimSuffix(strings.Repeat("*s, ", 2000), ", ") + "]\n"
	_, err := DeAnchorWithin(parse(t, doc), &Budget{Nodes: 100_000, Bytes: 1 << 20})
	if !errors.Is(err, ErrByteBudget) {
		t.Fatalf("2 MB of aliased text: error %v, want ErrByteBudget", err)
	}
}

// What a tree gains is what is taken off the budget: here three nodes for
// the alias (a list and its two items, in place of the alias node), and
// two bytes (the items' values, less the alias's name).
func TestDeAnchorWithinChargesWhatItAdds(t *testing.T) {
	b := &Budget{Nodes: 100, Bytes: 100}
	if _, err := DeAnchorWithin(parse(t, "a: &a [1, 2]\nb: *a\n"), b); err != nil {
		t.Fatal(err)
	}
	if *b != (Budget{Nodes: 98, Bytes: 99}) {
		t.Errorf("budget left %+v, want {98 99}", *b)
	}
}

// kyaml adds a null key spelled out (~) again at each expansion, so each
// alias doubles what the one before it expanded to: no count made before
// expanding sees that. The budget stops it part way.
func TestDeAnchorWithinStopsKyamlsGrowth(t *testing.T) {
	doc := "a: &a {~: 1}\nb: [" + strings.TrimSuffix(strings.Repeat("*a, ", 40), ", ") + "]\n"
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := DeAnchorWithin(parse(t, doc), &Budget{Nodes: 100_000, Bytes: 1 << 20}); !errors.Is(err, ErrNodeBudget) {
			t.Fatalf("error %v, want ErrNodeBudget", err)
		}
	})
	// Two allocations a node copied, within twice the budget.
	if allocs > 500_000 {
		t.Errorf("%.0f allocations to refuse it", allocs)
	}
}

// A document with one alias is expanded at the cost of what the alias
// reaches, not of the document: kyaml rebuilds every mapping as a copy,
// each key looked up in a linear scan.
func TestDeAnchorCopiesOnlyWhatAnAliasReaches(t *testing.T) {
	var b strings.Builder
	b.WriteString("metadata:\n  labels: &l {app: istiod}\nspec:\n  template:\n    metadata:\n      labels: *l\nwide:\n")
	for i := 0; i < 20_000; i++ {
		fmt.Fprintf(&b, "  k%05d: {v: %d}\n", i, i)
	}
	src := []byte(b.String())
	parseOnly := testing.AllocsPerRun(3, func() { Parse(src) })
	both := testing.AllocsPerRun(3, func() {
		doc, _ := Parse(src)
		if _, err := DeAnchor(doc); err != nil {
			t.Fatal(err)
		}
	})
	if extra := both - parseOnly; extra > 1000 {
		t.Errorf("expanding one alias took %.0f allocations in a document of 60,000 nodes", extra)
	}
}

// BenchmarkDeAnchor expands one alias in a document of one mapping of
// 80,000 keys: without a merge key in the wide mapping, and with one.
func BenchmarkDeAnchor(b *testing.B) {
	for _, merge := range []bool{false, true} {
		var s strings.Builder
		s.WriteString("labels: &l {app: istiod}\npod: {labels: *l}\nwide:\n")
		if merge {
			s.WriteString("  <<: {k00000: merged, extra: 1}\n")
		}
		for i := 0; i < 80_000; i++ {
			fmt.Fprintf(&s, "  k%05d: v\n", i)
		}
		src := []byte(s.String())
		b.Run(fmt.Sprintf("80000-keys/merge=%v", merge), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				doc, err := Parse(src)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := DeAnchor(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
