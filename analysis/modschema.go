package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"

	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/policy"
)

// A module's output schema says, value by value, what an approved analysis
// program may release; the owner's node checks the program's output
// against it, and applies the disclosure rules to it, before anything
// leaves. The language has no free text and no bare lists of numbers, so
// that a program cannot hand back rows, identifiers or values of a person,
// whatever it computes:
//
//	{"type": "object", "fields": {            // the document is an object
//	  "rows":    {"type": "count"},
//	  "numeric": {"type": "list", "max_items": 64, "items": {
//	    "type": "object", "fields": {
//	      "column": {"type": "name"},
//	      "mean":   {"type": "number", "nullable": true}}}},
//	  "levels":  {"type": "counts"}}}
//
// Types:
//
//   - object: a JSON object with exactly the fields listed (an unknown
//     field is refused; a missing one too, unless it is nullable);
//   - list: a JSON array of at most max_items objects (items must be an
//     object schema: a list of bare numbers would be a column of values);
//   - count: a whole number from 0 to the rows of the view (a count counts
//     rows); a count from 1 to min_cell_count − 1 is withheld — released
//     as null, and named in the contribution's Suppressed;
//   - number: a finite number, released as the float64 it reads as (so
//     that no digits beyond a float64's carry anything);
//   - name: a string that is a column name of the view, a level of one of
//     its categorical columns, or true/false when it has a boolean column;
//   - counts: an object from such names to counts, each withheld as a
//     count is, with at most max_factor_levels keys;
//   - nullable (any type): null is accepted.
//
// Every number released (counts and numbers alike, not those withheld)
// counts against a budget of max(1, ⌊max_params_share × rows⌋), the share
// of parameters per row a glm may have: a program cannot release more
// figures than a model the owner would fit.
//
// Caveats: withholding is per count — the schema language cannot state that
// one count is the sum of others (rows = count + missing), so a withheld
// count may be the difference of two released ones; an output whose
// counts add up so should name only the larger ones. Numbers are not
// checked against the data: a mean is what the program says it is. The
// owners' legal review of the program (its approval in the registry) is
// what vouches for what it computes; the schema bounds what it can carry.

// Schema type names.
const (
	SchemaObject = "object"
	SchemaList   = "list"
	SchemaCount  = "count"
	SchemaNumber = "number"
	SchemaName   = "name"
	SchemaCounts = "counts"
)

// Bounds of a schema.
const (
	maxSchemaBytes  = 64 << 10
	maxSchemaDepth  = 8
	maxSchemaNodes  = 512
	maxSchemaFields = 64
	maxSchemaItems  = 10000
)

// Schema is a module's declared output schema.
type Schema struct {
	Type     string             `json:"type"`
	Fields   map[string]*Schema `json:"fields,omitempty"`
	Items    *Schema            `json:"items,omitempty"`
	MaxItems int                `json:"max_items,omitempty"`
	Nullable bool               `json:"nullable,omitempty"`
}

// SchemaError says what is wrong with a schema; the API answers it with
// 400 when a module is proposed.
type SchemaError struct {
	Path    string
	Problem string
}

func (e *SchemaError) Error() string {
	if e.Path == "" {
		return "module output schema: " + e.Problem
	}
	return fmt.Sprintf("module output schema at %s: %s", e.Path, e.Problem)
}

