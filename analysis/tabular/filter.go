package tabular

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bounds of a filter expression.
const (
	MaxFilterBytes = 1024
	MaxFilterDepth = 32 // nesting of parentheses and not
)

// FilterError is a problem of a filter expression at a byte offset (from
// 0). Err is ErrIdentifier when the filter names an identifier column.
type FilterError struct {
	Pos     int
	Problem string
	Err     error
}

func (e *FilterError) Error() string { return fmt.Sprintf("filter: at byte %d: %s", e.Pos, e.Problem) }
func (e *FilterError) Unwrap() error { return e.Err }

// Filter selects rows of a table. Parsing normalises it: negations are
// pushed down to the comparisons (exact under three-valued logic, where a
// comparison with a missing value is neither true nor false), a
// categorical comparison becomes the set of levels it accepts, and the
// operands of and/or are sorted and deduplicated. String prints the
// normalised form, so two spellings of one filter print alike.
//
// A nil *Filter selects every row.
type Filter struct {
	root node
	dict Dictionary
}

// node is a normalised filter: no not nodes remain.
type node interface {
	// canon is the canonical text; prec is the precedence of its top
	// operator (an operand of lower precedence is parenthesised).
	canon() string
	prec() int
	// negate returns the node's negation, under three-valued logic.
	negate() node
}

const (
	precOr = iota + 1
	precAnd
	precAtom
)

// cmpNode compares a number, integer or boolean column with a number.
type cmpNode struct {
	col     string
	op      string
	value   float64
	boolean bool // the column is boolean: 0 and 1 print as false and true
}

// levelNode matches a categorical column's rows whose value is one of a set
// of levels (never a missing one).
type levelNode struct {
	col    string
	in     []int32 // indexes into levels, sorted, unique
	levels []string
}

// junction is an and (isAnd) or an or of two or more operands.
type junction struct {
	isAnd bool
	ops   []node
}

func (n *cmpNode) prec() int   { return precAtom }
func (n *levelNode) prec() int { return precAtom }
func (n *junction) prec() int {
	if n.isAnd {
		return precAnd
	}
	return precOr
}

