package analysis

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/policy"
	"github.com/xborder/xborder/sandbox"
)

// BenchmarkEvaluate5x200k evaluates the example predictor on five owners'
// 200,000 cohort rows each, asked by a sixth node over loopback, and in
// the same run on the same 1,000,000 rows held by the asking node in one
// dataset (the service asking itself: the same policy decision, view,
// sandbox run, evaluation.Evaluate, signature and audit, once). For
// reference, it also times the bare work on the pooled rows: the view,
// one sandbox run and evaluation.Evaluate. Warm caches (the compiled
// predictor, the parsed datasets), alternating order, as
// BenchmarkFederatedGLM.
func BenchmarkEvaluate5x200k(b *testing.B) {
	const rows = 200_000
	sb := testSandbox(b, sandbox.Config{WallTime: benchRoundTimeout, MaxOutputLimit: 64 << 20})
	f := newFederationWith(b, federationOptions{roundTimeout: benchRoundTimeout, sandbox: sb}, append(slices.Clone(benchOwners), benchAsker)...)
	dict := cohort.Dictionary()
	var refs []string
	var pooled []byte
	for i, owner := range benchOwners {
		content := cohort.Generate(owner, rows, uint64(i+1))
		if i == 0 {
			pooled = append(pooled, content...)
		} else {
			pooled = append(pooled, content[bytes.IndexByte(content, '\n')+1:]...)
		}
		f.publish(owner, Dataset{ID: "cohort", Classification: "restricted", Dictionary: dictionaryOf(dict)}, content)
		refs = append(refs, owner+"/cohort")
	}
	f.publish(benchAsker, Dataset{ID: "pooled-cohort", Classification: "restricted", Dictionary: dictionaryOf(dict)}, pooled)
	f.reg.projects[cardio] = policy.Project{ID: cardio, Status: "active", EthicsRef: "CNER-2026-17",
		Partners: append(slices.Clone(benchOwners), benchAsker), Datasets: append(slices.Clone(refs), benchAsker+"/pooled-cohort")}
	predictor := wasm(b, "predictor")
	f.publishModel(benchAsker, "diabetes", predictor, diabetesParameters(), predictorInputs, append(slices.Clone(benchOwners), benchAsker)...)
	federated := evaluateSpec(refs...)
	federated.Model = benchAsker + "/diabetes"
	pool := federated
	pool.Datasets = []string{benchAsker + "/pooled-cohort"}
	asker := f.nodes[benchAsker].svc
	benchRun(b, asker, federated) // compiles the predictor, parses the datasets
	benchRun(b, asker, pool)
	pooledSet, _ := f.nodes[benchAsker].data.Own("pooled-cohort")
	tab, err := asker.table(pooledSet)
	if err != nil {
		b.Fatal(err)
	}
	var fedTime, poolTime took
	var rawTime time.Duration
	var bound float64
	for i := 0; b.Loop(); i++ {
		var fed, pl Status
		var tf, tp took
		if i%2 == 0 {
			fed, tf = benchRun(b, asker, federated)
			pl, tp = benchRun(b, asker, pool)
		} else {
			pl, tp = benchRun(b, asker, pool)
			fed, tf = benchRun(b, asker, federated)
		}
		fedTime, poolTime = fedTime.add(tf), poolTime.add(tp)

		start := time.Now()
		y, _ := tab.Numbers("diabetes")
		all := roaring.New()
		all.AddRange(0, uint64(tab.Rows()))
		used := known(y, all)
		view, err := writeView(tab, predictorInputs, used)
		if err != nil {
			b.Fatal(err)
		}
		fsys, _ := sandbox.FileView(viewFile, bytes.NewReader(view), int64(len(view)))
		n := int(used.GetCardinality())
		out, err := sb.Run(context.Background(), predictor, sandbox.Input{Stdin: diabetesParameters(), Data: fsys, OutputLimit: n*scoreLineBytes + 4096})
		if err != nil {
			b.Fatal(err)
		}
		scores, scored, err := parseScores(out.Stdout, used, n)
		if err != nil {
			b.Fatal(err)
		}
		labels := make([]bool, 0, len(scores))
		for it := scored.Iterator(); it.HasNext(); {
			labels = append(labels, y[it.Next()] == 1)
		}
		raw, err := evaluation.Evaluate(scores, labels, evaluation.Request{Thresholds: federated.Thresholds, CalibrationBins: 10}, rulesOf(testLimits))
		if err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(start)
		fe, pe := fed.Result.Combined.Evaluation, pl.Result.Combined.Evaluation
		if fe.N != 5*rows || pe.N != 5*rows || raw.N != 5*rows || fe.Positives != raw.Positives {
			b.Fatalf("federated n %d (%d positives), pooled %d, raw %d (%d)", fe.N, fe.Positives, pe.N, raw.N, raw.Positives)
		}
		if d := fe.AUC.Estimate - raw.AUC.Estimate; d > fe.AUCBound || -d > fe.AUCBound {
			b.Fatalf("AUC %g, on the pooled scores %g, bound %g", fe.AUC.Estimate, raw.AUC.Estimate, fe.AUCBound)
		}
		bound = fe.AUCBound
	}
	report(b, "evaluation", fedTime, poolTime)
	b.ReportMetric(ms(rawTime, b.N), "bare-pooled-ms/evaluation")
	b.ReportMetric(bound, "auc-bound")
}
