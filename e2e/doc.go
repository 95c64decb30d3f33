// Package e2e proves, with real components and no mocks, that what
// istio-vault-ca emits works: a real control plane (etcd, kube-apiserver,
// the Vault Agent Injector as its webhook), a real Vault server, and the
// processes of the pods the API server stores (`vault agent`, istiod)
// started as the kubelet would start them.
// It is a separate module so that none of these reach the shipped binary.
package e2e
