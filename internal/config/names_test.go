package config

import (
	"regexp"
	"testing"
)

// The hand-written name checks accept exactly what the expressions they
// replaced accepted.
func FuzzNameChecksMatchTheirExpressions(f *testing.F) {
	long := "a123456789012345678901234567890123456789012345678901234567890"
	for _, s := range []string{"", "0", "0400", "400", "0440", "0444", "00400", "0800", "0470", "a", "a-b", "-a", "a-", "a.b", "A", "a_b",
		"istio-system", "1-30", "a..b", long + "b", long + "bc", long + "-", "ü", "a\n", "0400\n"} {
		f.Add(s)
	}
	checks := []struct {
		name  string
		check func(string) bool
		re    *regexp.Regexp
	}{
		{"isKeyPerms", isKeyPerms, regexp.MustCompile(`^0?4[04]0$`)},
		{"isDNSLabel", isDNSLabel, regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)},
		{"isCertName", isCertName, regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range checks {
			if got, want := c.check(s), c.re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the expression says %v", c.name, s, got, want)
			}
		}
	})
}
