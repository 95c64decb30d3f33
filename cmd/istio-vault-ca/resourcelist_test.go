package main

import (
	"regexp"
	"testing"
)

// hasResourceListKind accepts exactly what the expression it replaced
// accepted.
func FuzzResourceListKindMatchesExpression(f *testing.F) {
	re := regexp.MustCompile(`(?m)^kind:[ \t]*["']?ResourceList["']?[ \t]*(#.*)?\r?$`)
	for _, s := range []string{"kind: ResourceList\n", "kind: 'ResourceList' # c\r\n", "kind: ResourceList\r\r\n", "a: 1\nkind:\t\"ResourceList'\n",
		"  kind: ResourceList", "kind: ResourceLists", "kind: ResourceList x", "kind: Deployment\nkind: ResourceList", "kind:ResourceList#", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasResourceListKind([]byte(s)), re.MatchString(s); got != want {
			t.Errorf("hasResourceListKind(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
