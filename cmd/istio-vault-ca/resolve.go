package main

import (
	"bytes"
	"os"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

const (
	envConfig         = "ISTIO_VAULT_CA_CONFIG"
	defaultConfigFile = "vaultca.yaml"
)

// resolveConfig picks the config file: the flag, else the environment (Helm 3
// passes arguments only through --post-renderer-args), else ./vaultca.yaml.
// It says which, for --verbose.
func resolveConfig(flagValue string) (file, how string, err error) {
	switch {
	case flagValue != "":
		return flagValue, "--config", nil
	case os.Getenv(envConfig) != "":
		return os.Getenv(envConfig), "$" + envConfig, nil
	}
	if _, err := os.Stat(defaultConfigFile); err == nil {
		return defaultConfigFile, "./" + defaultConfigFile, nil
	}
	return "", "", errNoConfig
}

// isResourceList reports whether stdin is a KRM ResourceList. Only the first
// document is looked at, and only parsed if it could be one.
func isResourceList(in []byte) bool {
	docs := stream.Split(in)
	if len(docs) == 0 || !bytes.Contains(docs[0].Body, []byte("ResourceList")) {
		return false
	}
	rn, err := yaml.Parse(string(docs[0].Source()))
	return err == nil && rn.GetKind() == "ResourceList"
}
