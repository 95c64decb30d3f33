package verify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A secret missing because its mount is another KV version than the config
// says is named as such, for a gateway's certificate as for istiod's CA:
// the version comes from the plans' files.
func TestKVVersionMismatchNamedForGateways(t *testing.T) {
	c := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		path := strings.TrimPrefix(r.URL.Path, "/v1/")
		switch {
		case path == "sys/health":
			json.NewEncoder(w).Encode(map[string]any{"initialized": true, "sealed": false, "version": "fake"})
		case strings.HasPrefix(path, "sys/internal/ui/mounts/"):
			// Every mount is KV version 1: the config's version 2 paths are not there.
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"path": "secret/", "type": "kv", "options": map[string]any{"version": "1"}}})
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"errors":[]}`))
		}
	})
	cfg, plans := plansOf(t, gatewayConfig)
	var b strings.Builder
	Run(context.Background(), c, cfg, plans, Options{}).Write(&b)
	for _, path := range []string{"secret/data/istiod", "secret/data/gateways/bookinfo"} {
		want := "no secret at " + path + ": mount secret/ is KV version 1 but the config says version 2; set version: 1"
		if !strings.Contains(b.String(), want) {
			t.Errorf("report does not say %q:\n%s", want, b.String())
		}
	}
}
