package policy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The plan must decide as topdown does on every input the bundle's own
// tests give a decision point, and on those of the node's last decisions.
// A real difference depends on a defect of irvm that may be fixed any day,
// so these tests make one on purpose: perturbPlan changes the plan's answer
// (in the comparisons only) for inputs that carry a marker.

const marker = "/perturb-marker"

func perturbMarked(t *testing.T) {
	t.Helper()
	f := func(p Point, in ast.Value, v ast.Value, err error) (ast.Value, error) {
		if strings.Contains(in.String(), marker) {
			return ast.String("perturbed"), nil
		}
		return v, err
	}
	perturbPlan.Store(&f)
	t.Cleanup(func() { perturbPlan.Store(nil) })
}

// markedTest is a Rego test that passes the marked input to
// data.xborder.api.allow (and passes under topdown).
const markedTest = `package xborder.marked_test

import data.xborder.api

test_marked_path_denied if {
	not api.allow with input as {"user": {"sub": "s", "role": "researcher"}, "method": "GET", "path": "` + marker + `"}
}
`

func TestPolicyTestReportsPlanDifferenceByTest(t *testing.T) {
	ctx := context.Background()
	perturbMarked(t)

	var out bytes.Buffer
	sum, err := Test(ctx, "testdata/minimal", TestOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || len(sum.Differences) != 0 || sum.Compared != 2 {
		t.Fatalf("the shipped policies: %+v\n%s", sum, out.String())
	}
	if !strings.Contains(out.String(), "Plan and topdown: identical") {
		t.Fatalf("report:\n%s", out.String())
	}

	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "marked_test.rego", markedTest)
	out.Reset()
	sum, err = Test(ctx, dir, TestOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK() || sum.Failed != 1 || len(sum.Differences) != 1 {
		t.Fatalf("the difference was not a failure: %+v\n%s", sum, out.String())
	}
	d := sum.Differences[0]
	if d.Test != "data.xborder.marked_test.test_marked_path_denied" || d.Point != APIAllow ||
		d.Plan != `"perturbed"` || d.Topdown != "false" {
		t.Fatalf("difference %+v", d)
	}
	want := "FAIL: data.xborder.marked_test.test_marked_path_denied: the plan differs from topdown on test data.xborder.marked_test.test_marked_path_denied (data.xborder.api.allow)"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("report lacks %q:\n%s", want, out.String())
	}
}

func TestEngineRefusesPlanThatDiffersOnTests(t *testing.T) {
	ctx := context.Background()
	perturbMarked(t)
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "marked_test.rego", markedTest)
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	e.Bundle().Plan(ctx) // waits for the engine's own planning
	want := "topdown: the plan differs from topdown on test data.xborder.marked_test.test_marked_path_denied (data.xborder.api.allow)"
	if ev := e.Info().Evaluator; ev != want {
		t.Fatalf("evaluator = %q, want %q", ev, want)
	}
	// Topdown decides, as before.
	ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Sub: "a", Role: "auditor"}, Method: "GET", Path: "/v1/status"})
	if err != nil || !ok {
		t.Fatalf("auditor GET /v1/status: %v, %v", ok, err)
	}

	// The shipped policy without the marked test is planned.
	shipped, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(shipped) })
	if err != nil {
		t.Fatal(err)
	}
	shipped.Bundle().Plan(ctx)
	if ev := shipped.Info().Evaluator; ev != "plan" {
		t.Fatalf("the shipped policies are evaluated by %q", ev)
	}
}

func TestEngineRefusesPlanThatDiffersOnRecentDecision(t *testing.T) {
	ctx := context.Background()
	perturbMarked(t)
	e, err := NewEngine(ctx, copyDir(t, "testdata/minimal"), nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	e.Bundle().Plan(ctx)
	if ev := e.Info().Evaluator; ev != "plan" {
		t.Fatalf("evaluator = %q before the marked decision", ev)
	}
	// A real decision on the marked input: the plan is in force, and the
	// input is remembered.
	ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Sub: "a", Role: "researcher"}, Method: "GET", Path: marker})
	if err != nil || ok {
		t.Fatalf("GET %s: %v, %v", marker, ok, err)
	}
	if _, err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	e.Bundle().Plan(ctx)
	ev := e.Info().Evaluator
	if ev != "topdown: the plan differs from topdown on a recent decision (data.xborder.api.allow)" {
		t.Fatalf("evaluator after reload = %q", ev)
	}
	if strings.Contains(ev, marker) {
		t.Fatalf("the evaluator's reason discloses the input: %q", ev)
	}
}

func TestRecentInputsKeepTheLastPerPoint(t *testing.T) {
	r := newRecentInputs()
	for i := range recentPerPoint + 10 {
		r.add(APIAllow, ast.IntNumberTerm(i).Value)
	}
	got := r.snapshot(APIAllow)
	if len(got) != recentPerPoint || got[0].Compare(ast.IntNumberTerm(10).Value) != 0 ||
		got[recentPerPoint-1].Compare(ast.IntNumberTerm(recentPerPoint+9).Value) != 0 {
		t.Fatalf("snapshot %v", got)
	}
	if len(r.snapshot(ExchangeDecision)) != 0 {
		t.Fatal("another point's inputs were kept")
	}
	var nilRing *recentInputs
	nilRing.add(APIAllow, ast.Null{}) // a bundle outside an engine keeps nothing
}
