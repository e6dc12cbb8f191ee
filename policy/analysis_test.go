package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// healthGLM is the example of docs/policies.md: a German researcher of the
// oncology project fits a logistic regression on the French ICU admissions.
func healthGLM() AnalysisInput {
	return AnalysisInput{
		Requester: Requester{Node: Node{Node: "de-bw", Country: "DE", Org: "Land Baden-Württemberg"},
			Researcher: Researcher{Sub: "alice@uni-freiburg.de", Org: "Universität Freiburg", Role: "researcher"}},
		Dataset: Resource{Kind: "dataset", ID: "icu-admissions-2025", Owner: "fr-grandest", Theme: "health",
			Classification: "sensitive", PersonalData: true, License: "CC-BY-4.0", Partners: []string{}},
		Analysis: AnalysisRequest{Kind: "glm", Filter: "age >= 18", Family: "binomial", Formula: "readmitted ~ age + sex", Parameters: 3,
			Variables: []AnalysisColumn{{"readmitted", "logical"}, {"age", "numeric"}, {"sex", "factor"}}},
		Purpose: "research",
		Project: &Project{ID: "fr-de-oncology", Title: "Franco-German oncology imaging", Themes: []string{"health"},
			Lead: "fr-grandest", Partners: []string{"fr-grandest", "de-bw"},
			Datasets: []string{"fr-grandest/icu-admissions-2025"}, EthicsRef: "CPP-2026-114", Status: "active"},
		Self: Node{Node: "fr-grandest", Country: "FR", Org: "Région Grand Est"},
		Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
}

// The shipped policy decides analyses the same way from the plan and by
// topdown: allowed with its limits (stricter for personal health data),
// refused with every reason and no limits to enforce.
func TestEngineDecidesAnalysesFromTheShippedPolicy(t *testing.T) {
	ctx := context.Background()
	planned, err := NewEngine(ctx, "../policies", nil)
	t.Cleanup(func() { closeEngine(planned) })
	if err != nil {
		t.Fatal(err)
	}
	planned.Bundle().Plan(ctx)
	if ev := planned.Info().Evaluator; ev != "plan" {
		t.Fatalf("the shipped policies are evaluated by %q", ev)
	}
	topdown, err := NewEngine(ctx, "../policies", nil, WithEvaluator(EvaluatorTopdown))
	t.Cleanup(func() { closeEngine(topdown) })
	if err != nil {
		t.Fatal(err)
	}

	refused := healthGLM()
	refused.Analysis.Kind = "listing"
	refused.Purpose = "industrial-rd"
	open := healthGLM()
	open.Dataset = Resource{Kind: "dataset", ID: "air-quality-2025", Owner: "fr-grandest", Theme: "bioeconomy", Classification: "open"}
	open.Analysis = AnalysisRequest{Kind: "histogram", Variables: []AnalysisColumn{{"pm10", "numeric"}}}
	open.Purpose = "education"
	open.Project = nil

	defaults := DisclosureLimits{MinCellCount: 5, MinSubsetRows: 5, MaxParamsShare: 0.33, MaxFactorLevels: 40, MaxIterations: 25}
	health := defaults
	health.MinCellCount = 10
	for name, e := range map[string]*Engine{"plan": planned, "topdown": topdown} {
		t.Run(name, func(t *testing.T) {
			d, err := e.Analysis(ctx, healthGLM())
			if err != nil {
				t.Fatal(err)
			}
			wantRules := []string{"health_data_cell_count", "personal_data_research", "sensitive_data", "transfer_eu_eea"}
			if !d.Allow || !slices.Equal(d.Rules, wantRules) || len(d.Reasons) != len(wantRules) ||
				d.Limits != health || d.MaxValidity != 0 || len(d.Obligations) != 2 || d.Bundle != e.Info().Hash {
				t.Fatalf("the health glm: %+v", d)
			}

			d, err = e.Analysis(ctx, refused)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow || !slices.Equal(d.Rules, []string{"research_purpose_required", "unknown_analysis"}) ||
				!strings.Contains(d.Reasons[1], `"listing" is not an analysis this node runs`) {
				t.Fatalf("a listing for industrial R&D: %+v", d)
			}

			d, err = e.Analysis(ctx, open)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allow || !slices.Equal(d.Rules, []string{"open_data"}) || d.Limits != defaults || len(d.Obligations) != 0 {
				t.Fatalf("a histogram of open data: %+v", d)
			}
		})
	}
}

// A decision that allows must say what may be released, and sanely: a
// policy that allows without limits, or with limits that protect nothing,
// is an error and the analysis is refused.
func TestAnalysisDecisionOfTheWrongShapeIsAShapeError(t *testing.T) {
	ctx := context.Background()
	good := `{"min_cell_count": 5, "min_subset_rows": 5, "max_params_share": 0.33, "max_factor_levels": 40, "max_iterations": 25}`
	with := func(field, value string) string {
		return strings.Replace(good, `"`+field+`": `, `"`+field+`": `+value+`, "was_`+field+`": `, 1)
	}
	for name, tc := range map[string]struct{ decision, field string }{
		"allowed without limits":    {`{"allow": true, "reasons": []}`, "limits"},
		"limits not an object":      {`{"allow": true, "limits": [5]}`, "limits"},
		"a refusal's limits broken": {`{"allow": false, "limits": "none"}`, "limits"},
		"a limit missing":           {`{"allow": true, "limits": {"min_cell_count": 5}}`, "limits.min_subset_rows"},
		"cell count zero":           {`{"allow": true, "limits": ` + with("min_cell_count", "0") + `}`, "limits.min_cell_count"},
		"cell count a fraction":     {`{"allow": true, "limits": ` + with("min_cell_count", "2.5") + `}`, "limits.min_cell_count"},
		"cell count text":           {`{"allow": true, "limits": ` + with("min_cell_count", `"5"`) + `}`, "limits.min_cell_count"},
		"subset rows negative":      {`{"allow": true, "limits": ` + with("min_subset_rows", "-1") + `}`, "limits.min_subset_rows"},
		"params share zero":         {`{"allow": true, "limits": ` + with("max_params_share", "0") + `}`, "limits.max_params_share"},
		"params share above one":    {`{"allow": true, "limits": ` + with("max_params_share", "1.5") + `}`, "limits.max_params_share"},
		"one factor level":          {`{"allow": true, "limits": ` + with("max_factor_levels", "1") + `}`, "limits.max_factor_levels"},
		"iterations zero":           {`{"allow": true, "limits": ` + with("max_iterations", "0") + `}`, "limits.max_iterations"},
		"iterations beyond int32":   {`{"allow": true, "limits": ` + with("max_iterations", "1e12") + `}`, "limits.max_iterations"},
		"allow not a boolean":       {`{"allow": "yes", "limits": ` + good + `}`, "allow"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, "testdata/minimal")
			write(t, dir, "analysis.rego", "package xborder.analysis\n\ndecision := "+tc.decision+"\n")
			e, err := NewEngine(ctx, dir, nil)
			t.Cleanup(func() { closeEngine(e) })
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Analysis(ctx, healthGLM())
			var se *ShapeError
			if !errors.As(err, &se) || se.Point != AnalysisDecisionPoint || se.Field != tc.field {
				t.Fatalf("want a ShapeError on %s, got %v", tc.field, err)
			}
			if d.Allow || d.Limits != (DisclosureLimits{}) {
				t.Fatalf("a broken decision allowed the analysis: %+v", d)
			}
		})
	}

	// The same policy with sane limits decides; the limits are read as
	// written, whole numbers written as fractions included.
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "analysis.rego", "package xborder.analysis\n\ndecision := {\"allow\": true, \"rules\": [\"all\"], \"reasons\": [\"All.\"], \"limits\": "+
		with("min_cell_count", "10.0")+"}\n")
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Analysis(ctx, healthGLM())
	want := DisclosureLimits{MinCellCount: 10, MinSubsetRows: 5, MaxParamsShare: 0.33, MaxFactorLevels: 40, MaxIterations: 25}
	if err != nil || !d.Allow || d.Limits != want {
		t.Fatalf("sane limits: %+v %v", d, err)
	}
	// A refusal may leave the limits out.
	write(t, dir, "analysis.rego", "package xborder.analysis\n\ndecision := {\"allow\": false, \"rules\": [\"none\"], \"reasons\": [\"None.\"]}\n")
	if _, err := e.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := e.Analysis(ctx, healthGLM()); err != nil || d.Allow || d.Rules[0] != "none" {
		t.Fatalf("a refusal without limits: %+v %v", d, err)
	}
}

