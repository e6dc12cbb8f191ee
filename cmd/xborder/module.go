package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/node/api"
)

func newModuleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "module",
		Short: "Analysis programs a project reviewed, run next to the partners' data",
		Long: `A module is a WebAssembly program (WASI preview 1, e.g. Go built with
GOOS=wasip1 GOARCH=wasm) that a project's data owners let visit their data.
The project's lead proposes it by its SHA-256, with where its source is and
the output schema it must keep to; each owner of a dataset attached to the
project approves it on its own node once its legal team has reviewed the
source. Only then may it run on that owner's data (module run), in the
owner's sandbox: no network, no clock, no files but the dataset's rows, a
memory, time and output cap. Its output is checked against the declared
schema and the owner's disclosure rules before anything leaves; anything
else is refused and audited.

A model's predictor is proposed the same way with --kind predictor, so that
partners may evaluate the model on their labelled data (xborder evaluate).`,
	}
	cmd.AddCommand(newModuleProposeCmd(g), newModuleRefCmd(g, "approve", "Approve a module for this node's data (an owner of a dataset attached to its project)"),
		newModuleRefCmd(g, "withdraw", "Withdraw a module (its project's lead) or this node's approval of it"),
		newModuleListCmd(g), newModuleShowCmd(g), newModuleRunCmd(g))
	return cmd
}

