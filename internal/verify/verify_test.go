package verify

import (
	"strings"
	"testing"

	_ "github.com/istio-vault-ca/istio-vault-ca/internal/golden" // defines -update
)

func TestInsecureAddress(t *testing.T) {
	for addr, refused := range map[string]bool{
		"https://vault.example.com:8200": false,
		"http://127.0.0.1:8200":          false,
		"http://localhost:8200":          false,
		"http://[::1]:8200":              false,
		"http://vault.example.com:8200":  true,
		"http://10.0.0.5:8200":           true,
	} {
		err := InsecureAddress(addr)
		if (err != nil) != refused {
			t.Errorf("InsecureAddress(%q) = %v, want refused=%v", addr, err, refused)
		}
		if err != nil && !strings.Contains(err.Error(), "--allow-insecure-http") {
			t.Errorf("the refusal does not say how to override: %v", err)
		}
	}
}

func TestValueNamesFieldsNotValues(t *testing.T) {
	_, err := value(map[string]any{"data": map[string]any{"ca_key": "-----BEGIN PRIVATE KEY-----secret"}}, []string{"data", "root_cert"})
	if err == nil || !strings.Contains(err.Error(), `has no field "data.root_cert" (fields present: ca_key)`) || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %v", err)
	}
}
