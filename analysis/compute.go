package analysis

import (
	"context"
	"fmt"
	"math"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/policy"
)

// computed is a contribution before it is signed, with the rows it was
// computed on (which the owner remembers against differencing).
type computed struct {
	Contribution
	rows *roaring.Bitmap
}

// rulesOf are the policy's limits as the statistics enforce them.
func rulesOf(l policy.DisclosureLimits) stats.Rules {
	return stats.Rules{
		MinCellCount: l.MinCellCount, MinSubsetRows: l.MinSubsetRows, MaxParamsShare: l.MaxParamsShare,
		MaxFactorLevels: l.MaxFactorLevels, MaxIterations: l.MaxIterations,
	}
}

// compute runs the query on the owner's dataset under the policy's
// limits. A GLM also returns its session, which holds the design matrix
// for the iterations to come.
func (s *Service) compute(ctx context.Context, d Dataset, q Query, limits policy.DisclosureLimits, progs *programs) (computed, *session, error) {
	rules := rulesOf(limits)
	if err := rules.Validate(); err != nil {
		return computed{}, nil, refusef(RefusalInternal, "the owner's policy set unusable limits: %v", err)
	}
	t, err := s.table(d)
	if err != nil {
		return computed{}, nil, computeRefusal(err)
	}
	filter, err := tabular.ParseFilter(q.Filter, t.Dictionary())
	if err != nil {
		return computed{}, nil, computeRefusal(err)
	}
	selected, err := filter.Select(t)
	if err != nil {
		return computed{}, nil, computeRefusal(err)
	}
	c := computed{Contribution: Contribution{
		Dataset: d.ID, DatasetSHA256: d.SHA256, Kind: q.Kind, Limits: limits,
	}}
	var sess *session
	switch q.Kind {
	case KindSummary, KindHistogram:
		vals, used, err := knownValues(t, q.Variables[0], selected)
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
		c.rows = used
		if q.Kind == KindSummary {
			sum, err := stats.Summarise(vals, rules)
			if err != nil {
				return computed{}, nil, computeRefusal(err)
			}
			c.Summary = &sum
		} else {
			h, err := stats.Histogram(vals, q.Breaks, rules)
			if err != nil {
				return computed{}, nil, computeRefusal(err)
			}
			c.Histogram = &h
		}
	case KindTable:
		if q.By != "" {
			err = s.means(t, q, selected, rules, &c)
		} else {
			err = s.crossTab(t, q, selected, rules, &c)
		}
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
	case KindCorrelation:
		cols := make([][]float64, len(q.Variables))
		used := selected.Clone()
		for i, v := range q.Variables {
			if cols[i], err = t.Numbers(v); err != nil {
				return computed{}, nil, computeRefusal(err)
			}
			used.And(known(cols[i], selected))
		}
		// Listwise: every pair over the same rows, so the rows released
		// are one set the owner can remember.
		picked := make([][]float64, len(cols))
		for i := range cols {
			picked[i] = pick(cols[i], used)
		}
		cp, err := stats.Correlation(picked, q.Variables, rules)
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
		c.rows, c.Correlation = used, &cp
	case KindGLM:
		if q.Design == nil {
			return computed{}, nil, refusef(RefusalBadQuery, "a glm query carries its design")
		}
		if err := q.Design.Validate(t.Dictionary()); err != nil {
			return computed{}, nil, computeRefusal(err)
		}
		for term, levels := range q.Design.Factors {
			if err := rules.CheckFactorLevels(term, len(levels)); err != nil {
				return computed{}, nil, computeRefusal(err)
			}
		}
		fam, err := stats.ParseFamily(q.Family)
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
		x, y, used, err := q.Design.Matrix(t, selected)
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
		p := q.Design.P()
		part, err := stats.IRLSPartial(fam, x, y, p, nil, rules)
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
		c.rows, c.Partial = used, &part
		sess = &session{dataset: d, family: fam, rules: rules, limits: limits, x: x, y: y, p: p, rows: len(y)}
	case KindEvaluate, KindModule:
		if progs == nil {
			return computed{}, nil, refusef(RefusalBadQuery, "a %s runs a program the request did not carry", q.Kind)
		}
		if q.Kind == KindEvaluate {
			err = s.evaluate(ctx, t, q, selected, rules, progs, &c)
		} else {
			err = s.runModule(ctx, t, q, selected, limits, progs, &c)
		}
		if err != nil {
			return computed{}, nil, computeRefusal(err)
		}
	default:
		return computed{}, nil, refusef(RefusalBadQuery, "unknown analysis %q", q.Kind)
	}
	c.Rows = int(c.rows.GetCardinality())
	if c.Rows < rules.MinSubsetRows {
		// Every computation checks its own rows; this guards the release.
		return computed{}, nil, &RefusedError{Code: RefusalDisclosure, Reason: (&stats.DisclosureError{Rule: stats.RuleMinSubsetRows,
			Detail: fmt.Sprintf("the analysis covers fewer than %d rows, and the owner releases nothing computed over so few", rules.MinSubsetRows)}).Error()}
	}
	return c, sess, nil
}

