package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// A document written as JSON (kubectl get -o json, a converter, a CI step)
// is read by the YAML parser like any other, but must go out as JSON: the
// YAML serialiser would write the new entries with bare keys inside the
// JSON's braces, which is YAML still, but kubectl sees the opening brace,
// decodes JSON, and fails. So a changed JSON document is written by its own
// writer, which keeps the document's bytes and puts the new members in, in
// the document's own separators and indentation; when the change is not of
// that kind (a member removed or moved), it writes the whole document in the
// style it detected. Either way the result must parse as JSON and hold the
// tree the transformer built, or the run fails: a JSON document never comes
// out in YAML.

// jsonDoc is a document whose content is one JSON object, with nothing
// around it but blank and comment lines (which YAML allows and keeps).
type jsonDoc struct {
	src        []byte // the document as the parser read it
	start, end int    // the root object's bytes in src
	prefix     []byte // what the output keeps before the object
	spans      map[*yaml.Node]jsonSpan
	style      jsonStyle
}

// jsonSpan is where a node of the original document is, and what it was:
// a node the transformer overwrote (as SetField does) no longer is where
// the parser put it, and one it kept still holds the original content.
type jsonSpan struct {
	start, end   int
	kind         yaml.Kind
	line, column int
	content      []*yaml.Node
}

// jsonStyle is how a document writes what it holds.
type jsonStyle struct {
	pretty     bool   // one member or item a line
	indent     string // one level of a pretty document's indentation
	newline    string // its line break: "\n", or "\r\n"
	colon      string // between a key and its value, colon included
	comma      string // between members on one line, comma included
	escapeHTML bool   // <, > and & as \u003c..., as Go's encoder writes them
	ascii      bool   // every non-ASCII character as a \u escape
}

// newJSONDoc returns the document as JSON, or nil when it is not one. src
// is what the parser read (a marker that carries content included) and doc
// the tree it built, before any change: the spans of its nodes are taken
// now, in one walk of the bytes beside the tree.
func newJSONDoc(src []byte, bare bool, doc *yaml.Node) *jsonDoc {
	start := jsonStart(src, bare)
	if start < 0 {
		return nil
	}
	j := &jsonDoc{src: src, start: start, spans: map[*yaml.Node]jsonSpan{}}
	end := j.scan(start, yamlnode.Root(doc))
	if end < 0 || !onlyComments(src[end:]) || !json.Valid(src[start:end]) {
		return nil
	}
	j.end = end
	if bare {
		j.prefix = src[:start]
	}
	j.style = detectJSONStyle(src[start:end], j, yamlnode.Root(doc))
	return j
}

// jsonStart is the offset of the '{' that opens the document's content
// after blank and comment lines (after "---" when the marker carries the
// content), or -1.
func jsonStart(src []byte, bare bool) int {
	i := 0
	if !bare {
		if !bytes.HasPrefix(src, []byte("---")) {
			return -1
		}
		i = 3
		for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
	}
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\r', '\n':
			i++
		case '#':
			if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				return -1
			}
		case '{':
			return i
		default:
			return -1
		}
	}
	return -1
}

