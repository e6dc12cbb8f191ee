package dspschema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

const (
	// shownCauses is how many causes Error() spells out; a 400 body should
	// point at the first problems, not list a thousand.
	shownCauses = 3
	// keptCauses bounds Error.Causes, so a huge bad document cannot make a
	// huge error.
	keptCauses = 32
	// branchLeaves is how many problems of each alternative of an
	// anyOf/oneOf are worded.
	branchLeaves = 2
	// maxMessage and maxPointer bound what one cause says (in runes), so
	// the message of a hostile document stays short.
	maxMessage = 400
	maxPointer = 120
)

// Error is a document that is not JSON or does not match its schema.
type Error struct {
	// Schema is the schema the document was checked against.
	Schema Schema
	// Causes are the problems found, sorted by JSON pointer then message, at
	// most 32 of them.
	Causes []Cause
	// More counts the causes left out of Causes.
	More int

	kind error // ErrInvalid or ErrNotJSON
}

// Cause is one problem of a document.
type Cause struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value, "" for
	// the whole document.
	Pointer string
	// Message says in words what is wrong there.
	Message string
}

// String is "pointer: message", a very long pointer shortened to its end.
func (c Cause) String() string {
	if c.Pointer == "" {
		return c.Message
	}
	ptr := c.Pointer
	if r := []rune(ptr); len(r) > maxPointer {
		ptr = "…" + string(r[len(r)-maxPointer+1:])
	}
	return ptr + ": " + c.Message
}

// Error names the schema and the first few causes, e.g.
// `invalid ContractRequestMessage: missing required property "consumerPid"; /@context: must be array, got object`.
func (e *Error) Error() string {
	return "invalid " + e.Schema.Name() + ": " + e.Reason()
}

// Reason is the first few causes without the schema's name, for a caller
// that names the message itself.
func (e *Error) Reason() string {
	var b strings.Builder
	n := min(len(e.Causes), shownCauses)
	for i, c := range e.Causes[:n] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.String())
	}
	if rest := len(e.Causes) - n + e.More; rest > 0 {
		fmt.Fprintf(&b, "; and %d more", rest)
	}
	return b.String()
}

// Unwrap returns ErrInvalid or ErrNotJSON.
func (e *Error) Unwrap() error { return e.kind }

