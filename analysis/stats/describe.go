package stats

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat"
)

// QuantileProbs are the probabilities Summarise releases quantiles at. The
// minimum and maximum are never released.
var QuantileProbs = []float64{0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95}

// moments are exact, combinable first and second moments: the count, the
// mean and M2, the sum of squared deviations from the mean.
type moments struct {
	n    int
	mean float64
	m2   float64
}

// add combines two sets of moments exactly (Chan, Golub and LeVeque's
// parallel update), without the cancellation of raw sums of squares.
func (a moments) add(b moments) moments {
	switch {
	case a.n == 0:
		return b
	case b.n == 0:
		return a
	}
	n := a.n + b.n
	delta := b.mean - a.mean
	return moments{
		n:    n,
		mean: a.mean + delta*float64(b.n)/float64(n),
		m2:   a.m2 + b.m2 + delta*delta*float64(a.n)*float64(b.n)/float64(n),
	}
}

// sd is the sample standard deviation, 0 below two values (a released
// figure must be a number JSON can carry).
func (a moments) sd() float64 {
	if a.n < 2 {
		return 0
	}
	return math.Sqrt(a.m2 / float64(a.n-1))
}

func momentsOf(values []float64) moments {
	if len(values) == 0 {
		return moments{}
	}
	mean, variance := stat.MeanVariance(values, nil)
	m := moments{n: len(values), mean: mean}
	if len(values) > 1 {
		m.m2 = variance * float64(len(values)-1)
	}
	return m
}

// Quantile is a released quantile.
type Quantile struct {
	Prob  float64 `json:"prob"`
	Value float64 `json:"value"`
}

// Summary describes a numeric variable. M2 (the sum of squared deviations
// from the mean, (N−1)·SD²) is carried so that summaries combine exactly.
type Summary struct {
	N         int        `json:"n"`
	Mean      float64    `json:"mean"`
	SD        float64    `json:"sd"`
	M2        float64    `json:"m2"`
	Quantiles []Quantile `json:"quantiles"`
	// QuantilesApproximate is set on a combination of several owners'
	// summaries: its quantiles are the count-weighted means of theirs, not
	// the quantiles of the pooled rows.
	QuantilesApproximate bool `json:"quantiles_approximate"`
}

// Summarise describes values (missing values already removed): N, mean,
// SD and the quantiles at QuantileProbs, each the mean of the MinCellCount
// order statistics nearest its position (R's type 7 position (n−1)·p; when
// that position falls between two such windows, their interpolation), so
// that no released quantile is one person's value: each weighs at least
// MinCellCount people, none by more than 1/MinCellCount. Fewer than
// MinSubsetRows values, or than MinCellCount, are refused.
func Summarise(values []float64, rules Rules) (Summary, error) {
	if err := rules.Validate(); err != nil {
		return Summary{}, err
	}
	if err := checkFinite("values", values); err != nil {
		return Summary{}, err
	}
	n, k := len(values), rules.MinCellCount
	if n < rules.MinSubsetRows {
		return Summary{}, tooFewRows(n, rules)
	}
	if n < k {
		return Summary{}, &DisclosureError{Rule: RuleMinCellCount,
			Detail: fmt.Sprintf("fewer than %d values: quantiles that each average %d of them cannot be given", k, k)}
	}
	m := momentsOf(values)
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	s := Summary{N: n, Mean: m.mean, SD: m.sd(), M2: m.m2, Quantiles: make([]Quantile, len(QuantileProbs))}
	window := func(start int) float64 {
		var sum float64
		for _, v := range sorted[start : start+k] {
			sum += v
		}
		return sum / float64(k)
	}
	for i, p := range QuantileProbs {
		// The window of k order statistics centred on the position slides
		// between whole starts as R's type 7 slides between two values:
		// with k = 1 this is R's quantile exactly.
		at := float64(n-1)*p - float64(k-1)/2
		lo := int(math.Floor(at))
		frac := at - float64(lo)
		switch {
		case lo < 0:
			lo, frac = 0, 0
		case lo >= n-k:
			lo, frac = n-k, 0
		}
		v := window(lo)
		if frac > 0 {
			v = (1-frac)*v + frac*window(lo+1)
		}
		s.Quantiles[i] = Quantile{Prob: p, Value: v}
	}
	return s, nil
}

func checkFinite(field string, values []float64) error {
	for i, v := range values {
		if !finite(v) {
			return &InputError{Field: field, Detail: fmt.Sprintf("row %d: not a finite number", i+1)}
		}
	}
	return nil
}

