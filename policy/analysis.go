package policy

import (
	"context"
	"errors"
	"math"

	"github.com/open-policy-agent/opa/v1/ast"
)

// DisclosureLimits are the owner's rules for what an analysis may release,
// as its policy decides them; the node enforces them on every result.
type DisclosureLimits struct {
	// MinCellCount is the fewest rows behind any released count, cell,
	// group, histogram bin or quantile.
	MinCellCount int `json:"min_cell_count"`
	// MinSubsetRows is the fewest rows an analysis may read after its
	// filter, and the fewest rows by which its row set must differ from an
	// earlier released one of the same requester on the same dataset.
	MinSubsetRows int `json:"min_subset_rows"`
	// MaxParamsShare is the largest share of the rows a glm may have as
	// parameters (parameters / rows).
	MaxParamsShare float64 `json:"max_params_share"`
	// MaxFactorLevels is the most levels a categorical variable may have.
	MaxFactorLevels int `json:"max_factor_levels"`
	// MaxIterations bounds the iterations of a glm's fit.
	MaxIterations int `json:"max_iterations"`
}

// AnalysisDecision is the value of data.xborder.analysis.decision: the
// common decision and, when allowed, the disclosure limits the result is
// held to. An allowed decision always carries sane limits (decodeAnalysis
// refuses one that does not); a refusal's limits may be zero.
type AnalysisDecision struct {
	Decision
	Limits DisclosureLimits `json:"limits"`
}

// NoAnalysisPolicyRule is the rule a refusal names when the policy in
// force has no data.xborder.analysis.decision.
const NoAnalysisPolicyRule = "no_analysis_policy"

// Analysis decides whether a requester may run an analysis on one of this
// node's datasets, and under which disclosure limits. A policy without
// data.xborder.analysis.decision (written before the point existed)
// refuses every analysis and says so. An error (a policy error, a decision
// of the wrong shape, an overrun deadline) is a refusal too: the returned
// decision is then a refusal with no limits.
func (e *Engine) Analysis(ctx context.Context, in AnalysisInput) (AnalysisDecision, error) {
	b := e.active.Load()
	if !b.Defines(AnalysisDecisionPoint) {
		return AnalysisDecision{Decision: Decision{Bundle: b.Hash, Rules: []string{NoAnalysisPolicyRule}, Reasons: []string{
			"This node's policy has no data.xborder.analysis.decision rule, so it runs no analysis on its datasets; its legal team adds one (see docs/policies.md)."},
			Obligations: []string{}}}, nil
	}
	d, err := bounded(e, ctx, AnalysisDecisionPoint, func(ctx context.Context) (AnalysisDecision, error) {
		return b.decideAnalysis(ctx, in)
	})
	if terr := (*TimeoutError)(nil); errors.As(err, &terr) {
		d = AnalysisDecision{Decision: Decision{Bundle: b.Hash, Rules: []string{TimeoutRule}, Reasons: []string{terr.Error()}, Obligations: []string{}}}
	}
	return d, err
}

// decideAnalysis evaluates data.xborder.analysis.decision.
func (b *Bundle) decideAnalysis(ctx context.Context, in AnalysisInput) (AnalysisDecision, error) {
	v, err := b.eval(ctx, AnalysisDecisionPoint, in)
	if err != nil {
		return AnalysisDecision{Decision: Decision{Bundle: b.Hash}}, err
	}
	d, err := decodeAnalysis(AnalysisDecisionPoint, v)
	d.Bundle = b.Hash
	return d, err
}

// decodeAnalysis reads an analysis decision: the common fields, then the
// limits, field by field. An allowed decision must carry limits, each of
// them sane: a policy that allows without saying what may be released
// releases nothing. A refusal may leave them out; when it gives them they
// are checked all the same, since a policy that writes nonsense limits is
// broken whatever it decided.
func decodeAnalysis(p Point, v ast.Value) (AnalysisDecision, error) {
	d, err := decodeDecision(p, v)
	if err != nil {
		return AnalysisDecision{}, err
	}
	raw := v.(ast.Object).Get(ast.StringTerm("limits")) // decodeDecision checked it is an object
	if raw == nil {
		if d.Allow {
			return AnalysisDecision{}, &ShapeError{Point: p, Field: "limits", Want: "an object (an allowed analysis must say what may be released)", Got: nil}
		}
		return AnalysisDecision{Decision: d}, nil
	}
	obj, ok := raw.Value.(ast.Object)
	if !ok {
		return AnalysisDecision{}, &ShapeError{Point: p, Field: "limits", Want: "an object", Got: asJSON(raw.Value)}
	}
	l, err := decodeLimits(p, obj)
	if err != nil {
		return AnalysisDecision{}, err
	}
	return AnalysisDecision{Decision: d, Limits: l}, nil
}

// limitField is one disclosure limit: its name in the decision and the
// values it may take.
type limitField struct {
	name    string
	want    string
	integer bool
	ok      func(float64) bool
	set     func(*DisclosureLimits, float64)
}

// limitFields are the disclosure limits, each with the range outside which
// it would protect nothing or make no sense.
var limitFields = []limitField{
	{"min_cell_count", "a whole number of at least 1", true,
		func(f float64) bool { return f >= 1 },
		func(l *DisclosureLimits, f float64) { l.MinCellCount = int(f) }},
	// One row released as a "summary" is that person's record.
	{"min_subset_rows", "a whole number of at least 2", true,
		func(f float64) bool { return f >= 2 },
		func(l *DisclosureLimits, f float64) { l.MinSubsetRows = int(f) }},
	{"max_params_share", "a number above 0 and at most 1", false,
		func(f float64) bool { return f > 0 && f <= 1 },
		func(l *DisclosureLimits, f float64) { l.MaxParamsShare = f }},
	{"max_factor_levels", "a whole number of at least 2", true,
		func(f float64) bool { return f >= 2 },
		func(l *DisclosureLimits, f float64) { l.MaxFactorLevels = int(f) }},
	{"max_iterations", "a whole number of at least 1", true,
		func(f float64) bool { return f >= 1 },
		func(l *DisclosureLimits, f float64) { l.MaxIterations = int(f) }},
}

// maxLimit keeps a whole-number limit within int on every platform.
const maxLimit = math.MaxInt32

func decodeLimits(p Point, obj ast.Object) (DisclosureLimits, error) {
	var l DisclosureLimits
	for _, f := range limitFields {
		field := "limits." + f.name
		t := obj.Get(ast.StringTerm(f.name))
		if t == nil {
			return DisclosureLimits{}, &ShapeError{Point: p, Field: field, Want: f.want, Got: nil}
		}
		n, ok := t.Value.(ast.Number)
		if !ok {
			return DisclosureLimits{}, &ShapeError{Point: p, Field: field, Want: f.want, Got: asJSON(t.Value)}
		}
		x, ok := n.Float64()
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) || !f.ok(x) ||
			(f.integer && (x != math.Trunc(x) || x > maxLimit)) {
			return DisclosureLimits{}, &ShapeError{Point: p, Field: field, Want: f.want, Got: asJSON(t.Value)}
		}
		f.set(&l, x)
	}
	return l, nil
}
