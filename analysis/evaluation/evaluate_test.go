package evaluation

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/xborder/xborder/analysis/stats"
	"gonum.org/v1/gonum/stat/distuv"
)

func scoresOf(pos, neg []float64) ([]float64, []bool) {
	var s []float64
	var l []bool
	for _, v := range pos {
		s, l = append(s, v), append(l, true)
	}
	for _, v := range neg {
		s, l = append(s, v), append(l, false)
	}
	return s, l
}

func TestAUCKnownCases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pos, neg []float64
		want     float64
	}{
		{"perfect", []float64{0.9, 0.8, 0.7}, []float64{0.3, 0.2, 0.1, 0.05}, 1},
		{"inverted", []float64{0.3, 0.2, 0.1}, []float64{0.9, 0.8, 0.7, 0.6}, 0},
		{"no information", []float64{0.2, 0.4, 0.6, 0.8}, []float64{0.8, 0.6, 0.4, 0.2}, 0.5},
		{"all tied", []float64{0.5, 0.5}, []float64{0.5, 0.5, 0.5}, 0.5},
		// Pairs: 0.6 beats 0.4 and ties 0.6 (1.5); 0.4 ties 0.4 (0.5): 2 of 4.
		{"ties count half", []float64{0.6, 0.4}, []float64{0.4, 0.6}, 0.5},
		// 0.7 beats both (2); 0.5 beats 0.3 and ties 0.5 (1.5): 3.5 of 4.
		{"one tie", []float64{0.7, 0.5}, []float64{0.5, 0.3}, 0.875},
	} {
		s, l := scoresOf(tc.pos, tc.neg)
		ev, err := Evaluate(s, l, Request{}, openRules)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ev.AUC.Estimate != tc.want {
			t.Errorf("%s: AUC %v, want %v", tc.name, ev.AUC.Estimate, tc.want)
		}
		if !(ev.AUC.Lower <= ev.AUC.Estimate && ev.AUC.Estimate <= ev.AUC.Upper && ev.AUC.Lower >= 0 && ev.AUC.Upper <= 1) {
			t.Errorf("%s: interval %+v", tc.name, ev.AUC)
		}
	}
}

// TestDeLongByHand works DeLong's variance out for three positives
// (0.8, 0.6, 0.4) and four negatives (0.7, 0.5, 0.3, 0.2).
//
// Each positive's share of negatives below it: 1, 3/4, 1/2 — mean 3/4
// (the AUC), S10 = (1/16 + 0 + 1/16)/2 = 1/16.
// Each negative's share of positives above it: 1/3, 2/3, 1, 1 — mean 3/4,
// S01 = (25/144 + 1/144 + 9/144 + 9/144)/3 = 11/108.
// var = S10/3 + S01/4 = 9/432 + 11/432 = 5/108.
func TestDeLongByHand(t *testing.T) {
	s, l := scoresOf([]float64{0.8, 0.6, 0.4}, []float64{0.7, 0.5, 0.3, 0.2})
	ev, err := Evaluate(s, l, Request{}, openRules)
	if err != nil {
		t.Fatal(err)
	}
	se := math.Sqrt(5.0 / 108)
	z := 1.959963984540054
	if ev.AUC.Estimate != 0.75 || math.Abs(ev.AUC.SE-se) > 1e-15 {
		t.Fatalf("AUC %+v, want 0.75 with SE %v", ev.AUC, se)
	}
	if math.Abs(ev.AUC.Lower-(0.75-z*se)) > 1e-12 || ev.AUC.Upper != 1 {
		t.Fatalf("interval [%v, %v], want [%v, 1] (the upper end clamped from %v)", ev.AUC.Lower, ev.AUC.Upper, 0.75-z*se, 0.75+z*se)
	}
	ev, _ = Evaluate(s, l, Request{Level: 0.5}, openRules)
	if want := 0.75 - 0.6744897501960817*se; math.Abs(ev.AUC.Lower-want) > 1e-12 {
		t.Fatalf("50%% interval lower end %v, want %v", ev.AUC.Lower, want)
	}
}

// TestDeLongAgainstPairs computes the structural components pair by pair
// (O(P·N)), ties one half, and compares the variance.
func TestDeLongAgainstPairs(t *testing.T) {
	scores, labels := logistic(11, 400, -0.5, 2)
	var pos, neg []float64
	for i, s := range scores {
		if labels[i] {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	psi := func(x, y float64) float64 {
		switch {
		case x > y:
			return 1
		case x == y:
			return 0.5
		}
		return 0
	}
	v10, v01 := make([]float64, len(pos)), make([]float64, len(neg))
	var auc float64
	for i, x := range pos {
		for j, y := range neg {
			p := psi(x, y)
			v10[i] += p / float64(len(neg))
			v01[j] += p / float64(len(pos))
			auc += p
		}
	}
	auc /= float64(len(pos) * len(neg))
	variance := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += (x - auc) * (x - auc)
		}
		return s / float64(len(v)-1)
	}
	se := math.Sqrt(variance(v10)/float64(len(pos)) + variance(v01)/float64(len(neg)))
	ev, err := Evaluate(scores, labels, Request{}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ev.AUC.Estimate-auc) > 1e-12 || math.Abs(ev.AUC.SE-se) > 1e-12 {
		t.Fatalf("AUC %v SE %v, pairwise %v and %v", ev.AUC.Estimate, ev.AUC.SE, auc, se)
	}
	z := distuv.UnitNormal.Quantile(0.975)
	if math.Abs(ev.AUC.Lower-(auc-z*se)) > 1e-12 || math.Abs(ev.AUC.Upper-(auc+z*se)) > 1e-12 {
		t.Fatalf("interval %+v", ev.AUC)
	}
}

