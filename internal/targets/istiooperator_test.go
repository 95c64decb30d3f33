package targets

import (
	"slices"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

func TestOverlayPath(t *testing.T) {
	for in, want := range map[string][]string{
		"spec.template.spec.containers.[name:discovery].env":            {"spec", "template", "spec", "containers", "[name:discovery]", "env"},
		"spec.template.spec.containers[0].env[3].value":                 {"spec", "template", "spec", "containers", "[0]", "env", "[3]", "value"},
		`spec.template.metadata.annotations.vault\.hashicorp\.com/role`: {"spec", "template", "metadata", "annotations", "vault.hashicorp.com/role"},
		".spec.template.": {"spec", "template"},
		"":                nil,
		`webhooks.[name:namespace\.sidecar-injector\.istio\.io].clientConfig`: {"webhooks", "[name:namespace.sidecar-injector.istio.io]", "clientConfig"},
	} {
		if got := overlayPath(in); !slices.Equal(got, want) {
			t.Errorf("overlayPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReach(t *testing.T) {
	istiod := &wiring.Plan{Container: "discovery",
		Annotations: []wiring.Pair{{Name: "vault.hashicorp.com/agent-inject", Value: "true"}},
		Env:         []wiring.Pair{{Name: "ROOT_CA_DIR", Value: "/vault/secrets"}}}
	gateway := &wiring.Plan{Container: "istio-proxy", Annotations: istiod.Annotations}
	guarded := &wiring.Plan{Container: "discovery", Annotations: istiod.Annotations, Env: guardedVars,
		Guard: &wiring.Guard{Volume: "istio-vault-ca-guard", MountPath: "/vault/secrets"}}
	for _, tc := range []struct {
		path string
		p    *wiring.Plan
		want reachKind
	}{
		{"spec", istiod, reachesHolder},
		{"spec.template", gateway, reachesHolder},
		{"spec.template.metadata", istiod, reachesHolder},
		{"spec.template.metadata.labels", istiod, reachesNothing},
		{"spec.template.metadata.annotations", istiod, reachesAnnotations},
		{`spec.template.metadata.annotations.vault\.hashicorp\.com/agent-inject`, gateway, reachesAnnotation},
		{`spec.template.metadata.annotations.vault\.hashicorp\.com/agent-inject.x`, istiod, reachesBelowEntry},
		{`spec.template.metadata.annotations.vault\.hashicorp\.com/role`, istiod, reachesOtherAnnotation},
		{`spec.template.metadata.annotations.team.x`, istiod, reachesNothing},
		{"spec.template.spec", istiod, reachesHolder},
		{"spec.template.spec", gateway, reachesNothing}, // a gateway's env is not the tool's
		{"spec.template.spec.containers", istiod, reachesHolder},
		{"spec.template.spec.containers.[name:discovery]", istiod, reachesHolder},
		{"spec.template.spec.containers[0]", istiod, reachesHolder},
		{"spec.template.spec.containers.[name:sidecar].env", istiod, reachesNothing},
		{"spec.template.spec.containers.[name:discovery].args.[30m]", istiod, reachesNothing},
		{"spec.template.spec.containers.[name:discovery].env", istiod, reachesEnv},
		{"spec.template.spec.containers[0].env", istiod, reachesEnv},
		{"spec.template.spec.containers.[image:x].env", istiod, reachesEnv},
		{"spec.template.spec.containers.[name:discovery].env[2]", istiod, reachesEnvByIndex},
		{"spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR]", istiod, reachesEnvEntry},
		{"spec.template.spec.containers.[name:discovery].env.[value:/vault/secrets]", istiod, reachesEnvEntry},
		{"spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR].value", istiod, reachesEnvValue},
		{"spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR].valueFrom", istiod, reachesBelowEntry},
		{"spec.template.spec.containers.[name:discovery].env.[name:PILOT_TRACE_SAMPLING].value", istiod, reachesNothing},
		{"spec.template.spec.containers.[name:discovery].env.[name:VAULT_AGENT_INJECT_STATUS].value", guarded, reachesBelowEntry},
		{"spec.template.spec.volumes", guarded, reachesGuardList},
		{"spec.template.spec.volumes[6]", guarded, reachesGuardByIndex},
		{"spec.template.spec.volumes.[name:istio-vault-ca-guard].downwardAPI", guarded, reachesGuard},
		{"spec.template.spec.volumes.[name:cert-manager]", guarded, reachesNothing},
		{"spec.template.spec.volumes[6]", istiod, reachesNothing}, // no guard in the plan
		{"spec.template.spec.containers.[name:discovery].volumeMounts", guarded, reachesGuardList},
		{"spec.template.spec.containers[0].volumeMounts[6]", guarded, reachesGuardByIndex},
		{"spec.template.spec.containers.[name:discovery].volumeMounts.[mountPath:/vault/secrets]", guarded, reachesGuard},
		{"spec.template.spec.containers.[name:discovery].volumeMounts.[name:istio-vault-ca-guard].readOnly", guarded, reachesGuard},
		{"spec.template.spec.containers.[name:discovery].volumeMounts.[name:cert-manager]", guarded, reachesMount},
		{"spec.template.spec.containers.[name:discovery].volumeMounts.[mountPath:/etc/cacerts].mountPath", guarded, reachesMount},
		{"spec.template.spec.containers.[name:sidecar].volumeMounts", guarded, reachesNothing},
		{"spec.template.spec.containers.[name:istio-proxy].volumeMounts", gateway, reachesMount},
		{"spec.template.spec.containers[0].volumeMounts[2].mountPath", gateway, reachesMount},
		{"spec.template.spec.volumes", gateway, reachesNothing},
		// The injector mounts the agent's volume into the container of
		// that name only.
		{"spec.template.spec.containers.[name:discovery].name", guarded, reachesContainerName},
		{"spec.template.spec.containers[0].name", istiod, reachesContainerName},
		{"spec.template.spec.containers.[name:istio-proxy].name", gateway, reachesContainerName},
		{"spec.template.spec.containers.[name:sidecar].name", guarded, reachesNothing},
		{"spec.template.spec.containers.[name:discovery].image", guarded, reachesNothing},
		{"spec.replicas", istiod, reachesNothing},
		{"metadata.annotations", istiod, reachesNothing},
	} {
		if got := reach(overlayPath(tc.path), tc.p).kind; got != tc.want {
			t.Errorf("reach(%s, %s plan) = %d, want %d", tc.path, tc.p.Container, got, tc.want)
		}
	}
}

var overlayPlan = &wiring.Plan{Container: "discovery", ServiceAccounts: []string{"istiod", "istiod-canary"}, Namespaces: []string{"istio-system"},
	Annotations: []wiring.Pair{{Name: "vault.hashicorp.com/agent-inject", Value: "true"}, {Name: "vault.hashicorp.com/role", Value: "istiod"}},
	Env:         []wiring.Pair{{Name: "ROOT_CA_DIR", Value: "/vault/secrets"}}, VolumePath: "/vault/secrets"}

const operatorHead = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n"

// TestOperatorOverlays: each case is one overlay patch on istiod; the error
// cases must name the patch, the others say what becomes of it.
func TestOperatorOverlays(t *testing.T) {
	for name, tc := range map[string]struct {
		spec, want, err string
	}{
		"whole env gets the variable": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env', value: [{name: A, value: b}]}]}]}}}\n",
			want: "value: [{name: A, value: b}, {name: ROOT_CA_DIR, value: /vault/secrets}]",
		},
		"whole annotations get the annotations": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: spec.template.metadata.annotations, value: {team: mesh}}]}]}}}\n",
			want: `value: {team: mesh, vault.hashicorp.com/agent-inject: "true", vault.hashicorp.com/role: istiod}`,
		},
		"another Deployment's overlay is not istiod's": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod-canary, patches: [{path: spec.template.metadata.annotations, value: {team: mesh}}]}]}}}\n",
			want: "value: {team: mesh}}",
		},
		"a revision's istiod is istiod-<revision>": {
			spec: "  revision: canary\n  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod-canary, patches: [{path: spec.template.metadata.annotations, value: {team: mesh}}]}]}}}\n",
			want: `value: {team: mesh, vault.hashicorp.com/agent-inject: "true", vault.hashicorp.com/role: istiod}`,
		},
		"values.revision names istiod as istioctl does": {
			spec: "  values: {revision: canary}\n  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: spec.template.metadata.annotations}]}]}}}\n",
			want: "patches: [{path: spec.template.metadata.annotations}]",
		},
		"removing the annotations": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: spec.template.metadata.annotations}]}]}}}\n",
			err:  "`spec.components.pilot.k8s.overlays[0].patches[0]`: path spec.template.metadata.annotations removes the pod annotations",
		},
		"removing the env": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env', value: null}]}]}}}\n",
			err:  "removes the env of container discovery, with ROOT_CA_DIR",
		},
		"an annotation set otherwise": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.metadata.annotations.vault\\.hashicorp\\.com/role', value: other}]}]}}}\n",
			err:  "`spec.components.pilot.k8s.overlays[0].patches[0].value`: sets annotation vault.hashicorp.com/role to \"other\" but istio-vault-ca needs \"istiod\"",
		},
		"an annotation that undoes the plan": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.metadata.annotations.vault\\.hashicorp\\.com/agent-inject-token', value: 'true'}]}]}}}\n",
			err:  "`spec.components.pilot.k8s.overlays[0].patches[0].value`: sets annotation vault.hashicorp.com/agent-inject-token, which is \"true\": only \"false\" is accepted, since anything meaning otherwise writes the agent's Vault token into the volume beside the key: remove this patch, or set it to \"false\"",
		},
		"an annotation that does not": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.metadata.annotations.vault\\.hashicorp\\.com/agent-inject-token', value: 'false'}]}]}}}\n",
			want: "agent-inject-token', value: 'false'}",
		},
		"a whole annotations map that undoes the plan": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: spec.template.metadata.annotations, value: {vault.hashicorp.com/agent-configmap: mine}}]}]}}}\n",
			err:  "vault.hashicorp.com/agent-configmap`: replaces the agent's whole config",
		},
		"an env entry set to a reference": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR]', value: {name: ROOT_CA_DIR, valueFrom: {}}}]}]}}}\n",
			err:  "sets env ROOT_CA_DIR of container discovery to \"valueFrom\"",
		},
		"an env entry renamed": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR]', value: {name: OTHER, value: /vault/secrets}}]}]}}}\n",
			err:  "to a variable named \"OTHER\"",
		},
		"an env value set to a mapping": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR].value', value: {a: b}}]}]}}}\n",
			err:  "to a mapping but",
		},
		"an env valueFrom patched": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env.[name:ROOT_CA_DIR].valueFrom', value: {a: b}}]}]}}}\n",
			err:  "changes env ROOT_CA_DIR of container discovery, which istio-vault-ca sets to \"/vault/secrets\": remove this patch",
		},
		"the container replaced": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery]', value: {name: discovery}}]}]}}}\n",
			err:  "replaces all of what holds ROOT_CA_DIR (k8s.env)",
		},
		"the container renamed": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].name', value: foo}]}]}}}\n",
			err:  "`spec.components.pilot.k8s.overlays[0].patches[0]`: path spec.template.spec.containers.[name:discovery].name renames container discovery, the one the injector mounts the agent's volume into (agent-inject-containers: discovery)",
		},
		"the container's name removed": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers[0].name'}]}]}}}\n",
			err:  "removes the name of container discovery",
		},
		"the container's name kept": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers[0].name', value: discovery}]}]}}}\n",
			want: "value: discovery}",
		},
		"a mount moved onto the secret volume": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].volumeMounts.[name:cacerts].mountPath', value: /vault/secrets/injected}]}]}}}\n",
			err:  "`spec.components.pilot.k8s.overlays[0].patches[0].value`: mount \"cacerts\" is at /vault/secrets/injected, which overlaps  /vault/secrets",
		},
		"a mount replaced by one on the secret volume": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].volumeMounts.[mountPath:/etc/cacerts]', value: {name: x, mountPath: /vault}}]}]}}}\n",
			err:  "mount \"x\" is at /vault, which overlaps",
		},
		"a mount moved elsewhere": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].volumeMounts.[name:cacerts].mountPath', value: /etc/other}]}]}}}\n",
			want: "value: /etc/other}",
		},
		"an annotations map that is a string": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: spec.template.metadata.annotations, value: 'team: mesh'}]}]}}}\n",
			err:  "`spec.components.pilot.k8s.overlays[0].patches[0].value`: is not a mapping of annotations",
		},
		"an env list that is a string": {
			spec: "  components: {pilot: {k8s: {overlays: [{kind: Deployment, name: istiod, patches: [{path: 'spec.template.spec.containers.[name:discovery].env', value: 'name: A'}]}]}}}\n",
			err:  "is not a list of env entries",
		},
	} {
		t.Run(name, func(t *testing.T) {
			rn := mustParse(t, operatorHead+tc.spec)
			_, err := ApplyIstioOperator(rn, overlayPlan, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out := mustString(t, rn); !strings.Contains(out, tc.want) {
				t.Errorf("output does not hold %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestOperatorGatewayIdentity(t *testing.T) {
	gw := &wiring.Plan{Container: "istio-proxy", Selector: map[string]string{"istio": "ingressgateway"}, Setting: "spec.gateways[1]",
		ServiceAccounts: []string{"istio-ingressgateway-service-account"}, Namespaces: []string{"istio-system"},
		Annotations: []wiring.Pair{{Name: "vault.hashicorp.com/agent-inject", Value: "true"}}}
	other := &wiring.Plan{Container: "istio-proxy", Selector: map[string]string{"istio": "egressgateway"}}
	plans := []*wiring.Plan{other, gw}
	for name, tc := range map[string]struct{ spec, err string }{
		"bound": {spec: "  profile: empty\n  components: {ingressGateways: [{name: istio-ingressgateway}]}\n"},
		"the profile's namespace, not metadata's": {
			spec: "  profile: empty\n  components: {ingressGateways: [{name: istio-ingressgateway}]}\nmetadata: {namespace: elsewhere}\n"},
		"a gateway of another name": {
			spec: "  profile: empty\n  components: {ingressGateways: [{name: edge, label: {istio: ingressgateway}}]}\n",
			err:  "`spec.components.ingressGateways[edge].name`: istioctl runs this gateway as service account \"edge-service-account\", but the Vault role binds only istio-ingressgateway-service-account: add \"edge-service-account\" to spec.gateways[1].serviceAccounts",
		},
		"a gateway of another name has the chart's labels": {
			spec: "  profile: empty\n  components: {ingressGateways: [{name: edge}]}\n",
			err:  "add \"edge-service-account\" to spec.gateways[1].serviceAccounts",
		},
		"a service account an overlay sets": {
			spec: "  profile: empty\n  components: {ingressGateways: [{name: istio-ingressgateway, k8s: {overlays: [{kind: Deployment, name: istio-ingressgateway, patches: [{path: spec.template.spec.serviceAccountName, value: edge}]}]}}]}\n",
			err:  "`spec.components.ingressGateways[istio-ingressgateway].k8s.overlays[0].patches[0].value`: istioctl runs this gateway as service account \"edge\"",
		},
		"the gateway's namespace": {
			spec: "  profile: empty\n  components: {ingressGateways: [{name: istio-ingressgateway, namespace: istio-ingress}]}\n",
			err:  "`spec.components.ingressGateways[istio-ingressgateway].namespace`: istioctl installs this gateway in namespace \"istio-ingress\", but the Vault role binds only namespaces istio-system: add \"istio-ingress\" to spec.gateways[1].namespaces",
		},
		"the install's namespace": {
			spec: "  profile: empty\n  values: {global: {istioNamespace: mesh}}\n  components: {ingressGateways: [{name: istio-ingressgateway}]}\n",
			err:  "`spec.values.global.istioNamespace`: istioctl installs this gateway in namespace \"mesh\"",
		},
		"a disabled gateway is not checked": {
			spec: "  profile: empty\n  components: {ingressGateways: [{name: edge, enabled: false, label: {istio: ingressgateway}}]}\n"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ApplyIstioOperator(mustParse(t, operatorHead+tc.spec), overlayPlan, plans)
			checkError(t, err, tc.err)
		})
	}
}

// A gateway's overlays are checked for what the injector does to the
// gateway's container: a mount where it mounts the files, a rename.
func TestOperatorGatewayOverlays(t *testing.T) {
	gw := &wiring.Plan{Container: "istio-proxy", Selector: map[string]string{"istio": "ingressgateway"}, Setting: "spec.gateways[0]",
		ServiceAccounts: []string{"istio-ingressgateway-service-account"}, Namespaces: []string{"istio-system"},
		Annotations: []wiring.Pair{{Name: "vault.hashicorp.com/agent-inject", Value: "true"}},
		VolumePath:  "/etc/istio/ingressgateway-certs", VolumeSetting: "spec.gateways[0].mountPath"}
	const head = "  profile: empty\n  components: {ingressGateways: [{name: istio-ingressgateway, k8s: {overlays: [{kind: Deployment, name: istio-ingressgateway, patches: ["
	for name, tc := range map[string]struct{ patch, err string }{
		"a mount elsewhere": {patch: "{path: 'spec.template.spec.containers.[name:istio-proxy].volumeMounts.[name:x].mountPath', value: /etc/x}"},
		"a mount moved onto the files": {patch: "{path: 'spec.template.spec.containers.[name:istio-proxy].volumeMounts.[name:x].mountPath', value: /etc/istio/ingressgateway-certs/tls}",
			err: "`spec.components.ingressGateways[istio-ingressgateway].k8s.overlays[0].patches[0].value`: mount \"x\" is at /etc/istio/ingressgateway-certs/tls, which overlaps spec.gateways[0].mountPath"},
		"a whole list with one there": {patch: "{path: 'spec.template.spec.containers[0].volumeMounts', value: [{name: a, mountPath: /a}, {name: b, mountPath: /etc/istio}]}",
			err: "mount \"b\" is at /etc/istio, which overlaps"},
		"one appended there": {patch: "{path: 'spec.template.spec.containers[0].volumeMounts', value: {name: b, mountPath: /etc/istio/ingressgateway-certs}}",
			err: "mount \"b\" is at /etc/istio/ingressgateway-certs, which overlaps"},
		"the container renamed": {patch: "{path: 'spec.template.spec.containers[0].name', value: proxy}",
			err: "renames container istio-proxy, the one the injector mounts the agent's volume into (agent-inject-containers: istio-proxy): the renamed container would get none of its certificate files"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ApplyIstioOperator(mustParse(t, operatorHead+head+tc.patch+"]}]}}]}\n"), overlayPlan, []*wiring.Plan{gw})
			checkError(t, err, tc.err)
		})
	}
}

func TestOperatorIstiodIdentity(t *testing.T) {
	p := &wiring.Plan{Container: "discovery", ServiceAccounts: []string{"istiod", "istiod-canary"}, Namespaces: []string{"istio-system", "mesh"},
		Annotations: overlayPlan.Annotations, Env: overlayPlan.Env, VolumePath: "/vault/secrets"}
	for name, tc := range map[string]struct{ spec, err string }{
		"default":                          {spec: "  profile: minimal\n"},
		"a revision":                       {spec: "  revision: canary\n"},
		"values.revision wins":             {spec: "  revision: canary\n  values: {revision: other}\n", err: "`spec.values.revision`: is \"other\", so istiod runs as istiod-other"},
		"revision default":                 {spec: "  revision: default\n", err: "`spec.revision`: is \"default\": istioctl then renders istiod as istiod-default"},
		"spec.namespace moves nothing":     {spec: "  namespace: elsewhere\n"},
		"metadata.namespace moves nothing": {spec: "  profile: minimal\nmetadata: {namespace: elsewhere}\n"},
		"the install's namespace":          {spec: "  values: {global: {istioNamespace: elsewhere}}\n", err: "`spec.values.global.istioNamespace`: istiod is installed in \"elsewhere\""},
		"the pilot's namespace wins":       {spec: "  values: {global: {istioNamespace: elsewhere}}\n  components: {pilot: {namespace: mesh}}\n"},
		"the pilot's namespace":            {spec: "  components: {pilot: {namespace: other}}\n", err: "`spec.components.pilot.namespace`: istiod is installed in \"other\""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ApplyIstioOperator(mustParse(t, operatorHead+tc.spec), p, nil)
			checkError(t, err, tc.err)
		})
	}
}

// checkError fails t unless err is nil where want is empty, or holds want.
func checkError(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}