var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ParseSchema reads and checks a module's output schema.
func ParseSchema(raw []byte) (*Schema, error) {
	if len(raw) > maxSchemaBytes {
		return nil, &SchemaError{Problem: fmt.Sprintf("%d bytes, at most %d", len(raw), maxSchemaBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s Schema
	if err := dec.Decode(&s); err != nil {
		return nil, &SchemaError{Problem: "not a schema: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &SchemaError{Problem: "data after the schema"}
	}
	if s.Type != SchemaObject {
		return nil, &SchemaError{Problem: fmt.Sprintf("the output is an object; the schema's type is %q", s.Type)}
	}
	nodes := 0
	if err := s.validate("$", 1, &nodes); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Schema) validate(path string, depth int, nodes *int) error {
	bad := func(f string, a ...any) error { return &SchemaError{Path: path, Problem: fmt.Sprintf(f, a...)} }
	if s == nil {
		return bad("no schema")
	}
	*nodes++
	if depth > maxSchemaDepth {
		return bad("nested deeper than %d", maxSchemaDepth)
	}
	if *nodes > maxSchemaNodes {
		return bad("more than %d types in the schema", maxSchemaNodes)
	}
	leaf := s.Fields == nil && s.Items == nil && s.MaxItems == 0
	switch s.Type {
	case SchemaObject:
		if len(s.Fields) == 0 || len(s.Fields) > maxSchemaFields {
			return bad("an object lists 1 to %d fields", maxSchemaFields)
		}
		if s.Items != nil || s.MaxItems != 0 {
			return bad("an object has fields, not items")
		}
		names := make([]string, 0, len(s.Fields))
		for n := range s.Fields {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if !fieldRE.MatchString(n) {
				return bad("field name %q is not a letter or _ followed by letters, digits or _ (at most 64)", n)
			}
			if err := s.Fields[n].validate(path+"."+n, depth+1, nodes); err != nil {
				return err
			}
		}
	case SchemaList:
		if s.Fields != nil {
			return bad("a list has items, not fields")
		}
		if s.MaxItems < 1 || s.MaxItems > maxSchemaItems {
			return bad("a list states max_items, 1 to %d", maxSchemaItems)
		}
		if s.Items == nil || s.Items.Type != SchemaObject {
			return bad("a list's items are objects (a list of bare values would be a column of them)")
		}
		return s.Items.validate(path+"[]", depth+1, nodes)
	case SchemaCount, SchemaNumber, SchemaName, SchemaCounts:
		if !leaf {
			return bad("a %s has neither fields, items nor max_items", s.Type)
		}
	default:
		return bad("type %q is none of object, list, count, number, name, counts", s.Type)
	}
	return nil
}

// Suppressed is a value of a module's output withheld by the disclosure
// rules: where it was, and why.
type Suppressed struct {
	Path   string            `json:"path"`
	Reason stats.Suppression `json:"reason"`
}

// OutputError is a module's output refused: it does not match its schema,
// or would release more than the disclosure rules allow.
type OutputError struct {
	Path    string
	Problem string
}

func (e *OutputError) Error() string {
	if e.Path == "" {
		return "the module's output is refused: " + e.Problem
	}
	return fmt.Sprintf("the module's output is refused at %s: %s", e.Path, e.Problem)
}

// OutputView is what an output is checked against: the names its strings
// may take, the rows of the view, and the disclosure limits.
type OutputView struct {
	Names  []string
	Rows   int
	Limits policy.DisclosureLimits
}

// Check checks a module's standard output against the schema and the
// view, and returns what may be released: the output re-encoded from the
// values read (counts under the minimum cell count as null), with what
// was withheld.
func (s *Schema) Check(out []byte, v OutputView) (json.RawMessage, []Suppressed, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, &OutputError{Problem: "its standard output is not one JSON document: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, &OutputError{Problem: "its standard output holds more than one JSON document"}
	}
	c := &outputCheck{names: map[string]bool{}, rows: v.Rows, limits: v.Limits,
		budget: max(1, int(math.Floor(v.Limits.MaxParamsShare*float64(v.Rows))))}
	for _, n := range v.Names {
		c.names[n] = true
	}
	if v.Limits.MinCellCount < 1 || v.Limits.MaxFactorLevels < 2 {
		return nil, nil, errors.New("analysis: module output checked without disclosure limits")
	}
	checked, err := c.value(s, doc, "$")
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(checked)
	if err != nil {
		return nil, nil, &OutputError{Problem: err.Error()}
	}
	return raw, c.suppressed, nil
}

type outputCheck struct {
	names      map[string]bool
	rows       int
	limits     policy.DisclosureLimits
	budget     int
	values     int
	suppressed []Suppressed
}

func (c *outputCheck) value(s *Schema, v any, path string) (any, error) {
	bad := func(f string, a ...any) error { return &OutputError{Path: path, Problem: fmt.Sprintf(f, a...)} }
	if v == nil {
		if s.Nullable {
			return nil, nil
		}
		return nil, bad("null where the schema wants a %s", s.Type)
	}
	switch s.Type {
	case SchemaObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, bad("%s where the schema wants an object", jsonKind(v))
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, ok := s.Fields[k]; !ok {
				return nil, bad("field %.40q is not in the module's declared schema", k)
			}
		}
		out := make(map[string]any, len(s.Fields))
		fields := make([]string, 0, len(s.Fields))
		for n := range s.Fields {
			fields = append(fields, n)
		}
		slices.Sort(fields)
		for _, n := range fields {
			fv, present := obj[n]
			if !present && !s.Fields[n].Nullable {
				return nil, bad("field %q is missing", n)
			}
			cv, err := c.value(s.Fields[n], fv, path+"."+n)
			if err != nil {
				return nil, err
			}
			out[n] = cv
		}
		return out, nil
	case SchemaList:
		arr, ok := v.([]any)
		if !ok {
			return nil, bad("%s where the schema wants a list", jsonKind(v))
		}
		if len(arr) > s.MaxItems {
			return nil, bad("%d items, the schema allows at most %d", len(arr), s.MaxItems)
		}
		out := make([]any, len(arr))
		for i, item := range arr {
			cv, err := c.value(s.Items, item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case SchemaCount:
		return c.count(v, path)
	case SchemaNumber:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad("%s where the schema wants a number", jsonKind(v))
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad("%.40s is not a finite number", n)
		}
		if err := c.spend(path); err != nil {
			return nil, err
		}
		return f, nil
	case SchemaName:
		str, ok := v.(string)
		if !ok {
			return nil, bad("%s where the schema wants a name", jsonKind(v))
		}
		if !c.names[str] {
			return nil, bad("%.40q is neither a column of the view nor a level of its data dictionary (no free text leaves the owner)", str)
		}
		return str, nil
	case SchemaCounts:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, bad("%s where the schema wants counts by name", jsonKind(v))
		}
		if len(obj) > c.limits.MaxFactorLevels {
			return nil, bad("%d names counted, the owner's limit is %d (max_factor_levels)", len(obj), c.limits.MaxFactorLevels)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(map[string]any, len(obj))
		for _, k := range keys {
			if !c.names[k] {
				return nil, bad("%.40q is neither a column of the view nor a level of its data dictionary (no free text leaves the owner)", k)
			}
			cv, err := c.count(obj[k], path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = cv
		}
		return out, nil
	}
	return nil, bad("type %q is not in the schema language", s.Type)
}

// count reads a count, withholding a small one.
func (c *outputCheck) count(v any, path string) (any, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, &OutputError{Path: path, Problem: fmt.Sprintf("%s where the schema wants a count", jsonKind(v))}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f > float64(c.rows) {
		return nil, &OutputError{Path: path, Problem: fmt.Sprintf("%.40s is not a count of rows of the view (a whole number from 0 to %d)", n, c.rows)}
	}
	if f > 0 && f < float64(c.limits.MinCellCount) {
		c.suppressed = append(c.suppressed, Suppressed{Path: path, Reason: stats.SuppressedSmall})
		return nil, nil
	}
	if err := c.spend(path); err != nil {
		return nil, err
	}
	return int64(f), nil
}

// spend counts one released number against the budget.
func (c *outputCheck) spend(path string) error {
	c.values++
	if c.values > c.budget {
		return &OutputError{Path: path, Problem: fmt.Sprintf("more than %d numbers over %d rows; the owner releases at most max(1, ⌊%g × rows⌋) (max_params_share)",
			c.budget, c.rows, c.limits.MaxParamsShare)}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
