package evaluation

import (
	"fmt"
	"math"
	"slices"

	"github.com/xborder/xborder/analysis/stats"
)

// Pooled is the combination of several owners' evaluations of one model
// under one request. Its counts, Brier score and calibration sums are those
// of the pooled rows; its AUC is computed over the owners' score cells (see
// the package documentation for exactly what that equals).
type Pooled struct {
	Owners    int `json:"owners"`
	N         int `json:"n"`
	Positives int `json:"positives"`
	Negatives int `json:"negatives"`
	// AUC over the owners' cells: a positive–negative pair counts 1 or 0
	// when the cells the two were released in do not overlap, and one half
	// when they do; with DeLong's interval over the same placements.
	AUC Interval `json:"auc"`
	// AUCBound bounds how far AUC.Estimate can be from the AUC of the
	// pooled rows' own scores: half the share of positive–negative pairs
	// whose cells overlap.
	AUCBound float64 `json:"auc_coarsening_bound"`
	Brier    float64 `json:"brier"`
	// Thresholds: the owners' counts added; a threshold any owner withheld
	// is withheld (SuppressedInPart).
	Thresholds []Confusion `json:"thresholds"`
	// Calibration: the bins whose edges every owner kept, their sums
	// added.
	Calibration []CalibrationBin `json:"calibration"`
}

// Pool combines the owners' evaluations. They must answer the same
// request; a malformed or inconsistent evaluation is an *stats.InputError.
// It takes no rules: each evaluation has passed its owner's.
func Pool(parts []Evaluation) (Pooled, error) {
	if len(parts) == 0 {
		return Pooled{}, &stats.InputError{Field: "evaluations", Detail: "no evaluations to pool"}
	}
	first := parts[0]
	// binCuts[g] counts the owners whose calibration bins are cut at g.
	binCuts := make([]int, Grid+1)
	out := Pooled{Owners: len(parts), Thresholds: make([]Confusion, len(first.Thresholds))}
	var cells []ScoreCell
	var sse sum
	for i, ev := range parts {
		if err := ev.check(first); err != nil {
			return Pooled{}, &stats.InputError{Field: "evaluations", Detail: fmt.Sprintf("evaluation %d: %s", i+1, err.Detail)}
		}
		out.N += ev.N
		out.Positives += ev.Positives
		out.Negatives += ev.Negatives
		sse.add(ev.Parts.SquaredErrorSum)
		cells = append(cells, ev.Parts.Cells...)
		for _, b := range ev.Calibration {
			g, _ := gridIndex(b.Lo)
			binCuts[g]++
		}
	}
	if out.Positives > math.MaxInt32 || out.Negatives > math.MaxInt32 {
		return Pooled{}, &stats.InputError{Field: "evaluations", Detail: fmt.Sprintf("more than %d rows of one class", math.MaxInt32)}
	}
	out.Brier = sse.value() / float64(out.N)

	groups := intervalGroups(cells)
	out.AUC = aucOf(groups, first.AUC.Level)
	out.AUCBound = unorderedShare(groups)

	// The pooled bins are cut where every owner's are, so each owner's bin
	// falls in exactly one of them.
	var binEdges []int
	for g := range Grid {
		if binCuts[g] == len(parts) {
			binEdges = append(binEdges, g)
		}
	}
	binEdges = append(binEdges, Grid)
	type binSums struct {
		n, pos int
		scores sum
	}
	bins := make([]binSums, len(binEdges)-1)
	for _, ev := range parts {
		for _, b := range ev.Calibration {
			g, _ := gridIndex(b.Lo)
			j, found := slices.BinarySearch(binEdges, g)
			if !found {
				j--
			}
			bins[j].n += b.N
			bins[j].pos += b.Positives
			bins[j].scores.add(b.ScoreSum)
		}
	}
	out.Calibration = make([]CalibrationBin, len(bins))
	for j, b := range bins {
		out.Calibration[j] = calibrationBin(binEdges[j], binEdges[j+1], b.n, b.pos, b.scores.value())
	}

	for i, t := range first.Thresholds {
		var tp, fp, tn, fn int
		released := true
		for _, ev := range parts {
			c := ev.Thresholds[i]
			if c.TP.Suppressed != "" {
				released = false
				break
			}
			tp, fp, tn, fn = tp+c.TP.Count, fp+c.FP.Count, tn+c.TN.Count, fn+c.FN.Count
		}
		if released {
			out.Thresholds[i] = confusion(t.Threshold, tp, fp, tn, fn)
		} else {
			out.Thresholds[i] = withheld(t.Threshold, stats.SuppressedInPart)
		}
	}
	return out, nil
}

