package main

import (
	"bytes"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
)

// isResourceList reports whether stdin is a KRM ResourceList: its first
// document, as far as head holds it, has kind ResourceList at the top level.
func isResourceList(head []byte) bool {
	docs := stream.Split(head)
	if len(docs) == 0 {
		return false
	}
	first := docs[0].Body
	if len(docs) == 1 && !stream.IsBareMarker(docs[0].Marker) {
		first = docs[0].Raw()
	}
	return hasResourceListKind(first)
}

// hasResourceListKind reports whether doc has a top-level `kind:` line
// whose value is ResourceList, perhaps quoted, perhaps with a comment. (A
// loop, not a regular expression: that would be compiled at every start.)
func hasResourceListKind(doc []byte) bool {
	for rest := doc; ; {
		i := stream.IndexAtLineStart(rest, []byte("kind:"))
		if i < 0 {
			return false
		}
		line := rest[i+len("kind:"):]
		rest = nil
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line, rest = line[:j], line[j+1:]
		}
		if isResourceListValue(line) {
			return true
		}
	}
}

func isResourceListValue(v []byte) bool {
	isQuote := func(v []byte) bool { return len(v) > 0 && (v[0] == '"' || v[0] == '\'') }
	v = bytes.TrimLeft(v, " \t")
	if isQuote(v) {
		v = v[1:]
	}
	v, ok := bytes.CutPrefix(v, []byte("ResourceList"))
	if !ok {
		return false
	}
	if isQuote(v) {
		v = v[1:]
	}
	v = bytes.TrimSuffix(bytes.TrimLeft(v, " \t"), []byte("\r"))
	return len(v) == 0 || v[0] == '#'
}
