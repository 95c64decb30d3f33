package transform

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/istio-vault-ca/istio-vault-ca/internal/stream"
	"github.com/istio-vault-ca/istio-vault-ca/internal/yamlnode"
)

// A changed target is written as its own bytes with the new lines put in,
// not re-serialised: the diff a user reviews is then exactly the lines the
// tool added or changed, whatever indentation, quoting and comments the
// chart used, and the serialiser's cost is paid only for those lines.
//
// This works for what the transformer does to a target: it adds keys to
// mappings, items to lists and replaces single-line scalar values. Anything
// else is left to the serialiser: a node removed or moved, a flow-style
// collection or a multi-line scalar changed, new lines that would follow a
// plain or quoted scalar over several lines, aliases expanded, mixed line
// ends. Tests hold every document written either way to the tree the
// transformer built.

// positions records where every node of a freshly parsed document is, before
// the transformer changes it: a replaced value keeps its node but loses its
// position.
type positions map[*yaml.Node]yaml.Node

func record(n *yaml.Node, into positions) {
	into[n] = yaml.Node{Kind: n.Kind, Style: n.Style, Line: n.Line, Column: n.Column, Value: n.Value}
	for _, c := range n.Content {
		record(c, into)
	}
}

// edit puts text at off, in place of the cut bytes there.
type edit struct {
	off, cut int
	text     []byte
}

type inPlacer struct {
	src    []byte
	lines  []int // byte offset of each line's start
	before positions
	wide   bool // sequence indentation, see wideSeqIndent
	seen   int  // original nodes still in the tree
	edits  []edit
}

// inPlace returns src with the changes that turned the recorded tree into
// root written in, or false when they are not all of the kinds it writes or
// the result, read back, does not hold root. That last check costs a parse
// of the document; it makes a mistake in writeInPlace a fallback to the
// serialiser, never an annotation in the wrong place, which would leave
// istiod without its CA, silently self-signing.
func inPlace(src []byte, root *yaml.Node, before positions, wide bool) ([]byte, bool) {
	out, ok := writeInPlace(src, root, before, wide)
	if !ok {
		return nil, false
	}
	written, err := yamlnode.Parse(out)
	if err != nil || !sameNode(written, root) {
		return nil, false
	}
	return out, true
}

