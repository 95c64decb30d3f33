package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// DefaultsYAML documents every default; Default applies the same values.
//
//go:embed defaults.yaml
var DefaultsYAML []byte

// Load parses, defaults, expands and validates a VaultCA. file names the
// source in error messages. Every error is a FieldError or Errors.
func Load(data []byte, file string) (*VaultCA, error) {
	root, err := parseOne(data, file)
	if err != nil {
		return nil, err
	}
	if errs := unknownFields(root, reflect.TypeOf(VaultCA{}), ""); len(errs) > 0 {
		return nil, located(errs, file, root)
	}
	var cfg VaultCA
	if err := sigsyaml.Unmarshal(data, &cfg); err != nil {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("cannot decode: %s", cleanDecodeError(err))}
	}
	cfg.Default()
	errs := cfg.expand()
	errs = append(errs, cfg.Validate()...)
	if len(errs) == 0 {
		cfg.warnings = located(cfg.warningList(), file, root)
	}
	return &cfg, located(errs, file, root).orNil()
}

// parseOne returns the mapping node of the only document in data.
func parseOne(data []byte, file string) (*yaml.Node, error) {
	docs, err := parseDocs(data)
	if err != nil {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("is not valid YAML: %v", err)}
	}
	if len(docs) != 1 {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("must hold exactly one VaultCA document, found %d", len(docs))}
	}
	n := docs[0]
	if n.Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: n.Line, Msg: "must be a mapping (a VaultCA resource)"}
	}
	return n, nil
}

// parseDocs returns the root of every document that holds something: not
// null, not an empty mapping or list.
func parseDocs(data []byte) ([]*yaml.Node, error) {
	var out []*yaml.Node
	d := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var n yaml.Node
		if err := d.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if root := yamlnode.Root(&n); !yamlnode.IsEmpty(root) {
			out = append(out, root)
		}
	}
}

// located fills in the file and, where the check did not know it, the line.
func located(errs Errors, file string, root *yaml.Node) Errors {
	for _, e := range errs {
		e.File = file
		if e.Line == 0 && e.Field != "" {
			e.Line = lineOf(root, e.Field)
		}
	}
	return errs
}

// cleanDecodeError drops the decoder's layering ("error unmarshaling JSON:
// while decoding JSON: json: ...") and keeps the part a user can act on.
func cleanDecodeError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}

// YAML is the effective config, as `istio-vault-ca config` prints it.
func (c *VaultCA) YAML() ([]byte, error) {
	return sigsyaml.Marshal(c)
}
