package wiring

import (
	"strings"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
	"github.com/istio-vault-ca/istio-vault-ca/templates"
)

// KV: every file is one field of a KV secret (kv.tmpl). istiod's CA reads
// its four parts from one secret; a gateway's certificate its certificate,
// key and CA certificates.
func init() {
	bundleSourceFor(kvBundleFile)
	certificateSourceFor(kvCertificate)
}

func kvBundleFile(s config.Spec, kv *config.KV, part Part) (File, error) {
	return kvFile(kv.KVSecret, kvField(kv.Fields, part))
}

func kvField(fs config.Fields, part Part) string {
	switch part {
	case PartKey:
		return fs.CAKey
	case PartCert:
		return fs.CACert
	case PartChain:
		return fs.CertChain
	}
	return fs.RootCert
}

func kvCertificate(name string, kv *config.CertificateKV, keyPerms string) ([]File, bool, error) {
	fields := []struct {
		part               Part
		file, field, perms string
	}{
		{PartCert, name + ".crt", kv.CertField, ""},
		{PartKey, name + ".key", kv.KeyField, keyPerms},
		{PartCA, name + "-ca.crt", kv.CAField, ""},
	}
	var files []File
	for _, f := range fields {
		if f.field == "" {
			continue
		}
		file, err := kvFile(kv.KVSecret, f.field)
		if err != nil {
			return nil, false, err
		}
		file.Name, file.Perms, file.Part, file.Certificate = f.file, f.perms, f.part, name
		files = append(files, file)
	}
	return files, false, nil
}

// kvFile is a file rendered from one field of a KV secret.
func kvFile(secret config.KVSecret, field string) (File, error) {
	d := templates.Data{APIPath: KVAPIPath(secret), Version: secret.Version, Field: field}
	tmpl, err := templates.Render(templates.KV, d)
	if err != nil {
		return File{}, err
	}
	keys, reach := []string{field}, []string{d.APIPath}
	if secret.Version == 2 {
		keys = []string{"data", field}
		mount, logical, _ := strings.Cut(d.APIPath, "/data/")
		for _, op := range []string{"metadata", "delete", "destroy", "undelete"} {
			reach = append(reach, mount+"/"+op+"/"+logical)
		}
	}
	return File{SecretRead: SecretRead{APIPath: d.APIPath, Keys: keys, KVVersion: secret.Version, Capability: Read, Reach: reach}, Template: tmpl}, nil
}

// KVAPIPath is the API path of a KV secret: KV v2 puts data/ after the mount,
// which users should not have to know or write.
func KVAPIPath(kv config.KVSecret) string {
	if kv.Version != 2 {
		return kv.Path
	}
	mount := strings.TrimSuffix(kv.Mount, "/")
	if mount == "" {
		mount, _, _ = strings.Cut(kv.Path, "/")
	}
	return mount + "/data/" + strings.TrimPrefix(strings.TrimPrefix(kv.Path, mount), "/")
}
