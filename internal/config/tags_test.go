package config_test

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/internal/policy"
	"github.com/istio-vault-ca/istio-vault-ca/internal/wiring"
)

// Every field whose value reaches an agent template, the file it renders
// to, or a Vault path (a path read, a role, a policy, the Vault namespace)
// carries vault:"template", and no other field does: the tag is all the
// checks against template injection and wildcards go by. It fills every
// string field with a value of its own, builds the plans of every source
// (and of both kinds of gateway certificate) and looks for each value in
// what the plans would write into Vault Agent templates and Vault.
func TestTemplateFieldsAreTagged(t *testing.T) {
	reached := map[string]bool{} // field path -> found in a plan
	var tagged map[string]bool
	for _, source := range []string{"kv", "pki", "istioCSR", "mint"} {
		cfg := &config.VaultCA{}
		fields := map[string]string{} // value -> field path
		tagged = map[string]bool{}
		fill(reflect.ValueOf(&cfg.Spec).Elem(), "spec", fields, tagged)
		s := &cfg.Spec
		s.FileLayout, s.OnConflict = config.LayoutIstio, config.ConflictError
		cert := &s.Gateways[0].Certificates[0]
		switch source {
		case "kv":
			s.Source.PKI, s.Source.IstioCSR, s.Source.Mint, cert.PKI = nil, nil, nil, nil
		case "pki":
			s.Source.KV, s.Source.IstioCSR, s.Source.Mint, cert.KV = nil, nil, nil, nil
		case "mint":
			s.Source.KV, s.Source.PKI, s.Source.IstioCSR, cert.KV = nil, nil, nil, nil
		default: // istioCSR has no gateways: they get certificates from istio-csr
			s.Source.KV, s.Source.PKI, s.Source.Mint, cert.KV = nil, nil, nil, nil
		}
		extra := &s.RootRotation.ExtraRoots[0]
		if source == "kv" {
			extra.PKI = nil
		} else {
			extra.KV = nil
		}
		cfg.Default()
		istiod, err := wiring.ForIstiod(cfg)
		if err != nil {
			t.Fatal(err)
		}
		gateway, err := wiring.ForGateway(cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		plans := []*wiring.Plan{istiod, gateway}
		if source == "istioCSR" {
			plans = plans[:1]
		}
		var out []string
		for _, p := range plans {
			out = append(out, p.Role, p.AuthPath, p.Policy, p.VaultNamespace)
			for _, f := range p.Files {
				out = append(out, f.Name, f.Template)
				for _, r := range f.Reads() {
					out = append(out, r.APIPath)
					out = append(out, r.Reach...)
				}
			}
		}
		set := policy.For(cfg, plans...)
		for _, r := range set.Roles {
			out = append(out, r.Path)
		}
		for _, p := range set.Policies {
			for _, r := range p.Rules {
				out = append(out, r.Path)
			}
		}
		all := strings.Join(out, "\n")
		for v, field := range fields {
			if strings.Contains(all, v) {
				reached[field] = true
			}
		}
	}
	if len(tagged) == 0 || len(reached) < 20 {
		t.Fatalf("the walk found %d tagged fields and %d reaching a plan: it no longer fills the config", len(tagged), len(reached))
	}
	for _, field := range sortedFields(reached) {
		if !tagged[field] {
			t.Errorf("%s reaches an agent template or a Vault path but is not tagged vault:\"template\": the injection checks skip it", field)
		}
	}
	for _, field := range sortedFields(tagged) {
		// spec.rootRotation.next reaches templates only as spec.source,
		// in rotate-plan's steps; its types are spec.source's, whose tags
		// are checked here, and stay tagged so the injection checks
		// refuse a value before it gets there.
		if next, ok := strings.CutPrefix(field, "spec.rootRotation.next."); ok && reached["spec.source."+next] {
			continue
		}
		if !reached[field] {
			t.Errorf("%s is tagged vault:\"template\" but reaches no agent template or Vault path", field)
		}
	}
}

// fill gives every plain string field below v a value of its own,
// recording which field it is in fields, and every pointer, and one item of
// every list, a value; KV versions are 2, whose API path holds the mount.
func fill(v reflect.Value, path string, fields map[string]string, tagged map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path, fields, tagged)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			at := path
			if !f.Anonymous {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				at = path + "." + name
			}
			if tag, ok := f.Tag.Lookup("vault"); ok && strings.HasPrefix(tag, "template") {
				tagged[at] = true
			}
			if f.Name == "Version" && f.Type.Kind() == reflect.Int {
				v.Field(i).SetInt(2)
				continue
			}
			fill(v.Field(i), at, fields, tagged)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), path, fields, tagged)
	case reflect.String:
		if v.Type() != reflect.TypeOf("") {
			return // an enumeration, such as fileLayout: set by the test
		}
		value := "zq" + strconv.Itoa(len(fields)) + "zq"
		fields[value] = path
		v.SetString(value)
	}
}

func sortedFields(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
