package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
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
	if fe := otherKind(root); fe != nil {
		fe.File = file
		return nil, fe
	}
	typ := reflect.TypeOf(VaultCA{})
	errs := append(unknownFields(root, typ, ""), unquotedModes(root)...)
	if len(errs) > 0 {
		return nil, located(errs, file, root)
	}
	var cfg VaultCA
	if err := sigsyaml.Unmarshal(data, &cfg); err != nil {
		// The decoder names neither the line nor the field as written:
		// find them in the YAML, and keep its words only if that fails.
		if errs := typeErrors(root, typ, ""); len(errs) > 0 {
			return nil, located(errs, file, root)
		}
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("cannot decode: %s", cleanDecodeError(err))}
	}
	cfg.Default()
	cfg.file, cfg.root = file, root
	cfg.values = cfg.walkValues()
	errs, failed := cfg.expand()
	for _, e := range cfg.Validate() {
		if !failed[e.Field] {
			errs = append(errs, e)
		}
	}
	sortErrors(errs)
	if len(errs) == 0 {
		cfg.warnings = located(cfg.warningList(), file, root)
	}
	return &cfg, located(errs, file, root).orNil()
}

// otherKind refuses, in one error, a manifest of another kind: an
// IstioOperator passed as the config is not a VaultCA with a list of
// unknown fields. A missing kind is left to Validate.
func otherKind(root *yaml.Node) *FieldError {
	kind, line := scalarAt(root, "kind")
	if kind == "" || kind == Kind {
		return nil
	}
	what := ""
	if av, _ := scalarAt(root, "apiVersion"); av != "" {
		what = " (apiVersion " + av + ")"
	}
	return &FieldError{Line: line, Field: "kind", notVaultCA: true,
		Msg: fmt.Sprintf("must be %q, got %q%s: this is not a VaultCA config", Kind, kind, what)}
}

// IsNotVaultCA reports whether Load refused a manifest of another kind.
func IsNotVaultCA(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe) && fe.notVaultCA
}

// scalarAt is the value and line of a top-level scalar key.
func scalarAt(root *yaml.Node, key string) (string, int) {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k, v := root.Content[i], root.Content[i+1]; k.Value == key && v.Kind == yaml.ScalarNode {
			return v.Value, k.Line
		}
	}
	return "", 0
}

// unquotedModes refuses a file mode written as a YAML number with a
// leading 0: keyPerms: 0400 is octal 256, and the decoder turns it into the
// string "256", which no message could explain. 400 means 400 and stays.
func unquotedModes(root *yaml.Node) []*FieldError {
	const field = "spec.agent.keyPerms"
	n := nodeAt(root, field)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || len(n.Value) < 2 || n.Value[0] != '0' {
		return nil
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil {
		return nil
	}
	return []*FieldError{{Line: n.Line, Field: field,
		Msg: fmt.Sprintf("is the number %s, which YAML reads as octal %d: quote it, keyPerms: \"%s\"", n.Value, v, n.Value)}}
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

// FieldError is a problem of a field found after Load (a file the field
// names that cannot be used), located in the config file like Load's.
func (c *VaultCA) FieldError(field, format string, args ...any) *FieldError {
	e := &FieldError{File: c.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if c.root != nil {
		e.Line = lineOf(c.root, field)
	}
	return e
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
