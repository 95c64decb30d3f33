package main

import (
	"bufio"
	"bytes"
	"io"

	"github.com/istio-vault-ca/istio-vault-ca/internal/twopass"
)

// isResourceList reports whether stdin is a KRM ResourceList: its first
// document has a top-level `kind:` line whose value is ResourceList,
// perhaps quoted, perhaps with a comment.
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
		case bytes.HasPrefix(piece, kindKey):
			l = lineScan{mode: kindValue}
			piece = piece[len(kindKey):]
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

var kindKey = []byte("kind:")

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
// not open a comment. For the value of a `kind:` line it finds whether it
// is
//
//	[ \t]*["']?ResourceList["']?[ \t]*(#.*)?\r?$
//
// which it matches byte by byte, so that no piece needs to hold the whole.
type lineScan struct {
	mode    lineMode
	state   int  // kindValue: how far the expression has got, see feed
	decided bool // otherwise: the byte that tells content came
	holds   bool // and it was not a comment
}

type lineMode int

const (
	otherLine lineMode = iota
	afterMarker
	kindValue
)

// The states of a kind value, after "kind:".
const (
	kindLead    = iota // spaces and tabs before the value, or its quote
	kindWord           // kindWord+i: i bytes of ResourceList read
	kindAfter   = kindWord + len("ResourceList")
	kindTrail   = kindAfter + 1 // spaces and tabs, after a quote or without
	kindComment = kindTrail + 1 // a comment: anything to the end
	kindCR      = kindComment + 1
	kindFail    = kindCR + 1
)

func (l *lineScan) feed(b []byte) {
	if l.mode != kindValue {
		if l.decided {
			return
		}
		if t := bytes.TrimLeft(b, " \t\r"); len(t) > 0 {
			l.decided, l.holds = true, t[0] != '#'
		}
		return
	}
	for _, c := range b {
		switch s := l.state; {
		case s == kindFail, s == kindComment:
			return
		case s == kindLead && (c == ' ' || c == '\t'):
		case s == kindLead && (c == '"' || c == '\''):
			l.state = kindWord
		case s == kindLead && c == 'R':
			l.state = kindWord + 1
		case s >= kindWord && s < kindAfter:
			if c != "ResourceList"[s-kindWord] {
				l.state = kindFail
			} else {
				l.state++
			}
		case (s == kindAfter || s == kindTrail) && c == '#':
			l.state = kindComment
		case (s == kindAfter || s == kindTrail) && c == '\r':
			l.state = kindCR
		case s == kindAfter && (c == '"' || c == '\'' || c == ' ' || c == '\t'):
			l.state = kindTrail
		case s == kindTrail && (c == ' ' || c == '\t'):
		default:
			l.state = kindFail
		}
	}
}

// matches reports whether a kind value read whole is ResourceList.
func (l *lineScan) matches() bool {
	return l.state >= kindAfter && l.state <= kindCR
}

// content reports whether a line read whole holds more than blanks and a
// comment.
func (l *lineScan) content() bool {
	return l.mode == kindValue || l.holds
}
