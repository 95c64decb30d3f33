package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of the config, located in the file.
type FieldError struct {
	File  string // where the config came from, e.g. "vaultca.yaml"
	Line  int    // 1-based; 0 when the field is absent from the file
	Field string // dotted path, e.g. "spec.source.kv.path"
	Msg   string // what is wrong and what to do

	notVaultCA bool // the document is a manifest of another kind
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: `%s` %s", loc, e.Field, e.Msg)
}

// Errors is every problem found in one config, so a user can fix them in one go.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// orNil keeps a nil error nil: an empty Errors in an error interface is not.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// FieldError is a problem of one field that a later check found (one that
// needs the plans, which the config does not build), located in the file
// Load read, as Load locates its own.
func (c *VaultCA) FieldError(field, format string, args ...any) *FieldError {
	e := &FieldError{File: c.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if c.root != nil {
		e.Line = lineOf(c.root, field)
	}
	return e
}
