// Package stream splits a multi-document YAML stream into documents without
// parsing it, so that every document the tool does not change goes back out
// as the exact bytes that came in.
package stream

import "bytes"

// Doc is one document of a stream.
type Doc struct {
	// Index is the 0-based position of the document in the stream.
	Index int
	// Marker is the "---" line that opened the document, newline included;
	// empty for a first document without one.
	Marker []byte
	// Body is the rest of the document up to the next marker.
	Body []byte
	// Line is the 1-based line of the stream on which Body starts.
	Line int
	// Offset is the byte offset in the stream at which the document
	// (its marker, if it has one) starts.
	Offset int64
}

// Len is the length of the document in the stream, marker included.
func (d Doc) Len() int64 { return int64(len(d.Marker) + len(d.Body)) }

// Raw is the document exactly as it was in the stream.
func (d Doc) Raw() []byte {
	if len(d.Marker) == 0 {
		return d.Body
	}
	return append(append(make([]byte, 0, len(d.Marker)+len(d.Body)), d.Marker...), d.Body...)
}

// Source is what a parser should read: a marker that carries content of its
// own ("--- !!map", "--- {a: 1}") belongs to the document.
func (d Doc) Source() []byte {
	if IsBareMarker(d.Marker) {
		return d.Body
	}
	return d.Raw()
}

// Split cuts in at every line that starts a document. A line is a marker when
// it starts with "---" followed by nothing, a space, a tab or a line break:
// YAML forbids such a line inside a document at column 0, so no block scalar
// can hold one. Concatenating Raw of every document gives back in.
func Split(in []byte) []Doc {
	var docs []Doc
	cur := Doc{Line: 1}
	start, line := 0, 1
	for pos := 0; pos < len(in); {
		end := bytes.IndexByte(in[pos:], '\n')
		if end < 0 {
			end = len(in)
		} else {
			end += pos + 1
		}
		if isMarker(in[pos:end]) {
			cur.Body = in[start:pos]
			if pos > 0 || len(cur.Marker) > 0 {
				docs = append(docs, cur)
			}
			cur = Doc{Index: len(docs), Marker: in[pos:end], Line: line + 1, Offset: int64(pos)}
			start = end
		}
		pos = end
		line++
	}
	cur.Body = in[start:]
	if len(cur.Marker) > 0 || len(cur.Body) > 0 {
		docs = append(docs, cur)
	}
	return docs
}

func isMarker(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// IndexAtLineStart returns the index of the first pat in b that starts a
// line (at 0 or after a newline), or -1. It looks for pat itself, not for
// "\n"+pat: newlines come every few dozen bytes in YAML, and a search led
// by one stops at every line, which made it the costliest part of a large
// stream.
func IndexAtLineStart(b, pat []byte) int {
	for off := 0; ; {
		i := bytes.Index(b[off:], pat)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || b[i-1] == '\n' {
			return i
		}
		off = i + 1
	}
}

// IsBareMarker reports whether a marker line holds nothing but "---" and
// perhaps a comment, so the document's content is all in Body.
func IsBareMarker(marker []byte) bool {
	if len(marker) == 0 {
		return true
	}
	rest := bytes.TrimSpace(marker[3:])
	return len(rest) == 0 || rest[0] == '#'
}
