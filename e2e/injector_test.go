package e2e

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch"
	"github.com/hashicorp/vault-k8s/agent-inject/agent"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const serviceAccountMount = "/var/run/secrets/kubernetes.io/serviceaccount"

// The library-level injector: podFor and inject run the Vault Agent
// Injector's mutation code in the test process, with no cluster. The chain
// tests go through the real injector process at admission (webhook_test.go);
// these remain for what that cannot show cheaply: dozens of annotation
// variants (foreign_test.go, names_test.go), each a fact about the agent
// config the injector's code generates, needing neither a Vault nor a pod.

// podFor turns a Deployment into the pod its ReplicaSet would create, after
// the ServiceAccount admission plugin has mounted the projected token: the
// step that happens before any mutating webhook, the Vault injector's too.
func podFor(t testing.TB, deploymentYAML []byte) *corev1.Pod {
	t.Helper()
	var d appsv1.Deployment
	must(t, yaml.UnmarshalStrict(deploymentYAML, &d))
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: *d.Spec.Template.ObjectMeta.DeepCopy(),
		Spec:       *d.Spec.Template.Spec.DeepCopy(),
	}
	pod.Name, pod.Namespace = d.Name+"-7d4f8b9c6-x2x5z", d.Namespace
	expiry := int64(3607)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name: "kube-api-access-x2x5z",
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &expiry}},
		}}},
	})
	mount := corev1.VolumeMount{Name: "kube-api-access-x2x5z", MountPath: serviceAccountMount, ReadOnly: true}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].VolumeMounts = append(pod.Spec.Containers[i].VolumeMounts, mount)
	}
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].VolumeMounts = append(pod.Spec.InitContainers[i].VolumeMounts, mount)
	}
	return pod
}

// inject runs the Vault Agent Injector's own mutation on the pod, with the
// injector's default flags, and returns the pod the API server would store.
func inject(t testing.TB, pod *corev1.Pod, vaultAddr string) *corev1.Pod {
	t.Helper()
	in := pod.DeepCopy()
	cfg := agent.AgentConfig{
		Image:              agent.DefaultVaultImage,
		Address:            vaultAddr,
		AuthType:           agent.DefaultVaultAuthType,
		AuthPath:           "auth/kubernetes",
		Namespace:          pod.Namespace,
		UserID:             "100",
		GroupID:            "1000",
		SetSecurityContext: true,
		DefaultTemplate:    "map",
		ResourceRequestCPU: "250m", ResourceRequestMem: "64Mi",
		ResourceLimitCPU: "500m", ResourceLimitMem: "128Mi",
		ExitOnRetryFailure: agent.DefaultTemplateConfigExitOnRetryFailure,
	}
	must(t, agent.Init(in, cfg))
	a, err := agent.New(in)
	must(t, err)
	must(t, a.Validate())
	patch, err := a.Patch()
	must(t, err)
	orig, err := json.Marshal(in)
	must(t, err)
	p, err := jsonpatch.DecodePatch(patch)
	must(t, err)
	out, err := p.Apply(orig)
	must(t, err)
	var mutated corev1.Pod
	must(t, json.Unmarshal(out, &mutated))
	return &mutated
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// agentConfig decodes the Vault Agent config the injector put in a container.
func agentConfig(t testing.TB, c *corev1.Container) map[string]any {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "VAULT_CONFIG" {
			raw, err := base64.StdEncoding.DecodeString(e.Value)
			must(t, err)
			var cfg map[string]any
			must(t, json.Unmarshal(raw, &cfg))
			return cfg
		}
	}
	t.Fatalf("container %s has no VAULT_CONFIG", c.Name)
	return nil
}