// onlyComments reports whether what follows the root object is only blank
// space and comments.
func onlyComments(rest []byte) bool {
	for len(rest) > 0 {
		line := firstLine(rest)
		rest = rest[len(line):]
		if len(rest) > 0 {
			rest = rest[1:]
		}
		if t := bytes.TrimLeft(line, " \t\r"); len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// scan reads the JSON value at off that the parser turned into n, records
// the spans of n and of everything under it, and returns where the value
// ends; -1 when the bytes and the tree do not match (they always should: the
// parser read these bytes).
func (j *jsonDoc) scan(off int, n *yaml.Node) int {
	off = skipJSONSpace(j.src, off)
	if off >= len(j.src) || n == nil {
		return -1
	}
	start := off
	switch c := j.src[off]; {
	case c == '{' || c == '[':
		want, closer, step := yaml.MappingNode, byte('}'), 2
		if c == '[' {
			want, closer, step = yaml.SequenceNode, ']', 1
		}
		if n.Kind != want {
			return -1
		}
		off++
		for i := 0; ; i += step {
			off = skipJSONSpace(j.src, off)
			if off < len(j.src) && j.src[off] == closer && i == len(n.Content) {
				off++
				break
			}
			if i > 0 {
				if off >= len(j.src) || j.src[off] != ',' {
					return -1
				}
				off++
			}
			if i+step > len(n.Content) {
				return -1
			}
			if step == 2 {
				if off = j.scan(off, n.Content[i]); off < 0 {
					return -1
				}
				if off = skipJSONSpace(j.src, off); off >= len(j.src) || j.src[off] != ':' {
					return -1
				}
				off++
			}
			if off = j.scan(off, n.Content[i+step-1]); off < 0 {
				return -1
			}
		}
	case c == '"':
		if n.Kind != yaml.ScalarNode {
			return -1
		}
		for off++; off < len(j.src) && j.src[off] != '"'; off++ {
			if j.src[off] == '\\' {
				off++
			}
		}
		if off >= len(j.src) {
			return -1
		}
		off++
	default:
		if n.Kind != yaml.ScalarNode {
			return -1
		}
		for off < len(j.src) && bytes.IndexByte([]byte(",:]} \t\r\n"), j.src[off]) < 0 {
			off++
		}
	}
	j.spans[n] = jsonSpan{start: start, end: off, kind: n.Kind, line: n.Line, column: n.Column,
		content: append([]*yaml.Node(nil), n.Content...)}
	return off
}

func skipJSONSpace(b []byte, off int) int {
	for off < len(b) && (b[off] == ' ' || b[off] == '\t' || b[off] == '\n' || b[off] == '\r') {
		off++
	}
	return off
}

// detectJSONStyle reads the document's style from its root object (which
// holds a member: the transformer leaves an empty document alone).
func detectJSONStyle(text []byte, j *jsonDoc, root *yaml.Node) jsonStyle {
	s := jsonStyle{colon: ": ", comma: ", "}
	if len(root.Content) >= 2 {
		k, v := j.spans[root.Content[0]], j.spans[root.Content[1]]
		s.colon = string(j.src[k.end:v.start])
		s.comma = ","
		if len(root.Content) >= 4 {
			s.comma = string(j.src[v.end:j.spans[root.Content[2]].start])
		} else if bytes.HasSuffix([]byte(s.colon), []byte(" ")) {
			s.comma = ", "
		}
	}
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		s.pretty, s.newline = true, "\n"
		if i > 0 && text[i-1] == '\r' {
			s.newline = "\r\n"
		}
		rest := text[i+1:]
		s.indent = string(rest[:len(rest)-len(bytes.TrimLeft(rest, " \t"))])
		s.comma = ","
	}
	for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
		if bytes.Contains(text, []byte(esc)) {
			s.escapeHTML = true
		}
	}
	s.ascii = asciiEscaped(text)
	return s
}

// asciiEscaped reports whether a document writes non-ASCII characters as
// \u escapes (Python's json.dumps does, by default): it has such an escape
// and no non-ASCII byte.
func asciiEscaped(text []byte) bool {
	escaped := false
	for i := 0; i < len(text); i++ {
		switch {
		case text[i] >= utf8.RuneSelf:
			return false
		case text[i] == '\\' && i+1 < len(text):
			if text[i+1] == 'u' && i+6 <= len(text) {
				if v, err := strconv.ParseUint(string(text[i+2:i+6]), 16, 16); err == nil && v >= utf8.RuneSelf {
					escaped = true
				}
			}
			i++
		}
	}
	return escaped
}

// write returns the document holding root, the tree the transformer
// changed: its own bytes with the new parts put in where it can, else the
// whole document written again in its style.
func (j *jsonDoc) write(root *yaml.Node) ([]byte, error) {
	if out, ok := j.inPlace(root); ok && j.holds(out, root) {
		return out, nil
	}
	var b bytes.Buffer
	b.Write(j.prefix)
	if err := j.value(&b, root, ""); err != nil {
		return nil, fmt.Errorf("cannot be written back as JSON: %v", err)
	}
	b.Write(j.src[j.end:])
	if !j.holds(b.Bytes(), root) {
		return nil, errors.New("cannot be written back as JSON holding the changes: write it as YAML")
	}
	return b.Bytes(), nil
}