// writeInPlace is inPlace without the read-back check: what FuzzInPlace
// holds to the changed tree.
func writeInPlace(src []byte, root *yaml.Node, before positions, wide bool) ([]byte, bool) {
	if bytes.IndexByte(src, '\r') >= 0 {
		// A document whose every line ends in CRLF is written as its LF
		// twin, whose nodes are where the parser found them (the CRs are
		// the last bytes of lines) and whose values are the same (the
		// parser reads a CRLF as LF), and the result given CRLF back: what
		// is added ends its lines as the document's own do.
		lf := bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		if bytes.IndexByte(lf, '\r') >= 0 || bytes.Count(src, []byte("\n")) != bytes.Count(src, []byte("\r\n")) {
			return nil, false // a lone CR, or mixed line ends
		}
		out, ok := writeInPlace(lf, root, before, wide)
		if !ok {
			return nil, false
		}
		return toCRLF(out), true
	}
	// The parser also breaks lines at NEL, LS and PS: positions would not
	// be where the lines counted here put them.
	for _, brk := range []string{"\u0085", "\u2028", "\u2029"} {
		if bytes.Contains(src, []byte(brk)) {
			return nil, false
		}
	}
	// YAML allows no C0 control character but tab and line ends, and the
	// parser does not always say so: a document ending in \x01 parses,
	// the same document with a key written above its last line does not
	// (found by FuzzInPlace). Such a document is not written in place.
	if bytes.IndexFunc(src, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' }) >= 0 {
		return nil, false
	}
	p := &inPlacer{src: src, before: before, wide: wide, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	if !p.node(root) || p.seen != len(before) {
		return nil, false // something the parse had is gone
	}
	sort.SliceStable(p.edits, func(i, j int) bool { return p.edits[i].off < p.edits[j].off })
	var out bytes.Buffer
	out.Grow(len(src) + 4096)
	at := 0
	for _, e := range p.edits {
		if e.off < at {
			return nil, false
		}
		out.Write(src[at:e.off])
		out.Write(e.text)
		at = e.off + e.cut
	}
	out.Write(src[at:])
	return out.Bytes(), true
}

// node walks an original node, recording edits for what was added under it.
func (p *inPlacer) node(n *yaml.Node) bool {
	was, ok := p.before[n]
	// A node that is not where it was holds what another node held (kyaml
	// sets a field by copying a node into it): only the serialiser knows.
	if !ok || n.Line != was.Line || n.Column != was.Column || was.Kind != n.Kind {
		return false
	}
	p.seen++
	switch n.Kind {
	case yaml.DocumentNode:
		return len(n.Content) == 1 && p.node(n.Content[0])
	case yaml.MappingNode:
		return p.mapping(n, was)
	case yaml.SequenceNode:
		return p.sequence(n, was)
	}
	return true
}

func (p *inPlacer) mapping(m *yaml.Node, was yaml.Node) bool {
	firstNew := len(m.Content)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if _, orig := p.before[k]; !orig {
			if firstNew == len(m.Content) {
				firstNew = i
			}
			continue
		}
		if firstNew < i || !p.node(k) {
			return false // an original key after a new one: not an append
		}
		if _, orig := p.before[v]; !orig {
			return false // a new node in place of an original one
		}
		if v.Line == 0 {
			if !p.replaceScalar(v) {
				return false
			}
			p.seen++
			continue
		}
		if !p.node(v) {
			return false
		}
	}
	if firstNew == len(m.Content) {
		return true
	}
	if firstNew == 0 || was.Style&yaml.FlowStyle != 0 {
		return false
	}
	if !p.leadsLine(m.Content[0]) || !p.oneLineScalars(m.Content[firstNew-2], false) || !p.oneLineScalars(m.Content[firstNew-1], true) {
		return false
	}
	added := &yaml.Node{Kind: yaml.MappingNode, Content: m.Content[firstNew:]}
	return p.append(m.Content[0].Column, m.Content[firstNew-2].Line, m, m.Content[firstNew-1], added)
}

func (p *inPlacer) sequence(s *yaml.Node, was yaml.Node) bool {
	firstNew := len(s.Content)
	for i, item := range s.Content {
		if _, orig := p.before[item]; !orig {
			if firstNew == len(s.Content) {
				firstNew = i
			}
			continue
		}
		if firstNew < i || item.Line == 0 || !p.node(item) {
			return false
		}
	}
	if firstNew == len(s.Content) {
		return true
	}
	if firstNew == 0 || was.Style&yaml.FlowStyle != 0 {
		return false
	}
	// An item's node starts after its "- ": the dash is on that line, at the
	// first non-space byte before it.
	last := s.Content[firstNew-1]
	dash, ok := p.dashColumn(last)
	if !ok || !p.oneLineScalars(last, true) {
		return false
	}
	added := &yaml.Node{Kind: yaml.SequenceNode, Content: s.Content[firstNew:]}
	return p.append(dash, last.Line, s, last, added)
}

// leadsLine reports whether a mapping's first key is the first thing on its
// line but for the dashes of list items: its column is then the mapping's
// indentation. (After "? ", an explicit key, it is not.)
func (p *inPlacer) leadsLine(key *yaml.Node) bool {
	off := p.offset(key.Line, key.Column)
	if off < 0 {
		return false
	}
	for _, c := range p.src[p.lines[key.Line-1]:off] {
		if c != ' ' && c != '-' {
			return false
		}
	}
	return true
}

