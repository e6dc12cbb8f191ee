package policy

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// eval evaluates one decision point on an input: with the planned program
// when there is one, else (and whenever the program fails) with topdown,
// whose error messages name the policy's file and line.
func (b *Bundle) eval(ctx context.Context, p Point, input any) (ast.Value, error) {
	pq, ok := b.queries[p]
	if !ok {
		return nil, fmt.Errorf("unknown decision point %s", p)
	}
	in, err := toValue(input)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", p, err)
	}
	b.recent.add(p, in)
	if pl := b.planned.Load(); pl != nil && pl.program != nil {
		rs, err := pl.program.Eval(ctx, pl.points[p], ast.NewTerm(in))
		if err == nil {
			return planResult(p, rs)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evaluate %s: %w", p, ctx.Err())
		}
		// Fall through: topdown says what went wrong, with its location.
	}
	return b.evalTopdown(ctx, p, pq, in)
}

// planResult reads a plan's result set: one {"result": value}, or none when
// the decision point is undefined for the input.
func planResult(p Point, rs []*ast.Term) (ast.Value, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	obj, ok := rs[0].Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	v := obj.Get(resultKey)
	if v == nil {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	return v.Value, nil
}

var resultKey = ast.StringTerm("result")

// evalTopdown evaluates a decision point with OPA's topdown evaluator.
func (b *Bundle) evalTopdown(ctx context.Context, p Point, pq rego.PreparedEvalQuery, in ast.Value) (ast.Value, error) {
	vc := getRuleCache()
	defer putRuleCache(vc)
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(in),
		rego.EvalMetrics(noMetrics),
		rego.EvalVirtualCache(vc),
		rego.EvalGenerateJSON(keepTerm))
	if err != nil {
		if ctx.Err() != nil { // topdown was cancelled: say by what
			return nil, fmt.Errorf("evaluate %s: %w", p, ctx.Err())
		}
		return nil, fmt.Errorf("evaluate %s: %w", p, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, ErrNoDecision)
	}
	return t.Value, nil
}

// decide evaluates a decision point whose value is a decision object.
func (b *Bundle) decide(ctx context.Context, p Point, input any) (Decision, error) {
	v, err := b.eval(ctx, p, input)
	if err != nil {
		return Decision{Bundle: b.Hash}, err
	}
	d, err := decodeDecision(p, v)
	d.Bundle = b.Hash
	return d, err
}

// boolean evaluates a decision point whose value is a boolean.
func (b *Bundle) boolean(ctx context.Context, p Point, input any) (bool, error) {
	v, err := b.eval(ctx, p, input)
	if err != nil {
		return false, err
	}
	allow, ok := v.(ast.Boolean)
	if !ok {
		return false, &ShapeError{Point: p, Field: "the value", Want: "a boolean", Got: asJSON(v)}
	}
	return bool(allow), nil
}

// str evaluates a decision point whose value is a string.
func (b *Bundle) str(ctx context.Context, p Point, input any) (string, error) {
	v, err := b.eval(ctx, p, input)
	if err != nil {
		return "", err
	}
	s, ok := v.(ast.String)
	if !ok {
		return "", &ShapeError{Point: p, Field: "the value", Want: "a string", Got: asJSON(v)}
	}
	return string(s), nil
}
