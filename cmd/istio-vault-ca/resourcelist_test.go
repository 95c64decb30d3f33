package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
)

// isResourceList accepts exactly the streams whose first document that
// holds anything but comments has a line the expression matches, whatever
// pieces the lines are read in.
func FuzzResourceListKindMatchesExpression(f *testing.F) {
	re := regexp.MustCompile(`(?m)^kind:[ \t]*["']?ResourceList["']?[ \t]*(#.*)?\r?$`)
	for _, s := range []string{"kind: ResourceList\n", "kind: 'ResourceList' # c\r\n", "kind: ResourceList\r\r\n", "a: 1\nkind:\t\"ResourceList'\n",
		"  kind: ResourceList", "kind: ResourceLists", "kind: ResourceList x", "kind: Deployment\nkind: ResourceList", "kind:ResourceList#", "",
		"apiVersion: v1\nfunctionConfig: {}\nitems:\n- kind: Deployment\nkind: ResourceList\n", "kind: Service\n---\nkind: ResourceList\n",
		"---\n# licence\n---\nkind: ResourceList\n", "# c\n---\nkind: ResourceList\n", "--- !!map\n---\nkind: ResourceList\n", "---\r\n\r\n---\nkind: ResourceList",
		"kind: " + strings.Repeat(" ", 40) + "ResourceList" + strings.Repeat("\t", 40) + "\r\n", "kind: ResourceList #" + strings.Repeat("c", 40) + "\n---\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := re.Match(firstDocument([]byte(s)))
		for how, lines := range map[string]twopass.LineReader{
			"in memory":       twopass.LinesOf([]byte(s)),
			"in pieces of 16": bufio.NewReaderSize(strings.NewReader(s), 16),
			"from a file":     bufio.NewReaderSize(strings.NewReader(s), twopass.LineBuffer),
		} {
			got, err := isResourceList(lines)
			if err != nil || got != want {
				t.Errorf("read %s: isResourceList(%q) = %v (error %v), the expression on its first document says %v", how, s, got, err, want)
			}
		}
	})
}

// firstDocument is the body of the first document stream.Split cuts that
// holds a line other than blanks (spaces, tabs, CRs) and comments, on its
// marker or under it.
func firstDocument(in []byte) []byte {
	holds := func(line []byte) bool {
		t := bytes.TrimLeft(line, " \t\r")
		return len(t) > 0 && t[0] != '#'
	}
	for _, d := range stream.Split(in) {
		if len(d.Marker) > 0 && holds(bytes.TrimSuffix(d.Marker[3:], []byte("\n"))) {
			return d.Body
		}
		for _, line := range bytes.Split(d.Body, []byte("\n")) {
			if holds(line) {
				return d.Body
			}
		}
	}
	return nil
}

// sortedResourceList is a ResourceList as a key-sorting writer (PyYAML's
// safe_dump, Go's map encoders) writes it: kind comes last, after the items
// and the function config.
func sortedResourceList(t *testing.T, items []byte, functionConfig string) []byte {
	t.Helper()
	var list []any
	for _, d := range stream.Split(items) {
		var v map[string]any
		if err := yaml.Unmarshal(d.Source(), &v); err != nil {
			t.Fatal(err)
		}
		if v != nil {
			list = append(list, v)
		}
	}
	var fc map[string]any
	if err := yaml.Unmarshal([]byte(functionConfig), &fc); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": list, "functionConfig": fc})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("apiVersion: config.kubernetes.io/v1\nfunctionConfig:\n")) || !bytes.HasSuffix(out, []byte("\nkind: ResourceList\n")) {
		t.Fatalf("keys not sorted:\n%.300s", out)
	}
	return out
}

// padding is ConfigMaps enough to put a document's end past n bytes.
func padding(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pad}\ndata:\n  k: " + strings.Repeat("x", 1000) + "\n")
	}
	return b.String()
}

