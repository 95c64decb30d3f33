package main

import (
	"bufio"
	"errors"
	"os"
	"regexp"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

const (
	envConfig         = "ISTIO_VAULT_CA_CONFIG"
	defaultConfigFile = "vaultca.yaml"
)

var errNoConfig = errors.New("no config: pass --config FILE, set $" + envConfig + ", or put " + defaultConfigFile + " in the current directory")

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

// resourceListKind is a top-level `kind: ResourceList` line.
var resourceListKind = regexp.MustCompile(`(?m)^kind:[ \t]*["']?ResourceList["']?[ \t]*(#.*)?\r?$`)

// isResourceList reports whether stdin is a KRM ResourceList: its first
// document, as far as the peeked bytes hold it, has kind ResourceList at the
// top level. Nothing is consumed.
func isResourceList(in *bufio.Reader) bool {
	head, _ := in.Peek(peekSize)
	docs := stream.Split(head)
	if len(docs) == 0 {
		return false
	}
	first := docs[0].Body
	if len(docs) == 1 && !stream.IsBareMarker(docs[0].Marker) {
		first = docs[0].Raw()
	}
	return resourceListKind.Match(first)
}
