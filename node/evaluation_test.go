package node

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/internal/testwasm"
)

// A model published in Grand Est is evaluated on the labelled cohorts of
// Baden-Württemberg and Basel, where they lie: each owner runs the
// predictor in its sandbox only once it approved it in the registry,
// computes the metrics itself and signs them; the signed evaluation is
// committed to the registry, where a member outside the project reads it,
// and the model's public DCAT carries it as quality measurements.
func TestAModelIsEvaluatedWhereTheDataLiesAndItsSignedMetricsReachTheRegistry(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	ctx := context.Background()
	fr, de, ch, lu := nodes[0], nodes[1], nodes[2], nodes[4]

	const project = "upper-rhine-diabetes"
	p := consensus.ProjectProposal{ID: project, Title: "Upper Rhine diabetes risk", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw", "ch-basel"}, EthicsRef: "CPP-EST-2026-201"}
	var err error
	testkit.Eventually(t, 30*time.Second, "the project is committed", func() bool {
		_, err = fr.clerk.Submit(ctx, consensus.OpProjectPropose, p)
		return err == nil || !errors.Is(err, consensus.ErrNoLeader)
	})
	must(t, err)
	dict := cohort.Dictionary()
	for i, n := range []*Node{de, ch} {
		_, err := n.catalogue.Publish(ctx, exchange.Publication{ID: "cohort", Title: "Diabetes cohort", Theme: "health",
			Classification: "restricted", FileName: "cohort.csv", Dictionary: &dict}, bytes.NewReader(cohort.Generate(n.cfg.Name, 600+200*i, 5)))
		must(t, err)
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+"'s replica has the project", func() bool {
			_, _, err := n.clerk.Project(ctx, project)
			return err == nil
		})
		_, err = n.clerk.Submit(ctx, consensus.OpProjectAttach, consensus.DatasetAttachment{ID: project, Dataset: n.cfg.Name + "/cohort"})
		must(t, err)
	}

	// Grand Est publishes the model (its coefficients) with its predictor.
	bin := testwasm.Build(t, "../examples/predictor")
	sum, size, err := fr.catalogue.StoreModule(bytes.NewReader(bin))
	must(t, err)
	card := &exchange.ModelCard{Task: "Risk of type 2 diabetes", Architecture: "logistic regression",
		Predictor: &exchange.Predictor{SHA256: sum, Size: size, Inputs: []string{"age", "bmi", "sex", "smoker"}}}
	coefficients := `{"intercept": -9.2, "age": 0.055, "bmi": 0.16, "male": 0.35, "smoker": 0.45}`
	_, err = fr.catalogue.Publish(ctx, exchange.Publication{ID: "diabetes-risk", Kind: exchange.KindModel, Title: "Diabetes risk",
		Theme: "health", Classification: "open", License: "CC-BY-4.0", FileName: "coefficients.json", Model: card},
		strings.NewReader(coefficients))
	must(t, err)
	for _, n := range []*Node{de, ch} {
		testkit.Eventually(t, 30*time.Second, n.cfg.Name+" lists the model with its predictor", func() bool {
			l, err := n.catalogue.Get("fr-grandest", "diabetes-risk")
			return err == nil && l.Model != nil && l.Model.Predictor != nil
		})
		testkit.Eventually(t, 30*time.Second, "fr-grandest lists "+n.cfg.Name+"/cohort", func() bool {
			_, err := fr.catalogue.Get(n.cfg.Name, "cohort")
			return err == nil
		})
	}
	_, err = fr.clerk.Submit(ctx, consensus.OpModulePropose, consensus.ModuleProposal{Project: project, SHA256: sum,
		Name: "diabetes-risk predictor", Kind: consensus.ModulePredictor, Source: "examples/predictor"})
	must(t, err)

	alice := analysis.Caller{Subject: "alice@unistra.fr", Org: "Université de Strasbourg", Role: "researcher"}
	spec := analysis.Spec{Kind: analysis.KindEvaluate, Model: "fr-grandest/diabetes-risk", Label: "diabetes",
		Datasets: []string{"de-bw/cohort", "ch-basel/cohort"}, Thresholds: []float64{0.3, 0.5},
		Purpose: "research", Project: project}
	run := func() analysis.Status {
		t.Helper()
		runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		st, err := fr.analyses.Run(runCtx, alice, spec)
		must(t, err)
		return st
	}

	// Only Baden-Württemberg has approved the predictor: Basel refuses to
	// run it, and the evaluation gives no result.
	for _, n := range []*Node{de, ch} {
		testkit.Eventually(t, 20*time.Second, n.cfg.Name+"'s replica has the predictor", func() bool {
			_, err := n.registry.Load().Module(project, sum)
			return err == nil
		})
	}
	_, err = de.clerk.Submit(ctx, consensus.OpModuleApprove, consensus.ModuleRef{Project: project, SHA256: sum})
	must(t, err)
	testkit.Eventually(t, 20*time.Second, "the replicas have de-bw's approval", func() bool {
		for _, n := range []*Node{fr, ch} {
			if m, err := n.registry.Load().Module(project, sum); err != nil || !m.ApprovedBy("de-bw") {
				return false
			}
		}
		return true
	})
	st := run()
	if st.State == analysis.StateDone {
		t.Fatal("the evaluation ran at an owner that had not approved the predictor")
	}
	refused := false
	for _, r := range st.Regions {
		refused = refused || (r.Dataset == "ch-basel/cohort" && r.State != analysis.StateDone)
	}
	if !refused {
		t.Fatalf("ch-basel did not refuse: %+v", st.Regions)
	}

	_, err = ch.clerk.Submit(ctx, consensus.OpModuleApprove, consensus.ModuleRef{Project: project, SHA256: sum})
	must(t, err)
	testkit.Eventually(t, 20*time.Second, "fr-grandest's replica has ch-basel's approval", func() bool {
		m, err := fr.registry.Load().Module(project, sum)
		return err == nil && m.ApprovedBy("ch-basel")
	})
	st = run()
	if st.State != analysis.StateDone {
		t.Fatalf("the evaluation did not complete: %s %+v", st.Error, st.Regions)
	}
	ev := st.Result.Combined.Evaluation
	if ev == nil || ev.N != 600+800 || ev.Positives == 0 || ev.Negatives == 0 || ev.AUC.Estimate < 0.6 {
		t.Fatalf("pooled evaluation: %+v", ev)
	}
	if st.Result.Ledger == nil || !st.Result.Ledger.Committed {
		t.Fatalf("the signed evaluation was not committed: %+v", st.Result.Ledger)
	}
	if err := analysis.Verify(ctx, *st.Result); err != nil {
		t.Fatal(err)
	}

	// Luxembourg, outside the project, reads the committed evaluation.
	testkit.Eventually(t, 20*time.Second, "lu-luxembourg's replica has the evaluation", func() bool {
		es, err := lu.registry.Load().Evaluations("fr-grandest/diabetes-risk")
		return err == nil && len(es) == 1
	})
	es, err := lu.registry.Load().Evaluations("fr-grandest/diabetes-risk")
	must(t, err)
	ce := analysis.ReadCommittedEvaluation(es[0].Model, es[0].Analysis, es[0].CommittedBy, time.UnixMilli(es[0].Committed), es[0].Contributions)
	if ce.Problem != "" || len(ce.Regions) != 2 || ce.Pooled == nil || ce.Pooled.N != ev.N || ce.Pooled.AUC != ev.AUC {
		t.Fatalf("committed evaluation: %+v", ce)
	}

	// The model's public DCAT carries the measurements.
	g, _, err := fr.catalogue.DatasetDCAT(ctx, "fr-grandest", "diabetes-risk")
	must(t, err)
	nt, err := g.NTriples()
	must(t, err)
	for _, want := range []string{"<http://www.w3.org/ns/dqv#hasQualityMeasurement>", "-de-bw-auc>", "-ch-basel-auc>", "-pooled-auc>",
		"<http://data.europa.eu/it6/intervalStart>"} {
		if !bytes.Contains(nt, []byte(want)) {
			t.Errorf("the model's DCAT lacks %s", want)
		}
	}
}
