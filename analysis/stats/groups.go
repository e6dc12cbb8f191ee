package stats

import "fmt"

// Group is one level's summary in GroupMeans. When Suppressed is set, N,
// Mean, SD and M2 are withheld (zero). A level no row has is released with
// N 0.
type Group struct {
	Level      string      `json:"level"`
	N          int         `json:"n"`
	Mean       float64     `json:"mean"`
	SD         float64     `json:"sd"`
	M2         float64     `json:"m2"` // (N−1)·SD², carried so groups combine exactly
	Suppressed Suppression `json:"suppressed,omitempty"`
}

// GroupMeans is a numeric variable summarised by the levels of a factor.
type GroupMeans struct {
	Groups []Group `json:"groups"`
}

// MeansBy summarises values by the level each row's code names (-1 is
// missing and left out). Factors with more than MaxFactorLevels levels and
// fewer than MinSubsetRows rows with a level are refused; a group of fewer
// than MinCellCount rows is withheld, with secondary suppression over the
// groups as one line (their counts add up to the rows summarised).
func MeansBy(values []float64, codes []int32, levels []string, rules Rules) (GroupMeans, error) {
	if err := rules.Validate(); err != nil {
		return GroupMeans{}, err
	}
	if len(codes) != len(values) {
		return GroupMeans{}, &InputError{Field: "codes", Detail: fmt.Sprintf("%d codes for %d values", len(codes), len(values))}
	}
	if err := checkFactor("codes", codes, levels, rules); err != nil {
		return GroupMeans{}, err
	}
	if err := checkFinite("values", values); err != nil {
		return GroupMeans{}, err
	}
	byLevel := make([][]float64, len(levels))
	rows := 0
	for i, c := range codes {
		if c >= 0 {
			byLevel[c] = append(byLevel[c], values[i])
			rows++
		}
	}
	if rows < rules.MinSubsetRows {
		return GroupMeans{}, tooFewRows(rows, rules)
	}
	counts := make([]int, len(levels))
	for i, v := range byLevel {
		counts[i] = len(v)
	}
	why := suppress(counts, [][]int{seq(0, len(counts), 1)}, rules)
	out := GroupMeans{Groups: make([]Group, len(levels))}
	for i, level := range levels {
		if why[i] != "" {
			out.Groups[i] = Group{Level: level, Suppressed: why[i]}
			continue
		}
		out.Groups[i] = groupOf(level, momentsOf(byLevel[i]))
	}
	return out, nil
}

func groupOf(level string, m moments) Group {
	return Group{Level: level, N: m.n, Mean: m.mean, SD: m.sd(), M2: m.m2}
}

// CombineGroupMeans pools the owners' group summaries exactly; the owners
// must list the same levels in the same order. A combined group is withheld
// if any owner withheld its share.
func CombineGroupMeans(parts []GroupMeans) (GroupMeans, error) {
	if len(parts) == 0 {
		return GroupMeans{}, &InputError{Field: "group_means", Detail: "no group means to combine"}
	}
	first := parts[0].Groups
	sums := make([]moments, len(first))
	withheld := make([]bool, len(first))
	for i, gm := range parts {
		if len(gm.Groups) != len(first) {
			return GroupMeans{}, &InputError{Field: "group_means", Detail: fmt.Sprintf("part %d has %d groups, part 1 %d", i+1, len(gm.Groups), len(first))}
		}
		for j, g := range gm.Groups {
			if g.Level != first[j].Level || g.N < 0 || !(g.M2 >= 0) || !finite(g.Mean) {
				return GroupMeans{}, &InputError{Field: "group_means", Detail: fmt.Sprintf("part %d, group %d is malformed or another level than part 1's", i+1, j+1)}
			}
			if g.Suppressed != "" {
				withheld[j] = true
				continue
			}
			sums[j] = sums[j].add(moments{n: g.N, mean: g.Mean, m2: g.M2})
		}
	}
	out := GroupMeans{Groups: make([]Group, len(first))}
	for j, g := range first {
		if withheld[j] {
			out.Groups[j] = Group{Level: g.Level, Suppressed: SuppressedInPart}
			continue
		}
		out.Groups[j] = groupOf(g.Level, sums[j])
	}
	return out, nil
}
