package dspschema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// files holds the published schemas, contexts and examples (schemas/README.md).
//
//go:embed schemas
var files embed.FS

// Sentinels callers branch on.
var (
	// ErrInvalid is wrapped by every *Error of a document that is JSON but
	// does not match its schema.
	ErrInvalid = errors.New("document does not match its schema")
	// ErrNotJSON is wrapped by every *Error of a document that is not one
	// JSON value.
	ErrNotJSON = errors.New("document is not JSON")
	// ErrUnknownSchema is returned for a Schema this package does not hold: a
	// mistake of the caller, not of the document.
	ErrUnknownSchema = errors.New("unknown schema")
	// ErrTooDeep is wrapped by every *Error of a document nested deeper
	// than MaxDepth.
	ErrTooDeep = errors.New("document is nested too deeply")
	// ErrNotEmbedded is returned when a schema refers to an address that is
	// not one of the embedded files; nothing is ever fetched.
	ErrNotEmbedded = errors.New("schema reference is not embedded")
)

// MaxDepth bounds how deeply a document's objects and arrays may nest. The
// deepest protocol documents (a nested catalogue's dataset's offer's
// constraint of constraints) stay far below it; without a bound a small
// body of nested ODRL constraints costs the validator time quadratic in
// its depth.
const MaxDepth = 64

// Validator validates documents against the compiled protocol schemas. It is
// safe for concurrent use; build one with New, or use the package functions,
// which share one compiled lazily on first use.
type Validator struct {
	// docs are the parsed schema files by $id, kept to word errors whose
	// library message says too little ("'not' failed").
	docs     map[string]any
	compiled map[Schema]*jsonschema.Schema
}

// New compiles every schema of Schemas from the embedded files.
func New() (*Validator, error) {
	sub, err := fs.Sub(files, "schemas")
	if err != nil {
		return nil, fmt.Errorf("dspschema: embedded schemas: %w", err)
	}
	return compile(sub, Schemas())
}

// shared is the Validator behind the package functions. The schemas are
// constants of the protocol, so one compiled copy serves the whole process;
// compiling them once instead of per call is the point of holding it here.
var shared struct {
	once sync.Once
	v    *Validator
	err  error
}

func defaultValidator() (*Validator, error) {
	shared.once.Do(func() { shared.v, shared.err = New() })
	return shared.v, shared.err
}

// Validate checks doc, one JSON document, against schema s. A document that
// is not JSON or does not match yields an *Error; other errors mean s is not
// a schema of this package or the embedded schemas failed to compile.
func Validate(s Schema, doc []byte) error {
	v, err := defaultValidator()
	if err != nil {
		return err
	}
	return v.Validate(s, doc)
}

// ValidateValue checks a value that encoding/json can marshal (a decoded
// map[string]any or a message struct) against schema s.
func ValidateValue(s Schema, val any) error {
	v, err := defaultValidator()
	if err != nil {
		return err
	}
	return v.ValidateValue(s, val)
}

// Validate checks doc against schema s; see the package function Validate.
func (v *Validator) Validate(s Schema, doc []byte) error {
	sch, ok := v.compiled[s]
	if !ok {
		return fmt.Errorf("dspschema: %w: %q", ErrUnknownSchema, string(s))
	}
	if depth(doc) > MaxDepth {
		return &Error{Schema: s, Causes: []Cause{{Message: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}}, kind: ErrTooDeep}
	}
	val, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		msg := "not a JSON document: " + err.Error()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "not a JSON document: empty or cut short"
		}
		return &Error{Schema: s, Causes: []Cause{{Message: msg}}, kind: ErrNotJSON}
	}
	return v.check(s, sch, val)
}

// ValidateValue checks a marshallable value against schema s.
func (v *Validator) ValidateValue(s Schema, val any) error {
	if _, ok := v.compiled[s]; !ok {
		return fmt.Errorf("dspschema: %w: %q", ErrUnknownSchema, string(s))
	}
	// Round-trip through JSON: the validator understands only the values
	// encoding/json produces, and a struct is checked as it would be sent.
	doc, err := json.Marshal(val)
	if err != nil {
		return fmt.Errorf("dspschema: marshal %T for %s: %w", val, s.Name(), err)
	}
	return v.Validate(s, doc)
}

func (v *Validator) check(s Schema, sch *jsonschema.Schema, val any) error {
	err := sch.Validate(val)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("dspschema: validate %s: %w", s.Name(), err)
	}
	return newError(s, v.causes(ve))
}

// compile loads every *-schema.json of fsys under its $id and compiles roots.
// The loader refuses every address that is not an embedded file, so a $ref
// to anywhere else fails here, at compile time, and never reaches a network.
func compile(fsys fs.FS, roots []Schema) (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	docs := make(map[string]any)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, "-schema.json") || path.Base(path.Dir(p)) == "example" {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		id := Base + p
		if obj, ok := doc.(map[string]any); ok {
			if got, _ := obj["$id"].(string); got != "" && got != id {
				return fmt.Errorf("%s: $id %q, want %q", p, got, id)
			}
		}
		fixRefs(doc)
		docs[id] = doc
		return c.AddResource(id, doc)
	})
	if err != nil {
		return nil, fmt.Errorf("dspschema: load schemas: %w", err)
	}
	v := &Validator{docs: docs, compiled: make(map[Schema]*jsonschema.Schema, len(roots))}
	for _, s := range roots {
		sch, err := c.Compile(string(s))
		if err != nil {
			// The library's LoadURLError does not unwrap; surface ours so
			// callers can errors.Is(err, ErrNotEmbedded).
			var le *jsonschema.LoadURLError
			if errors.As(err, &le) && errors.Is(le.Err, ErrNotEmbedded) {
				err = le.Err
			}
			return nil, fmt.Errorf("dspschema: compile %s: %w", s.Name(), err)
		}
		v.compiled[s] = sch
	}
	return v, nil
}

// offline is the compiler's URLLoader: every embedded file was added as a
// resource before compiling, so anything it is asked for is not embedded.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, fmt.Errorf("%w: %s", ErrNotEmbedded, url)
}

// fixRefs corrects "$ref": "x.json#definitions/Y", a fragment the published
// transfer schemas write without the slash of a JSON pointer (see the
// package doc), in the parsed document only.
func fixRefs(doc any) {
	switch d := doc.(type) {
	case map[string]any:
		for k, val := range d {
			if ref, ok := val.(string); ok && k == "$ref" {
				if base, frag, ok := strings.Cut(ref, "#"); ok && frag != "" && !strings.HasPrefix(frag, "/") && strings.Contains(frag, "/") {
					d[k] = base + "#/" + frag
				}
				continue
			}
			fixRefs(val)
		}
	case []any:
		for _, val := range d {
			fixRefs(val)
		}
	}
}

// depth is how deeply doc's objects and arrays nest, counted on the bytes
// (brackets inside strings do not count); for a document that is not JSON
// it is a bound the parser then refuses anyway.
func depth(doc []byte) int {
	d, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range doc {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}