var inverse = map[string]string{"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}

func (n *cmpNode) negate() node {
	m := *n
	m.op = inverse[n.op]
	return m.normal()
}

// normal writes a boolean inequality with 0 or 1 as an equality (a
// boolean has no third value).
func (n cmpNode) normal() *cmpNode {
	if n.boolean && n.op == "!=" && (n.value == 0 || n.value == 1) {
		n.op, n.value = "==", 1-n.value
	}
	return &n
}

func (n *levelNode) negate() node {
	m := &levelNode{col: n.col, levels: n.levels}
	for i := range int32(len(n.levels)) {
		if _, found := slices.BinarySearch(n.in, i); !found {
			m.in = append(m.in, i)
		}
	}
	return m
}

func (n *junction) negate() node {
	m := &junction{isAnd: !n.isAnd}
	for _, op := range n.ops {
		m.ops = append(m.ops, op.negate())
	}
	return m.normal()
}

// normal flattens nested junctions of the same kind and sorts and
// deduplicates the operands; a single operand stands alone.
func (n *junction) normal() node {
	var flat []node
	for _, op := range n.ops {
		if j, ok := op.(*junction); ok && j.isAnd == n.isAnd {
			flat = append(flat, j.ops...)
		} else {
			flat = append(flat, op)
		}
	}
	slices.SortStableFunc(flat, func(a, b node) int { return strings.Compare(a.canon(), b.canon()) })
	flat = slices.CompactFunc(flat, func(a, b node) bool { return a.canon() == b.canon() })
	if len(flat) == 1 {
		return flat[0]
	}
	return &junction{isAnd: n.isAnd, ops: flat}
}

func (n *cmpNode) canon() string {
	v := strconv.FormatFloat(n.value, 'g', -1, 64)
	if n.boolean && (n.value == 0 || n.value == 1) {
		v = strconv.FormatBool(n.value == 1)
	}
	return n.col + " " + n.op + " " + v
}

func (n *levelNode) canon() string {
	quoted := func(i int32) string { return strconv.Quote(n.levels[i]) }
	switch {
	case len(n.in) == 1:
		return n.col + " == " + quoted(n.in[0])
	case len(n.in) == len(n.levels)-1 && len(n.levels) > 2:
		for i := range int32(len(n.levels)) {
			if _, found := slices.BinarySearch(n.in, i); !found {
				return n.col + " != " + quoted(i)
			}
		}
	}
	parts := make([]string, len(n.in))
	for k, i := range n.in {
		parts[k] = quoted(i)
	}
	return n.col + " in (" + strings.Join(parts, ", ") + ")"
}

func (n *junction) canon() string {
	sep := " or "
	if n.isAnd {
		sep = " and "
	}
	parts := make([]string, len(n.ops))
	for i, op := range n.ops {
		parts[i] = op.canon()
		if op.prec() <= n.prec() {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, sep)
}

// String is the filter's canonical form; a nil filter's is empty.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.root.canon()
}

// ParseFilter parses a row filter against a dictionary. An expression of
// white space only is no filter: a nil *Filter and no error. The grammar:
//
//	expr       = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | "(" expr ")" | comparison
//	comparison = column op number            (number, integer, boolean)
//	           | column op ("true" | "false") (boolean)
//	           | column ("==" | "!=") string  (categorical: one of its levels)
//	           | column "in" "(" [ string { "," string } ] ")"
//	op         = "==" | "!=" | "<" | "<=" | ">" | ">="
//
// Keywords are case-insensitive; strings are double-quoted with Go's
// escapes. Errors are a *FilterError (or a *DictionaryError when d is not
// valid).
func ParseFilter(expr string, d Dictionary) (*Filter, error) {
	if len(expr) > MaxFilterBytes {
		return nil, &FilterError{Pos: MaxFilterBytes, Problem: fmt.Sprintf("the filter is %d bytes, limit %d", len(expr), MaxFilterBytes)}
	}
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	p := &filterParser{lex: lexer{src: expr}, dict: d}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s after a complete filter", describe(p.tok))
	}
	return &Filter{root: root, dict: d}, nil
}

type filterParser struct {
	lex  lexer
	tok  token
	dict Dictionary
}

func (p *filterParser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		var le *lexError
		errors.As(err, &le)
		return &FilterError{Pos: le.pos, Problem: le.problem}
	}
	p.tok = t
	return nil
}

func (p *filterParser) errorf(format string, args ...any) error {
	return &FilterError{Pos: p.tok.pos, Problem: fmt.Sprintf(format, args...)}
}

// keyword tells whether the current token is the keyword kw.
func (p *filterParser) keyword(kw string) bool {
	return p.tok.kind == tokIdent && strings.EqualFold(p.tok.text, kw)
}

func (p *filterParser) punct(s string) bool { return p.tok.kind == tokPunct && p.tok.text == s }

// describe names a token in an error.
func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return strconv.Quote(truncate(t.text))
	}
	return fmt.Sprintf("%q", truncate(t.text))
}

func (p *filterParser) or(depth int) (node, error) {
	return p.junction(depth, false)
}

// junction parses operands joined by or (isAnd false) or and.
func (p *filterParser) junction(depth int, isAnd bool) (node, error) {
	operand := func() (node, error) {
		if isAnd {
			return p.unary(depth)
		}
		return p.junction(depth, true)
	}
	kw := "or"
	if isAnd {
		kw = "and"
	}
	first, err := operand()
	if err != nil {
		return nil, err
	}
	j := &junction{isAnd: isAnd, ops: []node{first}}
	for p.keyword(kw) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := operand()
		if err != nil {
			return nil, err
		}
		j.ops = append(j.ops, n)
	}
	if len(j.ops) == 1 {
		return first, nil
	}
	return j.normal(), nil
}

