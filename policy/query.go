package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"
)

// Explain selects how much of the evaluation EvalQuery explains.
type Explain string

const (
	ExplainOff   Explain = ""
	ExplainNotes Explain = "notes" // trace(...) notes of the policy
	ExplainFails Explain = "fails" // the expressions that failed
	ExplainFull  Explain = "full"  // every step
)

// EvalResult is the answer of an ad-hoc query.
type EvalResult struct {
	Value   any    `json:"value"`
	Defined bool   `json:"defined"`
	Trace   string `json:"trace,omitempty"`
}

var errNotObject = errors.New("the input must be a JSON object")

// ParseInput decodes an input document, which must be a JSON object.
func ParseInput(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the input is not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w, not %s", errNotObject, jsonKind(v))
	}
	return obj, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// EvalQuery evaluates a query against the policy directory (tests left
// out) with an input, as `opa eval` does, optionally explaining it.
func EvalQuery(ctx context.Context, dir, query string, input map[string]any, explain Explain) (EvalResult, error) {
	c, res, err := compileDir(dir, false)
	if err != nil {
		return EvalResult{}, err
	}
	return evalWith(ctx, c, inmem.NewFromObject(res.Documents), query, input, explain)
}

// evalWith evaluates a query on a compiled policy and its data.
func evalWith(ctx context.Context, c *ast.Compiler, store storage.Store, query string, input map[string]any, explain Explain) (EvalResult, error) {
	body, err := ast.ParseBodyWithOpts(query, ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: capabilities})
	if err != nil {
		return EvalResult{}, fmt.Errorf("query %q: %w", query, err)
	}
	if errs := checkForbidden(body); len(errs) > 0 {
		return EvalResult{}, fmt.Errorf("query %q: %w", query, errs)
	}
	buf := topdown.NewBufferTracer()
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Compiler(c),
		rego.Capabilities(capabilities),
		rego.Store(store),
		rego.Input(input),
		rego.StrictBuiltinErrors(true),
	}
	if explain != ExplainOff {
		opts = append(opts, rego.QueryTracer(buf))
	}
	rs, err := rego.New(opts...).Eval(ctx)
	if err != nil {
		return EvalResult{}, fmt.Errorf("evaluate %s: %w", query, err)
	}
	var out EvalResult
	if len(rs) > 0 && len(rs[0].Expressions) > 0 {
		out.Value, out.Defined = rs[0].Expressions[0].Value, true
	}
	if explain != ExplainOff {
		var events []*topdown.Event
		switch explain {
		case ExplainNotes:
			events = lineage.Notes(*buf)
		case ExplainFails:
			events = lineage.Fails(*buf)
		case ExplainFull:
			events = lineage.Full(*buf)
		default:
			return EvalResult{}, fmt.Errorf("explain %q is not one of notes, fails, full", explain)
		}
		var b strings.Builder
		topdown.PrettyTraceWithLocation(&b, events)
		out.Trace = b.String()
	}
	return out, nil
}
