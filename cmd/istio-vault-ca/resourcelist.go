package main

import (
	"bufio"
	"bytes"
	"io"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
)

// isResourceList reports whether stdin is a KRM ResourceList: its first
// document has a top-level `kind:` line whose value is ResourceList,
// perhaps quoted, perhaps with a comment, as stream.KindLine reads it (the
// reader the transformer's prefilter uses too).
//
// Wherever that line is in the document: a writer that sorts keys (PyYAML's
// safe_dump, anything going through a map) puts kind after items, and a
// list is as long as what it holds. So the whole first document is read,
// and only it: a ResourceList is one document, and a plain stream's first
// document is a ServiceAccount or a CRD, a few KiB, so the post-renderer's
// usual run reads no further. A line at column 0 can only be a top-level
// key (block scalars are indented), so lines are told apart by their first
// bytes, without parsing; a long line from a file comes in pieces.
// Documents holding only comments (a licence header above "---") do not
// count as the first.
func isResourceList(lines twopass.LineReader) (bool, error) {
	content := false // the current document holds more than comments
	for {
		piece, err := lines.ReadSlice('\n')
		if len(piece) == 0 {
			if err == io.EOF {
				err = nil
			}
			return false, err
		}
		var l lineScan
		switch {
		case isMarkerStart(piece):
			if content {
				return false, nil // the first document has ended
			}
			l = lineScan{mode: afterMarker}
			piece = piece[3:]
		case bytes.HasPrefix(piece, stream.KindKey):
			l = lineScan{mode: kindValue}
			piece = piece[len(stream.KindKey):]
		}
		for {
			l.feed(bytes.TrimSuffix(piece, []byte("\n")))
			if err != bufio.ErrBufferFull {
				break
			}
			piece, err = lines.ReadSlice('\n')
		}
		if l.mode == kindValue && l.matches() {
			return true, nil
		}
		content = content || l.content()
		switch {
		case err == io.EOF:
			return false, nil
		case err != nil:
			return false, err
		}
	}
}

// isMarkerStart reports whether a line begins with a document marker:
// "---" followed by nothing, a space, a tab or a line break.
func isMarkerStart(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// lineScan reads one line, in as many pieces as it comes in. For a line
// after a marker or any other line it finds whether the line holds content:
// its first byte other than a space, a tab or a CR, if there is one, does
// not open a comment. The value of a `kind:` line it hands to a
// stream.KindLine, which needs no piece to hold the whole.
type lineScan struct {
	mode    lineMode
	kind    stream.KindLine // kindValue
	decided bool            // otherwise: the byte that tells content came
	holds   bool            // and it was not a comment
}

type lineMode int

const (
	otherLine lineMode = iota
	afterMarker
	kindValue
)

func (l *lineScan) feed(b []byte) {
	if l.mode == kindValue {
		l.kind.Feed(b)
		return
	}
	if l.decided {
		return
	}
	if t := bytes.TrimLeft(b, " \t\r"); len(t) > 0 {
		l.decided, l.holds = true, t[0] != '#'
	}
}

// matches reports whether a kind value read whole is ResourceList, quoted
// or not: the list is read by a YAML parser next, which tells a quote that
// does not pair.
func (l *lineScan) matches() bool {
	w, ok := l.kind.Word()
	return ok && string(w) == "ResourceList"
}

// content reports whether a line read whole holds more than blanks and a
// comment.
func (l *lineScan) content() bool {
	return l.mode == kindValue || l.holds
}
