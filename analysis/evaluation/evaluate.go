package evaluation

import (
	"fmt"
	"math"
	"slices"

	"github.com/xborder/xborder/analysis/stats"
)

// SuppressedThresholdInCell withholds a threshold's confusion counts and
// rates: the threshold falls inside a span of scores that the coarsening
// could not cut there, because the rows between it and a neighbouring cut
// hold between 1 and MinCellCount − 1 of one class. Its counts, set against
// the released cells or another threshold's, would count those few rows.
const SuppressedThresholdInCell stats.Suppression = "threshold_inside_merged_cell"

// Rate is a released proportion. When Suppressed is set it is withheld
// (with the counts it derives from) and Value is 0, which then means
// nothing.
type Rate struct {
	Value      float64           `json:"value"`
	Suppressed stats.Suppression `json:"suppressed,omitempty"`
}

// Confusion is the confusion matrix at one threshold (a row is predicted
// positive when its score ≥ Threshold) and the rates derived from it.
type Confusion struct {
	Threshold   float64    `json:"threshold"`
	TP          stats.Cell `json:"tp"`
	FP          stats.Cell `json:"fp"`
	TN          stats.Cell `json:"tn"`
	FN          stats.Cell `json:"fn"`
	Accuracy    Rate       `json:"accuracy"`
	Sensitivity Rate       `json:"sensitivity"`
	Specificity Rate       `json:"specificity"`
}

// CalibrationBin is one released calibration bin: the rows whose score is
// in [Lo, Hi) ([Lo, 1] for the last bin), how many of them are positive,
// and the sum of their scores. MeanPredicted = ScoreSum/N and ObservedRate
// = Positives/N; the sums are carried so that bins pool exactly.
type CalibrationBin struct {
	Lo            float64 `json:"lo"`
	Hi            float64 `json:"hi"`
	N             int     `json:"n"`
	Positives     int     `json:"positives"`
	ScoreSum      float64 `json:"score_sum"`
	MeanPredicted float64 `json:"mean_predicted"`
	ObservedRate  float64 `json:"observed_rate"`
}

// ScoreCell is a cell of the coarsened score histogram: the positives and
// negatives whose score is in [Lo, Hi) ([Lo, 1] for the last cell). Lo and
// Hi lie on the grid.
type ScoreCell struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Positives int     `json:"positives"`
	Negatives int     `json:"negatives"`
}

// Parts are the sufficient statistics a combiner needs beyond the counts
// and sums already in Thresholds and Calibration: the coarsened score
// histogram, and the sum of squared errors (score − label)² behind the
// Brier score. Cells lists the non-empty cells in order; a gap between two
// is a span between thresholds or calibration edges that holds no one.
type Parts struct {
	Grid            int         `json:"grid"`
	Cells           []ScoreCell `json:"cells"`
	SquaredErrorSum float64     `json:"squared_error_sum"`
}

// Evaluation is what one owner releases about a model's scores on its
// labelled rows.
type Evaluation struct {
	N         int `json:"n"`
	Positives int `json:"positives"`
	Negatives int `json:"negatives"`
	// AUC over the owner's exact scores (Mann–Whitney, ties one half),
	// with DeLong's interval.
	AUC   Interval `json:"auc"`
	Brier float64  `json:"brier"`
	// CalibrationBins is the number of bins asked for; Calibration holds
	// them after merging.
	CalibrationBins int              `json:"calibration_bins"`
	Thresholds      []Confusion      `json:"thresholds"`
	Calibration     []CalibrationBin `json:"calibration"`
	Parts           Parts            `json:"parts"`
}

