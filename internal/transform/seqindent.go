package transform

import "bytes"

// wideSeqIndent reports whether most of a document's lists are indented
// two spaces further than their key ("wide"), not at its column ("compact").
// Helm charts mix both styles in one document; the serialiser can write only
// one, and the majority keeps the diff of a changed document smallest.
// (kyaml's DeriveSeqIndentStyle looks only at the first list.)
func wideSeqIndent(src []byte) bool {
	compact, wide := 0, 0
	prevIndent, prevOpens := 0, false
	for _, line := range bytes.Split(src, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		indent := len(line) - len(trimmed)
		if prevOpens && (bytes.HasPrefix(trimmed, []byte("- ")) || bytes.Equal(bytes.TrimRight(trimmed, " \r"), []byte("-"))) {
			if indent == prevIndent {
				compact++
			} else if indent > prevIndent {
				wide++
			}
		}
		body := bytes.TrimRight(trimmed, " \r")
		prevOpens = len(body) > 0 && body[len(body)-1] == ':'
		if bytes.HasPrefix(trimmed, []byte("- ")) {
			indent += 2 // a key after "- " sits two columns right of the dash
		}
		prevIndent = indent
	}
	return wide > compact
}
