package targets

import (
	"bytes"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// Plans are what one config asks of the targets: istiod's plan and those of
// the gateways it selects.
type Plans struct {
	Istiod   *wiring.Plan
	Gateways []*wiring.Plan
}

// A Kind is a kind of resource the tool may change. Every way of finding
// targets derives from the registry (Kinds): the byte prefilter of the
// post-renderer, the check of a KRM function's parsed items and the
// dispatch that applies the plans, so that a kind added here is seen by
// every front end alike, and a kind not here by none.
type Kind struct {
	Name  string // the resource's kind, e.g. Deployment
	Group string // its API group: the apiVersion's part before the slash
	// MayBe tells, from the bytes of a document whose kind line reads Name,
	// whether it could be a target, before any parse: it must never say
	// no to one that is. Nil: any document of the kind could be.
	MayBe func(body []byte, ps *Plans) bool
	// Is reports whether a resource of the kind and group is a target,
	// changed or already converged.
	Is func(rn *yaml.Node, ps *Plans) bool
	// Apply writes the plans into a resource of the kind and group, in
	// place, and reports whether it changed.
	Apply func(rn *yaml.Node, ps *Plans) (bool, error)
	// MayBeNode, when set, tells from a parsed resource of the kind,
	// before its aliases are expanded, whether it could be a target, as
	// MayBe does from bytes: one it says no to is not even expanded (a
	// KRM function's ConfigMaps, but the injector's in the istioCSR
	// mode). Nil: any resource of the kind could be.
	MayBeNode func(rn *yaml.Node, ps *Plans) bool
}

// registry is every target kind, each declared once.
var registry = []Kind{
	{
		// istiod's Deployment, and the gateways' a config selects.
		Name: deploymentKind, Group: appsGroup,
		// Only one that could carry a label value a target needs: "istiod",
		// or every value of a gateway's selector. A YAML escape could spell
		// a value otherwise, so a backslash makes it one too.
		MayBe: func(body []byte, ps *Plans) bool {
			return bytes.Contains(body, []byte("istiod")) || bytes.IndexByte(body, '\\') >= 0 || mayMatchGateway(body, ps.Gateways) ||
				bytes.Contains(body, []byte("VaultCA")) || csrMode(ps) && bytes.Contains(body, []byte(wiring.EnvCAAddr))
		},
		Is: func(rn *yaml.Node, ps *Plans) bool {
			p, _ := WorkloadPlan(rn, ps)
			if p == nil && csrMode(ps) {
				c, _ := proxySettingCAAddr(rn)
				return c != nil
			}
			return p != nil
		},
		Apply: func(rn *yaml.Node, ps *Plans) (bool, error) {
			if err := refuseVaultCA(rn); err != nil {
				return false, err
			}
			p, err := WorkloadPlan(rn, ps)
			switch {
			case err != nil:
				return false, err
			case csrMode(ps) && p == ps.Istiod:
				return applyCSRIstiod(rn, p)
			case csrMode(ps):
				return applyCSRGateway(rn, ps.Istiod)
			case p == nil:
				return false, nil
			}
			return ApplyPodTemplate(rn, p)
		},
	},
	// Istio 1.1's node agent, refused with a pointer to migrate: a
	// DaemonSet, in Istio 1.1's charts of extensions/v1beta1.
	vaultCANodeAgent(appsGroup),
	vaultCANodeAgent("extensions"),
	{
		// The sidecar injector's values, in the istioCSR mode: its
		// global.caAddress becomes every injected proxy's CA_ADDR.
		Name: configMapKind, Group: coreGroup,
		MayBe: func(body []byte, ps *Plans) bool {
			return csrMode(ps) && bytes.Contains(body, []byte(injectorConfigMap))
		},
		Is: func(rn *yaml.Node, ps *Plans) bool { return csrMode(ps) && isInjectorConfigMap(rn) },
		MayBeNode: func(rn *yaml.Node, ps *Plans) bool {
			n := yamlnode.Lookup(rn, "metadata", "name")
			return csrMode(ps) && (n == nil || n.Kind != yaml.ScalarNode || strings.HasPrefix(n.Value, injectorConfigMap))
		},
		Apply: func(rn *yaml.Node, ps *Plans) (bool, error) {
			if ps.Istiod.CSR == nil || !isInjectorConfigMap(rn) {
				return false, nil
			}
			return applyInjectorValues(rn, ps.Istiod)
		},
	},
	{
		// One that installs an istiod, or any, when the config has gateways
		// it may select.
		Name: istioOperatorKind, Group: istioInstallGroup,
		Is: func(rn *yaml.Node, ps *Plans) bool {
			return InstallsIstiod(rn) || len(ps.Gateways) > 0
		},
		Apply: func(rn *yaml.Node, ps *Plans) (bool, error) {
			if csrMode(ps) {
				if !InstallsIstiod(rn) {
					return false, nil
				}
				return applyOperatorCSR(rn, ps.Istiod)
			}
			return ApplyIstioOperator(rn, ps.Istiod, ps.Gateways)
		},
	},
	{
		Name: controlPlaneKind, Group: tetrateInstallGroup,
		Is: func(*yaml.Node, *Plans) bool { return true },
		Apply: func(rn *yaml.Node, ps *Plans) (bool, error) {
			if csrMode(ps) {
				return applyControlPlaneCSR(rn, ps.Istiod)
			}
			return ApplyControlPlane(rn, ps.Istiod)
		},
	},
}

// vaultCANodeAgent is the DaemonSet kind of a group, a target only to be
// refused when it still sets CA_PROVIDER=VaultCA.
func vaultCANodeAgent(group string) Kind {
	return Kind{
		Name: "DaemonSet", Group: group,
		MayBe: func(body []byte, _ *Plans) bool { return bytes.Contains(body, []byte("VaultCA")) },
		Is:    func(*yaml.Node, *Plans) bool { return false },
		Apply: func(rn *yaml.Node, _ *Plans) (bool, error) { return false, refuseVaultCA(rn) },
	}
}

// csrMode: the config's istiod plan is the istioCSR mode's.
func csrMode(ps *Plans) bool { return ps.Istiod != nil && ps.Istiod.CSR != nil }

// The kinds and groups of the registry, which the kinds' own checks share.
const (
	deploymentKind      = "Deployment"
	appsGroup           = "apps"
	istioOperatorKind   = "IstioOperator"
	istioInstallGroup   = "install.istio.io"
	controlPlaneKind    = "ControlPlane"
	tetrateInstallGroup = "install.tetrate.io"
	configMapKind       = "ConfigMap"
	// coreGroup is the core API's: apiVersion v1, with no group part.
	coreGroup = ""
)

// Kinds are the registered target kinds. The slice is the registry's own:
// read it, do not change it.
func Kinds() []Kind { return registry }

// KindNamed returns the registered kind of that name, or nil.
func KindNamed(name []byte) *Kind {
	for i := range registry {
		if string(name) == registry[i].Name {
			return &registry[i]
		}
	}
	return nil
}

// KindOf returns the registered kind a resource is of, its group included,
// or nil.
func KindOf(rn *yaml.Node) *Kind {
	for i := range registry {
		if k := &registry[i]; hasKind(rn, k.Name, k.Group) {
			return k
		}
	}
	return nil
}

// Register adds a target kind until the returned function is called: for
// tests, which show that a kind registered once is seen everywhere. It is
// not safe while the registry is in use.
func Register(k Kind) (unregister func()) {
	registry = append(registry[:len(registry):len(registry)], k)
	return func() {
		for i := range registry {
			if registry[i].Name == k.Name {
				registry = append(registry[:i:i], registry[i+1:]...)
				return
			}
		}
	}
}

// WorkloadPlan is the plan of a Deployment that is a target: istiod's, a
// gateway's, or nil.
func WorkloadPlan(rn *yaml.Node, ps *Plans) (*wiring.Plan, error) {
	if IsIstiod(rn) {
		return ps.Istiod, nil
	}
	return SelectedGateway(rn, ps.Gateways)
}

// mayMatchGateway reports whether a document holds every value of some
// gateway's selector.
func mayMatchGateway(body []byte, gateways []*wiring.Plan) bool {
	for _, g := range gateways {
		all := true
		for _, v := range g.Selector {
			all = all && bytes.Contains(body, []byte(v))
		}
		if all {
			return true
		}
	}
	return false
}