// check is the combiner's test of one owner's evaluation: well formed, and
// an answer to the same request as first. Its cells must lie in order on
// the grid, its bins tile [0, 1], and both add up to its counts.
func (ev Evaluation) check(first Evaluation) *stats.InputError {
	bad := func(format string, args ...any) *stats.InputError {
		return &stats.InputError{Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case ev.Parts.Grid != Grid:
		return bad("grid of %d cells, not %d", ev.Parts.Grid, Grid)
	case ev.Positives < 1 || ev.Negatives < 1 || ev.Positives > math.MaxInt32 || ev.Negatives > math.MaxInt32 || ev.N != ev.Positives+ev.Negatives:
		return bad("counts n %d, positives %d, negatives %d do not agree", ev.N, ev.Positives, ev.Negatives)
	case !(ev.Parts.SquaredErrorSum >= 0 && ev.Parts.SquaredErrorSum <= float64(ev.N)):
		return bad("squared error sum is not in [0, n]")
	case ev.CalibrationBins != first.CalibrationBins:
		return bad("%d calibration bins where evaluation 1 has %d", ev.CalibrationBins, first.CalibrationBins)
	case !(ev.AUC.Level > 0 && ev.AUC.Level < 1) || ev.AUC.Level != first.AUC.Level:
		return bad("confidence level %g where evaluation 1 has %g", ev.AUC.Level, first.AUC.Level)
	case len(ev.Thresholds) != len(first.Thresholds):
		return bad("%d thresholds where evaluation 1 has %d", len(ev.Thresholds), len(first.Thresholds))
	}
	var pos, neg int
	at := 0.0
	for j, c := range ev.Parts.Cells {
		if err := checkSpan(c.Lo, c.Hi, at, false); err != "" {
			return bad("cell %d %s", j+1, err)
		}
		if c.Positives < 0 || c.Negatives < 0 || c.Positives+c.Negatives == 0 || c.Positives > ev.Positives || c.Negatives > ev.Negatives {
			return bad("cell %d has counts out of range", j+1)
		}
		pos, neg, at = pos+c.Positives, neg+c.Negatives, c.Hi
	}
	if pos != ev.Positives || neg != ev.Negatives {
		return bad("cells do not add up to the counts")
	}
	var n int
	at = 0
	for j, b := range ev.Calibration {
		if err := checkSpan(b.Lo, b.Hi, at, true); err != "" {
			return bad("calibration bin %d %s", j+1, err)
		}
		if b.N < 1 || b.N > ev.N || b.Positives < 0 || b.Positives > b.N || !(b.ScoreSum >= 0 && b.ScoreSum <= float64(b.N)) {
			return bad("calibration bin %d has counts or sums out of range", j+1)
		}
		n, at = n+b.N, b.Hi
	}
	if at != 1 || n != ev.N {
		return bad("calibration bins do not cover [0, 1] or do not add up to n")
	}
	for i, c := range ev.Thresholds {
		if c.Threshold != first.Thresholds[i].Threshold {
			return bad("threshold %d is %g where evaluation 1 has %g", i+1, c.Threshold, first.Thresholds[i].Threshold)
		}
		if _, why := thresholdCell(c.Threshold); why != "" {
			return bad("threshold %d: %s", i+1, why)
		}
		cells := []stats.Cell{c.TP, c.FP, c.TN, c.FN}
		if c.TP.Suppressed != "" {
			for _, cell := range cells {
				if cell.Suppressed == "" {
					return bad("threshold %d withholds some of its counts and not others", i+1)
				}
			}
			continue
		}
		for _, cell := range cells {
			if cell.Suppressed != "" || cell.Count < 0 {
				return bad("threshold %d has a count out of range", i+1)
			}
		}
		if c.TP.Count+c.FN.Count != ev.Positives || c.FP.Count+c.TN.Count != ev.Negatives {
			return bad("threshold %d's counts do not add up to the classes", i+1)
		}
	}
	return nil
}

// checkSpan checks that [lo, hi) lies on the grid, is not empty and starts
// where the span before it ended (at), or after it unless tile is set.
func checkSpan(lo, hi, at float64, tile bool) string {
	gl, okl := gridIndex(lo)
	gh, okh := gridIndex(hi)
	switch {
	case !okl || !okh:
		return "has an edge off the grid"
	case !(gh > gl) || lo < at || (tile && lo != at):
		return "leaves a gap, overlaps the one before, or is empty"
	}
	return ""
}