// oneLineScalars reports whether every scalar under n sits on one line,
// or, with blocks, is a block scalar: then every line of n's text is
// structure, a real comment or a block scalar's, and where the text ends can
// be told from indentation alone, but for a block scalar that ends it (see
// blockScalarEnd). A plain or quoted scalar over several lines may go on at
// any indentation; a block scalar's lines are all indented deeper than the
// collection holding it.
func (p *inPlacer) oneLineScalars(n *yaml.Node, blocks bool) bool {
	was, ok := p.before[n]
	if !ok {
		return false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Line == 0 {
			// replaced: replaceScalar took a one-line original, or one
			// line of a block (replaceBlockLine), whose end is not
			// where an append would look for it.
			return was.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0
		}
		if was.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return blocks
		}
		off := p.offset(was.Line, was.Column)
		if off < 0 {
			return false
		}
		if was.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return scalarLen(p.src[off:], was) >= 0 // the closing quote is on the line
		}
		// A plain scalar is its value, as written; one that goes on over
		// more lines has a value its first line does not hold.
		return bytes.HasPrefix(firstLine(p.src[off:]), []byte(was.Value))
	case yaml.MappingNode, yaml.SequenceNode:
		if was.Style&yaml.FlowStyle != 0 {
			off := p.offset(was.Line, was.Column)
			return off >= 0 && flowClosesOnLine(p.src[off:])
		}
		for _, c := range n.Content {
			if !p.oneLineScalars(c, blocks) {
				return false
			}
		}
		return true
	}
	return false
}

// flowClosesOnLine reports whether the flow collection that opens at the
// start of rest closes on the same line: a flow collection over several
// lines ends on a line indented as little as it likes.
func flowClosesOnLine(rest []byte) bool {
	depth := 0
	for i := 0; i < len(rest) && rest[i] != '\n'; i++ {
		switch rest[i] {
		case '[', '{':
			depth++
		case ']', '}':
			if depth--; depth == 0 {
				return true
			}
		case '"', '\'':
			n := quotedLen(firstLine(rest[i:]))
			if n < 0 {
				return false // the scalar, and so the collection, goes on over lines
			}
			i += n - 1
		case '#':
			if i > 0 && (rest[i-1] == ' ' || rest[i-1] == '\t') {
				return false // a comment before the collection closed
			}
		}
	}
	return false
}

// append writes added (new pairs or items) after the block collection
// parent, whose entries start at column col (1-based) and whose last entry,
// last (a value or an item), starts on line lastLine, indented to col.
func (p *inPlacer) append(col, lastLine int, parent, last *yaml.Node, added *yaml.Node) bool {
	text, err := yamlnode.Marshal(added, p.wide)
	if err != nil {
		return false
	}
	seq := parent.Kind == yaml.SequenceNode
	addsBlock := hasBlockScalar(added)
	from, fromLine := p.lineEnd(lastLine), lastLine+1
	if leaf, holder := p.tail(last, parent); p.isBlockScalar(leaf) {
		// Its lines cannot be told from comments and blank lines by
		// indentation: the scalar is read as the parser reads it.
		if from = p.blockScalarEnd(leaf, holder, col, addsBlock); from < 0 {
			return false
		}
		fromLine = sort.SearchInts(p.lines, from) + 1
	}
	off := p.endOf(col, from, fromLine, seq)
	if off < 0 || addsBlock && !p.endsBlockScalar(off, col) {
		return false
	}
	indent := strings.Repeat(" ", col-1)
	var b bytes.Buffer
	if off > 0 && p.src[off-1] != '\n' {
		b.WriteByte('\n') // the last line had no line break
	}
	for _, line := range bytes.SplitAfter(text, []byte("\n")) {
		if len(line) > 1 {
			b.WriteString(indent)
		}
		b.Write(line)
	}
	p.edits = append(p.edits, edit{off: off, text: b.Bytes()})
	return true
}

