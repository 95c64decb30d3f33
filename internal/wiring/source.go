package wiring

import (
	"reflect"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// A secret source is one config type (a vault:"source" field of
// config.Source or config.Certificate), one template and one file here
// that turns it into Files: their Vault paths, templates, capabilities and
// what else reaches their contents. The plans, and from them the policies,
// the template-value checks and verify's reads, follow from those Files.
// kv.go and pki.go are the sources there are; each registers itself below.
// roots.go reads the extra roots of spec.rootRotation, a third kind: a
// source of one PEM, read only, that joins istiod's root file.

// bundleSource renders the file of one part of istiod's CA bundle; the
// caller names the file and sets its mode.
type bundleSource func(s config.Spec, src any, part Part) (File, error)

// certificateSource renders the files of one gateway certificate; renews
// says the agent must keep running to renew it.
type certificateSource func(name string, src any, keyPerms string) (files []File, renews bool, err error)

// planSource makes istiod's whole plan, for a source that renders no
// files (istiocsr.go).
type planSource func(cfg *config.VaultCA, src any) *Plan

// rootSource reads one extra root (config.ExtraRoot's source).
type rootSource func(src any) (SecretRead, error)

// The sources, keyed by their config type.
var (
	bundleSources      = map[reflect.Type]bundleSource{}
	certificateSources = map[reflect.Type]certificateSource{}
	planSources        = map[reflect.Type]planSource{}
	rootSources        = map[reflect.Type]rootSource{}
)

// planSourceFor registers how config type T (a pointer to a source
// struct of config.Source) makes istiod's plan itself.
func planSourceFor[T any](f func(*config.VaultCA, T) *Plan) {
	planSources[reflect.TypeOf((*T)(nil)).Elem()] = func(cfg *config.VaultCA, src any) *Plan { return f(cfg, src.(T)) }
}

// bundleSourceFor registers how config type T (a pointer to a source
// struct of config.Source) renders istiod's files.
func bundleSourceFor[T any](f func(config.Spec, T, Part) (File, error)) {
	bundleSources[reflect.TypeOf((*T)(nil)).Elem()] = func(s config.Spec, src any, part Part) (File, error) {
		return f(s, src.(T), part)
	}
}

// certificateSourceFor registers how config type T (a pointer to a source
// struct of config.Certificate) renders a gateway certificate's files.
func certificateSourceFor[T any](f func(string, T, string) ([]File, bool, error)) {
	certificateSources[reflect.TypeOf((*T)(nil)).Elem()] = func(name string, src any, keyPerms string) ([]File, bool, error) {
		return f(name, src.(T), keyPerms)
	}
}

// rootSourceFor registers how config type T (a pointer to a source struct
// of config.ExtraRoot) reads its root.
func rootSourceFor[T any](f func(T) (SecretRead, error)) {
	rootSources[reflect.TypeOf((*T)(nil)).Elem()] = func(src any) (SecretRead, error) { return f(src.(T)) }
}
