package tour

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
)

const (
	evalProject = "upper-rhine-diabetes"
	evalModel   = "diabetes-risk"
)

// evalOwners are the regions the model is validated at.
var evalOwners = []string{"de-bw", "ch-basel"}

// evaluation: Grand Est publishes a diabetes-risk model with its predictor
// (a WebAssembly program), proposes the predictor to a joint project,
// Baden-Württemberg and Basel approve it for their data, and a researcher
// in Strasbourg evaluates the model on their cohorts: each owner runs the
// predictor in its sandbox and releases only signed metrics, committed to
// the registry.
func (t *tour) evaluate(ctx context.Context) error {
	fr := t.byName["fr-grandest"]
	t.p.Printf("\nExternal validation of a model (bob@unistra.fr, researcher at fr-grandest):\n")
	if t.predictor == "" {
		return errors.New("the tour needs the example predictor: build it with `make wasm` and pass --predictor bin/wasm/predictor.wasm")
	}
	var res api.Committed
	st := t.p.Start("evaluation.project", fr.Name)
	p := consensus.ProjectProposal{ID: evalProject, Title: "Upper Rhine diabetes risk: external validation", Themes: []string{"health"},
		Partners: []string{"fr-grandest", "de-bw", "ch-basel"}, EthicsRef: "CPP-EST-2026-201"}
	if err := fr.Admin.Post(ctx, "/v1/projects", p, &res); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest proposes %s: %w", evalProject, err))
	}
	last := res.Index
	for _, o := range evalOwners {
		if err := readAt(ctx, t.byName[o], "/v1/projects/"+evalProject, last, &api.ProjectAnswer{}); err != nil {
			return st.Fail(fmt.Errorf("%s reads %s: %w", o, evalProject, err))
		}
		if err := t.byName[o].Admin.Post(ctx, "/v1/projects/"+evalProject+"/attach", api.AttachRequest{Dataset: o + "/" + cohortID}, &res); err != nil {
			return st.Fail(fmt.Errorf("%s attaches its cohort: %w", o, err))
		}
	}
	st.OK(Figures{ID: evalProject, Index: res.Index})
	t.p.Printf("  fr-grandest proposed %q; de-bw and ch-basel attached their cohorts\n", evalProject)

	st = t.p.Start("model.predictor", fr.Name)
	coefficients := filepath.Join(t.dir, evalModel+".json")
	if err := os.WriteFile(coefficients, []byte(`{"intercept": -9.2, "age": 0.055, "bmi": 0.16, "male": 0.35, "smoker": 0.45}`), 0o644); err != nil {
		return st.Fail(err)
	}
	pub := exchange.Publication{ID: evalModel, Kind: exchange.KindModel, Title: "Type 2 diabetes risk",
		Description: "Logistic model of type 2 diabetes on age, BMI, sex and smoking.", Theme: "health",
		Classification: "open", License: "CC-BY-4.0", Keywords: []string{"diabetes"},
		Model: &exchange.ModelCard{Task: "Risk of type 2 diabetes", Architecture: "logistic regression, 5 coefficients",
			IntendedUses: []string{"research"}, Predictor: &exchange.Predictor{Inputs: []string{"age", "bmi", "sex", "smoker"}}}}
	var e exchange.Entry
	if err := fr.Admin.UploadParts(ctx, "/v1/datasets", pub, [][2]string{{"predictor", t.predictor}, {"file", coefficients}}, &e); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest publishes its model: %w", err))
	}
	sum := e.Model.Predictor.SHA256
	var mp api.ModuleProposed
	if err := fr.Admin.UploadParts(ctx, "/v1/modules", consensus.ModuleProposal{Project: evalProject, Name: "diabetes-risk predictor",
		Kind: consensus.ModulePredictor, Source: "examples/predictor"}, [][2]string{{"module", t.predictor}}, &mp); err != nil {
		return st.Fail(fmt.Errorf("fr-grandest proposes the predictor: %w", err))
	}
	st.OK(Figures{ID: e.Ref(), Bytes: e.Model.Predictor.Size, Index: mp.Index})
	t.p.Printf("  fr-grandest published %s with its predictor (%d bytes of WebAssembly, sha256 %s…) and proposed it to %s\n",
		e.Ref(), e.Model.Predictor.Size, sum[:12], evalProject)

	for _, o := range evalOwners {
		st := t.p.Start("module.approve", o)
		n := t.byName[o]
		if err := readAt(ctx, n, "/v1/modules/"+evalProject+"/"+sum, mp.Index, &api.ModuleAnswer{}); err != nil {
			return st.Fail(fmt.Errorf("%s reads the module: %w", o, err))
		}
		if err := n.Admin.Post(ctx, "/v1/modules/"+evalProject+"/"+sum+"/approve", struct{}{}, &res); err != nil {
			return st.Fail(fmt.Errorf("%s approves the predictor: %w", o, err))
		}
		// The owner checks the model entry it lists against the predictor.
		err := Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
			var l exchange.Listing
			err := n.Admin.Get(ctx, "/v1/catalogue/fr-grandest/"+evalModel, &l)
			return err == nil && l.Model != nil && l.Model.Predictor != nil, nil
		})
		if err != nil {
			return st.Fail(fmt.Errorf("%s does not list %s: %w", o, e.Ref(), err))
		}
		st.OK(Figures{Index: res.Index})
		t.p.Printf("  %s approved the predictor for its data (committed at index %d)\n", o, res.Index)
	}

	bob, err := fr.Researcher("bob@unistra.fr", "Université de Strasbourg")
	if err != nil {
		return err
	}
	st = t.p.Start("evaluation.run", fr.Name)
	spec := analysis.Spec{Kind: analysis.KindEvaluate, Model: e.Ref(), Label: "diabetes", Thresholds: []float64{0.3, 0.5},
		Purpose: "research", Project: evalProject}
	for _, o := range evalOwners {
		spec.Datasets = append(spec.Datasets, o+"/"+cohortID)
	}
	var as analysis.Status
	if err := bob.Post(ctx, "/v1/analyses?wait="+analysisWait.String(), spec, &as); err != nil {
		return st.Fail(err)
	}
	if as.State != analysis.StateDone || as.Result == nil || as.Result.Combined.Evaluation == nil {
		return st.Fail(fmt.Errorf("the evaluation gave no result: %s %+v", as.Error, as.Regions))
	}
	pooled := as.Result.Combined.Evaluation
	st.OK(Figures{ID: as.ID, Count: pooled.N})
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  REGION\tN\tAUC (95% CI)\tBRIER\tSENSITIVITY@0.5\tSPECIFICITY@0.5")
	row := func(name string, n int, auc evaluation.Interval, brier float64, th []evaluation.Confusion) {
		sens, spec := "-", "-"
		for _, c := range th {
			if c.Threshold == 0.5 {
				sens, spec = rate(c.Sensitivity.Value, string(c.Sensitivity.Suppressed)), rate(c.Specificity.Value, string(c.Specificity.Suppressed))
			}
		}
		fmt.Fprintf(tw, "  %s\t%d\t%.3f (%.3f–%.3f)\t%.3f\t%s\t%s\n", name, n, auc.Estimate, auc.Lower, auc.Upper, brier, sens, spec)
	}
	for _, part := range as.Result.Parts {
		c, err := analysis.ReadContribution(part.Contributions[0])
		if err != nil || c.Evaluation == nil {
			return fmt.Errorf("%s's contribution: %v", part.Dataset, err)
		}
		row(part.Dataset, c.Evaluation.N, c.Evaluation.AUC, c.Evaluation.Brier, c.Evaluation.Thresholds)
	}
	row("pooled", pooled.N, pooled.AUC, pooled.Brier, pooled.Thresholds)
	tw.Flush()
	t.p.Printf("%s", table.String())
	committed := as.Result.Ledger != nil && as.Result.Ledger.Committed
	t.p.Printf("  no score or row left de-bw or ch-basel; each signed its metrics; committed to the registry: %v\n", committed)
	if !committed {
		return fmt.Errorf("the signed evaluation was not committed: %+v", as.Result.Ledger)
	}

	st = t.p.Start("evaluation.read", "lu-luxembourg")
	var el api.EvaluationList
	err = Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
		err := t.byName["lu-luxembourg"].Admin.Get(ctx, "/v1/evaluations?model="+url.QueryEscape(e.Ref()), &el)
		return err == nil && len(el.Evaluations) == 1, err
	})
	if err != nil {
		return st.Fail(fmt.Errorf("lu-luxembourg does not read the evaluation: %w", err))
	}
	st.OK(Figures{Count: len(el.Evaluations[0].Regions)})
	t.p.Printf("  lu-luxembourg, outside the project, reads the evaluation from its replica: %d regions, pooled AUC %s\n",
		len(el.Evaluations[0].Regions), strconv.FormatFloat(el.Evaluations[0].Pooled.AUC.Estimate, 'f', 3, 64))
	return nil
}

func rate(v float64, suppressed string) string {
	if suppressed != "" {
		return "* " + strings.ReplaceAll(suppressed, "_", " ")
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