// CombineSummaries pools the owners' summaries: N, mean and SD exactly; the
// quantiles as count-weighted means of the owners' (QuantilesApproximate
// when there are several).
func CombineSummaries(parts []Summary) (Summary, error) {
	if len(parts) == 0 {
		return Summary{}, &InputError{Field: "summaries", Detail: "no summaries to combine"}
	}
	var m moments
	out := Summary{Quantiles: make([]Quantile, len(parts[0].Quantiles)), QuantilesApproximate: len(parts) > 1}
	for i, s := range parts {
		if s.N < 1 || !finite(s.Mean) || !(s.M2 >= 0) || len(s.Quantiles) != len(out.Quantiles) {
			return Summary{}, &InputError{Field: "summaries", Detail: fmt.Sprintf("summary %d is malformed", i+1)}
		}
		m = m.add(moments{n: s.N, mean: s.Mean, m2: s.M2})
		for j, q := range s.Quantiles {
			if q.Prob != parts[0].Quantiles[j].Prob {
				return Summary{}, &InputError{Field: "summaries", Detail: fmt.Sprintf("summary %d has quantiles at other probabilities than summary 1", i+1)}
			}
			out.Quantiles[j].Prob = q.Prob
			out.Quantiles[j].Value += float64(s.N) * q.Value
		}
	}
	for j := range out.Quantiles {
		out.Quantiles[j].Value /= float64(m.n)
	}
	out.N, out.Mean, out.SD, out.M2 = m.n, m.mean, m.sd(), m.m2
	return out, nil
}

// MaxHistogramBins is the most bins a histogram may have.
const MaxHistogramBins = 200

// Hist is a histogram as an owner releases it: the count of each bin
// [Breaks[i], Breaks[i+1]), of the values below the first break and of those
// at or above the last.
type Hist struct {
	Breaks []float64 `json:"breaks"`
	Bins   []Cell    `json:"bins"`
	Below  Cell      `json:"below"`
	Above  Cell      `json:"above"`
}

// Histogram counts values into the bins breaks delimit. Small counts are
// suppressed as suppress describes, with the bins, Below and Above as one
// line (their total is the number of values). Fewer than MinSubsetRows
// values are refused.
func Histogram(values []float64, breaks []float64, rules Rules) (Hist, error) {
	if err := rules.Validate(); err != nil {
		return Hist{}, err
	}
	if err := checkBreaks(breaks); err != nil {
		return Hist{}, err
	}
	if err := checkFinite("values", values); err != nil {
		return Hist{}, err
	}
	if len(values) < rules.MinSubsetRows {
		return Hist{}, tooFewRows(len(values), rules)
	}
	bins := len(breaks) - 1
	// counts: the bins, then below, then above.
	counts := make([]int, bins+2)
	for _, v := range values {
		switch i := sort.Search(len(breaks), func(i int) bool { return breaks[i] > v }); i {
		case 0:
			counts[bins]++
		case len(breaks):
			counts[bins+1]++
		default:
			counts[i-1]++
		}
	}
	why := suppress(counts, [][]int{seq(0, len(counts), 1)}, rules)
	h := Hist{Breaks: slices.Clone(breaks), Bins: make([]Cell, bins),
		Below: releasedCell(counts[bins], why[bins]), Above: releasedCell(counts[bins+1], why[bins+1])}
	for i := range h.Bins {
		h.Bins[i] = releasedCell(counts[i], why[i])
	}
	return h, nil
}

func checkBreaks(breaks []float64) error {
	if len(breaks) < 2 || len(breaks)-1 > MaxHistogramBins {
		return &InputError{Field: "breaks", Detail: fmt.Sprintf("%d breaks make %d bins; 1 to %d are allowed", len(breaks), len(breaks)-1, MaxHistogramBins)}
	}
	for i, b := range breaks {
		if !finite(b) {
			return &InputError{Field: "breaks", Detail: fmt.Sprintf("break %d is not a finite number", i+1)}
		}
		if i > 0 && !(b > breaks[i-1]) {
			return &InputError{Field: "breaks", Detail: fmt.Sprintf("break %d (%g) does not exceed the one before (%g)", i+1, b, breaks[i-1])}
		}
	}
	return nil
}

// CombineHists adds the owners' histograms bin by bin; they must share their
// breaks. A combined bin is withheld if any owner withheld its share.
func CombineHists(parts []Hist) (Hist, error) {
	if len(parts) == 0 {
		return Hist{}, &InputError{Field: "histograms", Detail: "no histograms to combine"}
	}
	first := parts[0]
	out := Hist{Breaks: slices.Clone(first.Breaks), Bins: make([]Cell, len(first.Bins))}
	for i, h := range parts {
		if !slices.Equal(h.Breaks, first.Breaks) || len(h.Bins) != len(h.Breaks)-1 {
			return Hist{}, &InputError{Field: "histograms", Detail: fmt.Sprintf("histogram %d has other breaks than histogram 1", i+1)}
		}
		for j, c := range h.Bins {
			out.Bins[j] = addCell(out.Bins[j], c)
		}
		out.Below = addCell(out.Below, h.Below)
		out.Above = addCell(out.Above, h.Above)
	}
	return out, nil
}