// Evaluate computes, on the owner's side, the metrics of a model's scores
// (probabilities in [0, 1]) against the rows' labels (true = positive),
// under the owner's rules. Fewer than MinSubsetRows rows, or fewer than
// MinCellCount of either class, are refused (*stats.DisclosureError); every
// count released is a sum of the coarsened cells described in the package
// documentation, each of which holds none or at least MinCellCount of each
// class.
func Evaluate(scores []float64, labels []bool, req Request, rules stats.Rules) (Evaluation, error) {
	if err := rules.Validate(); err != nil {
		return Evaluation{}, err
	}
	req, err := req.withDefaults()
	if err != nil {
		return Evaluation{}, err
	}
	if len(labels) != len(scores) {
		return Evaluation{}, &stats.InputError{Field: "labels", Detail: fmt.Sprintf("%d labels for %d scores", len(labels), len(scores))}
	}
	if len(scores) > math.MaxInt32 {
		// The AUC counts pairs in 64 bits.
		return Evaluation{}, &stats.InputError{Field: "scores", Detail: fmt.Sprintf("more than %d rows", math.MaxInt32)}
	}
	for i, s := range scores {
		if !(s >= 0 && s <= 1) {
			return Evaluation{}, &stats.InputError{Field: "scores", Detail: fmt.Sprintf("row %d: the score is not a probability in [0, 1]", i+1)}
		}
	}
	k := rules.MinCellCount
	if len(scores) < rules.MinSubsetRows {
		return Evaluation{}, &stats.DisclosureError{Rule: stats.RuleMinSubsetRows,
			Detail: fmt.Sprintf("the evaluation covers fewer than %d rows, and the owner releases nothing computed over so few", rules.MinSubsetRows)}
	}

	var (
		cellPos, cellNeg [Grid]int
		cellScore        [Grid]sum
		sse              sum
		posScores        = make([]float64, 0, len(scores)/2)
		negScores        = make([]float64, 0, len(scores)/2)
	)
	for i, s := range scores {
		g := cellOf(s)
		cellScore[g].add(s)
		if labels[i] {
			cellPos[g]++
			posScores = append(posScores, s)
			sse.add((1 - s) * (1 - s))
		} else {
			cellNeg[g]++
			negScores = append(negScores, s)
			sse.add(s * s)
		}
	}
	for _, class := range []struct {
		name string
		n    int
	}{{"positive", len(posScores)}, {"negative", len(negScores)}} {
		if class.n < k {
			return Evaluation{}, &stats.DisclosureError{Rule: stats.RuleMinCellCount,
				Detail: fmt.Sprintf("the %s label occurs in fewer than %d rows, and every metric would describe those few", class.name, k)}
		}
	}

	c := counts{pos: make([]int, Grid+1), neg: make([]int, Grid+1)}
	for g := range Grid {
		c.pos[g+1] = c.pos[g] + cellPos[g]
		c.neg[g+1] = c.neg[g] + cellNeg[g]
	}
	thresholdCells := make([]int, len(req.Thresholds))
	for i, t := range req.Thresholds {
		thresholdCells[i], _ = thresholdCell(t)
	}
	bins := calibrationEdges(req.CalibrationBins)
	// The score axis is cut in order of what the researcher asked for:
	// the thresholds first, then the calibration edges between them, then
	// the grid; each pass keeps the cuts before it, so every count below
	// is a sum of the last pass's cells.
	cuts := c.refine([]int{0, Grid}, thresholdCells, classRule, k)
	cuts = c.refine(cuts, bins[1:len(bins)-1], classRule, k)
	cuts = c.refine(cuts, gridCuts, binRule, k)
	// The bins released are the requested ones merged left to right, at
	// the edges the cells kept, until each obeys.
	var kept []int
	for _, e := range bins[1 : len(bins)-1] {
		if _, cut := slices.BinarySearch(cuts, e); cut {
			kept = append(kept, e)
		}
	}
	calibration := c.refine([]int{0, Grid}, kept, binRule, k)

	P, N := len(posScores), len(negScores)
	ev := Evaluation{
		N: len(scores), Positives: P, Negatives: N,
		Brier:           sse.value() / float64(len(scores)),
		CalibrationBins: req.CalibrationBins,
		Thresholds:      make([]Confusion, len(req.Thresholds)),
		Calibration:     make([]CalibrationBin, len(calibration)-1),
		Parts:           Parts{Grid: Grid, SquaredErrorSum: sse.value()},
	}
	for i, g := range thresholdCells {
		// Released where the final cells are cut, not only where the
		// thresholds' own pass cut: every count is then a sum of cells.
		if _, cut := slices.BinarySearch(cuts, g); !cut {
			ev.Thresholds[i] = withheld(req.Thresholds[i], SuppressedThresholdInCell)
			continue
		}
		fn, tn := c.span(0, g)
		ev.Thresholds[i] = confusion(req.Thresholds[i], P-fn, N-tn, tn, fn)
	}
	for b := range ev.Calibration {
		lo, hi := calibration[b], calibration[b+1]
		pos, neg := c.span(lo, hi)
		var s sum
		for g := lo; g < hi; g++ {
			s.addSum(cellScore[g])
		}
		ev.Calibration[b] = calibrationBin(lo, hi, pos+neg, pos, s.value())
	}
	for j := range len(cuts) - 1 {
		lo, hi := cuts[j], cuts[j+1]
		if pos, neg := c.span(lo, hi); pos+neg > 0 {
			ev.Parts.Cells = append(ev.Parts.Cells, ScoreCell{Lo: edge(lo), Hi: edge(hi), Positives: pos, Negatives: neg})
		}
	}
	ev.AUC = aucOf(groupByScore(posScores, negScores), req.Level)
	return ev, nil
}

