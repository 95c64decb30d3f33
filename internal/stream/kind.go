package stream

import "bytes"

// KindKey starts a document's top-level kind line. A line at column 0 can
// only be a top-level key (block scalars are indented), so the kind is told
// from bytes, without parsing: both the transformer's prefilter and the
// ResourceList detection read it here, so that they never disagree on what
// a kind line says.
var KindKey = []byte("kind:")

// KindLine reads the value of a `kind:` line, the bytes after KindKey up to
// the line break, in as many pieces as they come (a long line from a file
// comes in pieces, and none need hold the whole). It matches
//
//	[ \t]*["']?WORD["']?[ \t]*(#.*)?\r?$     WORD: [A-Za-z0-9]+
//
// byte by byte, holding only the word. The zero value is ready to read.
type KindLine struct {
	state  kindState
	word   [maxKindLen]byte
	n      int  // bytes of the word read; past maxKindLen only counted
	quoted bool // a quote before or after the word
	glued  bool // a '#' right after the word: YAML reads no comment there
}

// maxKindLen is the longest word kept: a Kubernetes kind is a DNS label at
// most, 63 bytes.
const maxKindLen = 64

type kindState uint8

const (
	kindLead    kindState = iota // blanks before the value, or its quote
	kindQuote                    // after the opening quote: the word must follow
	kindWord                     // in the word
	kindTrail                    // blanks after the word, or after its quote
	kindComment                  // a comment: anything to the end
	kindCR                       // a CR, which must end the line
	kindFail
)

// Feed reads the next piece of the value, without its line break.
func (k *KindLine) Feed(b []byte) {
	for _, c := range b {
		switch s := k.state; {
		case s == kindFail, s == kindComment:
			return
		case isWordByte(c) && (s == kindLead || s == kindQuote || s == kindWord):
			if k.n < maxKindLen {
				k.word[k.n] = c
			}
			k.n++
			k.state = kindWord
		case s == kindLead && (c == ' ' || c == '\t'):
		case s == kindLead && (c == '"' || c == '\''):
			k.quoted, k.state = true, kindQuote
		case (s == kindWord || s == kindTrail) && c == '#':
			k.glued, k.state = s == kindWord, kindComment
		case (s == kindWord || s == kindTrail) && c == '\r':
			k.state = kindCR
		case s == kindWord && (c == '"' || c == '\''):
			k.quoted, k.state = true, kindTrail
		case (s == kindWord || s == kindTrail) && (c == ' ' || c == '\t'):
			k.state = kindTrail
		default:
			k.state = kindFail
		}
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Word returns the word of a value read whole, and whether the value
// matched at all. A word longer than any kind is returned as nil, which is
// no kind's name.
func (k *KindLine) Word() ([]byte, bool) {
	if k.state < kindWord || k.state > kindCR {
		return nil, false
	}
	if k.n > maxKindLen {
		return nil, true
	}
	return k.word[:k.n], true
}

// Plain reports whether a value read whole is the word as YAML reads it
// for certain: unquoted (quotes that need not pair are not YAML) and any
// comment set off by a blank.
func (k *KindLine) Plain() bool {
	_, ok := k.Word()
	return ok && !k.quoted && !k.glued
}

// TopLevelKind returns the kind of a document held whole, from its one
// column-0 kind line, when that is plain (see KindLine.Plain); false when
// there is no such certainty: no kind line, two of them (let the parser
// decide), or a value written otherwise.
func TopLevelKind(body []byte) ([]byte, bool) {
	i := IndexAtLineStart(body, KindKey)
	if i < 0 {
		return nil, false
	}
	v, rest := body[i+len(KindKey):], []byte(nil)
	if j := bytes.IndexByte(v, '\n'); j >= 0 {
		v, rest = v[:j], v[j+1:]
	}
	if IndexAtLineStart(rest, KindKey) >= 0 {
		return nil, false
	}
	var k KindLine
	k.Feed(v)
	if !k.Plain() {
		return nil, false
	}
	if k.n > maxKindLen {
		return nil, true
	}
	// Plain: the word is in v as it is, after the blanks.
	return bytes.TrimLeft(v, " \t")[:k.n], true
}
