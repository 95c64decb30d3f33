package stream

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// A kind line's value reads the same in pieces of any size as whole, and
// as the expressions say: any word, perhaps quoted, perhaps with a comment
// (Word); plain only unquoted and with a comment set off by a blank.
func FuzzKindLineMatchesExpression(f *testing.F) {
	loose := regexp.MustCompile(`^[ \t]*["']?([A-Za-z0-9]+)["']?[ \t]*(#.*)?\r?$`)
	plain := regexp.MustCompile(`^[ \t]*[A-Za-z0-9]+([ \t]+#.*|[ \t]*)\r?$`)
	for _, s := range []string{" Deployment", " Deployment # istiod", "Deployment#x", " 'ResourceList' # c\r", " \"ResourceList'", "\tDeployment\t#c",
		" Deployment\r\r", " Deployment\r #c", " ", "", " \"\"", " Deploy ment", " " + strings.Repeat("K", 70), " Deployment\v", " Deployment\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s, _, _ = strings.Cut(s, "\n")
		m := loose.FindStringSubmatch(s)
		for size := 1; size <= len(s)+1; size++ {
			var k KindLine
			for b := []byte(s); len(b) > 0; b = b[min(size, len(b)):] {
				k.Feed(b[:min(size, len(b))])
			}
			w, ok := k.Word()
			wantWord := []byte(nil)
			if m != nil && len(m[1]) <= maxKindLen {
				wantWord = []byte(m[1])
			}
			if ok != (m != nil) || !bytes.Equal(w, wantWord) || k.Plain() != plain.MatchString(s) {
				t.Fatalf("in pieces of %d, %q: Word %q %v, Plain %v; the expressions say %q, plain %v", size, s, w, ok, k.Plain(), m, plain.MatchString(s))
			}
		}
	})
}

func TestTopLevelKind(t *testing.T) {
	for doc, want := range map[string]string{
		"apiVersion: apps/v1\nkind: Deployment\n":  "Deployment",
		"kind: Deployment # the istiod one\r\n":    "Deployment",
		"kind:\tDeployment\t# tab\n":               "Deployment",
		"a: |\n  kind: Service\nkind: ConfigMap\n": "ConfigMap", // indented: in a block scalar
		"kind: " + strings.Repeat("K", 70) + "\n":  "",          // certain, and no kind's name
		"kind: Deployment\nkind: Service\n":        "?",         // two kind lines: the parser decides
		"kind: \"Deployment\"\n":                   "?",         // quoted
		"kind: Deployment#x\n":                     "?",         // YAML reads "Deployment#x"
		"kind: \n":                                 "?",
		"  kind: Deployment\n":                     "?",
		"{kind: Deployment}\n":                     "?",
	} {
		got, ok := TopLevelKind([]byte(doc))
		if !ok {
			got = []byte("?")
		}
		if string(got) != want {
			t.Errorf("TopLevelKind(%q) = %q, %v; want %q", doc, got, ok, want)
		}
	}
}
