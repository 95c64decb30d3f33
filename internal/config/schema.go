package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

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

// A string field (or list of strings) tagged vault:"template" reaches an
// agent template or a Vault path; the tag, not a list kept by hand, is what
// the checks on such values walk, so a field added to a source is checked
// once it is marked. Options after the comma:
//
//	expand  the value may hold {{ .Cluster }}, expanded by Load
//	name    the value is a Vault name or path, where * and + are wildcards
//	        and Vault trims white space
const (
	tagTemplate = "template"
	// tagSource marks a pointer to one type of secret source, of which a
	// struct sets exactly one.
	tagSource = "source"
	tagExpand = "expand"
	tagName   = "name"
)

// templateValue is one tagged value of a config. Its field path is made
// only when asked for, by a message: Load walks the values three times, and
// building every path each time would cost more than the walk.
type templateValue struct {
	v *string
	// parent is the path of the struct holding the field, json its name,
	// index its place in a list of strings, or -1.
	parent, json string
	index        int
	// expand and vaultName are the tag's options.
	expand, vaultName bool
}

// field is the value's path, such as spec.gateways[0].certificates[1].pki.altNames[0].
func (tv templateValue) field() string {
	f := join(tv.parent, tv.json)
	if tv.index >= 0 {
		f += "[" + strconv.Itoa(tv.index) + "]"
	}
	return f
}

// tagged is what the walk knows of one struct field; worked out once per
// type, so a Load reads no struct tags after the first.
type tagged struct {
	index             int
	json              string // "" for an embedded struct, whose fields are promoted
	template          bool
	expand, vaultName bool
	// source: a field tagged vault:"source".
	source bool
	// descend: a field that is not a value but whose type holds tagged fields.
	descend bool
}

var taggedFields sync.Map // reflect.Type -> []tagged

// fieldsOf lists the fields of struct type t the walk visits.
func fieldsOf(t reflect.Type) []tagged {
	if fs, ok := taggedFields.Load(t); ok {
		return fs.([]tagged)
	}
	var fs []tagged
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous {
			name = ""
		}
		x := tagged{index: i, json: name}
		if opts, ok := f.Tag.Lookup("vault"); ok {
			what, rest, _ := strings.Cut(opts, ",")
			if what == tagSource && rest == "" && f.Type.Kind() == reflect.Pointer {
				x.source, x.descend = true, holdsTagged(f.Type)
				fs = append(fs, x)
				continue
			}
			if what != tagTemplate {
				panic(fmt.Sprintf("config: field %s.%s: unknown vault tag %q", t.Name(), f.Name, opts))
			}
			x.template = true
			for _, o := range strings.Split(rest, ",") {
				switch o {
				case tagExpand:
					x.expand = true
				case tagName:
					x.vaultName = true
				case "":
				default:
					panic(fmt.Sprintf("config: field %s.%s: unknown vault tag option %q", t.Name(), f.Name, o))
				}
			}
		} else {
			x.descend = holdsTagged(f.Type)
		}
		if x.template || x.descend || x.source {
			fs = append(fs, x)
		}
	}
	taggedFields.Store(t, fs)
	return fs
}

// holdsTagged reports whether values of t can hold tagged fields.
func holdsTagged(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && len(fieldsOf(t)) > 0
}

// templateValues is every tagged value of c, in field order: those Load
// found, or, for a config Load did not make, a walk of it.
func (c *VaultCA) templateValues() []templateValue {
	if c.values != nil {
		return c.values
	}
	return c.walkValues()
}

func (c *VaultCA) walkValues() []templateValue {
	out := make([]templateValue, 0, 32)
	walkTagged(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

// isEmpty: a nil pointer or an empty list, which the walk need not name.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return v.IsNil()
	case reflect.Slice:
		return v.Len() == 0
	}
	return false
}

func walkTagged(v reflect.Value, path string, out *[]templateValue) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkTagged(v.Elem(), path, out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkTagged(v.Index(i), path+"["+strconv.Itoa(i)+"]", out)
		}
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			fv := v.Field(f.index)
			if !f.template {
				at := path
				if f.json != "" && !isEmpty(fv) {
					at = join(path, f.json)
				}
				walkTagged(fv, at, out)
				continue
			}
			tv := templateValue{parent: path, json: f.json, index: -1, expand: f.expand, vaultName: f.vaultName}
			switch fv.Kind() {
			case reflect.String:
				tv.v = fv.Addr().Interface().(*string)
				*out = append(*out, tv)
			case reflect.Slice:
				for i := 0; i < fv.Len(); i++ {
					tv.v, tv.index = fv.Index(i).Addr().Interface().(*string), i
					*out = append(*out, tv)
				}
			default:
				panic("config: vault:\"template\" on " + join(path, f.json) + ", which is not a string or a list of strings")
			}
		}
	}
}

// sources are the vault:"source" fields of a struct (a *Source, a
// *Certificate): the JSON names of all of them, and of and in those set.
func sources(v any) (all, names []string, set []sourceSpec) {
	rv := reflect.ValueOf(v).Elem()
	for _, f := range fieldsOf(rv.Type()) {
		if !f.source {
			continue
		}
		all = append(all, f.json)
		if fv := rv.Field(f.index); !fv.IsNil() {
			names = append(names, f.json)
			set = append(set, fv.Interface().(sourceSpec))
		}
	}
	return all, names, set
}
