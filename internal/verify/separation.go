package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// separation checks, from the plans alone, that no gateway can act as
// istiod: a gateway's agent that logs in with istiod's Kubernetes-auth role
// gets istiod's policy, and a Vault path in both plans is granted to both
// policies; either way a gateway pod could read the CA key. It needs no
// Vault and reports nothing when there is no gateway. Loading a config
// already refuses both (config.separationErrors, transform.New); this is the
// report's own line on it, for plans built any other way.
func separation(plans []*wiring.Plan) Report {
	var istiod *wiring.Plan
	var gateways []*wiring.Plan
	for _, p := range plans {
		if p.Selector == nil {
			istiod = p
		} else {
			gateways = append(gateways, p)
		}
	}
	if istiod == nil || len(gateways) == 0 {
		return nil
	}
	var r Report
	for _, g := range gateways {
		what := "gateway " + selectorString(g.Selector)
		ok := true
		if g.AuthPath == istiod.AuthPath && g.Role == istiod.Role {
			ok = false
			r = append(r, Result{Fail, what, fmt.Sprintf("logs in as istiod (%s role %s): its pods would get istiod's token and could read the CA key; give the gateway a role of its own (its `role`, or `authPath`)", g.AuthPath, g.Role)})
		}
		for _, path := range g.SharedPaths(istiod) {
			ok = false
			r = append(r, Result{Fail, what, fmt.Sprintf("uses %s, which reaches istiod's CA material (reads it, changes or destroys it, or signs with istiod's CA): keep gateway certificates at paths and mounts of their own", path)})
		}
		if ok {
			r = append(r, Result{Pass, what, fmt.Sprintf("shares no role and no Vault path with istiod (%s role %s)", istiod.AuthPath, istiod.Role)})
		}
	}
	return r
}

// selectorString prints pod labels in a fixed order.
func selectorString(sel map[string]string) string {
	kv := make([]string, 0, len(sel))
	for k, v := range sel {
		kv = append(kv, k+": "+v)
	}
	sort.Strings(kv)
	return "{" + strings.Join(kv, ", ") + "}"
}
