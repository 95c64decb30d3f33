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

// lineOf returns the line of the value at a dotted path, or of the deepest
// parent that exists, so an error about a missing field points near it. A
// segment may index a list: spec.gateways[0].role.
func lineOf(root *yaml.Node, field string) int {
	line, n := 0, root
	for _, seg := range strings.Split(field, ".") {
		key, idx := splitIndex(seg)
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
		if idx >= 0 {
			if next == nil || next.Kind != yaml.SequenceNode || idx >= len(next.Content) {
				break
			}
			next = next.Content[idx]
			line = next.Line
		}
		n = next
	}
	return line
}

// splitIndex cuts "gateways[0]" into "gateways" and 0; -1 without an index.
func splitIndex(seg string) (string, int) {
	open := strings.IndexByte(seg, '[')
	if open < 0 || !strings.HasSuffix(seg, "]") {
		return seg, -1
	}
	i, err := strconv.Atoi(seg[open+1 : len(seg)-1])
	if err != nil || i < 0 {
		return seg, -1
	}
	return seg[:open], i
}
