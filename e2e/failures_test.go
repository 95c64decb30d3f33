package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// failCase breaks one thing a user can get wrong. The chain must fail, and
// both `verify` and the agent's log must name the cause.
type failCase struct {
	name      string
	kvFields  string                                  // spec.source.kv.fields, if not the defaults
	kvVersion int                                     // the config's KV version (the mount is v2)
	omit      string                                  // a field not written to Vault
	breakIt   func(t *testing.T, e *env, path string) // after the user's setup
	verify    string                                  // regexp the verify report must match
	agentLog  string                                  // regexp the agent log must match
}

// failCases are the broken setups: TestChainFailures shows verify and the
// agent name each cause, TestNeverSelfSigned what istiod then publishes.
func failCases() []failCase {
	return []failCase{
		{
			name: "wrong-role",
			breakIt: func(t *testing.T, e *env, _ string) {
				// The role exists but binds another service account.
				_, err := e.vault.client.Logical().Write("auth/k8s-wrong-role/role/istiod", map[string]any{
					"bound_service_account_names": "istiod-other", "bound_service_account_namespaces": "istio-system",
					"token_policies": "fail-wrong-role",
				})
				must(t, err)
			},
			verify:   `FAIL  login auth/k8s-wrong-role role istiod: permission denied`,
			agentLog: `(?s)error authenticating.*Code: 403.*service account name not authorized`,
		},
		{
			name: "policy-missing-path",
			breakIt: func(t *testing.T, e *env, _ string) {
				must(t, e.vault.client.Sys().PutPolicy("fail-policy-missing-path", `path "secret/data/somewhere-else" { capabilities = ["read"] }`))
			},
			verify:   `permission denied: role istiod's policy fail-policy-missing-path should grant read on secret/data/fail/policy-missing-path \(istio-vault-ca policy --role istiod prints it\)`,
			agentLog: `(?s)vault.read\(secret/data/fail/policy-missing-path\).*Code: 403.*permission denied`,
		},
		{
			// Seed 000 templates root_cert but never stores it.
			name:     "missing-field",
			omit:     "root_cert",
			verify:   `FAIL  root-cert.pem <- secret/data/fail/missing-field#data.root_cert: has no field "data.root_cert" \(fields present: ca_cert, ca_key, cert_chain\)`,
			agentLog: `istio-vault-ca: field root_cert is missing or empty in secret/data/fail/missing-field`,
		},
		{
			// A field name that is not a Go identifier is read with index;
			// a missing one must fail the render too, not write "<no value>".
			name:     "missing-dotted-field",
			kvFields: "rootCert: root-cert.pem",
			verify:   `has no field "data.root-cert.pem" \(fields present: ca_cert, ca_key, cert_chain, root_cert\)`,
			agentLog: `istio-vault-ca: field root-cert.pem is missing or empty in secret/data/fail/missing-dotted-field`,
		},
		{
			name:      "kv-version-mismatch",
			kvVersion: 1,
			verify:    `no secret at secret/fail/kv-version-mismatch: mount secret/ is KV version 2 but the config says version 1; set version: 2`,
			// The agent finds the mount is KV v2 and reads data/, which the
			// policy written for a v1 path does not grant.
			agentLog: `(?s)vault.read\(secret/fail/kv-version-mismatch\).*GET \S+/v1/secret/data/fail/kv-version-mismatch.*permission denied`,
		},
	}
}

// setupFailCase does the user's setup for fc, then breaks it; it returns
// the config file.
func (e *env) setupFailCase(t *testing.T, fc failCase) string {
	t.Helper()
	if fc.kvVersion == 0 {
		fc.kvVersion = 2
	}
	path := "fail/" + fc.name
	l := layout{
		name: fc.name,
		config: fmt.Sprintf(`apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: %[1]s}
spec:
  vault: {role: istiod, authPath: auth/k8s-%[1]s, policy: fail-%[1]s}
  source:
    kv:
      version: %[2]d
      path: secret/%[3]s
      fields: {%[4]s}
`, fc.name, fc.kvVersion, path, fc.kvFields),
		seed: func(t *testing.T, v *api.Client) {
			ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA "+fc.name, 10)
			data := ca.fields()
			delete(data, fc.omit)
			kvPut(t, v, 2, "secret", path, data)
		},
	}
	cfgFile, _ := e.setup(t, l)
	if fc.breakIt != nil {
		fc.breakIt(t, e, path)
	}
	return cfgFile
}

