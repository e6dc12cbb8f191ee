package evaluation

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// placed is a group of rows that share what is known of their scores —
// one distinct score (an owner's exact AUC), or one owner's cell (a pooled
// AUC) — and, for its positives, how many negatives surely score lower and
// how many cannot be ordered with them (the group's own, and for a cell
// any other owner's cell it overlaps); likewise, for its negatives, the
// positives surely above and those not ordered.
type placed struct {
	pos, neg          int64
	negBelow, negTied int64
	posAbove, posTied int64
}

// Interval is an estimate with its standard error and its confidence
// interval at Level, clamped to [0, 1].
type Interval struct {
	Estimate float64 `json:"estimate"`
	SE       float64 `json:"se"`
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
	Level    float64 `json:"level"`
}

// aucOf is the Mann–Whitney AUC — the share of positive–negative pairs in
// which the positive scores higher, a pair that cannot be ordered counting
// one half — with DeLong's variance (DeLong, DeLong and Clarke-Pearson
// 1988, from the structural components, or placement values): var =
// S10/P + S01/N, where S10 is the sample variance over the positives of
// the share of negatives each one outranks, and S01 over the negatives of
// the share of positives outranking each. A class of one row has no sample
// variance; its term is then 0.
//
// The AUC is counted in integers first (num2 = 2·ordered + unordered
// pairs), so that two computations over the same groups give the same
// float64 bit for bit, whatever the order they were added up in.
func aucOf(groups []placed, level float64) Interval {
	var P, N int64
	var num2 uint64
	for _, g := range groups {
		P += g.pos
		N += g.neg
		num2 += uint64(g.pos) * uint64(2*g.negBelow+g.negTied)
	}
	auc := float64(num2) / float64(2*uint64(P)*uint64(N))
	var s10, s01 float64
	fP, fN := float64(P), float64(N)
	for _, g := range groups {
		if g.pos > 0 {
			d := (float64(g.negBelow)+float64(g.negTied)/2)/fN - auc
			s10 += float64(g.pos) * d * d
		}
		if g.neg > 0 {
			d := (float64(g.posAbove)+float64(g.posTied)/2)/fP - auc
			s01 += float64(g.neg) * d * d
		}
	}
	var variance float64
	if P > 1 {
		variance += s10 / (fP - 1) / fP
	}
	if N > 1 {
		variance += s01 / (fN - 1) / fN
	}
	se := math.Sqrt(variance)
	z := distuv.UnitNormal.Quantile(0.5 + level/2)
	return Interval{Estimate: auc, SE: se, Level: level,
		Lower: clamp01(auc - z*se), Upper: clamp01(auc + z*se)}
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }

// unorderedShare is half the share of positive–negative pairs that cannot
// be ordered: the most an AUC over groups can differ from the AUC over the
// rows' own scores, since only those pairs can count otherwise than one
// half, by one half each at most.
func unorderedShare(groups []placed) float64 {
	var P, N, tied float64
	for _, g := range groups {
		P += float64(g.pos)
		N += float64(g.neg)
		tied += float64(g.pos) * float64(g.negTied)
	}
	return tied / 2 / (P * N)
}

// pointGroups places groups of rows with one distinct score each, in
// ascending order of score.
func pointGroups(groups []placed) []placed {
	var P int64
	for _, g := range groups {
		P += g.pos
	}
	var negBelow, posBelow int64
	for i := range groups {
		g := &groups[i]
		g.negBelow, g.negTied = negBelow, g.neg
		g.posAbove, g.posTied = P-posBelow-g.pos, g.pos
		negBelow += g.neg
		posBelow += g.pos
	}
	return groups
}

// intervalGroups places the owners' cells: a positive in cell A outranks
// surely the negatives of every cell that ends at or below A's start, and
// is outranked surely by those of every cell that starts at or above A's
// end; the rest overlap A. Cells are on the grid, so the counts come from
// sums by grid index.
func intervalGroups(cells []ScoreCell) []placed {
	// posEnd[g], negEnd[g]: rows in cells ending at g; posStart, negStart:
	// in cells starting at g.
	var posEnd, negEnd, posStart, negStart [Grid + 1]int64
	var P, N int64
	for _, c := range cells {
		lo, _ := gridIndex(c.Lo)
		hi, _ := gridIndex(c.Hi)
		posEnd[hi] += int64(c.Positives)
		negEnd[hi] += int64(c.Negatives)
		posStart[lo] += int64(c.Positives)
		negStart[lo] += int64(c.Negatives)
		P += int64(c.Positives)
		N += int64(c.Negatives)
	}
	// Turn them into: ending at or below g, starting at or above g.
	for g := 1; g <= Grid; g++ {
		posEnd[g] += posEnd[g-1]
		negEnd[g] += negEnd[g-1]
	}
	for g := Grid - 1; g >= 0; g-- {
		posStart[g] += posStart[g+1]
		negStart[g] += negStart[g+1]
	}
	groups := make([]placed, len(cells))
	for i, c := range cells {
		lo, _ := gridIndex(c.Lo)
		hi, _ := gridIndex(c.Hi)
		groups[i] = placed{pos: int64(c.Positives), neg: int64(c.Negatives),
			negBelow: negEnd[lo], negTied: N - negEnd[lo] - negStart[hi],
			posAbove: posStart[hi], posTied: P - posStart[hi] - posEnd[lo]}
	}
	return groups
}
