package evaluation

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/xborder/xborder/analysis/stats"
)

type owner struct {
	scores []float64
	labels []bool
}

// fiveOwners differ in size (400 to 12,000 rows), prevalence and model
// output: owner 3's model reports scores to two decimals, so it has ties
// and scores exactly on the grid's edges.
func fiveOwners() []owner {
	var owners []owner
	for _, o := range []struct {
		seed      uint64
		n         int
		intercept float64
		round     int
	}{{1, 4000, -1, 0}, {2, 900, 0, 0}, {3, 12000, -0.5, 2}, {4, 400, 0.5, 0}, {5, 6000, -2, 0}} {
		s, l := logistic(o.seed, o.n, o.intercept, o.round)
		owners = append(owners, owner{s, l})
	}
	return owners
}

var poolRequest = Request{Thresholds: []float64{0.05, 0.1, 0.25, 0.35, 0.5, 0.75, 0.9, 0.97}, CalibrationBins: 10}

// TestPoolEqualsCentral checks what the package documentation promises of
// Pool against computations over the pooled rows written apart from the
// package's own.
func TestPoolEqualsCentral(t *testing.T) {
	owners := fiveOwners()
	var evs []Evaluation
	var scores []float64
	var labels []bool
	for i, o := range owners {
		ev, err := Evaluate(o.scores, o.labels, poolRequest, stats.DefaultRules)
		if err != nil {
			t.Fatalf("owner %d: %v", i+1, err)
		}
		checkRelease(t, ev, stats.DefaultRules.MinCellCount)
		evs = append(evs, ev)
		scores, labels = append(scores, o.scores...), append(labels, o.labels...)
	}
	pooled, err := Pool(evs)
	if err != nil {
		t.Fatal(err)
	}

	// Counts exactly.
	var P, N int
	var sse float64
	for i, s := range scores {
		y := 0.0
		if labels[i] {
			P, y = P+1, 1
		} else {
			N++
		}
		sse += (s - y) * (s - y)
	}
	if pooled.N != len(scores) || pooled.Positives != P || pooled.Negatives != N {
		t.Fatalf("pooled n %d (%d, %d), central %d (%d, %d)", pooled.N, pooled.Positives, pooled.Negatives, len(scores), P, N)
	}
	// Brier within 1e-12, relatively.
	if !relClose(pooled.Brier, sse/float64(len(scores)), 1e-12) {
		t.Errorf("pooled Brier %v, central %v", pooled.Brier, sse/float64(len(scores)))
	}

	// Confusion counts exactly, where every owner released them.
	released := 0
	for i, c := range pooled.Thresholds {
		someWithheld := slices.ContainsFunc(evs, func(ev Evaluation) bool { return ev.Thresholds[i].TP.Suppressed != "" })
		if someWithheld {
			if c.TP.Suppressed != stats.SuppressedInPart || c.Sensitivity.Suppressed != stats.SuppressedInPart {
				t.Errorf("threshold %g: an owner withheld it, pooled %+v", c.Threshold, c)
			}
			continue
		}
		released++
		var tp, fp, tn, fn int
		for j, s := range scores {
			switch {
			case s >= c.Threshold && labels[j]:
				tp++
			case s >= c.Threshold:
				fp++
			case labels[j]:
				fn++
			default:
				tn++
			}
		}
		if c.TP.Count != tp || c.FP.Count != fp || c.TN.Count != tn || c.FN.Count != fn {
			t.Errorf("threshold %g: pooled %+v, central tp %d fp %d tn %d fn %d", c.Threshold, c, tp, fp, tn, fn)
		}
		if c.Sensitivity.Value != float64(tp)/float64(P) || c.Specificity.Value != float64(tn)/float64(N) || c.Accuracy.Value != float64(tp+tn)/float64(P+N) {
			t.Errorf("threshold %g: rates %+v", c.Threshold, c)
		}
	}
	if released < 4 || released == len(pooled.Thresholds) {
		// The owners of 400 and 900 rows withhold the thresholds in the
		// tails (0.05, 0.1, 0.9, 0.97), for the withheld branch to be
		// tested; the rest must come through.
		t.Fatalf("%d of %d thresholds released", released, len(pooled.Thresholds))
	}

	// Calibration: over the bins every owner kept, counts exactly and the
	// score sum within 1e-12.
	for _, b := range pooled.Calibration {
		var n, pos int
		var sum float64
		for j, s := range scores {
			if s >= b.Lo && (s < b.Hi || b.Hi == 1) {
				n++
				sum += s
				if labels[j] {
					pos++
				}
			}
		}
		if b.N != n || b.Positives != pos || !relClose(b.ScoreSum, sum, 1e-12) || !relClose(b.MeanPredicted, sum/float64(n), 1e-12) {
			t.Errorf("calibration bin [%g, %g): pooled %+v, central n %d positives %d sum %v", b.Lo, b.Hi, b, n, pos, sum)
		}
	}
	if len(pooled.Calibration) < 5 {
		t.Errorf("only %d calibration bins survive pooling", len(pooled.Calibration))
	}

	// AUC: exactly the AUC of the pooled rows with each row's score
	// replaced by the cell its owner released it in, a pair counting one
	// half when the two cells overlap ...
	type span struct{ lo, hi float64 }
	type classes struct{ pos, neg int64 }
	byCell := map[span]classes{}
	for i, o := range owners {
		for j, s := range o.scores {
			cells := evs[i].Parts.Cells
			k := slices.IndexFunc(cells, func(c ScoreCell) bool { return s >= c.Lo && (s < c.Hi || c.Hi == 1) })
			if k < 0 {
				t.Fatalf("owner %d: score %v is in no cell", i+1, s)
			}
			c := byCell[span{cells[k].Lo, cells[k].Hi}]
			if o.labels[j] {
				c.pos++
			} else {
				c.neg++
			}
			byCell[span{cells[k].Lo, cells[k].Hi}] = c
		}
	}
	psi := func(a, b span) float64 { // a positive in a against a negative in b
		switch {
		case a.lo >= b.hi:
			return 1
		case a.hi <= b.lo:
			return 0
		}
		return 0.5
	}
	var num2 uint64
	v10, v01 := map[span]float64{}, map[span]float64{}
	for a, ca := range byCell {
		for b, cb := range byCell {
			num2 += uint64(2*psi(a, b)) * uint64(ca.pos) * uint64(cb.neg)
			v10[a] += psi(a, b) * float64(cb.neg) / float64(N)
			v01[b] += psi(a, b) * float64(ca.pos) / float64(P)
		}
	}
	auc := float64(num2) / float64(2*uint64(P)*uint64(N))
	if pooled.AUC.Estimate != auc {
		t.Errorf("pooled AUC %v, central AUC over the same cells %v", pooled.AUC.Estimate, auc)
	}
	// ... with DeLong's variance over the same placements.
	var s10, s01 float64
	for a, c := range byCell {
		s10 += float64(c.pos) * (v10[a] - auc) * (v10[a] - auc)
		s01 += float64(c.neg) * (v01[a] - auc) * (v01[a] - auc)
	}
	se := math.Sqrt(s10/float64(P-1)/float64(P) + s01/float64(N-1)/float64(N))
	if !relClose(pooled.AUC.SE, se, 1e-12) {
		t.Errorf("pooled AUC SE %v, central over the same cells %v", pooled.AUC.SE, se)
	}
	// ... and within the stated bound of the AUC of the pooled rows' own
	// scores, which a central evaluation gives exactly.
	num2, den2 := midrankAUC(scores, labels)
	raw := float64(num2) / float64(den2)
	central, err := Evaluate(scores, labels, poolRequest, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	if central.AUC.Estimate != raw {
		t.Errorf("central AUC %v, mid-ranks %v", central.AUC.Estimate, raw)
	}
	if d := math.Abs(pooled.AUC.Estimate - raw); d > pooled.AUCBound || pooled.AUCBound > 0.01 {
		t.Errorf("pooled AUC %v is %v from the rows' %v; bound %v", pooled.AUC.Estimate, d, raw, pooled.AUCBound)
	}
	t.Logf("AUC rows %.6f, over %d owners' cells %.6f, difference %.2e, bound %.2e; %d of %d thresholds, %d calibration bins",
		raw, len(byCell), pooled.AUC.Estimate, pooled.AUC.Estimate-raw, pooled.AUCBound, released, len(pooled.Thresholds), len(pooled.Calibration))
}

// The bound is attained: with every positive above every negative within
// one cell the cells give one half where the rows give one.
func TestAUCBoundIsTight(t *testing.T) {
	var pos, neg []float64
	for i := range 5 {
		neg = append(neg, 0.5001+0.0001*float64(i))
		pos = append(pos, 0.5006+0.0001*float64(i))
	}
	s, l := scoresOf(pos, neg)
	ev, err := Evaluate(s, l, Request{}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Pool([]Evaluation{ev})
	if err != nil {
		t.Fatal(err)
	}
	if ev.AUC.Estimate != 1 || p.AUC.Estimate != 0.5 || p.AUCBound != 0.5 {
		t.Fatalf("owner AUC %v, pooled %v, bound %v", ev.AUC.Estimate, p.AUC.Estimate, p.AUCBound)
	}
}

func TestPoolOfOne(t *testing.T) {
	o := fiveOwners()[1]
	ev, err := Evaluate(o.scores, o.labels, poolRequest, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Pool([]Evaluation{ev})
	if err != nil {
		t.Fatal(err)
	}
	if p.Brier != ev.Brier || !slices.Equal(p.Calibration, ev.Calibration) {
		t.Fatalf("pooling one evaluation changed it:\n%+v\n%+v", p, ev)
	}
	for i, c := range p.Thresholds {
		want := ev.Thresholds[i]
		if want.TP.Suppressed != "" {
			// Withheld by the owner, withheld "in part" when pooled.
			want = withheld(want.Threshold, stats.SuppressedInPart)
		}
		if c != want {
			t.Fatalf("threshold %g: pooled %+v, owner %+v", c.Threshold, c, ev.Thresholds[i])
		}
	}
	if math.Abs(p.AUC.Estimate-ev.AUC.Estimate) > p.AUCBound {
		t.Fatalf("AUC %v vs %v, bound %v", p.AUC.Estimate, ev.AUC.Estimate, p.AUCBound)
	}
}

func TestPoolRejects(t *testing.T) {
	owners := fiveOwners()
	a, _ := Evaluate(owners[0].scores, owners[0].labels, poolRequest, stats.DefaultRules)
	b, _ := Evaluate(owners[1].scores, owners[1].labels, poolRequest, stats.DefaultRules)
	other, _ := Evaluate(owners[1].scores, owners[1].labels, Request{Thresholds: []float64{0.5}}, stats.DefaultRules)
	bins, _ := Evaluate(owners[1].scores, owners[1].labels, Request{Thresholds: poolRequest.Thresholds, CalibrationBins: 5}, stats.DefaultRules)
	edit := func(f func(ev *Evaluation)) Evaluation {
		ev := b
		ev.Parts.Cells = slices.Clone(b.Parts.Cells)
		ev.Thresholds = slices.Clone(b.Thresholds)
		ev.Calibration = slices.Clone(b.Calibration)
		f(&ev)
		return ev
	}
	for name, parts := range map[string][]Evaluation{
		"none":                  nil,
		"other thresholds":      {a, other},
		"other bins":            {a, bins},
		"cell counts":           {a, edit(func(ev *Evaluation) { ev.Parts.Cells[0].Positives++ })},
		"cell off the grid":     {a, edit(func(ev *Evaluation) { ev.Parts.Cells[0].Hi += 1e-4 })},
		"cells overlap":         {a, edit(func(ev *Evaluation) { ev.Parts.Cells[1].Lo = ev.Parts.Cells[0].Lo })},
		"empty cell":            {a, edit(func(ev *Evaluation) { ev.Parts.Cells[0].Positives, ev.Parts.Cells[0].Negatives = 0, 0 })},
		"bin gap":               {a, edit(func(ev *Evaluation) { ev.Calibration[1].Lo += 0.001 })},
		"bin sum":               {a, edit(func(ev *Evaluation) { ev.Calibration[0].ScoreSum = math.NaN() })},
		"half withheld":         {a, edit(func(ev *Evaluation) { ev.Thresholds[0].FP = stats.Cell{Suppressed: stats.SuppressedSmall} })},
		"confusion sums":        {a, edit(func(ev *Evaluation) { ev.Thresholds[2].TP.Count++ })},
		"squared errors":        {a, edit(func(ev *Evaluation) { ev.Parts.SquaredErrorSum = -1 })},
		"no negatives":          {a, edit(func(ev *Evaluation) { ev.Negatives, ev.N = 0, ev.Positives })},
		"other confidence":      {a, edit(func(ev *Evaluation) { ev.AUC.Level = 0.9 })},
		"other grid":            {a, edit(func(ev *Evaluation) { ev.Parts.Grid = 100 })},
		"threshold off request": {a, edit(func(ev *Evaluation) { ev.Thresholds[0].Threshold = 0.06 })},
	} {
		_, err := Pool(parts)
		var ie *stats.InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
}
