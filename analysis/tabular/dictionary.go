package tabular

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Type is the type of a column's values.
type Type string

// The column types.
const (
	// TypeNumber is a real number (a float64; NaN and infinities refused).
	TypeNumber Type = "number"
	// TypeInteger is a whole number within ±2^53.
	TypeInteger Type = "integer"
	// TypeCategorical is one of the column's Levels.
	TypeCategorical Type = "categorical"
	// TypeBoolean is true/false (also 1/0, yes/no), held as 1/0.
	TypeBoolean Type = "boolean"
	// TypeText is free text, allowed for identifier columns only: person
	// identifiers are rarely numbers, and an identifier is never analysed,
	// so it needs no levels.
	TypeText Type = "text"
)

// Bounds of a dictionary. It travels as catalogue metadata, whose entries
// have their own size limit as JSON; these bound what a table built from it
// may hold.
const (
	MaxColumns          = 512
	MaxLevels           = 1000 // levels of one categorical column
	MaxLevelBytes       = 128
	MaxNameBytes        = 64
	MaxUnitBytes        = 64
	MaxDescriptionBytes = 1024
)

// missingText is the cell text that means a missing value (besides an empty
// cell); a categorical level spelt so would be unreadable.
const missingText = "NA"

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// ValidName reports whether name may name a column: a letter, then up to
// 63 letters, digits or underscores.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// reservedNames are the filter language's keywords: a column so named could
// not be written in a filter.
var reservedNames = map[string]bool{"and": true, "or": true, "not": true, "in": true, "true": true, "false": true}

// Column describes one column of a tabular dataset.
type Column struct {
	Name        string   `json:"name"`
	Type        Type     `json:"type"`
	Unit        string   `json:"unit,omitempty"`
	Description string   `json:"description,omitempty"`
	Levels      []string `json:"levels,omitempty"`     // categorical only: allowed values; the first is the reference level
	Identifier  bool     `json:"identifier,omitempty"` // identifies a person: never released, filtered on, tabulated or used in a formula
}

// Dictionary is the data dictionary of a tabular dataset: its columns, in
// no particular order (a CSV file may order them as it likes).
type Dictionary struct {
	Columns []Column `json:"columns"`
}

// DictionaryError lists every problem of a dictionary, each naming its
// column.
type DictionaryError struct {
	Problems []string
}

func (e *DictionaryError) Error() string {
	return "data dictionary: " + strings.Join(e.Problems, "; ")
}

// Validate checks the dictionary; the error is a *DictionaryError listing
// every problem.
func (d Dictionary) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	switch {
	case len(d.Columns) == 0:
		add("no columns")
	case len(d.Columns) > MaxColumns:
		add("%d columns, limit %d", len(d.Columns), MaxColumns)
		return &DictionaryError{Problems: probs}
	}
	seen := make(map[string]bool, len(d.Columns))
	analysable := 0
	for i, c := range d.Columns {
		where := fmt.Sprintf("column %q", c.Name)
		switch {
		case !nameRE.MatchString(c.Name):
			where = fmt.Sprintf("column %d", i+1)
			add("%s: name %q must be a letter followed by at most 63 letters, digits or underscores", where, truncate(c.Name))
		case reservedNames[strings.ToLower(c.Name)]:
			add("%s: the name is a filter keyword", where)
		case seen[c.Name]:
			add("%s: the name appears twice", where)
		}
		seen[c.Name] = true
		if !c.Identifier {
			analysable++
		}
		switch c.Type {
		case TypeNumber, TypeInteger, TypeBoolean:
		case TypeCategorical:
			probs = append(probs, levelProblems(where, c.Levels)...)
		case TypeText:
			if !c.Identifier {
				add("%s: type text is for identifier columns only", where)
			}
		default:
			add("%s: unknown type %q (want number, integer, categorical or boolean)", where, truncate(string(c.Type)))
		}
		if c.Type != TypeCategorical && len(c.Levels) > 0 {
			add("%s: levels are for categorical columns only", where)
		}
		probs = append(probs, textProblems(where+": unit", c.Unit, MaxUnitBytes)...)
		probs = append(probs, textProblems(where+": description", c.Description, MaxDescriptionBytes)...)
	}
	if len(d.Columns) > 0 && analysable == 0 {
		add("every column is an identifier")
	}
	if len(probs) > 0 {
		return &DictionaryError{Problems: probs}
	}
	return nil
}

// levelProblems checks a categorical column's levels.
func levelProblems(where string, levels []string) []string {
	var probs []string
	switch {
	case len(levels) == 0:
		return []string{where + ": a categorical column needs at least one level"}
	case len(levels) > MaxLevels:
		return []string{fmt.Sprintf("%s: %d levels, limit %d", where, len(levels), MaxLevels)}
	}
	seen := make(map[string]bool, len(levels))
	for i, l := range levels {
		switch {
		case l == "":
			probs = append(probs, fmt.Sprintf("%s: level %d is empty", where, i+1))
		case l == missingText:
			probs = append(probs, fmt.Sprintf("%s: level %d is %s, which means a missing value", where, i+1, missingText))
		case len(l) > MaxLevelBytes:
			probs = append(probs, fmt.Sprintf("%s: level %d is %d bytes, limit %d", where, i+1, len(l), MaxLevelBytes))
		case !utf8.ValidString(l) || strings.IndexFunc(l, unicode.IsControl) >= 0:
			probs = append(probs, fmt.Sprintf("%s: level %d is not printable UTF-8 text", where, i+1))
		case strings.TrimSpace(l) != l:
			// Cells are trimmed when read: such a level could never match.
			probs = append(probs, fmt.Sprintf("%s: level %q begins or ends with white space", where, l))
		case seen[l]:
			probs = append(probs, fmt.Sprintf("%s: level %q appears twice", where, l))
		}
		seen[l] = true
	}
	return probs
}

// textProblems checks a free-text attribute.
func textProblems(what, s string, limit int) []string {
	switch {
	case len(s) > limit:
		return []string{fmt.Sprintf("%s: %d bytes, limit %d", what, len(s), limit)}
	case !utf8.ValidString(s):
		return []string{what + ": not UTF-8 text"}
	}
	return nil
}

// truncate shortens a bad value quoted in an error.
func truncate(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Column returns the column named name.
func (d Dictionary) Column(name string) (Column, bool) {
	for _, c := range d.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// numeric tells whether a column's values are numbers (number, integer,
// boolean): what Numbers returns and a formula can use as a numeric term.
func (t Type) numeric() bool {
	return t == TypeNumber || t == TypeInteger || t == TypeBoolean
}
