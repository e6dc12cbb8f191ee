package console

import (
	"slices"
	"strconv"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

// A model's performance, as its entry page shows it: each committed
// evaluation (GET /v1/evaluations?model=OWNER/ID), every region's signed
// metrics and their pooling, and the calibration plot.

// perfRow is one line of an evaluation's metrics table: a region, or the
// regions pooled.
type perfRow struct {
	Owner     string // "" for the pooled line
	Dataset   string
	Pooled    bool
	Owners    int // pooled: how many regions
	N         int
	Positives int
	AUC       evaluation.Interval
	Brier     float64
	// At holds the row's confusion at each of the evaluation's
	// thresholds, nil where the row has none at that threshold.
	At       []*evaluation.Confusion
	Unscored stats.Cell
	Module   string // the predictor the region ran (its SHA-256)
}

// perfView is one committed evaluation.
type perfView struct {
	analysis.CommittedEvaluation
	Rows       []perfRow
	Thresholds []float64
	// Level is the AUC interval's confidence level, in percent.
	Level string
	// AUCBound is the pooled AUC's coarsening bound (0 without a pool).
	AUCBound float64
	Chart    *calibrationChart
	// Series are the chart's data, for its table.
	Series []calSeries
	// Predictors are the predictor digests the regions ran; Differs when
	// one is not the digest the model card names.
	Predictors   []string
	Differs      bool
	Suppressions []stats.Suppression
}

// performance reads a model's committed evaluations.
type performance struct {
	Evaluations []perfView
	Error       string
}

func (c *Console) performance(x *rc, l exchange.Listing) *performance {
	out := &performance{}
	if c.svc.Modules == nil {
		out.Error = x.t("perf.unavailable")
		return out
	}
	es, _, err := c.svc.Modules.Evaluations(x.ctx(), l.Ref())
	if err != nil {
		out.Error = err.Error()
		return out
	}
	card := ""
	if l.Model != nil && l.Model.Predictor != nil {
		card = l.Model.Predictor.SHA256
	}
	for _, e := range es {
		out.Evaluations = append(out.Evaluations, newPerfView(api.EvaluationOf(e), card, x.t("perf.pooled")))
	}
	// The latest first.
	slices.SortStableFunc(out.Evaluations, func(a, b perfView) int { return b.Committed.Compare(a.Committed) })
	return out
}

// newPerfView lays a committed evaluation out for its table and chart.
// Regions should answer the same request, but a stored evaluation is not
// trusted to: the table's thresholds are every region's, each row filled
// where it has that threshold.
func newPerfView(ce analysis.CommittedEvaluation, cardPredictor, pooledName string) perfView {
	v := perfView{CommittedEvaluation: ce}
	var level float64
	for _, r := range ce.Regions {
		for _, t := range r.Evaluation.Thresholds {
			if i, found := slices.BinarySearch(v.Thresholds, t.Threshold); !found && finite(t.Threshold) {
				v.Thresholds = slices.Insert(v.Thresholds, i, t.Threshold)
			}
		}
		if r.ModuleSHA256 != "" && !slices.Contains(v.Predictors, r.ModuleSHA256) {
			v.Predictors = append(v.Predictors, r.ModuleSHA256)
			v.Differs = v.Differs || (cardPredictor != "" && r.ModuleSHA256 != cardPredictor)
		}
		if level == 0 {
			level = r.Evaluation.AUC.Level
		}
	}
	if level > 0 && level < 1 {
		v.Level = strconv.FormatFloat(level*100, 'g', 4, 64) + "%"
	}
	seen := map[stats.Suppression]bool{}
	at := func(ts []evaluation.Confusion) []*evaluation.Confusion {
		out := make([]*evaluation.Confusion, len(v.Thresholds))
		for i := range ts {
			if j, found := slices.BinarySearch(v.Thresholds, ts[i].Threshold); found && out[j] == nil {
				out[j] = &ts[i]
				for _, s := range []stats.Suppression{ts[i].Accuracy.Suppressed, ts[i].Sensitivity.Suppressed, ts[i].Specificity.Suppressed} {
					if s != "" && !seen[s] {
						seen[s] = true
						v.Suppressions = append(v.Suppressions, s)
					}
				}
			}
		}
		return out
	}
	for _, r := range ce.Regions {
		ev := r.Evaluation
		v.Rows = append(v.Rows, perfRow{Owner: r.Owner, Dataset: r.Dataset, N: ev.N, Positives: ev.Positives, AUC: ev.AUC,
			Brier: ev.Brier, At: at(ev.Thresholds), Unscored: r.Unscored, Module: r.ModuleSHA256})
		v.Series = append(v.Series, calSeries{Name: r.Owner, Bins: ev.Calibration})
	}
	if p := ce.Pooled; p != nil {
		v.Rows = append(v.Rows, perfRow{Pooled: true, Owners: p.Owners, N: p.N, Positives: p.Positives, AUC: p.AUC,
			Brier: p.Brier, At: at(p.Thresholds)})
		v.AUCBound = p.AUCBound
		v.Series = append(v.Series, calSeries{Name: pooledName, Pooled: true, Bins: p.Calibration})
	}
	slices.Sort(v.Suppressions)
	v.Chart = newCalibrationChart(v.Series)
	return v
}