// endOf returns the offset just past the last line of a block collection
// whose entries start at column col, from end, the offset past the lines
// known to be its own, on: the lines from line fromLine (1-based, the one
// starting at end) that are indented deeper, and for a mapping also a list
// in compact style under its last key (dashes at col). Blank and comment
// lines count only when more of the collection follows them, so the new
// lines go above a trailing comment. -1 when a line does not fit that shape.
func (p *inPlacer) endOf(col, end, fromLine int, seq bool) int {
	if end < 0 {
		return -1
	}
	for l := fromLine; l <= len(p.lines); l++ {
		start := p.lines[l-1]
		if start >= len(p.src) {
			break
		}
		line := firstLine(p.src[start:])
		trimmed := bytes.TrimLeft(line, " ")
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		indent := len(line) - len(trimmed)
		dash := trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ')
		switch {
		case indent < col-1:
			return end
		case indent == col-1 && seq && !dash:
			return end // the key after a compact list
		case indent == col-1 && seq == dash:
			return -1 // another item, or another key: not the shape we know
		}
		end = p.lineEnd(l)
	}
	return end
}

// tail follows the last entries of n down to the node whose text ends n's,
// and returns it with the block collection that holds it.
func (p *inPlacer) tail(n, holder *yaml.Node) (*yaml.Node, *yaml.Node) {
	for (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) > 0 && p.before[n].Style&yaml.FlowStyle == 0 {
		holder, n = n, n.Content[len(n.Content)-1]
	}
	return n, holder
}

func (p *inPlacer) isBlockScalar(n *yaml.Node) bool {
	was, ok := p.before[n]
	return ok && n.Line != 0 && was.Kind == yaml.ScalarNode && was.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
}

// blockScalarEnd returns where new lines may go after the block scalar n,
// held by the block collection holder, so that n keeps its value: past its
// last content line, and past the blank lines after it when they belong to
// it (keep chomping, "|+") or when a block scalar among the new lines would
// take them in (col is where the new lines are indented). -1 when that
// cannot be done: n's last line has no line break and one added would
// change its value, or its lines are not what this reads.
//
// It reads the scalar as go.yaml.in/yaml/v3's scanner does: the content is
// indented by the header's indentation indicator past the holder's
// indentation, or else as deep as the first line with something on it (or
// a blank line before it indented deeper), and at least one column deeper
// than the holder; it goes on while lines are blank or indented that deep.
func (p *inPlacer) blockScalarEnd(n, holder *yaml.Node, col int, addsBlock bool) int {
	was := p.before[n]
	hdr := p.offset(was.Line, was.Column)
	if hdr < 0 || hdr >= len(p.src) || p.src[hdr] != '|' && p.src[hdr] != '>' || len(holder.Content) == 0 {
		return -1
	}
	var parent int // the scanner's indentation while it reads n: its holder's column, 0-based
	if first := holder.Content[0]; holder.Kind == yaml.MappingNode {
		if !p.leadsLine(first) {
			return -1
		}
		parent = first.Column - 1
	} else {
		dash, ok := p.dashColumn(first)
		if !ok {
			return -1
		}
		parent = dash - 1
	}
	chomp, indent := 0, 0
	for i := hdr + 1; i < hdr+3 && i < len(p.src); i++ {
		switch c := p.src[i]; {
		case c == '+':
			chomp = 1
		case c == '-':
			chomp = -1
		case c >= '1' && c <= '9':
			indent = parent + int(c-'0')
		default:
			i = len(p.src) // the end of the indicators
		}
	}
	src := p.src
	at := p.lineEnd(was.Line) // past the header line
	if at < 0 {
		return -1
	}
	// breaks eats blank lines from at, returning the start of the first
	// line with something on it (or the end) and how deep that line is
	// indented, counting no deeper than indent when indent is known.
	maxIndent := 0
	breaks := func() (int, int, bool) {
		for {
			sp := 0
			for at+sp < len(src) && src[at+sp] == ' ' && (indent == 0 || sp < indent) {
				sp++
			}
			maxIndent = max(maxIndent, sp)
			if at+sp < len(src) && src[at+sp] == '\t' && (indent == 0 || sp < indent) {
				return 0, 0, false // the parser refuses a tab there
			}
			if at+sp >= len(src) || src[at+sp] != '\n' {
				return at, sp, true
			}
			at += sp + 1
		}
	}
	line, sp, ok := breaks()
	if !ok {
		return -1
	}
	if indent == 0 {
		indent = max(maxIndent, parent+1, 1)
	}
	contentEnd := at // past the header line when the scalar is empty
	for sp == indent && line+sp < len(src) {
		nl := bytes.IndexByte(src[line:], '\n')
		if nl < 0 {
			// The last line has no line break: putting one in after it
			// adds it to the value, but when the value is stripped.
			if chomp != -1 {
				return -1
			}
			return len(src)
		}
		at = line + nl + 1
		contentEnd = at
		if line, sp, ok = breaks(); !ok {
			return -1
		}
	}
	// at is past the blank lines after the content, at the start of the
	// line that ended the scalar, or at the end.
	if chomp == 1 || addsBlock && !p.endsBlockScalar(contentEnd, col) {
		return at
	}
	return contentEnd
}

