package e2e

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet stand-in's own rules, without a cluster: a wrong mapping
// would hand a process the machine's path instead of its volume's.
func TestPodRunMapsPathsAndExpandsVars(t *testing.T) {
	r := &podRun{vols: map[string]string{"ca": "/tmp/v/ca", "vault": "/tmp/v/vault", "tmp": "/tmp/v/tmp"}}
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "ca", MountPath: "/etc/cacerts"},
		{Name: "vault", MountPath: "/etc/cacerts-vault"},
		{Name: "tmp", MountPath: "/tmp"},
	}}
	for in, want := range map[string]string{
		"/etc/cacerts":                        "/tmp/v/ca",
		"/etc/cacerts-vault/ca-key.pem":       "/tmp/v/vault/ca-key.pem",
		"A=/etc/cacerts:/etc/cacerts-vault":   "A=/tmp/v/ca:/tmp/v/vault",
		`file "/etc/cacerts-vault/x.pem"`:     `file "/tmp/v/vault/x.pem"`,
		"/x/etc/cacerts":                      "/x/etc/cacerts",
		"https://h/etc/cacerts":               "https://h/etc/cacerts",
		"/etc/cacerts2":                       "/etc/cacerts2",
		"/etc/cacerts /etc/cacerts-vault/a b": "/tmp/v/ca /tmp/v/vault/a b",
		// A volume's directory may lie under a mountPath: it is not mapped again.
		"/tmp/x": "/tmp/v/tmp/x",
	} {
		if got := r.mapPaths(c, in); got != want {
			t.Errorf("mapPaths(%q) = %q, want %q", in, got, want)
		}
	}
	defined := map[string]string{"STATUS": "injected", "EMPTY": ""}
	for in, want := range map[string]string{
		"/etc/vault/$(STATUS)": "/etc/vault/injected",
		"/etc/vault/$(EMPTY)":  "/etc/vault/",
		"$(UNDEFINED)/x":       "$(UNDEFINED)/x",
		"$$(STATUS)":           "$(STATUS)",
		"cost $5":              "cost $5",
		"$(unclosed":           "$(unclosed",
	} {
		if got := expandVars(in, defined); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}
