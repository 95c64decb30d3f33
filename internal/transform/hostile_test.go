package transform

import (
	"fmt"
	"strings"
)

// Hostile inputs: each small, and each once far costlier than its size.
// The limit tests hold them to their bounds, the benchmarks measure them.

// hostileIstiod is an istiod Deployment whose pod labels are an alias of
// the Deployment's own (as in a hand-written manifest), with extra after
// the pod template.
func hostileIstiod(extra string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod
  namespace: istio-system
  labels: &l
    app: istiod
    istio: pilot
spec:
  selector:
    matchLabels:
      istio: pilot
  template:
    metadata:
      labels: *l
    spec:
      containers:
      - name: discovery
        image: pilot
` + extra
}

// wideIstiod is an istiod Deployment of about 960 KB, most of it one
// mapping of keys entries. With alias, its pod labels are an alias; with
// merge, the wide mapping also has a merge key.
func wideIstiod(keys int, alias, merge bool) []byte {
	var b strings.Builder
	b.WriteString(hostileIstiod("x-wide:\n"))
	if merge {
		b.WriteString("  <<: {k00000: merged, extra: 1}\n")
	}
	for i := 0; i < keys; i++ {
		fmt.Fprintf(&b, "  k%05d: v\n", i)
	}
	s := b.String()
	if !alias {
		s = strings.Replace(s, "labels: &l\n", "labels:\n", 1)
		s = strings.Replace(s, "labels: *l\n", "labels: {app: istiod, istio: pilot}\n", 1)
	}
	return []byte(s)
}

// aliasBomb is an istiod Deployment padded with env entries (padding of
// them, about 50 bytes each) and a bomb of mappings: level 0 has fan
// scalars, each further level fan aliases to the one below, and refs
// aliases to the top level follow. With (5, 10, 3, 200) it is 12 KB that
// expands to about 900,000 nodes, within the million the tool once
// allowed; (4, 10, 3, 200) adds 91,000, within today's limit.
func aliasBomb(levels, fan, refs, padding int) string {
	var b strings.Builder
	b.WriteString("        env:\n")
	for i := 0; i < padding; i++ {
		fmt.Fprintf(&b, "        - {name: PAD_%04d, value: \"padding value %04d\"}\n", i, i)
	}
	b.WriteString("x-bomb:\n  l0: &l0 {")
	for j := 0; j < fan; j++ {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d: v", j)
	}
	b.WriteString("}\n")
	for l := 1; l < levels; l++ {
		fmt.Fprintf(&b, "  l%d: &l%d {", l, l)
		for j := 0; j < fan; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "k%d: *l%d", j, l-1)
		}
		b.WriteString("}\n")
	}
	for r := 0; r < refs; r++ {
		fmt.Fprintf(&b, "  r%d: *l%d\n", r, levels-1)
	}
	return hostileIstiod(b.String())
}

// stringBomb is an istiod Deployment with one anchored string of size
// bytes, in lists of ten aliases to it, levels deep.
func stringBomb(size, levels int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "x-bomb:\n  s0: &s0 %q\n", strings.Repeat("x", size))
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "  s%d: &s%d [%s]\n", l, l, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*s%d, ", l-1), 10), ", "))
	}
	return hostileIstiod(b.String())
}

// times is n copies of a document, each opened by a marker.
func times(n int, doc string) []byte {
	return []byte(strings.Repeat("---\n"+doc, n))
}
