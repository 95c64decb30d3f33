package verify

import (
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

func TestSeparationWithoutGateways(t *testing.T) {
	istiod := &wiring.Plan{Role: "istiod", AuthPath: "auth/kubernetes"}
	if r := separation([]*wiring.Plan{istiod}); len(r) != 0 {
		t.Errorf("without gateways: %v", r)
	}
}