func (p *filterParser) unary(depth int) (node, error) {
	if depth >= MaxFilterDepth {
		return nil, p.errorf("nested deeper than %d", MaxFilterDepth)
	}
	switch {
	case p.keyword("not"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return n.negate(), nil
	case p.punct("("):
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, p.errorf(`expected ")", found %s`, describe(p.tok))
		}
		return n, p.advance()
	}
	return p.comparison()
}

func (p *filterParser) comparison() (node, error) {
	if p.tok.kind != tokIdent || reservedNames[strings.ToLower(p.tok.text)] {
		return nil, p.errorf("expected a column name, found %s", describe(p.tok))
	}
	colTok := p.tok
	c, ok := p.dict.Column(colTok.text)
	switch {
	case !ok:
		return nil, p.errorf("unknown column %q", truncate(colTok.text))
	case c.Identifier:
		return nil, &FilterError{Pos: colTok.pos, Problem: fmt.Sprintf("a filter on the identifier column %q is refused", c.Name), Err: ErrIdentifier}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.keyword("in") {
		if c.Type != TypeCategorical {
			return nil, p.errorf("in is for categorical columns, and %q is %s", c.Name, c.Type)
		}
		return p.in(c)
	}
	if p.tok.kind != tokOp {
		return nil, p.errorf("expected a comparison operator after %q, found %s", c.Name, describe(p.tok))
	}
	op := p.tok.text
	if err := p.advance(); err != nil {
		return nil, err
	}
	lit := p.tok
	if c.Type == TypeCategorical {
		if op != "==" && op != "!=" {
			return nil, &FilterError{Pos: lit.pos, Problem: fmt.Sprintf("%q is categorical: compare it with ==, != or in", c.Name)}
		}
		if lit.kind != tokString {
			return nil, p.errorf("%q is categorical: compare it with a quoted level, not %s", c.Name, describe(lit))
		}
		i, err := p.level(c, lit)
		if err != nil {
			return nil, err
		}
		n := &levelNode{col: c.Name, in: []int32{i}, levels: c.Levels}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if op == "!=" {
			return n.negate(), nil
		}
		return n, nil
	}
	var v float64
	switch {
	case lit.kind == tokNumber:
		v = lit.num
	case c.Type == TypeBoolean && (p.keyword("true") || p.keyword("false")):
		if p.keyword("true") {
			v = 1
		}
	case c.Type == TypeBoolean:
		return nil, p.errorf("%q is boolean: compare it with true, false or a number, not %s", c.Name, describe(lit))
	default:
		return nil, p.errorf("%q is %s: compare it with a number, not %s", c.Name, c.Type, describe(lit))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return cmpNode{col: c.Name, op: op, value: v, boolean: c.Type == TypeBoolean}.normal(), nil
}

// level finds a quoted level of a categorical column.
func (p *filterParser) level(c Column, lit token) (int32, error) {
	i := slices.Index(c.Levels, lit.text)
	if i < 0 {
		return 0, &FilterError{Pos: lit.pos, Problem: fmt.Sprintf("%s is not a level of %q", strconv.Quote(truncate(lit.text)), c.Name)}
	}
	return int32(i), nil
}

// in parses the list of "col in (...)", after "in".
func (p *filterParser) in(c Column) (node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if !p.punct("(") {
		return nil, p.errorf(`expected "(" after in, found %s`, describe(p.tok))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n := &levelNode{col: c.Name, levels: c.Levels}
	for !p.punct(")") {
		if len(n.in) > 0 {
			if !p.punct(",") {
				return nil, p.errorf(`expected "," or ")", found %s`, describe(p.tok))
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if p.tok.kind != tokString {
			return nil, p.errorf("expected a quoted level of %q, found %s", c.Name, describe(p.tok))
		}
		i, err := p.level(c, p.tok)
		if err != nil {
			return nil, err
		}
		n.in = append(n.in, i)
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	slices.Sort(n.in)
	n.in = slices.Compact(n.in)
	return n, p.advance()
}
