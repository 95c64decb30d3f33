package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// serviceAccount is an identity the fake API server vouches for.
type serviceAccount struct {
	Namespace, Name, UID string
}

// apiServer answers TokenReviews on loopback, which is all Vault's
// Kubernetes auth method asks of a cluster. It authenticates exactly the
// tokens it minted, each for its service account.
type apiServer struct {
	url    string
	key    *rsa.PrivateKey
	mu     sync.Mutex
	tokens map[string]serviceAccount
}

func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	s := &apiServer{key: key, tokens: map[string]serviceAccount{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(s.tokenReview), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	s.url = "http://" + l.Addr().String()
	return s
}

func (s *apiServer) tokenReview(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Spec struct {
			Token     string   `json:"token"`
			Audiences []string `json:"audiences"`
		} `json:"spec"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	sa, ok := s.tokens[req.Spec.Token]
	s.mu.Unlock()
	status := map[string]any{"authenticated": false}
	if ok {
		status = map[string]any{
			"authenticated": true,
			"user": map[string]any{
				"username": fmt.Sprintf("system:serviceaccount:%s:%s", sa.Namespace, sa.Name),
				"uid":      sa.UID,
				"groups":   []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"},
			},
			// Like the API server: the requested audiences the token is valid for.
			"audiences": intersect(req.Spec.Audiences, []string{tokenAudience}),
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status,
	})
}

const tokenAudience = "https://kubernetes.default.svc.cluster.local"

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}

// token mints a projected service-account token (an RS256 JWT with the
// claims the kubelet writes) and registers it with the TokenReview endpoint.
func (s *apiServer) token(t testing.TB, sa serviceAccount) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": "https://kubernetes.default.svc.cluster.local",
		"sub": fmt.Sprintf("system:serviceaccount:%s:%s", sa.Namespace, sa.Name),
		"aud": []string{tokenAudience},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      sa.Namespace,
			"serviceaccount": map[string]any{"name": sa.Name, "uid": sa.UID},
			"pod":            map[string]any{"name": sa.Name + "-7d4f8b9c6-x2x5z", "uid": "pod-" + sa.UID},
		},
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		must(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "e2e"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	must(t, err)
	tok := signed + "." + base64.RawURLEncoding.EncodeToString(sig)
	s.mu.Lock()
	s.tokens[tok] = sa
	s.mu.Unlock()
	return tok
}
