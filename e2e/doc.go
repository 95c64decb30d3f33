// Package e2e proves, with real components and no mocks, that what
// istio-vault-ca emits works: a real Vault server, the Vault Agent Injector's
// own mutation code, a real `vault agent`, and istiod's own CA loader.
// It is a separate module so that none of these reach the shipped binary.
package e2e
