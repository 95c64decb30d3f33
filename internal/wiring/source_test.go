package wiring

import (
	"reflect"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// Every source a config can set has its wiring: a type tagged
// vault:"source" in config.Source renders istiod's files, one in
// config.Certificate a gateway's.
func TestEverySourceIsWired(t *testing.T) {
	for _, tc := range []struct {
		holder any
		wired  func(reflect.Type) bool
	}{
		{config.Source{}, func(t reflect.Type) bool { _, ok := bundleSources[t]; _, plan := planSources[t]; return ok || plan }},
		{config.Certificate{}, func(t reflect.Type) bool { _, ok := certificateSources[t]; return ok }},
	} {
		ht, n := reflect.TypeOf(tc.holder), 0
		for i := 0; i < ht.NumField(); i++ {
			f := ht.Field(i)
			if f.Tag.Get("vault") != "source" {
				continue
			}
			n++
			if !tc.wired(f.Type) {
				t.Errorf("%s.%s (%s) is a source with no wiring: add a file to internal/wiring that registers it", ht.Name(), f.Name, f.Type)
			}
		}
		if n == 0 {
			t.Errorf("%s has no field tagged vault:\"source\"", ht.Name())
		}
	}
}