func confusion(t float64, tp, fp, tn, fn int) Confusion {
	p, n := float64(tp+fn), float64(fp+tn)
	return Confusion{Threshold: t,
		TP: stats.Cell{Count: tp}, FP: stats.Cell{Count: fp}, TN: stats.Cell{Count: tn}, FN: stats.Cell{Count: fn},
		Accuracy:    Rate{Value: float64(tp+tn) / (p + n)},
		Sensitivity: Rate{Value: float64(tp) / p},
		Specificity: Rate{Value: float64(tn) / n},
	}
}

func withheld(t float64, why stats.Suppression) Confusion {
	cell, rate := stats.Cell{Suppressed: why}, Rate{Suppressed: why}
	return Confusion{Threshold: t, TP: cell, FP: cell, TN: cell, FN: cell, Accuracy: rate, Sensitivity: rate, Specificity: rate}
}

func calibrationBin(lo, hi, n, pos int, scoreSum float64) CalibrationBin {
	return CalibrationBin{Lo: edge(lo), Hi: edge(hi), N: n, Positives: pos, ScoreSum: scoreSum,
		MeanPredicted: scoreSum / float64(n), ObservedRate: float64(pos) / float64(n)}
}

// groupByScore sorts each class's scores and walks them together into one
// group per distinct score, ascending.
func groupByScore(pos, neg []float64) []placed {
	slices.Sort(pos)
	slices.Sort(neg)
	groups := make([]placed, 0, len(pos)+len(neg))
	i, j := 0, 0
	for i < len(pos) || j < len(neg) {
		v := math.Inf(1)
		if i < len(pos) {
			v = pos[i]
		}
		if j < len(neg) && neg[j] < v {
			v = neg[j]
		}
		var g placed
		for ; i < len(pos) && pos[i] == v; i++ {
			g.pos++
		}
		for ; j < len(neg) && neg[j] == v; j++ {
			g.neg++
		}
		groups = append(groups, g)
	}
	return pointGroups(groups)
}

// sum is a Neumaier compensated sum: the owners' and the central sums of
// the same values then agree to about one rounding, whatever their order.
type sum struct{ s, c float64 }

func (a *sum) add(x float64) {
	t := a.s + x
	if math.Abs(a.s) >= math.Abs(x) {
		a.c += (a.s - t) + x
	} else {
		a.c += (x - t) + a.s
	}
	a.s = t
}

func (a *sum) addSum(b sum) {
	a.add(b.s)
	a.add(b.c)
}

func (a sum) value() float64 { return a.s + a.c }
