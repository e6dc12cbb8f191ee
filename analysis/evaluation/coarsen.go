package evaluation

// counts are cumulative class counts over the grid: pos[g] and neg[g] are
// the positives and negatives in cells below g, for g = 0 … Grid.
type counts struct {
	pos, neg []int
}

func (c counts) span(lo, hi int) (pos, neg int) {
	return c.pos[hi] - c.pos[lo], c.neg[hi] - c.neg[lo]
}

// A rule says whether the rows with scores in grid cells [lo, hi) may be
// described on their own.
type rule func(c counts, lo, hi, k int) bool

// classRule is the rule of every released span of scores: its positives
// and its negatives are each none or at least k. An empty span describes
// no one and obeys.
func classRule(c counts, lo, hi, k int) bool {
	p, n := c.span(lo, hi)
	return (p == 0 || p >= k) && (n == 0 || n >= k)
}

// binRule is a calibration bin's: classRule, and at least k rows, for a
// mean score and an observed rate over fewer describe those few (and over
// none, nothing).
func binRule(c counts, lo, hi, k int) bool {
	p, n := c.span(lo, hi)
	return p+n >= k && classRule(c, lo, hi, k)
}

// refine cuts each span between consecutive parent cuts at the candidate
// cuts inside it, left to right: a piece is closed at the first candidate
// where it obeys the rule. The piece left at the span's end, if it does not obey,
// is merged into the pieces before it, one at a time, until it does; the
// whole span obeys (the parent's own invariant, under a rule at least as
// strict), so this ends. The result
// keeps every parent cut, so every count of the parent partition is a sum
// of the child's.
//
// parent holds 0 and Grid and the cuts between them, ascending; candidates
// are ascending and may include parent cuts (skipped).
func (c counts) refine(parent, candidates []int, obeys rule, k int) []int {
	out := []int{0}
	next := 0
	for s := 0; s+1 < len(parent); s++ {
		lo, hi := parent[s], parent[s+1]
		first := len(out) - 1 // out[first] == lo
		for next < len(candidates) && candidates[next] <= lo {
			next++
		}
		for ; next < len(candidates) && candidates[next] < hi; next++ {
			if cut := candidates[next]; obeys(c, out[len(out)-1], cut, k) {
				out = append(out, cut)
			}
		}
		for len(out)-1 > first && !obeys(c, out[len(out)-1], hi, k) {
			out = out[:len(out)-1]
		}
		out = append(out, hi)
	}
	return out
}

// gridCuts are the candidate cuts 1 … Grid−1: every grid boundary.
var gridCuts = func() []int {
	cuts := make([]int, Grid-1)
	for i := range cuts {
		cuts[i] = i + 1
	}
	return cuts
}()
