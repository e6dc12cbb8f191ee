package evaluation

import (
	"fmt"
	"math"

	"github.com/xborder/xborder/analysis/stats"
)

// Grid is the number of equal cells [g/Grid, (g+1)/Grid) the score axis
// [0, 1] is cut into (the last cell closed at 1). Every count this package
// releases is a count of whole grid cells: thresholds and calibration edges
// lie on the grid, and the released score histogram (Parts.Cells) merges
// grid cells.
const Grid = 1000

// The limits and defaults of a Request.
const (
	DefaultCalibrationBins = 10
	MinCalibrationBins     = 2
	MaxCalibrationBins     = 50
	DefaultLevel           = 0.95
)

// Request is what the researcher asks of every owner; all owners of one
// evaluation must answer the same request for their releases to pool.
type Request struct {
	// Thresholds at which accuracy, sensitivity and specificity are
	// reported: a row is predicted positive when its score ≥ threshold.
	// Each must be a multiple of 1/Grid in [0, 1), strictly increasing.
	Thresholds []float64 `json:"thresholds"`
	// CalibrationBins is the number of equal-width calibration bins over
	// [0, 1]; 0 means DefaultCalibrationBins.
	CalibrationBins int `json:"calibration_bins"`
	// Level is the confidence level of the AUC's interval; 0 means
	// DefaultLevel.
	Level float64 `json:"level"`
}

// withDefaults fills the zero fields and checks the request.
func (r Request) withDefaults() (Request, error) {
	if r.CalibrationBins == 0 {
		r.CalibrationBins = DefaultCalibrationBins
	}
	if r.Level == 0 {
		r.Level = DefaultLevel
	}
	if r.CalibrationBins < MinCalibrationBins || r.CalibrationBins > MaxCalibrationBins {
		return r, &stats.InputError{Field: "calibration_bins",
			Detail: fmt.Sprintf("%d bins; %d to %d are allowed", r.CalibrationBins, MinCalibrationBins, MaxCalibrationBins)}
	}
	if !(r.Level > 0 && r.Level < 1) {
		return r, &stats.InputError{Field: "level", Detail: fmt.Sprintf("confidence level %g is not in (0, 1)", r.Level)}
	}
	for i, t := range r.Thresholds {
		if _, why := thresholdCell(t); why != "" {
			return r, &stats.InputError{Field: "thresholds", Detail: fmt.Sprintf("threshold %d: %s", i+1, why)}
		}
		if i > 0 && !(t > r.Thresholds[i-1]) {
			return r, &stats.InputError{Field: "thresholds",
				Detail: fmt.Sprintf("threshold %d (%g) does not exceed the one before (%g): thresholds must be strictly increasing", i+1, t, r.Thresholds[i-1])}
		}
	}
	return r, nil
}

// edge is the score at which grid cell g starts. Division by Grid is
// correctly rounded, so edge(350) is the float64 a researcher writes as
// 0.35, and a score compares with a threshold exactly as its cell does.
func edge(g int) float64 { return float64(g) / Grid }

// cellOf is the grid cell of a score in [0, 1]: the g with
// edge(g) ≤ s < edge(g+1), and Grid−1 for s = 1. The correction steps make
// it agree with comparisons against edge() where s·Grid rounds across an
// integer.
func cellOf(s float64) int {
	g := int(s * Grid)
	if g >= Grid {
		return Grid - 1
	}
	if edge(g) > s {
		g--
	} else if g+1 < Grid && edge(g+1) <= s {
		g++
	}
	return g
}

// thresholdCell is the grid index of a threshold, so that "score ≥ t" is
// exactly "cell ≥ g", or why the threshold is not one.
func thresholdCell(t float64) (g int, why string) {
	if !(t >= 0 && t < 1) {
		return 0, fmt.Sprintf("%g is not in [0, 1)", t)
	}
	g = int(math.Round(t * Grid))
	if edge(g) != t {
		return 0, fmt.Sprintf("%g is not a multiple of 1/%d", t, Grid)
	}
	return g, ""
}

// gridIndex recovers the grid index of a released edge (a score in
// [0, 1] that must lie on the grid), for the combiner.
func gridIndex(x float64) (int, bool) {
	if !(x >= 0 && x <= 1) {
		return 0, false
	}
	g := int(math.Round(x * Grid))
	return g, edge(g) == x
}

// calibrationEdges are the grid indices of the bins' edges, 0 and Grid
// included: bin b holds the cells g with ⌊g·bins/Grid⌋ = b, so its lower
// edge is ⌈b·Grid/bins⌉ — the equal-width edge b/bins, rounded up to the
// grid when bins does not divide Grid.
func calibrationEdges(bins int) []int {
	edges := make([]int, bins+1)
	for b := range edges {
		edges[b] = (b*Grid + bins - 1) / bins
	}
	return edges
}

// Validate checks a request as Evaluate would, so that a researcher's node
// can refuse a malformed one before asking any owner.
func (r Request) Validate() error {
	_, err := r.withDefaults()
	return err
}