// holds reports whether out is JSON (but for the document's own comments)
// and reads back as root: a mistake in this writer must fail the run, not
// hand kubectl a document it cannot read or istiod one without its CA.
func (j *jsonDoc) holds(out []byte, root *yaml.Node) bool {
	start := jsonStart(out, true)
	if start < 0 {
		return false
	}
	end := len(out) - len(j.src) + j.end // the comments after it are as they were
	if end < start || !json.Valid(out[start:end]) {
		return false
	}
	written, err := yamlnode.Parse(out)
	return err == nil && sameJSONData(yamlnode.Root(written), root)
}

// sameJSONData is sameNode for a tree written as JSON, which has one
// spelling for a number or a boolean where YAML has several (0x1f is 31,
// True is true).
func sameJSONData(a, b *yaml.Node) bool {
	if a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.ShortTag() == b.ShortTag() {
		switch a.ShortTag() {
		case "!!int", "!!float", "!!bool":
			var x, y any
			return a.Decode(&x) == nil && b.Decode(&y) == nil && x == y
		}
	}
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	if a.Kind == yaml.ScalarNode && a.ShortTag() != yamlnode.NullTag && a.Value != b.Value {
		return false
	}
	for i := range a.Content {
		if !sameJSONData(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// inPlace writes the document's own bytes with what was added or replaced
// put in, or reports false when something else changed.
func (j *jsonDoc) inPlace(root *yaml.Node) ([]byte, bool) {
	var edits []edit
	if !j.edits(root, &edits) {
		return nil, false
	}
	var b bytes.Buffer
	b.Grow(len(j.src) + 4096)
	b.Write(j.prefix)
	at := j.start
	for _, e := range edits { // in document order: the walk is
		if e.off < at {
			return nil, false
		}
		b.Write(j.src[at:e.off])
		b.Write(e.text)
		at = e.off + e.cut
	}
	b.Write(j.src[at:])
	return b.Bytes(), true
}

// edits walks an original node, recording the edits that turn its bytes
// into what it holds now.
func (j *jsonDoc) edits(n *yaml.Node, edits *[]edit) bool {
	sp, ok := j.spans[n]
	if !ok {
		return false
	}
	if n.Line != sp.line || n.Column != sp.column || n.Kind != sp.kind {
		// Overwritten with a new node: its bytes are replaced.
		var b bytes.Buffer
		if j.value(&b, n, j.lineIndent(sp.start)) != nil {
			return false
		}
		*edits = append(*edits, edit{off: sp.start, cut: sp.end - sp.start, text: b.Bytes()})
		return true
	}
	if n.Kind == yaml.ScalarNode {
		return true
	}
	if len(n.Content) < len(sp.content) {
		return false // something removed
	}
	for i, c := range sp.content {
		if n.Content[i] != c || !j.edits(c, edits) {
			return false // something moved, or replaced by another node
		}
	}
	added := n.Content[len(sp.content):]
	if len(added) == 0 {
		return true
	}
	if len(sp.content) == 0 {
		// An empty {} or []: written again whole.
		var b bytes.Buffer
		if j.value(&b, n, j.lineIndent(sp.start)) != nil {
			return false
		}
		*edits = append(*edits, edit{off: sp.start, cut: sp.end - sp.start, text: b.Bytes()})
		return true
	}
	step := 1
	if n.Kind == yaml.MappingNode {
		step = 2
	}
	sep, colon := j.separators(n, sp, step)
	indent := sep[bytes.LastIndexByte([]byte(sep), '\n')+1:]
	if !bytes.ContainsRune([]byte(sep), '\n') {
		indent = j.lineIndent(sp.start)
	}
	var b bytes.Buffer
	for i := 0; i+step <= len(added); i += step {
		b.WriteString(sep)
		if step == 2 {
			if added[i].Kind != yaml.ScalarNode {
				return false
			}
			j.string(&b, added[i].Value, added[i])
			b.WriteString(colon)
		}
		if j.value(&b, added[i+step-1], indent) != nil {
			return false
		}
	}
	last := j.spans[sp.content[len(sp.content)-1]]
	*edits = append(*edits, edit{off: last.end, text: b.Bytes()})
	return true
}

// separators returns what goes before a new member or item of an original,
// non-empty collection (its comma, line break and indentation), and for a
// mapping what goes between a key and its value: as the collection writes
// them.
func (j *jsonDoc) separators(n *yaml.Node, sp jsonSpan, step int) (sep, colon string) {
	colon = j.style.colon
	if step == 2 {
		colon = string(j.src[j.spans[sp.content[0]].end:j.spans[sp.content[1]].start])
	}
	if len(sp.content) > step {
		return string(j.src[j.spans[sp.content[step-1]].end:j.spans[sp.content[step]].start]), colon
	}
	// One member: the space after the opening brace says whether the
	// collection is written one a line.
	open := string(j.src[sp.start+1 : j.spans[sp.content[0]].start])
	if bytes.ContainsRune([]byte(open), '\n') {
		return "," + open, colon
	}
	if !j.style.pretty {
		return j.style.comma, colon
	}
	return ", ", colon
}

// lineIndent is the indentation of the line that holds off.
func (j *jsonDoc) lineIndent(off int) string {
	start := bytes.LastIndexByte(j.src[:off], '\n') + 1
	line := j.src[start:off]
	return string(line[:len(line)-len(bytes.TrimLeft(line, " \t"))])
}

// value writes n as JSON in the document's style, its closing bracket at
// indent. What is as the parser read it is written as the bytes it was
// read from, so its escapes and number spellings stay as they were.
func (j *jsonDoc) value(b *bytes.Buffer, n *yaml.Node, indent string) error {
	if sp, ok := j.spans[n]; ok && n.Kind == yaml.ScalarNode && n.Line == sp.line && n.Column == sp.column {
		b.Write(j.src[sp.start:sp.end])
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		open, closer, step := byte('{'), byte('}'), 2
		if n.Kind == yaml.SequenceNode {
			open, closer, step = '[', ']', 1
		}
		b.WriteByte(open)
		inner := indent + j.style.indent
		for i := 0; i+step <= len(n.Content); i += step {
			switch {
			case j.style.pretty && i == 0:
				b.WriteString(j.style.newline + inner)
			case j.style.pretty:
				b.WriteString("," + j.style.newline + inner)
			case i > 0:
				b.WriteString(j.style.comma)
			}
			if step == 2 {
				if k := n.Content[i]; k.Kind != yaml.ScalarNode {
					return fmt.Errorf("a key that is not a string at line %d", k.Line)
				}
				j.string(b, n.Content[i].Value, n.Content[i])
				b.WriteString(j.style.colon)
			}
			if err := j.value(b, n.Content[i+step-1], inner); err != nil {
				return err
			}
		}
		if j.style.pretty && len(n.Content) > 0 {
			b.WriteString(j.style.newline + indent)
		}
		b.WriteByte(closer)
		return nil
	case yaml.ScalarNode:
		return j.scalar(b, n)
	}
	return fmt.Errorf("a YAML alias or document at line %d", n.Line)
}

// scalar writes a new or changed scalar as the JSON of its resolved type.
func (j *jsonDoc) scalar(b *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case yamlnode.NullTag:
		b.WriteString("null")
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return err
		}
		b.WriteString(strconv.FormatBool(v))
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			b.WriteString(n.Value)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		switch v := v.(type) {
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return fmt.Errorf("%s at line %d has no JSON spelling", n.Value, n.Line)
			}
			text := strconv.FormatFloat(v, 'g', -1, 64)
			if !strings.ContainsAny(text, ".e") {
				text += ".0" // a float still when read back
			}
			b.WriteString(text)
		default:
			fmt.Fprint(b, v) // an int, an int64 or a uint64
		}
	case yamlnode.StringTag:
		j.string(b, n.Value, n)
	default:
		return fmt.Errorf("a %s value at line %d", n.ShortTag(), n.Line)
	}
	return nil
}

// string writes a JSON string; a key the parser read is written as it was.
func (j *jsonDoc) string(b *bytes.Buffer, s string, n *yaml.Node) {
	if sp, ok := j.spans[n]; ok && n.Line == sp.line && n.Column == sp.column {
		b.Write(j.src[sp.start:sp.end])
		return
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(j.style.escapeHTML)
	e.Encode(s) // a string always encodes
	text := bytes.TrimSuffix(out.Bytes(), []byte("\n"))
	if !j.style.ascii {
		b.Write(text)
		return
	}
	// A character beyond the 16 bits of \u stays as it is: its JSON escape
	// is a surrogate pair, which the YAML parser refuses to read.
	for _, r := range string(text) {
		if r < utf8.RuneSelf || r > 0xffff {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
}

// isJSONNumber reports whether s is a number as JSON spells it.
func isJSONNumber(s string) bool {
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && json.Valid([]byte(s))
}
