package verify

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// An auth method enabled but never configured answers a login with 500
// "could not load backend configuration": the report says to write its
// config, not that the role or the token is wrong.
func TestLoginUnconfiguredAuthMethod(t *testing.T) {
	c := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/sys/health":
			w.Write([]byte(`{"initialized":true,"sealed":false,"version":"fake"}`))
		case "/v1/auth/kubernetes/login":
			w.WriteHeader(500)
			w.Write([]byte(`{"errors":["could not load backend configuration"]}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"errors":[]}`))
		}
	})
	cfg, plans := plansOf(t, mintConfig)
	var b strings.Builder
	Run(context.Background(), c, cfg, plans, Options{JWT: "a-service-account-token"}).Write(&b)
	matches(t, b.String(), `FAIL  login auth/kubernetes role istiod: the Kubernetes auth method at auth/kubernetes has no configuration \(Vault said: could not load backend configuration\): write it, e.g. vault write auth/kubernetes/config kubernetes_host=`)
}
