package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/cli"
	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
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

// The command reads stdin and writes stdout through twopass (whose tests
// cover every way they are connected): a file and a pipe on stdin, small
// and large, give what the stream in memory gives.
func TestRenderReadsStdinThroughTwopass(t *testing.T) {
	for name, size := range map[string]int{"small": twopass.MemLimit / 4, "large": 2 * twopass.MemLimit} {
		t.Run(name, func(t *testing.T) {
			in := streamOf(size)
			dir := t.TempDir()
			cfg := writeFile(t, dir, "c.yaml", testConfig)
			code, want, stderr := runCmd([]string{"--config", cfg}, []byte(in))
			if code != cli.ExitOK || !bytes.Contains(want, []byte("vault.hashicorp.com/agent-inject")) {
				t.Fatalf("reference run: exit %d, stderr %s", code, stderr)
			}
			inFile := writeFile(t, dir, "in.yaml", in)
			for how, stdin := range map[string]func() *os.File{
				"file": func() *os.File {
					f, err := os.Open(inFile)
					if err != nil {
						t.Fatal(err)
					}
					return f
				},
				"pipe": func() *os.File {
					r, w, err := os.Pipe()
					if err != nil {
						t.Fatal(err)
					}
					go func() { io.WriteString(w, in); w.Close() }()
					return r
				},
			} {
				f := stdin()
				outName := filepath.Join(dir, how+".out")
				out, err := os.Create(outName)
				if err != nil {
					t.Fatal(err)
				}
				var errb bytes.Buffer
				code := run([]string{"--config", cfg}, f, out, &errb)
				out.Close()
				f.Close()
				got, _ := os.ReadFile(outName)
				if code != cli.ExitOK || !bytes.Equal(got, want) {
					t.Errorf("%s: exit %d, %d bytes (want %d), stderr %s", how, code, len(got), len(want), errb.String())
				}
			}
		})
	}
}

// A large regular file is read twice, not copied, and a late error still
// writes nothing.
func TestLateErrorInAFileWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", testConfig)
	bad := streamOf(2*twopass.MemLimit) + "---\n" + strings.Replace(istiod, "- name: discovery", "- name: pilot", 1)
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

// A mapped stdin file cut short before the run reads it is reported as
// changed, exit 2: the command guards its reads.
func TestTruncatedMappedStdinIsAnError(t *testing.T) {
	dir := t.TempDir()
	c := &cli.Common{ConfigFile: writeFile(t, dir, "c.yaml", testConfig)}
	name := writeFile(t, dir, "in.yaml", streamOf(twopass.MemLimit/2))
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := twopass.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := os.Truncate(name, 0); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := renderSource(src, c, &out, &errb)
	if code != cli.ExitBadInput || out.Len() != 0 || !strings.Contains(errb.String(), "changed while it was being read") {
		t.Errorf("exit %d, %d bytes out, stderr %q", code, out.Len(), errb.String())
	}
}

// A file written to between the two reads fails the run with nothing on
// stdout.
func TestFileChangedBetweenReadsIsAnError(t *testing.T) {
	dir := t.TempDir()
	c := &cli.Common{ConfigFile: writeFile(t, dir, "c.yaml", testConfig)}
	file := writeFile(t, dir, "in.yaml", streamOf(twopass.MemLimit/4))
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := twopass.Open(f)
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
	if code := renderSource(src, c, &out, &errb); code != cli.ExitBadInput || out.Len() != 0 || errb.String() != "istio-vault-ca: "+twopass.ErrChanged.Error()+"\n" {
		t.Errorf("exit %d, %d bytes out, stderr %q", code, out.Len(), errb.String())
	}
}

// In the istioCSR mode, istiod's Deployment in a stream without the
// sidecar injector's ConfigMap gets ENABLE_CA_SERVER=false, and nothing
// points the proxies at istio-csr: a warning on stderr says what to set.
// A stream with the injector, or with no istiod Deployment, has none.
func TestCSRIstiodWithoutInjectorWarns(t *testing.T) {
	const warning = "warning: istiod's Deployment now runs with ENABLE_CA_SERVER=false (spec.source.istioCSR), but the stream holds no istio-sidecar-injector ConfigMap"
	for _, tc := range []struct {
		golden string
		warns  bool
	}{
		{"csr-chart-before-1.16", true},
		{"csr-chart", false},
		{"csr-iop", false},
		{"crlf-istiod", false}, // not the istioCSR mode
	} {
		dir := filepath.Join("..", "..", "testdata", "golden", tc.golden)
		in, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCmd([]string{"--config", filepath.Join(dir, "config.yaml")}, in)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.golden, code, stderr)
		}
		if got := strings.Contains(stderr, warning); got != tc.warns {
			t.Errorf("%s: warns %v, want %v:\n%s", tc.golden, got, tc.warns, stderr)
		}
		if tc.warns && !strings.Contains(stderr, "global.caAddress=cert-manager-istio-csr.cert-manager.svc:443") {
			t.Errorf("%s: the warning does not name the chart value to set:\n%s", tc.golden, stderr)
		}
	}
}
