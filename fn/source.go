package fn

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/config"
)

// Where a config error is located. The functionConfig reaches the function
// re-serialised inside the ResourceList, so a line Load finds in it is a
// line of neither the user's file nor the list: no message may show it.
//
// kpt, running a Kptfile pipeline's configPath, names the file on the
// config (config.kubernetes.io/path, relative to the package at
// internal.config.kubernetes.io/package-path, an absolute path: kpt runs
// the function from the caller's directory, not the package's). That file
// is read, only on the error path, and when it holds the config kpt passed,
// its own lines are reported. Otherwise (the file cannot be read, or was
// edited since, or no path is passed, as with `kpt fn eval --fn-config` and
// kustomize) the errors name the file, or the functionConfig, and the
// field, without a line.

// packagePathAnnotation is kpt's absolute path of the package whose files
// the path annotations are relative to.
const packagePathAnnotation = "internal.config.kubernetes.io/package-path"

// maxConfigFile bounds what is read to locate an error: a VaultCA is a
// few hundred bytes.
const maxConfigFile = 1 << 20

// functionConfigName is how errors name a config whose file is not known.
const functionConfigName = "functionConfig"

// configSource is where the functionConfig came from: its file as kpt
// names it, and that file's path on disk; both empty when not passed.
type configSource struct {
	name, path string
}

func sourceOf(functionConfig *yaml.RNode) configSource {
	annos := stringAnnotations(functionConfig)
	name := annos[string(kioutil.PathAnnotation)]
	if name == "" {
		name = annos[string(kioutil.LegacyPathAnnotation)]
	}
	if name == "" || len(name) > 4096 || strings.ContainsAny(name, "\n\r\x00") {
		return configSource{}
	}
	path := name
	if pkg := annos[packagePathAnnotation]; !filepath.IsAbs(path) && filepath.IsAbs(pkg) {
		path = filepath.Join(pkg, path)
	}
	return configSource{name: name, path: path}
}

// stringAnnotations are the config's annotations that are strings; kyaml's
// getters would fail on a config whose metadata is not a mapping.
func stringAnnotations(n *yaml.RNode) map[string]string {
	out := map[string]string{}
	md := n.Field(yaml.MetadataField)
	if md == nil || md.Value.YNode().Kind != yaml.MappingNode {
		return out
	}
	an := md.Value.Field(yaml.AnnotationsField)
	if an == nil || an.Value.YNode().Kind != yaml.MappingNode {
		return out
	}
	c := an.Value.YNode().Content
	for i := 0; i+1 < len(c); i += 2 {
		if c[i].Kind == yaml.ScalarNode && c[i+1].Kind == yaml.ScalarNode {
			out[c[i].Value] = c[i+1].Value
		}
	}
	return out
}

// locate turns Load's errors on the functionConfig into errors on the
// user's file: with its lines when the file holds that config and yields
// the same errors, else without lines.
func locate(fes config.Errors, functionConfig string, src configSource) (config.Errors, *File) {
	if src.name == "" {
		return unlocated(fes, functionConfigName), nil
	}
	file := &File{Path: src.name}
	data, err := readConfigFile(src.path)
	if err != nil || !sameConfig(data, functionConfig) {
		return unlocated(fes, src.name), file
	}
	_, ferr := config.Load(data, src.name)
	fromFile := fieldErrors(ferr)
	if len(fromFile) != len(fes) {
		return unlocated(fes, src.name), file
	}
	for i := range fes {
		if fes[i].Field != fromFile[i].Field || fes[i].Msg != fromFile[i].Msg {
			return unlocated(fes, src.name), file
		}
	}
	return fromFile, file
}

// unlocated names file, and no line, in copies of the errors.
func unlocated(fes config.Errors, file string) config.Errors {
	out := make(config.Errors, len(fes))
	for i, fe := range fes {
		c := *fe
		c.File, c.Line = file, 0
		out[i] = &c
	}
	return out
}

// readConfigFile reads a regular file of bounded size.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || st.Size() > maxConfigFile {
		return nil, errors.New("not a regular file of a config's size")
	}
	return io.ReadAll(io.LimitReader(f, maxConfigFile))
}

// sameConfig reports whether the file holds one document equal, as data,
// to the functionConfig, once the bookkeeping annotations kpt adds are
// set aside on both.
func sameConfig(file []byte, functionConfig string) bool {
	a, ok := oneDocument(file)
	if !ok {
		return false
	}
	b, ok := oneDocument([]byte(functionConfig))
	return ok && reflect.DeepEqual(withoutBookkeeping(a), withoutBookkeeping(b))
}

// oneDocument decodes data's only non-empty document.
func oneDocument(data []byte) (any, bool) {
	d := yaml3.NewDecoder(strings.NewReader(string(data)))
	var doc any
	found := false
	for {
		var v any
		if err := d.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				return doc, found
			}
			return nil, false
		}
		if v == nil {
			continue
		}
		if found {
			return nil, false
		}
		doc, found = v, true
	}
}

// withoutBookkeeping drops the annotations orchestrators add to name a
// resource's file, index and identity, and the annotations mapping they
// may have created.
func withoutBookkeeping(doc any) any {
	m, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	md, ok := m["metadata"].(map[string]any)
	if !ok {
		return doc
	}
	an, ok := md["annotations"].(map[string]any)
	if !ok {
		return doc
	}
	for k := range an {
		if isBookkeeping(k) {
			delete(an, k)
		}
	}
	if len(an) == 0 {
		delete(md, "annotations")
	}
	return doc
}

func isBookkeeping(key string) bool {
	switch kioutil.AnnotationKey(key) {
	case kioutil.LegacyPathAnnotation, kioutil.LegacyIndexAnnotation, kioutil.LegacyIdAnnotation:
		return true
	}
	return strings.HasPrefix(key, "internal.config.kubernetes.io/")
}

// fieldErrors is Load's error as a list.
func fieldErrors(err error) config.Errors {
	var fes config.Errors
	if errors.As(err, &fes) {
		return fes
	}
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return config.Errors{fe}
	}
	return nil
}