// A ResourceList is told by its kind, wherever in its one document that
// is: after 64 KiB of items, after more than is held in memory, after a
// comment-only document. A plain stream is not one, even when a later
// document, or a string in the first, says ResourceList.
func TestResourceListDetection(t *testing.T) {
	big := sortedResourceList(t, []byte(istiod+padding(2*twopass.MemLimit)), testConfig)
	for name, tc := range map[string]struct {
		in   []byte
		want bool
	}{
		"kind first":                            {[]byte(resourceList(istiod, testConfig)), true},
		"keys sorted":                           {sortedResourceList(t, []byte(istiod), testConfig), true},
		"keys sorted, kind after 64 KiB":        {sortedResourceList(t, []byte(istiod+padding(2*twopass.LineBuffer)), testConfig), true},
		"keys sorted, kind past the memory":     {big, true},
		"after a comment-only document":         {append([]byte("# licence\n---\n"), sortedResourceList(t, []byte(istiod), testConfig)...), true},
		"a plain stream":                        {[]byte("---\n" + istiod + padding(2*twopass.LineBuffer)), false},
		"a ResourceList as the second document": {[]byte("---\n" + istiod + "---\n" + resourceList(istiod, testConfig)), false},
		"ResourceList in a string":              {[]byte("apiVersion: v1\nkind: ConfigMap\ndata:\n  l: |\n    kind: ResourceList\n"), false},
	} {
		t.Run(name, func(t *testing.T) {
			// Each way stdin comes: a file (mapped or read twice), a pipe
			// (read into memory or copied into a temporary file).
			for _, how := range []string{"file", "pipe"} {
				src := sourceOf(t, how, tc.in)
				got, err := isResourceList(src.Lines())
				src.Close()
				if err != nil || got != tc.want {
					t.Errorf("%s: isResourceList = %v (error %v), want %v", how, got, err, tc.want)
				}
			}
		})
	}
}

func sourceOf(t *testing.T, how string, in []byte) *twopass.Source {
	t.Helper()
	var stdin *os.File
	switch how {
	case "file":
		p := filepath.Join(t.TempDir(), "in.yaml")
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		stdin = f
	case "pipe":
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Write(in); w.Close() }()
		t.Cleanup(func() { r.Close() })
		stdin = r
	}
	src, err := twopass.Open(stdin)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// The istiod chart in a ResourceList whose keys are sorted runs as a KRM
// function, as istio-vault-ca-fn runs it, with no config but the list's.
func TestSortedResourceListRunsAsFunction(t *testing.T) {
	items, err := os.ReadFile("../../../shared/corpus/istio-charts/1.30.3/istiod.yaml")
	if err != nil {
		items = []byte(istiod + padding(2*twopass.LineBuffer)) // past 64 KiB, as the chart is
	}
	list := sortedResourceList(t, items, testConfig)
	if i := bytes.Index(list, []byte("\nkind: ResourceList")); i < twopass.LineBuffer {
		t.Fatalf("kind at %d: not past the first 64 KiB", i)
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", bin, "../istio-vault-ca-fn").CombinedOutput(); err != nil {
		t.Fatalf("building the function: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(t.TempDir())
	t.Setenv(cli.EnvConfig, "")
	code, out, stderr := runCmd(nil, list)
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fn := exec.Command(filepath.Join(bin, functionCommand))
	fn.Stdin = bytes.NewReader(list)
	direct, err := fn.Output()
	if err != nil {
		t.Fatalf("istio-vault-ca-fn itself: %v", err)
	}
	if !bytes.Equal(out, direct) || !bytes.Contains(out, []byte("ROOT_CA_DIR")) {
		t.Errorf("not what istio-vault-ca-fn writes:\n%.2000s", out)
	}
}

// Telling a plain stream costs reading its first document: a CRD or a
// ServiceAccount, however long the stream.
func BenchmarkIsResourceListPlainStream(b *testing.B) {
	in := []byte("---\n" + istiod + padding(4<<20))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if rl, err := isResourceList(twopass.LinesOf(in)); rl || err != nil {
			b.Fatal(rl, err)
		}
	}
}