// initFails runs the pod's vault-agent-init and asserts that it does not
// succeed, its log naming fc's cause. Either way the kubelet never starts
// istiod: the agent exits non-zero (the init container failed), or it is
// still retrying when the test stops it (the pod stays in Init: a login
// the role refuses is retried with backoff for as long as the pod lives).
func (r *podRun) initFails(t *testing.T, fc failCase) *agentRun {
	t.Helper()
	initC := checkInjectedPod(t, r.pod, false)
	agent := r.startAgent(t, initC, secretVolumePath(r.pod), 15*time.Second)
	err := agent.wait()
	switch {
	case err == nil:
		t.Fatalf("vault-agent-init succeeded; istiod would have started:\n%s", agent.log.String())
	case agent.ctx.Err() != nil:
		t.Logf("vault-agent-init still retrying after %v: the pod stays in Init", agent.timeout)
	default:
		t.Logf("vault-agent-init exited: %v", err)
	}
	if !regexp.MustCompile(fc.agentLog).MatchString(agent.log.String()) {
		t.Errorf("agent log does not name the cause (%q):\n%s", fc.agentLog, agent.log.String())
	}
	return agent
}

func TestChainFailures(t *testing.T) {
	e := newEnv(t)
	for _, fc := range failCases() {
		t.Run(fc.name, func(t *testing.T) {
			cfgFile := e.setupFailCase(t, fc)
			out, code := e.verify(t, cfgFile)
			if code != 1 || !regexp.MustCompile(fc.verify).MatchString(out) {
				t.Errorf("verify: exit %d (want 1), output does not match %q:\n%s", code, fc.verify, out)
			}

			agent := e.k8s.runPod(t, e.injectedPod(t, cfgFile)).initFails(t, fc)
			// The init container failed, so the pod never starts istiod; had it
			// started, it would not have found a complete bundle.
			if _, complete := istiodBundle(agent.dir); complete {
				t.Errorf("a complete bundle was rendered despite the failure")
			}
		})
	}
}

// The injector runs its agent as uid 100 unless told otherwise; istiod runs
// as 1337. With a key that is not world-readable, that agent writes a key
// istiod cannot read: this is why the tool sets agent-run-as-user.
func TestAgentAsInjectorDefaultUserLocksIstiodOut(t *testing.T) {
	e := newEnv(t)
	l := layout{
		name: "uid100",
		config: `apiVersion: istio-vault-ca.dev/v1alpha1
kind: VaultCA
metadata: {name: uid100}
spec:
  vault: {role: istiod, policy: uid100}
  agent: {runAsUser: 100, runAsGroup: 1000}
  source:
    kv: {version: 2, path: secret/uid100}
`,
		seed: func(t *testing.T, v *api.Client) {
			ca, _, _, _ := newCA(t, nil, nil, "", "Intermediate CA uid100", 11)
			kvPut(t, v, 2, "secret", "uid100", ca.fields())
		},
	}
	cfgFile, _ := e.setup(t, l)
	pod := e.injectedPod(t, cfgFile)
	initC := &pod.Spec.InitContainers[0]
	agent := e.k8s.runPod(t, pod).startAgent(t, initC, secretVolumePath(pod), 60*time.Second)
	if err := agent.wait(); err != nil {
		t.Fatalf("agent: %v", err)
	}
	if agent.uid < 0 {
		t.Skip("not root: cannot switch uid to show who can read the key")
	}
	err := agent.readAs(1337, 1337, "ca-key.pem")
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "permission denied") {
		t.Errorf("istiod (uid 1337) read a key written by uid 100 with mode 0400: %v", err)
	}
}
