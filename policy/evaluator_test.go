package policy

import (
	"context"
	"errors"
	"testing"
)

// With policy.evaluator topdown the engine never plans, on the first load
// and on every reload, and says so; its decisions are topdown's.
func TestEvaluatorTopdownNeverPlans(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	e, err := NewEngine(ctx, dir, nil, WithEvaluator(EvaluatorTopdown))
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		b := e.Bundle()
		b.Plan(ctx) // a no-op: the bundle is topdown's
		if p := b.planned.Load(); p == nil || p.program != nil {
			t.Fatalf("%s: the bundle was planned: %+v", when, p)
		}
		info := e.Info()
		if info.Evaluator != "topdown: policy.evaluator is topdown" || info.EvaluatorConfigured != EvaluatorTopdown {
			t.Fatalf("%s: evaluator %q, configured %q", when, info.Evaluator, info.EvaluatorConfigured)
		}
		ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Sub: "a", Role: "auditor"}, Method: "GET", Path: "/v1/audit"})
		if err != nil || !ok {
			t.Fatalf("%s: auditor GET /v1/audit: %v, %v", when, ok, err)
		}
	}
	check("after the first load")
	write(t, dir, "extra.rego", "package xborder.extra\n\nx := 1\n")
	if _, err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a reload")
}

func TestEvaluatorPlanIsTheDefault(t *testing.T) {
	ctx := context.Background()
	for _, opts := range [][]Option{nil, {WithEvaluator(EvaluatorPlan)}, {WithEvaluator("")}} {
		e, err := NewEngine(ctx, "../policies", nil, opts...)
		if err != nil {
			t.Fatal(err)
		}
		e.Bundle().Plan(ctx)
		info := e.Info()
		closeEngine(e)
		if info.Evaluator != "plan" || info.EvaluatorConfigured != EvaluatorPlan {
			t.Fatalf("%d options: evaluator %q, configured %q", len(opts), info.Evaluator, info.EvaluatorConfigured)
		}
	}
}

func TestUnknownEvaluatorIsRefused(t *testing.T) {
	e, err := NewEngine(context.Background(), "../policies", nil, WithEvaluator("wasm"))
	if !errors.Is(err, ErrBadEvaluator) || e != nil {
		t.Fatalf("NewEngine with evaluator wasm = %v, %v", e, err)
	}
}
