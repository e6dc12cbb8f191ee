package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Inputs reach the engine as typed Go values. OPA's own conversion of a Go
// value marshals it to JSON and parses the JSON back before building its
// terms; on a decision that takes tens of microseconds, that round trip
// was the largest single cost. toValue builds the terms directly, giving
// exactly the document encoding/json would give: the same field names,
// omitempty, embedded structs flattened, nil slices and pointers as null,
// times in RFC 3339 with nanoseconds.

// toValue converts an input to an OPA value.
func toValue(x any) (ast.Value, error) {
	if x == nil {
		return ast.NullValue, nil
	}
	return valueOf(reflect.ValueOf(x))
}

var timeType = reflect.TypeFor[time.Time]()

func valueOf(v reflect.Value) (ast.Value, error) {
	switch v.Kind() {
	case reflect.Invalid:
		return ast.NullValue, nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		return valueOf(v.Elem())
	case reflect.String:
		if v.Type() == reflect.TypeFor[json.Number]() {
			return ast.Number(v.String()), nil
		}
		return ast.String(v.String()), nil
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ast.Number(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ast.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		// encoding/json and OPA agree on the shortest representation.
		return ast.InterfaceToValue(v.Float())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return ast.NullValue, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return ast.InterfaceToValue(v.Interface()) // []byte: base64, as JSON does
		}
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			t, err := termOf(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = t
		}
		return ast.NewArray(terms...), nil
	case reflect.Map:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return ast.InterfaceToValue(v.Interface())
		}
		items := make([][2]*ast.Term, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			t, err := termOf(it.Value())
			if err != nil {
				return nil, err
			}
			items = append(items, [2]*ast.Term{stringTerm(it.Key().String()), t})
		}
		return ast.NewObject(items...), nil
	case reflect.Struct:
		if v.Type() == timeType {
			return ast.String(v.Interface().(time.Time).Format(time.RFC3339Nano)), nil
		}
		fields := structFields(v.Type())
		items := make([][2]*ast.Term, 0, len(fields))
		for _, f := range fields {
			fv, err := v.FieldByIndexErr(f.index)
			if err != nil {
				continue // a nil embedded pointer: encoding/json omits its fields too
			}
			if f.omitEmpty && fv.IsZero() && fv.Kind() != reflect.Struct {
				continue
			}
			t, err := termOf(fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			items = append(items, [2]*ast.Term{f.key, t})
		}
		return ast.NewObject(items...), nil
	}
	// Anything else (channels, functions) cannot be an input document.
	return nil, fmt.Errorf("an input of type %s cannot be converted to a policy document", v.Type())
}

// termOf converts a value to a term; strings and booleans come from shared
// terms where possible.
func termOf(v reflect.Value) (*ast.Term, error) {
	switch v.Kind() {
	case reflect.String:
		if v.Type() != reflect.TypeFor[json.Number]() {
			return stringTerm(v.String()), nil
		}
	case reflect.Bool:
		return ast.InternedTerm(v.Bool()), nil
	case reflect.Interface:
		if !v.IsNil() {
			return termOf(v.Elem())
		}
	}
	if v.Kind() == reflect.Struct && v.Type() != timeType && v.Type().Comparable() {
		return structTerm(v)
	}
	x, err := valueOf(v)
	if err != nil {
		return nil, err
	}
	return ast.NewTerm(x), nil
}

// structTerm converts a struct whose fields are all comparable (a node, a
// researcher: the same few values in every input) once per distinct value,
// and shares the term, under the same rules as stringTerm.
func structTerm(v reflect.Value) (*ast.Term, error) {
	key := v.Interface()
	if t, ok := internedStructs.Load(key); ok {
		return t.(*ast.Term), nil
	}
	x, err := valueOf(v)
	if err != nil {
		return nil, err
	}
	t := ast.NewTerm(x)
	if internedStructsN.Load() < internMax {
		if prev, loaded := internedStructs.LoadOrStore(key, t); loaded {
			return prev.(*ast.Term), nil
		}
		internedStructsN.Add(1)
	}
	return t, nil
}

// The same few hundred strings (member names, countries, classifications,
// themes, purposes, project and dataset ids) come back in every input.
// Their terms are made once and shared: terms are never changed after they
// are made, by OPA or by the plan's evaluator, which only changes the
// collections it makes itself. The table stops growing at a bound, past
// which strings get terms of their own.
const (
	internMax    = 8192
	internMaxLen = 128
)

var (
	interned  sync.Map // string -> *ast.Term
	internedN atomic.Int64

	internedStructs  sync.Map // comparable struct value -> *ast.Term
	internedStructsN atomic.Int64
)

func stringTerm(s string) *ast.Term {
	if t, ok := interned.Load(s); ok {
		return t.(*ast.Term)
	}
	t := ast.StringTerm(s)
	if len(s) <= internMaxLen && internedN.Load() < internMax {
		if prev, loaded := interned.LoadOrStore(s, t); loaded {
			return prev.(*ast.Term)
		}
		internedN.Add(1)
	}
	return t
}

// field is one JSON field of a struct type.
type field struct {
	name      string
	key       *ast.Term // the name as a term, shared by every value of the type
	index     []int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type -> []field

// structFields lists a struct's JSON fields the way encoding/json does for
// the input types: exported fields, json tag names, "-" skipped, untagged
// embedded structs flattened (outer fields win over promoted ones).
func structFields(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	seen := map[string]bool{}
	var walk func(t reflect.Type, index []int, depth int)
	var promoted []field
	walk = func(t reflect.Type, index []int, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f := field{name: name, key: ast.StringTerm(name), index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")}
			if depth == 0 {
				out = append(out, f)
				seen[name] = true
			} else {
				promoted = append(promoted, f)
			}
		}
	}
	walk(t, nil, 0)
	for _, f := range promoted {
		if !seen[f.name] {
			out = append(out, f)
			seen[f.name] = true
		}
	}
	fieldCache.Store(t, out)
	return out
}