// hasBlockScalar reports whether n holds a literal or folded scalar.
func hasBlockScalar(n *yaml.Node) bool {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return true
	}
	for _, c := range n.Content {
		if hasBlockScalar(c) {
			return true
		}
	}
	return false
}

// endsBlockScalar reports whether the text at off cannot be read as more
// of a block scalar written just before it by a collection at column col:
// it is the end, or a line that has something on it and is indented no
// deeper than the collection. (A blank, a space-only or a deeper comment
// line would become part of the scalar's value.)
func (p *inPlacer) endsBlockScalar(off, col int) bool {
	if off >= len(p.src) {
		return true
	}
	line := firstLine(p.src[off:])
	trimmed := bytes.TrimLeft(line, " ")
	return len(trimmed) > 0 && len(line)-len(trimmed) <= col-1
}

// firstLine is b up to its first line break.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// lineEnd is the offset just past line l (1-based), newline included.
func (p *inPlacer) lineEnd(l int) int {
	if l < 1 || l > len(p.lines) {
		return -1
	}
	if l == len(p.lines) {
		return len(p.src)
	}
	return p.lines[l]
}

// offset turns a parser position (1-based line, column in characters) into
// a byte offset.
func (p *inPlacer) offset(line, col int) int {
	if line < 1 || line > len(p.lines) {
		return -1
	}
	off := p.lines[line-1]
	for c := 1; c < col; c++ {
		if off >= len(p.src) || p.src[off] == '\n' {
			return -1
		}
		_, size := utf8.DecodeRune(p.src[off:])
		off += size
	}
	return off
}

// dashColumn finds the column of the "- " that opens a list item on the
// item's own line, with nothing but spaces before it.
func (p *inPlacer) dashColumn(item *yaml.Node) (int, bool) {
	off := p.offset(item.Line, item.Column)
	if off < 0 {
		return 0, false
	}
	prefix := p.src[p.lines[item.Line-1]:off]
	rest := bytes.TrimLeft(prefix, " ")
	if len(rest) == 0 || rest[0] != '-' || len(bytes.TrimLeft(rest[1:], " ")) > 0 {
		return 0, false
	}
	return len(prefix) - len(rest) + 1, true
}

// replaceScalar writes the new value of a scalar over the original one; both
// must fit on one line.
func (p *inPlacer) replaceScalar(v *yaml.Node) bool {
	was := p.before[v]
	if was.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode && was.Style == yaml.LiteralStyle && v.Style == yaml.LiteralStyle {
		return p.replaceBlockLine(v, was)
	}
	if was.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || was.Line == 0 ||
		was.Style&^(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return false
	}
	start := p.offset(was.Line, was.Column)
	if start < 0 {
		return false
	}
	n := scalarLen(p.src[start:], was)
	if n <= 0 {
		return false // or an empty value, which may sit right after the colon
	}
	text, err := yamlnode.Marshal(v, p.wide)
	if err != nil {
		return false
	}
	text = bytes.TrimSuffix(text, []byte("\n"))
	if len(text) == 0 || bytes.IndexByte(text, '\n') >= 0 {
		return false
	}
	p.edits = append(p.edits, edit{off: start, cut: n, text: text})
	return true
}

