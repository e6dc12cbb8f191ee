package tabular

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds of a formula.
const (
	MaxTerms        = 64
	MaxFormulaBytes = 8 << 10
)

// FormulaError is a problem of a formula at a byte offset (from 0). Err is
// ErrIdentifier when the formula names an identifier column.
type FormulaError struct {
	Pos     int
	Problem string
	Err     error
}

func (e *FormulaError) Error() string {
	return fmt.Sprintf("formula: at byte %d: %s", e.Pos, e.Problem)
}
func (e *FormulaError) Unwrap() error { return e.Err }

// Formula is a model formula, "outcome ~ age + bmi + sex": a response and
// the terms it is modelled on, in order. The intercept is always included.
type Formula struct {
	Response string
	Terms    []string
}

// String is the canonical form: "y ~ a + b", or "y ~ 1" without terms.
func (f *Formula) String() string {
	if len(f.Terms) == 0 {
		return f.Response + " ~ 1"
	}
	return f.Response + " ~ " + strings.Join(f.Terms, " + ")
}

// ParseFormula parses "response ~ term + term ..." against a dictionary.
// The response is a number, integer or boolean column; a term is a
// number, integer, boolean or categorical column; none is an identifier,
// none appears twice. "1" stands for the intercept, which is always
// included ("y ~ 1" has no terms); removing it, interactions and
// transformations are not supported. Errors are a *FormulaError (or a
// *DictionaryError when d is not valid).
func ParseFormula(s string, d Dictionary) (*Formula, error) {
	if len(s) > MaxFormulaBytes {
		return nil, &FormulaError{Pos: MaxFormulaBytes, Problem: fmt.Sprintf("the formula is %d bytes, limit %d", len(s), MaxFormulaBytes)}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	p := &formulaParser{lex: lexer{src: s}, dict: d}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errorf(`an empty formula: write "response ~ term + term"`)
	}
	resp, err := p.column("response")
	if err != nil {
		return nil, err
	}
	f := &Formula{Response: resp.Name}
	if !(p.tok.kind == tokPunct && p.tok.text == "~") {
		return nil, p.errorf(`expected "~" after the response, found %s`, describe(p.tok))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	seen := map[string]bool{resp.Name: true}
	for {
		switch {
		case p.tok.kind == tokNumber && p.tok.text == "1":
			if err := p.advance(); err != nil {
				return nil, err
			}
		case p.tok.kind == tokNumber && (p.tok.num == 0 || p.tok.num == -1):
			return nil, p.errorf("the intercept is always included")
		default:
			pos := p.tok.pos
			c, err := p.column("term")
			if err != nil {
				return nil, err
			}
			if seen[c.Name] {
				return nil, &FormulaError{Pos: pos, Problem: fmt.Sprintf("%q appears twice", c.Name)}
			}
			seen[c.Name] = true
			if len(f.Terms) == MaxTerms {
				return nil, &FormulaError{Pos: pos, Problem: fmt.Sprintf("more than %d terms", MaxTerms)}
			}
			f.Terms = append(f.Terms, c.Name)
		}
		switch {
		case p.tok.kind == tokEOF:
			return f, nil
		case p.tok.kind == tokPunct && p.tok.text == "+":
			if err := p.advance(); err != nil {
				return nil, err
			}
		case p.tok.kind == tokPunct && p.tok.text == "-", p.tok.kind == tokNumber && strings.HasPrefix(p.tok.text, "-"):
			return nil, p.errorf("removing a term or the intercept is not supported")
		case p.tok.kind == tokPunct && strings.Contains(":*^/(|", p.tok.text):
			return nil, p.errorf("%s: interactions and transformations are not supported", describe(p.tok))
		default:
			return nil, p.errorf(`expected "+" or the end, found %s`, describe(p.tok))
		}
	}
}

type formulaParser struct {
	lex  lexer
	tok  token
	dict Dictionary
}

func (p *formulaParser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		var le *lexError
		errors.As(err, &le)
		return &FormulaError{Pos: le.pos, Problem: le.problem}
	}
	p.tok = t
	return nil
}

func (p *formulaParser) errorf(format string, args ...any) error {
	return &FormulaError{Pos: p.tok.pos, Problem: fmt.Sprintf(format, args...)}
}

// column reads the column name of the response (role "response") or of a
// term, checks its type for the role, and advances.
func (p *formulaParser) column(role string) (Column, error) {
	name := p.tok
	if name.kind != tokIdent {
		return Column{}, p.errorf("expected the %s's column name, found %s", role, describe(name))
	}
	if err := p.advance(); err != nil {
		return Column{}, err
	}
	if p.tok.kind == tokPunct && p.tok.text == "(" {
		return Column{}, p.errorf("%s(: interactions and transformations are not supported", truncate(name.text))
	}
	fail := func(format string, args ...any) (Column, error) {
		return Column{}, &FormulaError{Pos: name.pos, Problem: fmt.Sprintf(format, args...)}
	}
	c, ok := p.dict.Column(name.text)
	switch {
	case !ok:
		return fail("unknown column %q", truncate(name.text))
	case c.Identifier:
		return Column{}, &FormulaError{Pos: name.pos, Problem: fmt.Sprintf("a formula with the identifier column %q is refused", c.Name), Err: ErrIdentifier}
	case role == "response" && !c.Type.numeric():
		return fail("the response %q is %s: it must be a number, integer or boolean", c.Name, c.Type)
	case !c.Type.numeric() && c.Type != TypeCategorical:
		return fail("the term %q is %s: it must be a number, integer, boolean or categorical", c.Name, c.Type)
	}
	return c, nil
}
