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
	line, n := 0, root
	for _, seg := range strings.Split(field, ".") {
		key, indices, _ := strings.Cut(seg, "[")
		if n == nil || n.Kind != yaml.MappingNode {
			break
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
				return line
			}
			n = n.Content[i]
			line = n.Line
		}
	}
	return line
}