// replaceBlockLine writes a literal block scalar whose new value differs
// from the old one in one line only (the injector's values JSON, one key
// changed): that line is edited where it stands, every other byte of the
// block stays. Content line i of the block is source line was.Line+1+i.
func (p *inPlacer) replaceBlockLine(v *yaml.Node, was yaml.Node) bool {
	olds, news := strings.Split(was.Value, "\n"), strings.Split(v.Value, "\n")
	if len(olds) != len(news) || was.Line == 0 {
		return false
	}
	at := -1
	for i := range olds {
		if olds[i] != news[i] {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 0 {
		return true
	}
	// A blank line may be indented less than the block, and the first
	// line with text sets the block's indentation: neither is edited.
	first := 0
	for first < len(olds) && strings.TrimSpace(olds[first]) == "" {
		first++
	}
	if strings.ContainsAny(news[at], "\r\t") || strings.TrimSpace(news[at]) == "" || strings.TrimSpace(olds[at]) == "" ||
		at == first && news[at][0] == ' ' {
		return false
	}
	l := was.Line + 1 + at
	start, end := p.offset(l, 1), p.lineEnd(l)
	if start < 0 || end < 0 {
		return false
	}
	line := bytes.TrimRight(p.src[start:end], "\r\n")
	if !bytes.HasSuffix(line, []byte(olds[at])) || len(bytes.TrimLeft(line[:len(line)-len(olds[at])], " ")) != 0 {
		return false
	}
	off := start + len(line) - len(olds[at])
	p.edits = append(p.edits, edit{off: off, cut: len(olds[at]), text: []byte(news[at])})
	return true
}

// scalarLen is the length in bytes of a one-line scalar at the start of
// rest, or -1 when it does not end on its line or does not read as the
// value the parser gave.
func scalarLen(rest []byte, was yaml.Node) int {
	line := firstLine(rest)
	if was.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return quotedLen(line)
	}
	text := line
	if i := bytes.Index(text, []byte(" #")); i >= 0 {
		text = text[:i]
	}
	text = bytes.TrimRight(text, " \t")
	if string(text) != was.Value {
		return -1 // a plain scalar that goes on over more lines
	}
	return len(text)
}

// quotedLen is the length of the quoted scalar that opens line, both quotes
// included, or -1 when it does not close on the line. Inside double quotes a
// backslash escapes the next byte; inside single quotes two quotes are one.
func quotedLen(line []byte) int {
	if len(line) == 0 {
		return -1
	}
	q := line[0]
	for i := 1; i < len(line); i++ {
		switch {
		case q == '"' && line[i] == '\\':
			i++
		case line[i] == q:
			if q == '\'' && i+1 < len(line) && line[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return -1
}

// sameNode compares what two YAML trees hold, not how they are written:
// kinds, resolved tags, scalar values, anchors and the order of content.
func sameNode(a, b *yaml.Node) bool {
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	// A null is a null however it is spelt ("", ~, null).
	if (a.Kind == yaml.ScalarNode || a.Kind == yaml.AliasNode) && a.ShortTag() != yamlnode.NullTag && a.Value != b.Value {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// endsLinesCRLF reports whether a document's line ends are CRLF, as its
// first one is: what the tool writes into it or in its place ends its lines
// so, or a Windows checkout would show every line of it changed.
func endsLinesCRLF(doc []byte) bool {
	i := bytes.IndexByte(doc, '\n')
	return i > 0 && doc[i-1] == '\r'
}

// docCRLF reports whether d's line ends are CRLF: its body's, or when that
// has no line break its marker's.
func docCRLF(d *stream.Doc) bool {
	if bytes.IndexByte(d.Body, '\n') >= 0 {
		return endsLinesCRLF(d.Body)
	}
	return endsLinesCRLF(d.Marker)
}

// toCRLF ends every line of b that ends in a bare LF with CRLF instead.
func toCRLF(b []byte) []byte {
	n := bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n"))
	if n == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+n)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
