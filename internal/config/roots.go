package config

import (
	"fmt"
	"slices"
	"strings"
)

// mountOf is a KV secret's mount: Mount, or the first segment of Path.
func mountOf(kv KVSecret) string {
	if kv.Mount != "" {
		return strings.Trim(kv.Mount, "/")
	}
	first, _, _ := strings.Cut(strings.Trim(kv.Path, "/"), "/")
	return first
}

// sameSecret reports whether two KV addresses name the same secret.
func sameSecret(a, b KVSecret) bool {
	return mountOf(a) == mountOf(b) && strings.Trim(a.Path, "/") == strings.Trim(b.Path, "/")
}

// keyFields are the KV field names that hold a private key for this
// config: the defaults of both layouts, the PKI key's, a gateway's, Vault's
// own name for a generated key, and whatever the config names its keys.
func (s *Spec) keyFields() []string {
	names := []string{
		DefaultFields(LayoutIstio).CAKey, DefaultFields(LayoutKubernetesTLS).CAKey,
		DefaultPKIKeyField, DefaultKeyField, "private_key",
	}
	// The next CA's key fields too: rotate-plan's step 1 reads the next
	// root from where spec.rootRotation.next keeps its bundle.
	sources := []*Source{&s.Source}
	if s.RootRotation != nil && s.RootRotation.Next != nil {
		sources = append(sources, s.RootRotation.Next)
	}
	for _, src := range sources {
		if kv := src.KV; kv != nil {
			names = append(names, kv.Fields.CAKey)
		}
		if pki := src.PKI; pki != nil {
			names = append(names, pki.Key.Field)
		}
	}
	for _, g := range s.Gateways {
		for _, c := range g.Certificates {
			if c.KV != nil {
				names = append(names, c.KV.KeyField)
			}
		}
	}
	return names
}

// validateRootRotation refuses a spec.rootRotation that would do nothing
// or publish what is not a root: every extra root becomes part of
// root-cert.pem, which istiod copies into the istio-ca-root-cert ConfigMap
// of every namespace.
func validateRootRotation(add adder, s *Spec) {
	if s.RootRotation == nil {
		return
	}
	if s.Source.IstioCSR != nil {
		add("spec.rootRotation", "is not used with spec.source.istioCSR: istiod holds no root file in the istioCSR mode; roots are istio-csr's (its rootCAFile, the trust bundle istio-csr hands istiod), so rotate them there (cert-manager trust-manager or istio-csr's root CA file) and remove spec.rootRotation")
		return
	}
	if n := s.RootRotation.Next; n != nil {
		if n.IstioCSR != nil {
			add("spec.rootRotation.next.istioCSR", "is not a CA rotate-plan can rotate to: in the istioCSR mode istiod holds no CA files; give the next CA as kv, pki or mint")
		} else {
			validateSources(add, "spec.rootRotation.next", n, s, "layout")
		}
	}
	keys := s.keyFields()
	for i, r := range s.RootRotation.ExtraRoots {
		at := fmt.Sprintf("spec.rootRotation.extraRoots[%d]", i)
		switch {
		case r.KV != nil:
			kv := r.KV
			if ReservedMount(mountOf(kv.KVSecret)) != "" {
				add(at+".kv.path", "is under Vault's own mount %q (sys, auth, identity and cubbyhole are Vault's, not a KV engine holding a root): give the KV secret that holds the extra root", mountOf(kv.KVSecret))
				continue
			}
			switch {
			case s.Source.KV != nil && sameSecret(kv.KVSecret, s.Source.KV.KVSecret) && kv.Field == s.Source.KV.Fields.CAKey:
				add(at+".kv.field", "%q of %s is spec.source.kv.fields.caKey, the CA's private key: an extra root joins root-cert.pem, which istiod publishes to every namespace; give the field that holds the root certificate (e.g. %s)", kv.Field, kv.Path, DefaultFields(s.FileLayout).RootCert)
			case s.Source.PKI != nil && sameSecret(kv.KVSecret, s.Source.PKI.Key.KVSecret) && kv.Field == s.Source.PKI.Key.Field:
				add(at+".kv.field", "%q of %s is spec.source.pki.key, the intermediate's private key: an extra root joins root-cert.pem, which istiod publishes to every namespace; give the field that holds the root certificate", kv.Field, kv.Path)
			case slices.Contains(keys, kv.Field):
				add(at+".kv.field", "%q is a private key's field name: an extra root joins root-cert.pem, which istiod publishes to every namespace; give the field that holds the root certificate (e.g. %s)", kv.Field, DefaultFields(s.FileLayout).RootCert)
			}
		case r.PKI != nil:
			if ReservedMount(r.PKI.Mount) != "" {
				add(at+".pki.mount", "%q is Vault's own mount (sys, auth, identity and cubbyhole are Vault's, not a PKI engine): give the PKI mount whose CA certificate (<mount>/cert/ca) is the extra root", r.PKI.Mount)
			}
		}
	}
}