// A region's policy written before data.xborder.analysis.decision existed
// still loads, is planned and decides everything else; every analysis is
// refused, saying why.
func TestAPolicyWithoutTheAnalysisPointLoadsAndRefusesAnalyses(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "../policies")
	for _, f := range []string{"analysis.rego", "analysis_test.rego"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEngine(ctx, dir, nil)
	t.Cleanup(func() { closeEngine(e) })
	if err != nil {
		t.Fatalf("a policy without the analysis point: %v", err)
	}
	if e.Bundle().Defines(AnalysisDecisionPoint) {
		t.Fatal("the bundle defines the analysis point without analysis.rego")
	}
	d, err := e.Analysis(ctx, healthGLM())
	if err != nil || d.Allow || !slices.Equal(d.Rules, []string{NoAnalysisPolicyRule}) ||
		!strings.Contains(d.Reasons[0], "no data.xborder.analysis.decision rule") || d.Bundle != e.Info().Hash {
		t.Fatalf("analysis without the point: %+v %v", d, err)
	}
	if ok, err := e.APIAllow(ctx, APIInput{User: APIUser{Role: "researcher"}, Method: "POST", Path: "/v1/analyses"}); err != nil || !ok {
		t.Fatalf("the other points still decide: %v %v", ok, err)
	}
	e.Bundle().Plan(ctx)
	if ev := e.Bundle().Evaluator(); ev != "plan" {
		t.Fatalf("a policy without the optional point is still planned: %s", ev)
	}
	if d, err := e.Analysis(ctx, healthGLM()); err != nil || d.Rules[0] != NoAnalysisPolicyRule {
		t.Fatalf("analysis without the point, planned: %+v %v", d, err)
	}

	// A policy with neither optional point loads too.
	if err := os.Remove(filepath.Join(dir, "audit.rego")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "audit_test.rego")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reload(ctx); err != nil {
		t.Fatalf("a policy without either optional point: %v", err)
	}
}