func newError(s Schema, causes []Cause) *Error {
	slices.SortFunc(causes, func(a, b Cause) int {
		if c := strings.Compare(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	causes = slices.Compact(causes)
	e := &Error{Schema: s, kind: ErrInvalid}
	if len(causes) > keptCauses {
		e.More = len(causes) - keptCauses
		causes = causes[:keptCauses:keptCauses]
	}
	e.Causes = causes
	return e
}

var printer = message.NewPrinter(language.English)

// causes flattens the library's tree of errors into worded problems.
func (v *Validator) causes(ve *jsonschema.ValidationError) []Cause {
	var out []Cause
	v.collect(ve, &out, 0)
	for i := range out {
		if r := []rune(out[i].Message); len(r) > maxMessage {
			out[i].Message = string(r[:maxMessage-1]) + "…"
		}
	}
	if len(out) == 0 {
		out = append(out, Cause{Pointer: pointer(ve.InstanceLocation), Message: "does not match"})
	}
	return out
}

// collect appends the causes under ve. nested counts the anyOf/oneOf
// alternatives being worded around it: below the first, an alternative is
// summed up in one phrase, so the wording stays linear in the document.
func (v *Validator) collect(ve *jsonschema.ValidationError, out *[]Cause, nested int) {
	ptr := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.AllOf, *kind.Reference:
		// Containers: the problems are in their causes.
		if len(ve.Causes) == 0 {
			*out = append(*out, Cause{ptr, ve.ErrorKind.LocalizedString(printer)})
		}
		for _, c := range ve.Causes {
			v.collect(c, out, nested)
		}
	case *kind.AnyOf:
		*out = append(*out, Cause{ptr, v.alternatives(ve, "at least", nested)})
	case *kind.OneOf:
		if k.Subschemas == nil {
			*out = append(*out, Cause{ptr, v.alternatives(ve, "exactly", nested)})
			return
		}
		*out = append(*out, Cause{ptr, v.severalMatched(ve, k.Subschemas)})
	case *kind.Not:
		msg := "matches a form the schema forbids"
		if name, ok := requiredOnly(v.keyword(ve, "not")); ok {
			msg = "must not have property " + strconv.Quote(name)
		}
		*out = append(*out, Cause{ptr, msg})
	case *kind.Contains:
		msg := "no item has the required form"
		if sub, ok := v.keyword(ve, "contains").(map[string]any); ok {
			if want, ok := sub["const"]; ok {
				msg = "must contain " + show(want)
			}
		}
		*out = append(*out, Cause{ptr, msg})
	default:
		*out = append(*out, Cause{ptr, words(ve.ErrorKind)})
		for _, c := range ve.Causes {
			v.collect(c, out, nested)
		}
	}
}

// alternatives words a failed anyOf/oneOf. The common shape in the protocol,
// one property required per branch, reads "needs exactly one of ..."; other
// shapes list the first problems of each alternative.
func (v *Validator) alternatives(ve *jsonschema.ValidationError, quantity string, nested int) string {
	ptr := pointer(ve.InstanceLocation)
	if names, ok := v.requiredBranches(ve); ok {
		return fmt.Sprintf("needs %s one of the properties %s", quantity, quoteAll(names))
	}
	if nested > 0 {
		return fmt.Sprintf("matches none of the %d allowed forms", len(ve.Causes))
	}
	var branches []string
	for _, c := range ve.Causes {
		var leaves []Cause
		v.collect(c, &leaves, nested+1)
		slices.SortFunc(leaves, func(a, b Cause) int { return strings.Compare(a.String(), b.String()) })
		leaves = slices.Compact(leaves)
		var parts []string
		for _, l := range leaves[:min(len(leaves), branchLeaves)] {
			if l.Pointer == ptr {
				l.Pointer = "" // the alternative's own value: said once, before the colon
			}
			parts = append(parts, l.String())
		}
		if len(leaves) > branchLeaves {
			parts = append(parts, fmt.Sprintf("and %d more", len(leaves)-branchLeaves))
		}
		branches = append(branches, strings.Join(parts, ", "))
	}
	if len(branches) == 1 {
		return branches[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "matches none of the %d allowed forms:", len(branches))
	for i, br := range branches {
		fmt.Fprintf(&b, " (%d) %s", i+1, br)
	}
	return b.String()
}

// severalMatched words a oneOf that more than one branch matched.
func (v *Validator) severalMatched(ve *jsonschema.ValidationError, matched []int) string {
	if names, ok := v.requiredBranches(ve); ok {
		var have []string
		for _, i := range matched {
			if i < len(names) {
				have = append(have, names[i])
			}
		}
		return fmt.Sprintf("must have only one of the properties %s, has %s", quoteAll(names), quoteAll(have))
	}
	return fmt.Sprintf("matches more than one of the exclusive forms (%v)", matched)
}

// requiredBranches reports the property names when every branch of the
// anyOf/oneOf of ve is {"required": [name]}.
func (v *Validator) requiredBranches(ve *jsonschema.ValidationError) ([]string, bool) {
	kw := ve.ErrorKind.KeywordPath()
	if len(kw) != 1 {
		return nil, false
	}
	branches, ok := v.keyword(ve, kw[0]).([]any)
	if !ok || len(branches) == 0 {
		return nil, false
	}
	names := make([]string, 0, len(branches))
	for _, br := range branches {
		name, ok := requiredOnly(br)
		if !ok {
			return nil, false
		}
		names = append(names, name)
	}
	return names, true
}

// keyword returns the value of keyword kw in the schema object where ve
// arose, or nil when it cannot be found.
func (v *Validator) keyword(ve *jsonschema.ValidationError, kw string) any {
	url, frag, _ := strings.Cut(ve.SchemaURL, "#")
	cur := v.docs[url]
	if frag != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch c := cur.(type) {
			case map[string]any:
				cur = c[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(c) {
					return nil
				}
				cur = c[i]
			default:
				return nil
			}
		}
	}
	if obj, ok := cur.(map[string]any); ok {
		return obj[kw]
	}
	return nil
}

// requiredOnly reports the name when sub is exactly {"required": [name]}.
func requiredOnly(sub any) (string, bool) {
	obj, ok := sub.(map[string]any)
	if !ok || len(obj) != 1 {
		return "", false
	}
	req, ok := obj["required"].([]any)
	if !ok || len(req) != 1 {
		return "", false
	}
	name, ok := req[0].(string)
	return name, ok
}

// words says what a single failed keyword means.
func words(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Required:
		if len(k.Missing) == 1 {
			return "missing required property " + strconv.Quote(k.Missing[0])
		}
		return "missing required properties " + quoteAll(k.Missing)
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Const:
		return fmt.Sprintf("must be %s, got %s", show(k.Want), show(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = show(w)
		}
		return fmt.Sprintf("must be one of %s, got %s", strings.Join(want, ", "), show(k.Got))
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d item(s), has %d", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("%s does not match the pattern %s", show(k.Got), strconv.Quote(k.Want))
	case *kind.FalseSchema:
		return "is not allowed here"
	}
	return k.LocalizedString(printer)
}

// show renders a JSON value briefly for a message.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if r := []rune(v); len(r) > 80 {
			v = string(r[:77]) + "..."
		}
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%v", v)
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// pointer renders instance location tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
