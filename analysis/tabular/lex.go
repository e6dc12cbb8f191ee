package tabular

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// tokenKind is the kind of a token of the filter and formula languages.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokIdent            // a column name or a keyword
	tokNumber           // a number literal, sign included
	tokString           // a double-quoted string, unquoted in text
	tokOp               // == != < <= > >=
	tokPunct            // ( ) , ~ + and any other single character
)

type token struct {
	kind tokenKind
	text string // the identifier, operator, punctuation or unquoted string
	num  float64
	pos  int // byte offset in the input
}

// lexer splits a filter or formula into tokens.
type lexer struct {
	src string
	pos int
}

// lexError is a problem at a byte offset; the parsers turn it into their
// own error type.
type lexError struct {
	pos     int
	problem string
}

func (e *lexError) Error() string { return fmt.Sprintf("at byte %d: %s", e.pos, e.problem) }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// next returns the next token.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case isLetter(c) || c == '_':
		for l.pos < len(l.src) && (isLetter(l.src[l.pos]) || isDigit(l.src[l.pos]) || l.src[l.pos] == '_') {
			l.pos++
		}
		return token{kind: tokIdent, text: l.src[start:l.pos], pos: start}, nil
	case isDigit(c) || c == '.' || (c == '-' || c == '+') && l.startsNumber(start+1):
		return l.number()
	case c == '"':
		return l.string()
	case c == '=' || c == '!' || c == '<' || c == '>':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '=' {
			l.pos++
			return token{kind: tokOp, text: l.src[start:l.pos], pos: start}, nil
		}
		switch c {
		case '=':
			return token{}, &lexError{start, `"=" is not an operator: write "=="`}
		case '!':
			return token{}, &lexError{start, `"!" is not an operator: write "not" or "!="`}
		}
		return token{kind: tokOp, text: string(c), pos: start}, nil
	}
	r, size := utf8.DecodeRuneInString(l.src[start:])
	l.pos += size
	if r == utf8.RuneError && size <= 1 {
		return token{}, &lexError{start, "not UTF-8 text"}
	}
	return token{kind: tokPunct, text: l.src[start:l.pos], pos: start}, nil
}

// startsNumber tells whether a sign at i-1 begins a number.
func (l *lexer) startsNumber(i int) bool {
	return i < len(l.src) && (isDigit(l.src[i]) || l.src[i] == '.')
}

// number scans [sign] digits [. digits] [e [sign] digits].
func (l *lexer) number() (token, error) {
	start := l.pos
	if c := l.src[l.pos]; c == '-' || c == '+' {
		l.pos++
	}
	digits := func() {
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
	}
	digits()
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		digits()
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '-' || l.src[l.pos] == '+') {
			l.pos++
		}
		digits()
	}
	text := l.src[start:l.pos]
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return token{}, &lexError{start, fmt.Sprintf("%q is not a finite number", text)}
	}
	return token{kind: tokNumber, text: text, num: v, pos: start}, nil
}

// string scans a double-quoted string with Go's escapes.
func (l *lexer) string() (token, error) {
	start := l.pos
	l.pos++
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case '\\':
			l.pos += 2
			continue
		case '"':
			l.pos++
			s, err := strconv.Unquote(l.src[start:l.pos])
			if err != nil {
				return token{}, &lexError{start, "a malformed string"}
			}
			return token{kind: tokString, text: s, pos: start}, nil
		}
		l.pos++
	}
	return token{}, &lexError{start, "a string without its closing quote"}
}
