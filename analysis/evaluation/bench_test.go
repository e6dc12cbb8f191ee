package evaluation

import (
	"math"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis/stats"
)

var benchRequest = Request{Thresholds: []float64{0.1, 0.25, 0.5, 0.75, 0.9}, CalibrationBins: 10}

// BenchmarkEvaluate is one owner's evaluation of 200,000 rows.
func BenchmarkEvaluate(b *testing.B) {
	scores, labels := logistic(21, 200_000, -1, 0)
	for b.Loop() {
		if _, err := Evaluate(scores, labels, benchRequest, stats.DefaultRules); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*200_000/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

// BenchmarkPoolAgainstCentral evaluates the same 1,000,000 rows federated
// (five owners of 200,000, evaluated one after another, then pooled; no
// network) and central (one Evaluate over all of them) in the same run,
// and reports the times, their ratio, Pool's share, and how far the pooled
// AUC is from the central one against its bound.
func BenchmarkPoolAgainstCentral(b *testing.B) {
	const owners, rows = 5, 200_000
	var scores [][]float64
	var labels [][]bool
	var allScores []float64
	var allLabels []bool
	for o := range owners {
		s, l := logistic(uint64(30+o), rows, -1+0.3*float64(o), 0)
		scores, labels = append(scores, s), append(labels, l)
		allScores, allLabels = append(allScores, s...), append(allLabels, l...)
	}
	var ownersTime, poolTime, centralTime time.Duration
	var pooled Pooled
	var central Evaluation
	for b.Loop() {
		start := time.Now()
		evs := make([]Evaluation, owners)
		for o := range owners {
			var err error
			if evs[o], err = Evaluate(scores[o], labels[o], benchRequest, stats.DefaultRules); err != nil {
				b.Fatal(err)
			}
		}
		ownersTime += time.Since(start)
		start = time.Now()
		var err error
		if pooled, err = Pool(evs); err != nil {
			b.Fatal(err)
		}
		poolTime += time.Since(start)
		start = time.Now()
		if central, err = Evaluate(allScores, allLabels, benchRequest, stats.DefaultRules); err != nil {
			b.Fatal(err)
		}
		centralTime += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(ownersTime.Seconds()*1000/n, "owners-ms")
	b.ReportMetric(poolTime.Seconds()*1e6/n, "pool-µs")
	b.ReportMetric(centralTime.Seconds()*1000/n, "central-ms")
	b.ReportMetric(float64(ownersTime+poolTime)/float64(centralTime), "federated/central")
	b.ReportMetric(float64(poolTime)/float64(centralTime), "pool/central")
	b.ReportMetric(math.Abs(pooled.AUC.Estimate-central.AUC.Estimate), "auc-diff")
	b.ReportMetric(pooled.AUCBound, "auc-bound")
	if math.Abs(pooled.AUC.Estimate-central.AUC.Estimate) > pooled.AUCBound || math.Abs(pooled.Brier-central.Brier) > 1e-12*central.Brier {
		b.Fatalf("pooled %+v differs from central %+v beyond the bound", pooled.AUC, central.AUC)
	}
}
