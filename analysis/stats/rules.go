package stats

import (
	"fmt"
	"strings"
)

// Rules are the disclosure rules an owner's policy returns for one request
// and the owner's node enforces before anything leaves it. Every owner-side
// function of this package takes them; the combiners do not, because what
// reaches the researcher's node has already passed its owner's rules.
type Rules struct {
	// MinCellCount is the smallest count a released table cell, histogram
	// bin or group may describe; a smaller non-zero count is suppressed
	// (withheld). It is also the number of order statistics each released
	// quantile averages, and the least number of ones and of zeros an
	// indicator column (or a binomial outcome) of a GLM must hold.
	MinCellCount int `json:"min_cell_count"`
	// MinSubsetRows is the least number of rows any analysis may run over.
	MinSubsetRows int `json:"min_subset_rows"`
	// MaxParamsShare bounds a GLM's parameters per row (p ≤ MaxParamsShare·n):
	// with nearly as many parameters as rows, the fitted values reproduce the
	// rows themselves (DataSHIELD's nfilter.glm, 0.33).
	MaxParamsShare float64 `json:"max_params_share"`
	// MaxFactorLevels is the most levels a factor may have in a table, a
	// grouped summary or a model; factors with very many levels make small,
	// identifying cells.
	MaxFactorLevels int `json:"max_factor_levels"`
	// MaxIterations is the most GLM iterations (IRLS partials) an owner
	// serves for one fit: each iteration releases X'WX and X'Wz at a
	// coefficient vector the researcher chose, and enough of them at chosen
	// vectors would let the rows be solved for.
	MaxIterations int `json:"max_iterations"`
}

// DefaultRules are the shipped defaults.
var DefaultRules = Rules{
	MinCellCount:    5,
	MinSubsetRows:   5,
	MaxParamsShare:  0.33,
	MaxFactorLevels: 40,
	MaxIterations:   25,
}

// Validate checks the rules themselves; an owner-side function refuses to
// run under rules that do not validate (an *InputError on field "rules").
func (r Rules) Validate() error {
	var bad []string
	if r.MinCellCount < 1 {
		bad = append(bad, fmt.Sprintf("min_cell_count %d is below 1", r.MinCellCount))
	}
	if r.MinSubsetRows < 2 {
		// One row released as a "summary" is that person's record.
		bad = append(bad, fmt.Sprintf("min_subset_rows %d is below 2", r.MinSubsetRows))
	}
	if !(r.MaxParamsShare > 0 && r.MaxParamsShare <= 1) {
		bad = append(bad, fmt.Sprintf("max_params_share %g is not in (0, 1]", r.MaxParamsShare))
	}
	if r.MaxFactorLevels < 2 {
		bad = append(bad, fmt.Sprintf("max_factor_levels %d is below 2", r.MaxFactorLevels))
	}
	if r.MaxIterations < 1 {
		bad = append(bad, fmt.Sprintf("max_iterations %d is below 1", r.MaxIterations))
	}
	if len(bad) > 0 {
		return &InputError{Field: "rules", Detail: strings.Join(bad, "; ")}
	}
	return nil
}

// CheckIteration is the owner's check of a GLM iteration number (0 for the
// first partial of a fit) against MaxIterations: the fit's iterations 1 to
// MaxIterations each need one partial after iteration 0.
func (r Rules) CheckIteration(iteration int) error {
	if iteration < 0 {
		return &InputError{Field: "iteration", Detail: fmt.Sprintf("iteration %d is negative", iteration)}
	}
	if iteration > r.MaxIterations {
		return &DisclosureError{Rule: RuleMaxIterations,
			Detail: fmt.Sprintf("the owner serves at most %d iterations of one model fit, and this is iteration %d", r.MaxIterations, iteration)}
	}
	return nil
}

// The rules a DisclosureError names.
const (
	RuleMinSubsetRows    = "min_subset_rows"
	RuleMinCellCount     = "min_cell_count"
	RuleMaxParamsShare   = "max_params_share"
	RuleMaxFactorLevels  = "max_factor_levels"
	RuleMaxIterations    = "max_iterations"
	RuleGLMSmallCategory = "glm_small_category"
	// RuleEffectiveRows refuses a GLM partial at coefficients under which
	// the working weights rest on fewer than MinSubsetRows effective rows.
	RuleEffectiveRows = "effective_rows"
	// RulePairwiseDifference refuses a correlation whose pairs' complete-case
	// row sets differ by a few rows (see Correlation).
	RulePairwiseDifference = "pairwise_difference"
)

// DisclosureError is an owner's refusal to release a result because one of
// its disclosure rules forbids it.
type DisclosureError struct {
	Rule   string `json:"rule"`   // one of the Rule constants
	Detail string `json:"detail"` // what was found, in the researcher's terms
}

func (e *DisclosureError) Error() string {
	return "the data owner's disclosure rules refuse this analysis (" + e.Rule + "): " + e.Detail
}

// InputError is a malformed request: inconsistent lengths, values that are
// not finite, codes out of range, an unknown family.
type InputError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (e *InputError) Error() string {
	return "invalid analysis input (" + e.Field + "): " + e.Detail
}
