package config

import (
	"reflect"
	"strings"
	"time"
)

// sourceSpec is one type of secret source (a vault:"source" field): it
// fills and checks its own fields. at is its field path, such as
// spec.source.kv; s the whole spec, for what the source depends on.
type sourceSpec interface {
	setDefaults(s *Spec)
	validate(add adder, at string, s *Spec)
}

// certificateSource is a source of a gateway certificate: it names the
// files the certificate is rendered into.
type certificateSource interface {
	sourceSpec
	fileNames(name string) []string
}

// adder records one error of a field.
type adder = func(field, format string, args ...any)

// Selected is the source s reads istiod's CA from (a *KV or a *PKI), nil
// if none; with more than one set, which Validate refuses, the first.
func (s *Source) Selected() any { return selected(s) }

// Selected is the source c's files come from (a *CertificateKV or a
// *CertificatePKI), as Source.Selected.
func (c *Certificate) Selected() any { return selected(c) }

// Selected is the source an extra root is read from (a *RootKV or a
// *RootPKI), as Source.Selected.
func (r *ExtraRoot) Selected() any { return selected(r) }

func selected(v any) any {
	rv := reflect.ValueOf(v).Elem()
	for _, f := range fieldsOf(rv.Type()) {
		if fv := rv.Field(f.index); f.source && !fv.IsNil() {
			return fv.Interface()
		}
	}
	return nil
}

// validateSources checks that v (a *Source or *Certificate) sets exactly
// one source, and that source's fields. what is what is chosen: "layout"
// for istiod's, "" for a certificate's.
func validateSources(add adder, at string, v any, s *Spec, what string) {
	all, names, set := sources(v)
	choose := strings.TrimSpace("one " + what)
	switch len(set) {
	case 0:
		lead := ""
		if what != "" {
			lead = choose + ": "
		}
		add(at, "must set %s%s", lead, orList(all))
	case 1:
		set[0].validate(add, at+"."+names[0], s)
	default:
		both := "both "
		if len(set) > 2 {
			both = ""
		}
		add(at, "sets %s%s: choose %s", both, andList(names), choose)
	}
}

// defaultSources fills every source v sets: a config that sets two is
// refused, with both shown as they would be read.
func defaultSources(v any, s *Spec) {
	rv := reflect.ValueOf(v).Elem()
	for _, f := range fieldsOf(rv.Type()) {
		if fv := rv.Field(f.index); f.source && !fv.IsNil() {
			fv.Interface().(sourceSpec).setDefaults(s)
		}
	}
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	return out
}

// orList is `a` or `b`, `a`, `b` or `c`.
func orList(names []string) string { return list(quoted(names), " or ") }

// andList is `a` and `b`, `a`, `b` and `c`.
func andList(names []string) string { return list(quoted(names), " and ") }

func list(items []string, last string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + last + items[len(items)-1]
}

// istiod's CA from one KV secret.

func (kv *KV) setDefaults(s *Spec) {
	if kv.Version == 0 {
		kv.Version = DefaultKVVersion
	}
	def := DefaultFields(s.FileLayout)
	fillEmpty(&kv.Fields.CAKey, def.CAKey)
	fillEmpty(&kv.Fields.CACert, def.CACert)
	fillEmpty(&kv.Fields.CertChain, def.CertChain)
	fillEmpty(&kv.Fields.RootCert, def.RootCert)
}

func (kv *KV) validate(add adder, at string, s *Spec) {
	validateKVSecret(add, at, kv.KVSecret)
	if s.FileLayout == LayoutKubernetesTLS && kv.Fields.CertChain != "" {
		add(at+".fields.certChain", "is not used with fileLayout %q (istiod builds the chain from tls.crt and ca.crt): remove it", LayoutKubernetesTLS)
	}
}

// istiod's CA certificates from PKI mounts, its key from KV.

func (pki *PKI) setDefaults(*Spec) {
	if pki.Key.Version == 0 {
		pki.Key.Version = DefaultPKIKeyKVVersion
	}
	fillEmpty(&pki.Key.Field, DefaultPKIKeyField)
}

func (pki *PKI) validate(add adder, at string, _ *Spec) {
	if pki.Mount == "" {
		add(at+".mount", "must be set: the intermediate CA's PKI mount")
	}
	if pki.RootMount == "" {
		add(at+".rootMount", "must be set: the root CA's PKI mount")
	}
	validateKVSecret(add, at+".key", pki.Key.KVSecret)
}

// A gateway's certificate and key stored in one KV secret.

func (kv *CertificateKV) setDefaults(*Spec) {
	if kv.Version == 0 {
		kv.Version = DefaultKVVersion
	}
	fillEmpty(&kv.CertField, DefaultCertField)
	fillEmpty(&kv.KeyField, DefaultKeyField)
}

func (kv *CertificateKV) fileNames(name string) []string {
	files := []string{name + ".crt", name + ".key"}
	if kv.CAField != "" {
		files = append(files, name+"-ca.crt")
	}
	return files
}

func (kv *CertificateKV) validate(add adder, at string, _ *Spec) {
	validateKVSecret(add, at, kv.KVSecret)
}

// A gateway's leaf, issued by a PKI role.

func (pki *CertificatePKI) setDefaults(*Spec) {}

func (pki *CertificatePKI) fileNames(name string) []string { return []string{name + ".pem"} }

func (pki *CertificatePKI) validate(add adder, at string, _ *Spec) {
	if pki.Mount == "" {
		add(at+".mount", "must be set: the PKI mount that issues the leaf")
	}
	if pki.Role == "" {
		add(at+".role", "must be set: the PKI role that issues the leaf")
	}
	if pki.CommonName == "" {
		add(at+".commonName", "must be set")
	}
	if pki.TTL != "" {
		if d, err := time.ParseDuration(pki.TTL); err != nil || d <= 0 {
			add(at+".ttl", "must be a positive duration such as 72h, got %q", pki.TTL)
		}
	}
}

// An extra root from a field of a KV secret.

func (kv *RootKV) setDefaults(s *Spec) {
	if kv.Version == 0 {
		kv.Version = DefaultKVVersion
	}
	fillEmpty(&kv.Field, DefaultFields(s.FileLayout).RootCert)
}

func (kv *RootKV) validate(add adder, at string, _ *Spec) {
	validateKVSecret(add, at, kv.KVSecret)
}

// An extra root from a PKI mount's CA certificate.

func (pki *RootPKI) setDefaults(*Spec) {}

func (pki *RootPKI) validate(add adder, at string, _ *Spec) {
	if pki.Mount == "" {
		add(at+".mount", "must be set: the PKI mount whose CA certificate (<mount>/cert/ca) is the extra root")
	}
}
