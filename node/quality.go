package node

import (
	"context"
	"strconv"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/exchange"
)

// modelQuality gives the DCAT export a model's measured performance: the
// evaluations committed to the registry, each region's signed figures and
// their pooling.
type modelQuality struct{ n *Node }

func (q modelQuality) ModelQuality(_ context.Context, ref string) []exchange.QualityMeasurement {
	reg := q.n.registry.Load()
	if reg == nil {
		return nil
	}
	es, err := reg.Evaluations(ref)
	if err != nil {
		return nil
	}
	var ms []exchange.QualityMeasurement
	for _, e := range es {
		ce := analysis.ReadCommittedEvaluation(e.Model, e.Analysis, e.CommittedBy, time.UnixMilli(e.Committed), e.Contributions)
		for _, r := range ce.Regions {
			ms = append(ms, measurements(r.Owner, e.Analysis, r.Evaluation.N, r.Evaluation.AUC, r.Evaluation.Brier, r.Evaluation.Thresholds)...)
		}
		if p := ce.Pooled; p != nil && len(ce.Regions) > 1 {
			ms = append(ms, measurements("", e.Analysis, p.N, p.AUC, p.Brier, p.Thresholds)...)
		}
	}
	return ms
}

// measurements are one region's (or the pooled) figures: rows, AUC with
// its interval, Brier score, and the rates at each threshold not withheld.
func measurements(region, id string, n int, auc evaluation.Interval, brier float64, ts []evaluation.Confusion) []exchange.QualityMeasurement {
	m := func(metric string, v float64) exchange.QualityMeasurement {
		return exchange.QualityMeasurement{Metric: metric, Value: v, Region: region, Analysis: id}
	}
	a := m("auc", auc.Estimate)
	a.Lower, a.Upper, a.Interval = auc.Lower, auc.Upper, true
	out := []exchange.QualityMeasurement{m("n", float64(n)), a, m("brier", brier)}
	for _, c := range ts {
		at := "@" + strconv.FormatFloat(c.Threshold, 'g', -1, 64)
		for _, r := range []struct {
			name string
			rate evaluation.Rate
		}{{"accuracy", c.Accuracy}, {"sensitivity", c.Sensitivity}, {"specificity", c.Specificity}} {
			if r.rate.Suppressed == "" {
				out = append(out, m(r.name+at, r.rate.Value))
			}
		}
	}
	return out
}
