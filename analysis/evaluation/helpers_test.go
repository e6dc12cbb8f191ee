package evaluation

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xborder/xborder/analysis/stats"
)

// openRules let every count through, for the cases worked by hand.
var openRules = stats.Rules{MinCellCount: 1, MinSubsetRows: 2, MaxParamsShare: 1, MaxFactorLevels: 2, MaxIterations: 1}

// logistic draws n rows of a model whose scores are a noisy logistic of
// the same covariate that drives the labels; roundTo > 0 rounds the
// scores to that many decimals (a model that reports 0.35, with ties and
// scores exactly on grid edges).
func logistic(seed uint64, n int, intercept float64, roundTo int) ([]float64, []bool) {
	rng := rand.New(rand.NewPCG(seed, 7))
	scores, labels := make([]float64, n), make([]bool, n)
	for i := range n {
		x := rng.NormFloat64()
		labels[i] = rng.Float64() < sigmoid(intercept+1.5*x)
		s := sigmoid(intercept + 1.2*x + 0.6*rng.NormFloat64())
		if roundTo > 0 {
			p := math.Pow(10, float64(roundTo))
			s = math.Round(s*p) / p
		}
		scores[i] = s
	}
	return scores, labels
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// midrankAUC is the Mann–Whitney AUC by mid-ranks, written apart from the
// package's own computation: key orders the rows (a score, or a cell
// index). It returns 2U and 2·P·N, whose ratio is the AUC.
func midrankAUC(keys []float64, labels []bool) (num2, den2 uint64) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case keys[a] < keys[b]:
			return -1
		case keys[a] > keys[b]:
			return 1
		}
		return 0
	})
	var P, rank2 uint64 // rank2: the sum of the positives' doubled mid-ranks
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && keys[idx[j]] == keys[idx[i]] {
			j++
		}
		mid2 := uint64(i + 1 + j) // (i+1 + j)/2 is the mid-rank of ranks i+1 … j
		for _, r := range idx[i:j] {
			if labels[r] {
				P++
				rank2 += mid2
			}
		}
		i = j
	}
	N := uint64(len(keys)) - P
	return rank2 - P*(P+1), 2 * P * N
}

// checkRelease verifies what makes a release safe: every cell of the
// score histogram holds at least k rows and none or at least k of each
// class, and every other released count is a sum of whole cells — so
// nothing released, alone or set against anything else released, counts
// fewer than k of a class.
func checkRelease(t *testing.T, ev Evaluation, k int) {
	t.Helper()
	// below: the positives and negatives below each point the cells are
	// cut at — every grid point not strictly inside a listed cell.
	below := map[float64][2]int{}
	var pos, neg int
	at := 0
	for _, c := range ev.Parts.Cells {
		if c.Positives+c.Negatives < k || (c.Positives > 0 && c.Positives < k) || (c.Negatives > 0 && c.Negatives < k) {
			t.Fatalf("cell %+v breaks the rule at k = %d", c, k)
		}
		lo, hi := int(math.Round(c.Lo*Grid)), int(math.Round(c.Hi*Grid))
		for ; at <= lo; at++ {
			below[edge(at)] = [2]int{pos, neg}
		}
		pos, neg, at = pos+c.Positives, neg+c.Negatives, hi
	}
	for ; at <= Grid; at++ {
		below[edge(at)] = [2]int{pos, neg}
	}
	if pos != ev.Positives || neg != ev.Negatives || pos+neg != ev.N {
		t.Fatalf("cells add up to %d and %d, evaluation says %d and %d", pos, neg, ev.Positives, ev.Negatives)
	}
	for _, c := range ev.Thresholds {
		if c.TP.Suppressed != "" {
			if c.Sensitivity.Suppressed == "" || c.Specificity.Suppressed == "" || c.Accuracy.Suppressed == "" {
				t.Fatalf("threshold %g withholds its counts and releases a rate", c.Threshold)
			}
			continue
		}
		b, ok := below[c.Threshold]
		if !ok {
			t.Fatalf("threshold %g is released but is not a cut of the cells", c.Threshold)
		}
		if c.FN.Count != b[0] || c.TN.Count != b[1] || c.TP.Count != pos-b[0] || c.FP.Count != neg-b[1] {
			t.Fatalf("threshold %g: counts %+v are not the cells' sums %v", c.Threshold, c, b)
		}
	}
	for _, bin := range ev.Calibration {
		lo, okLo := below[bin.Lo]
		hi, okHi := below[bin.Hi]
		if !okLo || !okHi {
			t.Fatalf("calibration bin %+v does not lie on cell cuts", bin)
		}
		p, n := hi[0]-lo[0], hi[1]-lo[1]
		if bin.N != p+n || bin.Positives != p {
			t.Fatalf("calibration bin %+v is not the sum of its cells (%d, %d)", bin, p, n)
		}
		if bin.N < k || (p > 0 && p < k) || (n > 0 && n < k) {
			t.Fatalf("calibration bin %+v breaks the rule at k = %d", bin, k)
		}
	}
}

func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b)) || a == b
}
