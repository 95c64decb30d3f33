package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// unknownFields walks the YAML tree against the Go type and reports every key
// the type does not have, with its line and the keys it does have. A strict
// JSON decoder stops at the first unknown key and cannot say where it was.
func unknownFields(n *yaml.Node, t reflect.Type, path string) []*FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		known := jsonFields(t)
		var errs []*FieldError
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			field := join(path, key.Value)
			ft, ok := known[key.Value]
			if !ok {
				errs = append(errs, &FieldError{Line: key.Line, Field: field,
					Msg: fmt.Sprintf("is not a known field (known in `%s`: %s)", orRoot(path), strings.Join(sortedKeys(known), ", "))})
				continue
			}
			errs = append(errs, unknownFields(val, ft, field)...)
		}
		return errs
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		var errs []*FieldError
		for i, item := range n.Content {
			errs = append(errs, unknownFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	}
	// Scalars and maps of free keys: type errors are the decoder's job.
	return nil
}

// jsonFields maps each JSON name of a struct, including promoted fields of
// embedded structs, to its type.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "."
	}
	return path
}

// lineOf returns the line of the value at a dotted path such as
// spec.gateways[0].namespaces[1], or of the deepest parent that exists, so
// an error about a missing field points near it.
func lineOf(root *yaml.Node, field string) int {
	_, line := walk(root, field)
	return line
}

// nodeAt is the node at a dotted path, or nil.
func nodeAt(root *yaml.Node, field string) *yaml.Node {
	n, _ := walk(root, field)
	return n
}

// walk follows a dotted path with [i] indices from root: the node there
// (nil if the path is absent) and the line of the deepest part that exists.
func walk(root *yaml.Node, field string) (*yaml.Node, int) {
	line, n := 0, root
	for _, seg := range strings.Split(field, ".") {
		key, indices, _ := strings.Cut(seg, "[")
		if n == nil || n.Kind != yaml.MappingNode {
			return nil, line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		n = next
		// Each [i] steps into a list item, whose own line is more precise
		// than its key's when the list is written one item per line.
		for indices != "" && n != nil {
			var idx string
			idx, indices, _ = strings.Cut(indices, "]")
			indices = strings.TrimPrefix(indices, "[")
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return nil, line
			}
			n = n.Content[i]
			line = n.Line
		}
	}
	return n, line
}

// typeErrors walks the YAML tree against the Go type and reports every
// value the decoder cannot take, with its line and what to write instead.
// It runs when decoding failed: the decoder says "cannot unmarshal string
// into Go struct field Spec.spec.rotation of type bool", with no line.
func typeErrors(n *yaml.Node, t reflect.Type, path string) []*FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // decodes as the zero value
	}
	bad := func(want string) []*FieldError {
		return []*FieldError{{Line: n.Line, Field: path, Msg: fmt.Sprintf("must be %s, got %s", want, describe(n))}}
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return bad("a mapping")
		}
		known := jsonFields(t)
		var errs []*FieldError
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := known[n.Content[i].Value]; ok {
				errs = append(errs, typeErrors(n.Content[i+1], ft, join(path, n.Content[i].Value))...)
			}
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return bad("a mapping")
		}
		var errs []*FieldError
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, typeErrors(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))...)
		}
		return errs
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return bad("a list")
		}
		var errs []*FieldError
		for i, item := range n.Content {
			errs = append(errs, typeErrors(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return bad("a string")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || !plainBool(n) {
			return bad("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 || n.ShortTag() != "!!int" {
			return bad("a number")
		}
	}
	return nil
}

// plainBool: an unquoted scalar the decoder, which reads YAML 1.1 as
// Kubernetes does, takes for a boolean.
func plainBool(n *yaml.Node) bool {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return false
	}
	switch strings.ToLower(n.Value) {
	case "true", "false", "yes", "no", "on", "off", "y", "n":
		return true
	}
	return false
}

// describe says what a value is, in the words of a YAML file.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
	}
	return fmt.Sprintf("the string %q", n.Value)
}
