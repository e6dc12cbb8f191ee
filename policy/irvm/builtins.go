package irvm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// lookupBuiltin finds OPA's implementation of a built-in function. The
// built-ins that make or read outside state (the network, the clock beyond
// the evaluation's time, randomness, printing) are refused: a decision must
// depend on its input, the policy and its data only.
func lookupBuiltin(name string) (builtin, error) {
	if refused[name] {
		return builtin{}, fmt.Errorf("irvm: built-in function %s is not run here", name)
	}
	f := topdown.GetBuiltin(name)
	if f == nil {
		return builtin{}, fmt.Errorf("irvm: unknown built-in function %s", name)
	}
	bi := builtin{fast: fast[name], opa: f}
	if decl, ok := ast.BuiltinMap[name]; ok && decl.Relation {
		// A relation (walk) gives many outputs; the planner scans the
		// collection of all of them, as OPA's WebAssembly does.
		bi.fast, bi.relation = nil, true
	}
	return bi, nil
}

var refused = map[string]bool{
	"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true,
	"rand.intn": true, "uuid.rfc4122": true, "internal.print": true,
	"trace": true, "io.jwt.decode_verify": true, "time.now_ns": true,
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
	"providers.aws.sign_req":                                 true, "internal.test_case": true,
	// Refused by package policy's sandbox too: schema $refs reach files and
	// URLs; some signature algorithms draw random nonces.
	"json.match_schema": true, "json.verify_schema": true,
	"io.jwt.encode_sign": true, "io.jwt.encode_sign_raw": true,
}

// fast holds exact equivalents of the cheap built-ins a decision calls most,
// which skip OPA's calling convention (a context copy and a callback per
// call). Each returns false when it does not apply, and OPA's own function
// then runs.
var fast = map[string]func(args []*ast.Term) (*ast.Term, bool){
	"gt": func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) > 0), true
	},
	"gte": func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) >= 0), true
	},
	"lt": func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) < 0), true
	},
	"lte": func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Value.Compare(a[1].Value) <= 0), true
	},
	"neq": func(a []*ast.Term) (*ast.Term, bool) { return ast.InternedTerm(!a[0].Equal(a[1])), true },
	"equal": func(a []*ast.Term) (*ast.Term, bool) {
		return ast.InternedTerm(a[0].Equal(a[1])), true
	},
	"internal.member_2": func(a []*ast.Term) (*ast.Term, bool) {
		switch c := a[1].Value.(type) {
		case ast.Set:
			return ast.InternedTerm(c.Contains(a[0])), true
		case *ast.Array:
			return ast.InternedTerm(c.Until(a[0].Equal)), true
		case ast.Object:
			return ast.InternedTerm(c.Until(func(_, v *ast.Term) bool { return a[0].Equal(v) })), true
		}
		return ast.InternedTerm(false), true
	},
	"count": func(a []*ast.Term) (*ast.Term, bool) {
		switch c := a[0].Value.(type) {
		case *ast.Array:
			return ast.InternedTerm(c.Len()), true
		case ast.Object:
			return ast.InternedTerm(c.Len()), true
		case ast.Set:
			return ast.InternedTerm(c.Len()), true
		}
		return nil, false
	},
	"is_string": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(ast.String)
		return ast.InternedTerm(ok), true
	},
	"is_object": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(ast.Object)
		return ast.InternedTerm(ok), true
	},
	"is_array": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(*ast.Array)
		return ast.InternedTerm(ok), true
	},
	"is_set": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(ast.Set)
		return ast.InternedTerm(ok), true
	},
	"is_boolean": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(ast.Boolean)
		return ast.InternedTerm(ok), true
	},
	"is_number": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(ast.Number)
		return ast.InternedTerm(ok), true
	},
	"is_null": func(a []*ast.Term) (*ast.Term, bool) {
		_, ok := a[0].Value.(ast.Null)
		return ast.InternedTerm(ok), true
	},
}

func init() {
	fast["sprintf"] = sprintfStrings
}

// sprintfStrings is sprintf for the common case of the policies' sentences:
// text arguments only, and only the verbs %s, %v and %q without flags,
// width or precision (and %%). It writes what fmt.Sprintf would, without
// boxing each argument; anything else goes to OPA's sprintf.
func sprintfStrings(a []*ast.Term) (*ast.Term, bool) {
	format, ok := a[0].Value.(ast.String)
	if !ok {
		return nil, false
	}
	args, ok := a[1].Value.(*ast.Array)
	if !ok {
		return nil, false
	}
	return sprintfText(string(format), args.Len(), args.Elem)
}

// sprintfText writes format with the n arguments arg(0) ... arg(n-1), or
// says it does not apply.
func sprintfText(f string, n int, arg func(int) *ast.Term) (*ast.Term, bool) {
	var b strings.Builder
	b.Grow(len(f) + 16*n)
	next := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(f) {
			return nil, false
		}
		i++
		verb := f[i]
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if verb != 's' && verb != 'v' && verb != 'q' {
			return nil, false // flags, width, other verbs: fmt's rules
		}
		if next >= n {
			return nil, false // fmt writes %!s(MISSING)
		}
		t := arg(next)
		if t == nil {
			return nil, false
		}
		s, ok := t.Value.(ast.String)
		if !ok {
			return nil, false
		}
		next++
		if verb == 'q' {
			b.WriteString(strconv.Quote(string(s)))
		} else {
			b.WriteString(string(s))
		}
	}
	if next != n {
		return nil, false // fmt appends %!(EXTRA ...)
	}
	return ast.InternedTerm(b.String()), true
}
