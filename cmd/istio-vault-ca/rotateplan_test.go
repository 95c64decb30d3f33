package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// --output-dir writes the three documents of the stream, one a file, and
// each step's root file reads what the step says: 1) the old root then
// the new, 2) the new root then the old, 3) the new root alone.
func TestRotatePlanSteps(t *testing.T) {
	const dir = "../../testdata/golden/rotate-plan-kv-to-pki"
	args := []string{"rotate-plan", "--config", filepath.Join(dir, "config.yaml"), "--next", filepath.Join(dir, "next.yaml")}
	code, stream, stderr := runCmd(args, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out := t.TempDir()
	if code, stdout, stderr := runCmd(append(args, "--output-dir", out), nil); code != 0 || len(stdout) != 0 {
		t.Fatalf("--output-dir: exit %d, %d bytes on stdout: %s", code, len(stdout), stderr)
	}
	docs := bytes.Split(stream, []byte("\n---\n"))
	if len(docs) != 3 {
		t.Fatalf("the stream holds %d documents, want 3", len(docs))
	}
	want := [][]string{
		{"secret/data/istio/ca-2025", "pki_root_2026/cert/ca"},
		{"pki_root_2026/cert/ca", "secret/data/istio/ca-2025"},
		{"pki_root_2026/cert/ca"},
	}
	for i, doc := range docs {
		name := filepath.Join(out, "step-"+string(rune('1'+i))+".yaml")
		file, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			doc = append(doc, '\n')
		}
		if !bytes.Equal(bytes.TrimPrefix(doc, []byte("---\n")), file) {
			t.Errorf("%s is not document %d of the stream:\n%s\n----\n%s", name, i+1, file, doc)
		}
		cfg, err := config.Load(file, name)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		plan, err := wiring.ForIstiod(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		multiRoot := false
		for _, f := range plan.Files {
			if f.Part == wiring.PartRoot {
				for _, r := range f.Reads() {
					got = append(got, r.APIPath)
				}
			}
		}
		for _, e := range plan.Env {
			multiRoot = multiRoot || e.Name == wiring.EnvMultiRoot
		}
		if strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("step %d: the root file reads %v, want %v", i+1, got, want[i])
		}
		if multiRoot != (i < 2) {
			t.Errorf("step %d: ISTIO_MULTIROOT_MESH set: %v", i+1, multiRoot)
		}
	}
}

// --output-dir creates the directory, and refuses to replace a step file
// that exists (writing none) unless --force.
func TestRotatePlanOutputDir(t *testing.T) {
	const dir = "../../testdata/golden/rotate-plan-config-next"
	out := filepath.Join(t.TempDir(), "rotation", "2026")
	args := []string{"rotate-plan", "--config", filepath.Join(dir, "config.yaml"), "--output-dir", out}
	if code, _, stderr := runCmd(args, nil); code != 0 {
		t.Fatalf("a new directory: exit %d: %s", code, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("the directory: %v %v", fi, err)
	}
	step2 := filepath.Join(out, "step-2.yaml")
	if err := os.WriteFile(step2, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(out, "step-1.yaml")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(args, nil)
	if b, _ := os.ReadFile(step2); code != 2 || string(b) != "mine\n" || !strings.Contains(string(stderr), step2+" exists already") {
		t.Errorf("an existing step file: exit %d, file %q, stderr %s", code, b, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "step-1.yaml")); err == nil {
		t.Error("step-1.yaml was written beside the refused step-2.yaml")
	}
	if code, _, stderr := runCmd(append(args, "--force"), nil); code != 0 {
		t.Errorf("--force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(step2); !bytes.Contains(b, []byte("step 2 of 3")) {
		t.Errorf("--force did not replace step-2.yaml: %q", b)
	}
}