// An analysis decision that overruns its deadline is a refusal naming
// policy_timeout, with no limits, from the plan and by topdown.
func TestSlowAnalysisDecisionIsRefusedAtItsDeadline(t *testing.T) {
	ctx := context.Background()
	dir := copyDir(t, "testdata/minimal")
	write(t, dir, "analysis.rego", `package xborder.analysis

decision := {"allow": true, "limits": {"min_cell_count": 5, "min_subset_rows": 5, "max_params_share": 0.33, "max_factor_levels": 40, "max_iterations": 25}} if {
	count([1 |
		some x in numbers.range(1, 100000)
		some y in numbers.range(1, 100000)
		x == y + 100000
	]) > 0
}
`)
	for _, ev := range []string{EvaluatorPlan, EvaluatorTopdown} {
		t.Run(ev, func(t *testing.T) {
			e, err := NewEngine(ctx, dir, nil, WithEvaluator(ev))
			t.Cleanup(func() { closeEngine(e) })
			if err != nil {
				t.Fatal(err)
			}
			e.Bundle().Plan(ctx)
			if got := e.Info().Evaluator; (got == "plan") != (ev == EvaluatorPlan) {
				t.Fatalf("evaluator %q, want %s", got, ev)
			}
			dl := e.Deadlines()
			dl.Points[AnalysisDecisionPoint] = 50 * time.Millisecond
			if err := e.SetDeadlines(dl); err != nil {
				t.Fatal(err)
			}
			type answer struct {
				d   AnalysisDecision
				err error
			}
			a := within(t, func() answer {
				d, err := e.Analysis(ctx, healthGLM())
				return answer{d, err}
			})
			var terr *TimeoutError
			if !errors.As(a.err, &terr) || terr.Point != AnalysisDecisionPoint || a.d.Allow ||
				!slices.Equal(a.d.Rules, []string{TimeoutRule}) || a.d.Limits != (DisclosureLimits{}) || a.d.Bundle != e.Info().Hash {
				t.Fatalf("slow analysis decision: %+v %v", a.d, a.err)
			}
		})
	}
}

// Whatever value a policy gives, decodeAnalysis returns an error or a
// decision, never panics, and never an allowed decision with limits
// outside their ranges.
func FuzzDecodeAnalysis(f *testing.F) {
	for _, seed := range []string{
		`{"allow": true, "reasons": ["a"], "rules": ["r"], "obligations": [], "max_validity_s": 0, "limits": {"min_cell_count": 5, "min_subset_rows": 5, "max_params_share": 0.33, "max_factor_levels": 40, "max_iterations": 25}}`,
		`{"allow": true, "limits": {"min_cell_count": 1, "min_subset_rows": 2, "max_params_share": 1, "max_factor_levels": 2, "max_iterations": 1}}`,
		`{"allow": true, "limits": {"min_cell_count": 0.5, "min_subset_rows": 1e400, "max_params_share": -0, "max_factor_levels": 2, "max_iterations": 1}}`,
		`{"allow": false, "limits": null}`,
		`{"allow": true}`,
		`{"allow": false}`,
		`[]`,
		`"decision"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := ast.ParseTerm(string(raw))
		if err != nil {
			return
		}
		d, err := decodeAnalysis(AnalysisDecisionPoint, v.Value)
		if err != nil {
			var se *ShapeError
			if !errors.As(err, &se) || d.Allow {
				t.Fatalf("error %v with decision %+v", err, d)
			}
			return
		}
		l := d.Limits
		if d.Allow && (l.MinCellCount < 1 || l.MinSubsetRows < 1 || !(l.MaxParamsShare > 0 && l.MaxParamsShare <= 1) ||
			l.MaxFactorLevels < 2 || l.MaxIterations < 1) {
			t.Fatalf("allowed with limits %+v from %s", l, raw)
		}
	})
}
