package wiring

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/templates"
)

// Extra roots (spec.rootRotation.extraRoots): each one PEM, from a field
// of a KV secret or a PKI mount's CA certificate, read with the same
// reads as a bundle's parts. They join istiod's root file, whose one
// template (roots.tmpl) reads the source's own root and then each extra
// root, and writes each distinct PEM once.
func init() {
	rootSourceFor(kvRoot)
	rootSourceFor(pkiRoot)
}

func kvRoot(kv *config.RootKV) (SecretRead, error) {
	f, err := kvFile(kv.KVSecret, kv.Field)
	return f.SecretRead, err
}

// pkiRoot reads <mount>/cert/ca, or a named issuer's certificate: whoever
// may sign at that mount mints certificates the mesh now trusts.
func pkiRoot(pki *config.RootPKI) (SecretRead, error) {
	f, err := pkiCAFile(pki.Path(), pki.Mount+"/")
	return f.SecretRead, err
}

// addExtraRoots gives istiod's root file (among files) the config's extra
// roots and the template that reads them all.
func addExtraRoots(s config.Spec, files []File) error {
	extras := s.ExtraRoots()
	if len(extras) == 0 {
		return nil
	}
	i := 0
	for i < len(files) && files[i].Part != PartRoot {
		i++
	}
	if i == len(files) {
		return errors.New("the layout has no root file for spec.rootRotation")
	}
	root := &files[i]
	for j := range extras {
		src, ok := rootSources[reflect.TypeOf(extras[j].Selected())]
		if !ok {
			return fmt.Errorf("spec.rootRotation.extraRoots[%d] sets no source", j)
		}
		r, err := src(extras[j].Selected())
		if err != nil {
			return err
		}
		root.ExtraRoots = append(root.ExtraRoots, r)
	}
	var d templates.Data
	for _, r := range root.Reads() {
		d.Roots = append(d.Roots, templates.Data{APIPath: r.APIPath, Field: r.Keys[len(r.Keys)-1], Version: r.KVVersion})
	}
	var err error
	root.Template, err = templates.Render(templates.Roots, d)
	return err
}