func newModuleProposeCmd(g *globals) *cobra.Command {
	var p consensus.ModuleProposal
	var schemaFile string
	cmd := &cobra.Command{
		Use:   "propose FILE.wasm --project PID --name NAME --source REF [--kind analysis|predictor] [--schema FILE]",
		Short: "Propose a module to a project (its lead only); the node keeps the module to send to the owners",
		Example: `  xborder module propose bin/wasm/cohort-describe.wasm --project upper-rhine-diabetes --name cohort-describe \
      --source https://git.example.org/xborder/examples@v1.4.0#cohort-describe --schema examples/cohort-describe/schema.json
  xborder module propose bin/wasm/predictor.wasm --project upper-rhine-diabetes --kind predictor --name diabetes-risk-predictor \
      --source https://git.example.org/grandest/diabetes-risk@2026-11`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "project", "name", "source"); err != nil {
				return err
			}
			switch p.Kind {
			case consensus.ModuleAnalysis:
				if schemaFile == "" {
					return usageErr(errors.New("an analysis module needs --schema, the output schema its results are checked against"))
				}
			case consensus.ModulePredictor:
				if schemaFile != "" {
					return usageErr(errors.New("a predictor's output is one score per row, checked by the node: it takes no --schema"))
				}
			default:
				return usageErr(fmt.Errorf("--kind %q: analysis or predictor", p.Kind))
			}
			if schemaFile != "" {
				raw, err := os.ReadFile(schemaFile)
				if err != nil {
					return usageErr(err)
				}
				if _, err := analysis.ParseSchema(raw); err != nil {
					return usageErr(fmt.Errorf("--schema %s: %w", schemaFile, err))
				}
				p.Schema = json.RawMessage(raw)
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var res api.ModuleProposed
			if err := c.uploadParts(cmd.Context(), "/v1/modules", p, []filePart{{name: "module", path: args[0]}}, &res); err != nil {
				return err
			}
			if g.json {
				if err := printJSON(g.out, res); err != nil {
					return err
				}
			} else if !res.NotApplied {
				fmt.Fprintf(g.out, "proposed module %s (%s, sha256 %s, %d bytes) to %s (committed at index %d)\n"+
					"each owner of a dataset attached to %s approves it with: xborder module approve %s %s\n",
					p.Name, p.Kind, res.SHA256, res.Size, p.Project, res.Index, p.Project, p.Project, res.SHA256)
			}
			if res.NotApplied {
				return &exitErr{code: exitNotApplied, err: fmt.Errorf("module %s: %s; read it again in a moment", p.Name, res.Warning)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.Project, "project", "", "the joint project whose data owners review the module")
	f.StringVar(&p.Name, "name", "", "a short name (at most 128 characters)")
	f.StringVar(&p.Kind, "kind", consensus.ModuleAnalysis, "analysis (a program whose output schema is declared) or predictor (a model's scoring program)")
	f.StringVar(&p.Source, "source", "", "where the reviewed source is, such as a repository URL and commit")
	f.StringVar(&p.Description, "description", "", "what the module computes")
	f.StringVar(&schemaFile, "schema", "", "an analysis module's output schema (JSON file)")
	f.BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newModuleRefCmd(g *globals, verb, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     verb + " PROJECT SHA256",
		Short:   short,
		Example: "  xborder module " + verb + " upper-rhine-diabetes 3f0c…e19a",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/modules/" + url.PathEscape(args[0]) + "/" + url.PathEscape(args[1]) + "/" + verb
			what := map[string]string{"approve": "approved", "withdraw": "withdrew"}[verb]
			return postRegistry(g, cmd, path, nil, what+" module "+args[1]+" of "+args[0])
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newModuleListCmd(g *globals) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "list [--project PID]",
		Short:   "Modules in the registry, with who approved them",
		Example: "  xborder module list --project upper-rhine-diabetes",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var l api.ModuleList
			if err := c.get(cmd.Context(), "/v1/modules?project="+url.QueryEscape(project), &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			rows := [][]string{}
			for _, m := range l.Modules {
				state := "approved by " + strings.Join(m.Approvals, ", ")
				switch {
				case m.Withdrawn != 0:
					state = "withdrawn"
				case len(m.Approvals) == 0:
					state = "awaiting approvals"
				}
				rows = append(rows, []string{m.Project, m.Name, m.Kind, m.SHA256, m.ProposedBy, state})
			}
			return printTable(g.out, []string{"PROJECT", "NAME", "KIND", "SHA256", "PROPOSED BY", "STATE"}, rows)
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "only this project's modules")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newModuleShowCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show PROJECT SHA256",
		Short:   "A module: its source, schema and each data owner's approval",
		Example: "  xborder module show upper-rhine-diabetes 3f0c…e19a",
		Args:    usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var a api.ModuleAnswer
			if err := c.get(cmd.Context(), "/v1/modules/"+url.PathEscape(args[0])+"/"+url.PathEscape(args[1]), &a); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, a)
			}
			m := a.Module
			fields := [][2]string{{"name", m.Name}, {"kind", m.Kind}, {"project", m.Project}, {"sha256", m.SHA256},
				{"source", m.Source}, {"proposed", m.ProposedBy + " at " + time.UnixMilli(m.Proposed).UTC().Format(time.RFC3339)}}
			if m.Description != "" {
				fields = append(fields, [2]string{"description", m.Description})
			}
			if m.Withdrawn != 0 {
				fields = append(fields, [2]string{"withdrawn", time.UnixMilli(m.Withdrawn).UTC().Format(time.RFC3339)})
			}
			for _, f := range fields {
				fmt.Fprintf(g.out, "%-12s %s\n", f[0]+":", f[1])
			}
			owners := make([]string, 0, len(a.Owners))
			for o := range a.Owners {
				owners = append(owners, o)
			}
			slices.Sort(owners)
			rows := [][]string{}
			for _, o := range owners {
				state := "not approved: the module may not run on its data"
				if a.Owners[o] {
					state = "approved"
				}
				rows = append(rows, []string{o, state})
			}
			fmt.Fprintln(g.out)
			if err := printTable(g.out, []string{"DATA OWNER", "APPROVAL"}, rows); err != nil {
				return err
			}
			if len(m.Schema) > 0 {
				fmt.Fprintf(g.out, "\noutput schema:\n%s\n", indentJSON(m.Schema))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

func newModuleRunCmd(g *globals) *cobra.Command {
	var f analyseFlags
	cmd := &cobra.Command{
		Use:   "run PROJECT SHA256 OWNER/ID... --purpose P [--filter EXPR]",
		Short: "Run an approved module on partners' datasets; only its checked output leaves each owner",
		Long: `run sends the module to the owner of each dataset, which runs it in its
sandbox on the dataset's rows (after --filter; identifier columns are never
given), checks its output against the module's declared schema and its
disclosure rules (a count below the minimum cell count is withheld) and
signs what it releases. Each owner's output is shown as it released it.`,
		Example: `  xborder module run upper-rhine-diabetes 3f0c…e19a fr-grandest/cohort de-bw/cohort --purpose research
  xborder module run upper-rhine-diabetes 3f0c…e19a ch-basel/cohort --filter 'age >= 50' --purpose research --out describe.json`,
		Args: usageArgs(cobra.MinimumNArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "purpose"); err != nil {
				return err
			}
			spec := analysis.Spec{Kind: analysis.KindModule, Project: args[0], Module: args[1], Datasets: args[2:],
				Filter: f.filter, Purpose: f.purpose}
			if err := spec.Validate(); err != nil {
				return usageErr(err)
			}
			return runAnalysis(g, cmd, spec, f.out)
		},
	}
	cmd.Flags().StringVar(&f.filter, "filter", "", `rows the module is given, such as 'age >= 50 and sex == "F"'`)
	cmd.Flags().StringVar(&f.purpose, "purpose", "", "purpose from the federation's vocabulary (research, public-health, statistics, ...)")
	cmd.Flags().StringVar(&f.out, "out", "", "also write the signed result to this file (for xborder analysis verify)")
	cmd.Flags().BoolVar(&g.json, "json", false, "print the analysis as JSON")
	return cmd
}

// indentJSON pretty-prints a JSON document, or returns it as it is.
func indentJSON(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

func newEvaluateCmd(g *globals) *cobra.Command {
	var f analyseFlags
	var on []string
	var label, thresholds string
	var bins int
	cmd := &cobra.Command{
		Use:   "evaluate MODEL --on OWNER/ID... --label COLUMN --project PID --purpose P",
		Short: "Evaluate a model on partners' labelled data where it lies; only metrics leave",
		Long: `evaluate sends the model's predictor (named in its model card) and its file to
the owner of each dataset. The owner runs the predictor in its sandbox, only
if it approved it for the project (xborder module approve), and its node
computes the metrics from the scores and the --label column itself: AUC with
a confidence interval, accuracy, sensitivity and specificity at each
--thresholds value, the Brier score and calibration in bins that keep the
minimum cell count. No score or row leaves. Each owner signs its metrics;
the signed evaluation is committed to the registry and attached to the
model, in the catalogue and in its DCAT as quality measurements.`,
		Example: `  xborder evaluate fr-grandest/diabetes-risk --on de-bw/cohort --on ch-basel/cohort --label diabetes \
      --thresholds 0.3,0.5 --project upper-rhine-diabetes --purpose research
  xborder evaluate fr-grandest/diabetes-risk --on de-bw/cohort --label diabetes --filter 'age >= 50' \
      --project upper-rhine-diabetes --purpose research --out evaluation.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "on", "label", "project", "purpose"); err != nil {
				return err
			}
			spec := analysis.Spec{Kind: analysis.KindEvaluate, Model: args[0], Datasets: on, Label: label,
				CalibrationBins: bins, Filter: f.filter, Purpose: f.purpose, Project: f.project}
			if thresholds != "" {
				for _, s := range strings.Split(thresholds, ",") {
					v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
					if err != nil {
						return usageErr(fmt.Errorf("--thresholds: %q is not a number", s))
					}
					spec.Thresholds = append(spec.Thresholds, v)
				}
			}
			if err := spec.Validate(); err != nil {
				return usageErr(err)
			}
			return runAnalysis(g, cmd, spec, f.out)
		},
	}
	cmd.Flags().StringArrayVar(&on, "on", nil, "a labelled dataset OWNER/ID to evaluate on (repeat for several)")
	cmd.Flags().StringVar(&label, "label", "", "the boolean outcome column the scores are judged against")
	cmd.Flags().StringVar(&thresholds, "thresholds", "0.5", "score thresholds for accuracy, sensitivity and specificity, comma-separated, multiples of 0.001")
	cmd.Flags().IntVar(&bins, "bins", 10, "calibration bins")
	f.register(cmd, g)
	return cmd
}

// printEvaluation writes each region's metrics and the pooled ones.
func printEvaluation(w io.Writer, r analysis.Result) {
	row := evaluationRow
	rows := [][]string{}
	var thresholds [][]string
	for _, p := range r.Parts {
		if len(p.Contributions) == 0 {
			continue
		}
		c, err := analysis.ReadContribution(p.Contributions[0])
		if err != nil || c.Evaluation == nil {
			continue
		}
		e := c.Evaluation
		rows = append(rows, row(p.Dataset, e.N, e.Positives, e.AUC, e.Brier))
		for _, t := range e.Thresholds {
			thresholds = append(thresholds, confusionRow(p.Dataset, t))
		}
	}
	if pooled := r.Combined.Evaluation; pooled != nil {
		rows = append(rows, row("pooled", pooled.N, pooled.Positives, pooled.AUC, pooled.Brier))
		for _, t := range pooled.Thresholds {
			thresholds = append(thresholds, confusionRow("pooled", t))
		}
	}
	_ = printTable(w, evaluationHeader, rows)
	if len(thresholds) > 0 {
		fmt.Fprintln(w)
		_ = printTable(w, []string{"REGION", "THRESHOLD", "ACCURACY", "SENSITIVITY", "SPECIFICITY"}, thresholds)
	}
}

func confusionRow(region string, c evaluation.Confusion) []string {
	rate := func(r evaluation.Rate) string {
		if r.Suppressed != "" {
			return "* " + string(r.Suppressed)
		}
		return num(r.Value)
	}
	return []string{region, num(c.Threshold), rate(c.Accuracy), rate(c.Sensitivity), rate(c.Specificity)}
}

func newEvaluationsCmd(g *globals) *cobra.Command {
	var model string
	cmd := &cobra.Command{
		Use:   "evaluations [--model OWNER/ID]",
		Short: "Models' evaluations committed to the registry: each region's signed metrics",
		Long: `evaluations reads, from this node's replica of the registry, the evaluations
that members committed (xborder evaluate): for each, every region's metrics
as its owner signed them, and their pooling.`,
		Example: `  xborder evaluations --model fr-grandest/diabetes-risk
  xborder evaluations --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var l api.EvaluationList
			if err := c.get(cmd.Context(), "/v1/evaluations?model="+url.QueryEscape(model), &l); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, l)
			}
			if len(l.Evaluations) == 0 {
				fmt.Fprintln(g.out, "no evaluation committed")
				return nil
			}
			for i, e := range l.Evaluations {
				if i > 0 {
					fmt.Fprintln(g.out)
				}
				fmt.Fprintf(g.out, "%s, evaluation %s, committed by %s at %s\n", e.Model, e.Analysis, e.CommittedBy, e.Committed.Format(time.RFC3339))
				rows := [][]string{}
				for _, r := range e.Regions {
					rows = append(rows, evaluationRow(r.Dataset, r.Evaluation.N, r.Evaluation.Positives, r.Evaluation.AUC, r.Evaluation.Brier))
				}
				if e.Pooled != nil {
					rows = append(rows, evaluationRow("pooled", e.Pooled.N, e.Pooled.Positives, e.Pooled.AUC, e.Pooled.Brier))
				}
				if err := printTable(g.out, evaluationHeader, rows); err != nil {
					return err
				}
				if e.Problem != "" {
					fmt.Fprintf(g.out, "problem: %s\n", e.Problem)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "only this model's evaluations")
	cmd.Flags().BoolVar(&g.json, "json", false, "print JSON")
	return cmd
}

var evaluationHeader = []string{"REGION", "N", "POSITIVES", "AUC", "95% CI", "BRIER"}

func evaluationRow(name string, n, pos int, auc evaluation.Interval, brier float64) []string {
	return []string{name, strconv.Itoa(n), strconv.Itoa(pos), num(auc.Estimate),
		fmt.Sprintf("%s–%s", num(auc.Lower), num(auc.Upper)), num(brier)}
}