func TestCellOfAgreesWithComparisons(t *testing.T) {
	check := func(s float64) {
		g := cellOf(s)
		if g < 0 || g >= Grid || edge(g) > s || (g+1 < Grid && s >= edge(g+1)) {
			t.Fatalf("cellOf(%v) = %d: [%v, %v)", s, g, edge(g), edge(g+1))
		}
	}
	for g := 0; g <= Grid; g++ {
		e := edge(g)
		// float64(g)*0.001: the product rounds otherwise than the quotient.
		for _, s := range []float64{e, math.Nextafter(e, -1), math.Nextafter(e, 2), float64(g) * 0.001} {
			if s >= 0 && s <= 1 {
				check(s)
			}
		}
	}
	check(math.SmallestNonzeroFloat64)
	check(0.1 + 0.2)
}

func TestThresholdsAndCalibration(t *testing.T) {
	// 40 negatives spread over [0, 0.4), 40 positives over [0.5, 0.9), and
	// 2 positives at 0.95: the scores at or above 0.9 are 2 people.
	var pos, neg []float64
	for i := range 40 {
		neg = append(neg, 0.01*float64(i))
		pos = append(pos, 0.5+0.01*float64(i))
	}
	pos = append(pos, 0.95, 0.95)
	s, l := scoresOf(pos, neg)
	ev, err := Evaluate(s, l, Request{Thresholds: []float64{0, 0.45, 0.5, 0.9}}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	checkRelease(t, ev, 5)
	want := []struct{ tp, fp, tn, fn int }{{42, 40, 0, 0}, {42, 0, 40, 0}, {42, 0, 40, 0}}
	for i, w := range want {
		c := ev.Thresholds[i]
		if c.TP.Count != w.tp || c.FP.Count != w.fp || c.TN.Count != w.tn || c.FN.Count != w.fn || c.TP.Suppressed != "" {
			t.Errorf("threshold %g: %+v, want %+v", c.Threshold, c, w)
		}
	}
	if c := ev.Thresholds[1]; c.Accuracy.Value != 1 || c.Sensitivity.Value != 1 || c.Specificity.Value != 1 {
		t.Errorf("threshold 0.45 separates perfectly: %+v", c)
	}
	if c := ev.Thresholds[0]; c.Sensitivity.Value != 1 || c.Specificity.Value != 0 || c.Accuracy.Value != 42.0/82 {
		t.Errorf("threshold 0 calls everyone positive: %+v", c)
	}
	// At 0.9 the counts would be 2 true positives: withheld, rates too.
	if c := ev.Thresholds[3]; c.TP.Suppressed != SuppressedThresholdInCell || c.FN.Suppressed != SuppressedThresholdInCell ||
		c.Sensitivity.Suppressed != SuppressedThresholdInCell || c.TP.Count != 0 || c.Sensitivity.Value != 0 {
		t.Errorf("threshold 0.9 released: %+v", c)
	}
	// Calibration: [0.4, 0.5) is empty and merges into the bin on its
	// right; [0.9, 1] holds the two and, the last, merges into the bin on
	// its left.
	var edges []float64
	for _, b := range ev.Calibration {
		edges = append(edges, b.Lo)
	}
	if wantEdges := []float64{0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8}; !equalFloats(edges, wantEdges) {
		t.Errorf("calibration bins start at %v, want %v", edges, wantEdges)
	}
	last := ev.Calibration[len(ev.Calibration)-1]
	if last.N != 12 || last.Positives != 12 || last.Hi != 1 || math.Abs(last.MeanPredicted-(8.45+1.9)/12) > 1e-12 {
		t.Errorf("last bin %+v", last)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

// A threshold that would single out a few rows between it and a
// calibration edge is withheld, though the calibration bin is released.
func TestThresholdNearCalibrationEdge(t *testing.T) {
	var pos, neg []float64
	for i := range 100 {
		neg = append(neg, 0.001*float64(i)) // [0, 0.1)
		pos = append(pos, 0.2+0.001*float64(i))
	}
	neg = append(neg, 0.195, 0.196, 0.197) // three negatives just below 0.2
	s, l := scoresOf(pos, neg)
	ev, err := Evaluate(s, l, Request{Thresholds: []float64{0.19, 0.2}, CalibrationBins: 5}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	checkRelease(t, ev, 5)
	if ev.Thresholds[0].TP.Suppressed == "" {
		t.Errorf("threshold 0.19 released: with 0.2 it would count the three negatives between: %+v", ev.Thresholds[0])
	}
	if c := ev.Thresholds[1]; c.TP.Suppressed != "" || c.TN.Count != 103 {
		t.Errorf("threshold 0.2 on a calibration edge: %+v", c)
	}
}

func TestInputErrors(t *testing.T) {
	s, l := logistic(3, 200, 0, 0)
	for _, tc := range []struct {
		name   string
		scores []float64
		labels []bool
		req    Request
		rules  stats.Rules
		field  string
	}{
		{"length mismatch", s, l[:199], Request{}, stats.DefaultRules, "labels"},
		{"NaN score", append([]float64{math.NaN()}, s[1:]...), l, Request{}, stats.DefaultRules, "scores"},
		{"score above 1", append([]float64{1.5}, s[1:]...), l, Request{}, stats.DefaultRules, "scores"},
		{"negative score", append([]float64{-0.1}, s[1:]...), l, Request{}, stats.DefaultRules, "scores"},
		{"infinite score", append([]float64{math.Inf(1)}, s[1:]...), l, Request{}, stats.DefaultRules, "scores"},
		{"threshold above 1", s, l, Request{Thresholds: []float64{0.5, 1.2}}, stats.DefaultRules, "thresholds"},
		{"threshold 1", s, l, Request{Thresholds: []float64{1}}, stats.DefaultRules, "thresholds"},
		{"negative threshold", s, l, Request{Thresholds: []float64{-0.1}}, stats.DefaultRules, "thresholds"},
		{"NaN threshold", s, l, Request{Thresholds: []float64{math.NaN()}}, stats.DefaultRules, "thresholds"},
		{"threshold off the grid", s, l, Request{Thresholds: []float64{0.1234}}, stats.DefaultRules, "thresholds"},
		{"unsorted thresholds", s, l, Request{Thresholds: []float64{0.5, 0.3}}, stats.DefaultRules, "thresholds"},
		{"repeated threshold", s, l, Request{Thresholds: []float64{0.5, 0.5}}, stats.DefaultRules, "thresholds"},
		{"one bin", s, l, Request{CalibrationBins: 1}, stats.DefaultRules, "calibration_bins"},
		{"negative bins", s, l, Request{CalibrationBins: -3}, stats.DefaultRules, "calibration_bins"},
		{"51 bins", s, l, Request{CalibrationBins: 51}, stats.DefaultRules, "calibration_bins"},
		{"level 1", s, l, Request{Level: 1}, stats.DefaultRules, "level"},
		{"NaN level", s, l, Request{Level: math.NaN()}, stats.DefaultRules, "level"},
		{"bad rules", s, l, Request{}, stats.Rules{}, "rules"},
	} {
		_, err := Evaluate(tc.scores, tc.labels, tc.req, tc.rules)
		var ie *stats.InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s: %v, want an InputError on %q", tc.name, err, tc.field)
		}
	}
	for _, bins := range []int{2, 3, 7, 50} {
		ev, err := Evaluate(s, l, Request{CalibrationBins: bins}, stats.DefaultRules)
		if err != nil || ev.CalibrationBins != bins {
			t.Errorf("%d bins: %v", bins, err)
		}
	}
}

func TestCalibrationEdges(t *testing.T) {
	if got := calibrationEdges(10); got[3] != 300 || got[10] != Grid {
		t.Errorf("10 bins: %v", got)
	}
	if got := calibrationEdges(3); got[1] != 334 || got[2] != 667 || got[3] != Grid {
		t.Errorf("3 bins: %v", got)
	}
	// Bin b holds the cells g with ⌊g·bins/Grid⌋ = b.
	for _, bins := range []int{2, 3, 7, 10, 33, 50} {
		e := calibrationEdges(bins)
		for b := range bins {
			for g := e[b]; g < e[b+1]; g++ {
				if g*bins/Grid != b {
					t.Fatalf("%d bins: cell %d in bin %d", bins, g, b)
				}
			}
		}
	}
}

func TestJSONNames(t *testing.T) {
	s, l := logistic(5, 300, 0, 0)
	ev, err := Evaluate(s, l, Request{Thresholds: []float64{0.5}}, stats.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ev)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"n", "positives", "negatives", "auc", "brier", "calibration_bins", "thresholds", "calibration", "parts"} {
		if _, ok := m[key]; !ok {
			t.Errorf("no %q in %s", key, b)
		}
	}
	var back Evaluation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	p1, err1 := Pool([]Evaluation{ev})
	p2, err2 := Pool([]Evaluation{back})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	j1, _ := json.Marshal(p1)
	j2, _ := json.Marshal(p2)
	if string(j1) != string(j2) {
		t.Fatalf("pooling the decoded evaluation differs:\n%s\n%s", j1, j2)
	}
}
