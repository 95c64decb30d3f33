package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podFromDeployment creates the pod of a Deployment the API server holds,
// as the Deployment and ReplicaSet controllers would (there is no
// kube-controller-manager): a ReplicaSet named by the hash of the pod
// template, owned by the Deployment, and one pod from the template with
// the pod-template-hash label, owned by that ReplicaSet. The pod goes
// through admission like any other (the ServiceAccount plugin mounts its
// token, the mutating webhooks run); the pod the API server stored is
// returned.
func (cp *controlPlane) podFromDeployment(t testing.TB, namespace, name string) (*corev1.Pod, error) {
	t.Helper()
	ctx := context.Background()
	d, err := cp.client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	tpl := d.Spec.Template.DeepCopy()
	raw, err := json.Marshal(tpl)
	must(t, err)
	hash := fmt.Sprintf("%x", sha256.Sum256(raw))[:10]
	labels := map[string]string{}
	for k, v := range tpl.Labels {
		labels[k] = v
	}
	labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash

	rsName := d.Name + "-" + hash
	rs, err := cp.client.AppsV1().ReplicaSets(namespace).Get(ctx, rsName, metav1.GetOptions{})
	if err != nil {
		tpl.Labels = labels
		rs, err = cp.client.AppsV1().ReplicaSets(namespace).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: rsName, Namespace: namespace, Labels: labels, Annotations: d.Spec.Template.Annotations,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
			},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptrTo(int32(1)), Selector: selector, Template: *tpl},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rsName + "-", Namespace: namespace,
			Labels: labels, Annotations: d.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
	}
	created, err := cp.client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	// Read back, as the kubelet sees it: what the API server stored.
	return cp.client.CoreV1().Pods(namespace).Get(ctx, created.Name, metav1.GetOptions{})
}

// mustPodFromDeployment is podFromDeployment for a pod that must be admitted.
func (cp *controlPlane) mustPodFromDeployment(t testing.TB, namespace, name string) *corev1.Pod {
	t.Helper()
	pod, err := cp.podFromDeployment(t, namespace, name)
	if err != nil {
		t.Fatalf("creating the pod of Deployment %s/%s: %v", namespace, name, err)
	}
	return pod
}
