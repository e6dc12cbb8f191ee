package evaluation

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// tally is a group of rows that share one position on the score axis: a
// distinct score (an owner's exact AUC) or a cell of the coarsened grid (a
// pooled AUC). Within a group no order is known, and a positive–negative
// pair in it counts one half.
type tally struct {
	pos, neg int64
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

// aucOf is the Mann–Whitney AUC over groups in ascending score order —
// the share of positive–negative pairs in which the positive scores
// higher, pairs within one group counting one half — with DeLong's
// variance (DeLong, DeLong and Clarke-Pearson 1988, from the structural
// components, or placement values): var = S10/P + S01/N, where S10 is the sample variance
// over the positives of the share of negatives each one outranks, and S01
// over the negatives of the share of positives outranking each. A class of
// one row has no sample variance; its term is then 0.
//
// The AUC is twice-counted in integers first (num2 = 2·concordant + tied
// pairs), so that two computations over the same groups give the same
// float64 bit for bit, whatever the order they were added up in.
func aucOf(groups []tally, level float64) Interval {
	var P, N int64
	for _, g := range groups {
		P += g.pos
		N += g.neg
	}
	var num2, negBelow uint64
	for _, g := range groups {
		num2 += uint64(g.pos) * (2*negBelow + uint64(g.neg))
		negBelow += uint64(g.neg)
	}
	auc := float64(num2) / float64(2*uint64(P)*uint64(N))
	var s10, s01 float64
	fP, fN := float64(P), float64(N)
	below, above := 0.0, fP
	for _, g := range groups {
		above -= float64(g.pos)
		if g.pos > 0 {
			d := (below+float64(g.neg)/2)/fN - auc
			s10 += float64(g.pos) * d * d
		}
		if g.neg > 0 {
			d := (above+float64(g.pos)/2)/fP - auc
			s01 += float64(g.neg) * d * d
		}
		below += float64(g.neg)
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

// coarseningBound is the most the AUC over groups can differ from the AUC
// over the rows' own scores: only pairs within one group can be ordered
// otherwise than one half, by one half each at most.
func coarseningBound(groups []tally) float64 {
	var P, N, tied float64
	for _, g := range groups {
		P += float64(g.pos)
		N += float64(g.neg)
		tied += float64(g.pos) * float64(g.neg)
	}
	return tied / 2 / (P * N)
}
