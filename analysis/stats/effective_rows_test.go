package stats

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// isolating is a design of an intercept and one covariate whose largest
// value is held by the last `top` rows alone (the others lie at least one
// unit below), with a binary response of both outcomes in every part.
func isolating(n, top int) (x, y []float64, largest float64) {
	rng := rand.New(rand.NewPCG(11, 16))
	largest = 100
	for i := range n {
		v := 50 + 40*rng.Float64() // at most 90: ten units under the top
		if i >= n-top {
			v = largest
		}
		x = append(x, 1, v)
		y = append(y, float64(i%2))
	}
	return x, y, largest
}

// Coefficients that put the linear predictor at 0 on the rows of the
// largest value and at least 60·10 below it elsewhere give every other row
// a working weight of about 2e-16: X'WX and X'Wz would be those rows'
// records. The owner refuses them unless they weigh as much as the
// minimum subset; the same rows at ordinary coefficients pass.
func TestCraftedCoefficientsIsolatingRowsAreRefused(t *testing.T) {
	rules := DefaultRules // MinSubsetRows 5
	for _, fam := range []Family{Binomial, Poisson} {
		t.Run(string(fam), func(t *testing.T) {
			for _, tc := range []struct {
				top     int
				refused bool
			}{
				{1, true},
				{rules.MinSubsetRows - 1, true},
				{rules.MinSubsetRows, false}, // exactly the minimum subset is enough
			} {
				x, y, largest := isolating(400, tc.top)
				if fam == Poisson {
					for i := range y {
						y[i] = float64(i % 3)
					}
				}
				crafted := []float64{-60 * largest, 60}
				_, err := IRLSPartial(fam, x, y, 2, crafted, rules)
				var de *DisclosureError
				switch {
				case tc.refused && (!errors.As(err, &de) || de.Rule != RuleEffectiveRows):
					t.Fatalf("%d rows isolated: %v, want a %s refusal", tc.top, err, RuleEffectiveRows)
				case !tc.refused && err != nil:
					t.Fatalf("%d rows isolated, as many as the minimum subset: %v", tc.top, err)
				}
				// Ordinary coefficients (the start of a fit, and a step
				// from it) spread the weights over every row.
				for _, beta := range [][]float64{{0, 0}, {-1.5, 0.02}} {
					pt, err := IRLSPartial(fam, x, y, 2, beta, rules)
					if err != nil || pt.N != len(y) {
						t.Fatalf("at %v: %+v %v", beta, pt, err)
					}
				}
			}
		})
	}
	// The first iteration (no coefficients sent) and the gaussian family,
	// whose working weights are all 1, are not subject to the rule.
	x, y, largest := isolating(400, 1)
	if _, err := IRLSPartial(Binomial, x, y, 2, nil, rules); err != nil {
		t.Fatalf("first iteration: %v", err)
	}
	if _, err := IRLSPartial(Gaussian, x, y, 2, []float64{-60 * largest, 60}, rules); err != nil {
		t.Fatalf("gaussian: %v", err)
	}
	// A stricter owner refuses what the default one allows.
	x, y, largest = isolating(400, 8)
	strict := rules
	strict.MinSubsetRows = 10
	crafted := []float64{-60 * largest, 60}
	if _, err := IRLSPartial(Binomial, x, y, 2, crafted, rules); err != nil {
		t.Fatalf("8 rows under the default rules: %v", err)
	}
	var de *DisclosureError
	if _, err := IRLSPartial(Binomial, x, y, 2, crafted, strict); !errors.As(err, &de) || de.Rule != RuleEffectiveRows {
		t.Fatalf("8 rows under a minimum subset of 10: %v", err)
	}
	if de.Detail == "" {
		t.Fatalf("the refusal does not say why: %+v", de)
	}
}