func (s *Service) crossTab(t *tabular.Table, q Query, selected *roaring.Bitmap, rules stats.Rules, c *computed) error {
	a, aLevels, err := factor(t, q.Variables[0])
	if err != nil {
		return err
	}
	used := selected.Clone()
	used.And(knownCodes(a, selected))
	var b []int32
	var bLevels []string
	if len(q.Variables) == 2 {
		if b, bLevels, err = factor(t, q.Variables[1]); err != nil {
			return err
		}
		used.And(knownCodes(b, selected))
	}
	pa, pb := pickCodes(a, used), []int32(nil)
	if b != nil {
		pb = pickCodes(b, used)
	}
	tab, err := stats.CrossTab(pa, aLevels, pb, bLevels, rules)
	if err != nil {
		return err
	}
	c.rows, c.Table = used, &tab
	return nil
}

func (s *Service) means(t *tabular.Table, q Query, selected *roaring.Bitmap, rules stats.Rules, c *computed) error {
	vals, err := t.Numbers(q.Variables[0])
	if err != nil {
		return err
	}
	codes, levels, err := factor(t, q.By)
	if err != nil {
		return err
	}
	used := known(vals, selected)
	used.And(knownCodes(codes, selected))
	g, err := stats.MeansBy(pick(vals, used), pickCodes(codes, used), levels, rules)
	if err != nil {
		return err
	}
	c.rows, c.Means = used, &g
	return nil
}

// factor reads a column as level codes: a categorical column's levels,
// or a boolean's false and true.
func factor(t *tabular.Table, name string) ([]int32, []string, error) {
	if c, ok := t.Dictionary().Column(name); !ok || c.Type != tabular.TypeBoolean {
		return t.Codes(name)
	}
	vals, err := t.Numbers(name)
	if err != nil {
		return nil, nil, err
	}
	codes := make([]int32, len(vals))
	for i, v := range vals {
		codes[i] = -1
		if !math.IsNaN(v) {
			codes[i] = int32(v)
		}
	}
	return codes, []string{"false", "true"}, nil
}

// knownValues are a numeric column's known values among the selected rows.
func knownValues(t *tabular.Table, name string, selected *roaring.Bitmap) ([]float64, *roaring.Bitmap, error) {
	col, err := t.Numbers(name)
	if err != nil {
		return nil, nil, err
	}
	used := known(col, selected)
	return pick(col, used), used, nil
}

// known are the selected rows where col has a value.
func known(col []float64, selected *roaring.Bitmap) *roaring.Bitmap {
	out := roaring.New()
	it := selected.Iterator()
	for it.HasNext() {
		i := it.Next()
		if !math.IsNaN(col[i]) {
			out.Add(i)
		}
	}
	return out
}

func knownCodes(col []int32, selected *roaring.Bitmap) *roaring.Bitmap {
	out := roaring.New()
	it := selected.Iterator()
	for it.HasNext() {
		i := it.Next()
		if col[i] >= 0 {
			out.Add(i)
		}
	}
	return out
}

func pick(col []float64, rows *roaring.Bitmap) []float64 {
	out := make([]float64, 0, rows.GetCardinality())
	it := rows.Iterator()
	for it.HasNext() {
		out = append(out, col[it.Next()])
	}
	return out
}

func pickCodes(col []int32, rows *roaring.Bitmap) []int32 {
	out := make([]int32, 0, rows.GetCardinality())
	it := rows.Iterator()
	for it.HasNext() {
		out = append(out, col[it.Next()])
	}
	return out
}
