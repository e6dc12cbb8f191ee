package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/node/api"
)

// analyseFlags are the flags every analysis shares.
type analyseFlags struct {
	vars    []string
	filter  string
	purpose string
	project string
	out     string
}

func (f *analyseFlags) register(cmd *cobra.Command, g *globals) {
	cmd.Flags().StringVar(&f.filter, "filter", "", `rows to analyse, such as 'age >= 50 and sex == "F"'`)
	cmd.Flags().StringVar(&f.purpose, "purpose", "", "purpose from the federation's vocabulary (research, public-health, statistics, ...)")
	cmd.Flags().StringVar(&f.project, "project", "", "the joint project that covers the analysis")
	cmd.Flags().StringVar(&f.out, "out", "", "also write the signed result to this file (for xborder analysis verify)")
	cmd.Flags().BoolVar(&g.json, "json", false, "print the analysis as JSON")
}

func newAnalyseCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analyse",
		Short: "Run statistics across partners' datasets; the rows stay with their owners",
		Long: `analyse asks the owner of each named dataset to compute on its own rows and
release only the aggregates its disclosure rules allow (data.xborder.analysis
in its policy), and combines them. Rows never leave their owners. Each owner
signs what it releases; --out keeps the result with every signature, for
'xborder analysis verify'.

A line per region and, for a GLM, per iteration shows the progress on stderr.
Exit code 3 when an owner's policy denies, with its reasons.`,
		Example: `  xborder analyse summary fr-grandest/cohort de-bw/cohort --var age --purpose research
  xborder analyse table fr-grandest/cohort de-bw/cohort --var sex --var smoker --purpose research
  xborder analyse table fr-grandest/cohort --var bmi --by sex --purpose statistics
  xborder analyse histogram fr-grandest/cohort --var age --breaks 20,30,40,50,60,70,80,90 --purpose research
  xborder analyse cor fr-grandest/cohort ch-basel/cohort --var age --var bmi --var sbp --purpose research
  xborder analyse glm fr-grandest/cohort de-bw/cohort ch-basel/cohort \
      --formula 'diabetes ~ age + bmi + sex' --family binomial --purpose research --project upper-rhine-diabetes --out fit.json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newAnalyseKindCmd(g, analysis.KindSummary, "summary", "Count, mean, standard deviation and quantiles of a numeric variable"),
		newAnalyseKindCmd(g, analysis.KindTable, "table", "Contingency table of one or two factors, or means of a variable by a factor (--by)"),
		newAnalyseKindCmd(g, analysis.KindHistogram, "histogram", "Counts of a numeric variable between breaks"),
		newAnalyseKindCmd(g, analysis.KindCorrelation, "cor", "Pearson correlation matrix of numeric variables"),
		newAnalyseKindCmd(g, analysis.KindGLM, "glm", "Generalised linear model (gaussian, binomial, poisson), fitted across owners"),
	)
	return cmd
}

func newAnalyseKindCmd(g *globals, kind analysis.Kind, name, short string) *cobra.Command {
	var f analyseFlags
	var by, breaks, formula, family string
	cmd := &cobra.Command{
		Use:     name + " OWNER/ID... [flags]",
		Short:   short,
		Example: analyseExamples[kind],
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "purpose"); err != nil {
				return err
			}
			spec := analysis.Spec{Kind: kind, Datasets: args, Variables: f.vars, By: by, Formula: formula,
				Family: family, Filter: f.filter, Purpose: f.purpose, Project: f.project}
			if breaks != "" {
				for _, b := range strings.Split(breaks, ",") {
					v, err := strconv.ParseFloat(strings.TrimSpace(b), 64)
					if err != nil {
						return usageErr(fmt.Errorf("--breaks: %q is not a number", b))
					}
					spec.Breaks = append(spec.Breaks, v)
				}
			}
			if err := spec.Validate(); err != nil {
				return usageErr(err)
			}
			return runAnalysis(g, cmd, spec, f.out)
		},
	}
	if kind != analysis.KindGLM {
		cmd.Flags().StringArrayVar(&f.vars, "var", nil, "a variable to analyse (repeat for several)")
	}
	switch kind {
	case analysis.KindTable:
		cmd.Flags().StringVar(&by, "by", "", "summarise the one --var by the levels of this factor")
	case analysis.KindHistogram:
		cmd.Flags().StringVar(&breaks, "breaks", "", "bin edges, increasing, comma-separated (every owner counts between the same edges)")
	case analysis.KindGLM:
		cmd.Flags().StringVar(&formula, "formula", "", `the model, such as 'outcome ~ age + bmi + sex' (factors become indicators)`)
		cmd.Flags().StringVar(&family, "family", "gaussian", "gaussian, binomial or poisson")
	}
	f.register(cmd, g)
	return cmd
}

var analyseExamples = map[analysis.Kind]string{
	analysis.KindSummary: `  xborder analyse summary fr-grandest/cohort de-bw/cohort --var bmi --purpose research
  xborder analyse summary fr-grandest/cohort --var sbp --filter 'age >= 50 and smoker == true' --purpose statistics --json`,
	analysis.KindTable: `  xborder analyse table fr-grandest/cohort de-bw/cohort --var sex --var smoker --purpose research
  xborder analyse table fr-grandest/cohort de-bw/cohort --var sbp --by sex --purpose research`,
	analysis.KindHistogram:   `  xborder analyse histogram fr-grandest/cohort ch-basel/cohort --var age --breaks 30,40,50,60,70,80,90 --purpose research`,
	analysis.KindCorrelation: `  xborder analyse cor fr-grandest/cohort de-bw/cohort --var age --var bmi --var sbp --purpose research`,
	analysis.KindGLM: `  xborder analyse glm fr-grandest/cohort de-bw/cohort ch-basel/cohort --formula 'diabetes ~ age + bmi + sex + smoker' \
      --family binomial --purpose research --out fit.json
  xborder analyse glm fr-grandest/cohort --formula 'visits ~ age + diabetes' --family poisson --filter 'age >= 65' --purpose public-health`,
}

// runAnalysis starts the analysis, follows it to its end with a line per
// change of a region's part, and prints the result.
func runAnalysis(g *globals, cmd *cobra.Command, spec analysis.Spec, out string) error {
	c, err := g.newClient()
	if err != nil {
		return err
	}
	var st analysis.Status
	if err := c.post(cmd.Context(), "/v1/analyses", spec, &st); err != nil {
		return err
	}
	progress := newProgress(g.err)
	progress.show(st)
	for !st.Done() {
		// The node holds the poll up to 20 s: well under the client's 30 s
		// bound on a call, so a slow answer is not taken for a lost node.
		path := "/v1/analyses/" + url.PathEscape(st.ID) + "?after=" + strconv.FormatUint(st.Version, 10) + "&wait=20s"
		if err := c.get(cmd.Context(), path, &st); err != nil {
			if cmd.Context().Err() != nil {
				return fmt.Errorf("stopped waiting; analysis %s goes on in the node (xborder analysis show %s)", st.ID, st.ID)
			}
			return err
		}
		progress.show(st)
	}
	if out != "" && st.Result != nil {
		if err := writeResultFile(out, *st.Result); err != nil {
			return err
		}
	}
	if g.json {
		if err := printJSON(g.out, st); err != nil {
			return err
		}
	} else if st.Result != nil {
		printResult(g.out, *st.Result)
	}
	return analysisOutcome(st)
}

// analysisOutcome is the command's error for an analysis without a
// result: exit 3 when a policy denied, with every region's reasons.
func analysisOutcome(st analysis.Status) error {
	if st.State == analysis.StateDone {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "analysis %s gave no result: ", st.ID)
	denied := false
	for _, r := range st.Regions {
		if r.State == analysis.StateDone {
			continue
		}
		denied = denied || r.State == analysis.StateDenied
		fmt.Fprintf(&b, "\n  - %s: %s", r.Dataset, r.Message())
	}
	if len(st.Regions) == 0 || b.Len() == 0 {
		b.WriteString(st.Error)
	}
	err := errors.New(b.String())
	if denied {
		return &exitErr{code: exitDenied, err: err}
	}
	return err
}

// progress prints a line whenever a region's part changes.
type progress struct {
	w    io.Writer
	seen map[string]string
}

func newProgress(w io.Writer) *progress { return &progress{w: w, seen: map[string]string{}} }

func (p *progress) show(st analysis.Status) {
	for _, r := range st.Regions {
		line := string(r.State)
		switch {
		case r.State == analysis.StateDone && r.Iteration > 0:
			line = fmt.Sprintf("iteration %d", r.Iteration)
		case r.State != analysis.StatePending && r.State != analysis.StateRunning:
			line = r.Message()
		}
		if p.seen[r.Dataset] != line {
			p.seen[r.Dataset] = line
			fmt.Fprintf(p.w, "%-32s %s\n", r.Dataset, line)
		}
	}
}

func writeResultFile(path string, r analysis.Result) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o600)
}

// printResult writes the combined result as tables.
func printResult(w io.Writer, r analysis.Result) {
	c := r.Combined
	fmt.Fprintf(w, "%s over %d rows from %d datasets", r.Spec.Kind, c.Rows, len(r.Parts))
	if r.Spec.Filter != "" {
		fmt.Fprintf(w, " where %s", r.Spec.Filter)
	}
	fmt.Fprintln(w)
	switch {
	case c.Summary != nil:
		printSummary(w, r.Spec.Variables[0], *c.Summary)
	case c.Table != nil:
		printCrossTab(w, r.Spec.Variables, *c.Table)
	case c.Means != nil:
		rows := [][]string{}
		for _, gm := range c.Means.Groups {
			if gm.Suppressed != "" {
				rows = append(rows, []string{gm.Level, "-", "-", "-", string(gm.Suppressed)})
				continue
			}
			rows = append(rows, []string{gm.Level, strconv.Itoa(gm.N), num(gm.Mean), num(gm.SD), ""})
		}
		_ = printTable(w, []string{r.Spec.By, "N", "MEAN " + r.Spec.Variables[0], "SD", "SUPPRESSED"}, rows)
	case c.Histogram != nil:
		printHistogram(w, *c.Histogram)
	case c.Correlation != nil:
		header := append([]string{""}, c.Correlation.Names...)
		rows := [][]string{}
		for i, n := range c.Correlation.Names {
			row := []string{n}
			for j := range c.Correlation.Names {
				row = append(row, num(c.Correlation.R[i][j]))
			}
			rows = append(rows, row)
		}
		_ = printTable(w, header, rows)
	case c.GLM != nil:
		printFit(w, *c.GLM)
	case c.Evaluation != nil:
		printEvaluation(w, r)
	case len(c.Modules) > 0:
		for _, m := range c.Modules {
			fmt.Fprintf(w, "\n%s (%d rows):\n%s\n", m.Dataset, m.Rows, indentJSON(m.Output))
			for _, s := range m.Suppressed {
				fmt.Fprintf(w, "  withheld %s: %s\n", s.Path, s.Reason)
			}
		}
	}
	fmt.Fprintln(w)
	rows := [][]string{}
	for _, p := range r.Parts {
		rows = append(rows, []string{p.Dataset, strconv.Itoa(len(p.Contributions)), p.PeerID})
	}
	_ = printTable(w, []string{"SIGNED BY", "CONTRIBUTIONS", "PEER ID"}, rows)
}

func printSummary(w io.Writer, v string, s stats.Summary) {
	kv := [][2]string{{"variable", v}, {"n", strconv.Itoa(s.N)}, {"mean", num(s.Mean)}, {"sd", num(s.SD)}}
	for _, q := range s.Quantiles {
		kv = append(kv, [2]string{fmt.Sprintf("q%g", q.Prob*100), num(q.Value)})
	}
	_ = printFields(w, kv)
	if s.QuantilesApproximate {
		fmt.Fprintln(w, "(quantiles: the count-weighted mean of each region's, not the pooled rows'; n, mean and sd are exact)")
	}
}

func printCrossTab(w io.Writer, vars []string, t stats.Table) {
	cell := func(c stats.Cell) string {
		if c.Suppressed != "" {
			return "*"
		}
		return strconv.Itoa(c.Count)
	}
	header := []string{vars[0]}
	if len(t.Cols) == 0 {
		header = append(header, "N")
	} else {
		header[0] = vars[0] + " \\ " + vars[1]
		header = append(header, t.Cols...)
	}
	rows := [][]string{}
	suppressed := false
	for i, level := range t.Rows {
		row := []string{level}
		for _, c := range t.Cells[i] {
			row = append(row, cell(c))
			suppressed = suppressed || c.Suppressed != ""
		}
		rows = append(rows, row)
	}
	_ = printTable(w, header, rows)
	if suppressed {
		fmt.Fprintln(w, "* withheld by an owner's disclosure rules (a count under its minimum, or the one that would reveal it)")
	}
}

func printHistogram(w io.Writer, h stats.Hist) {
	max := 0
	for _, b := range h.Bins {
		if b.Suppressed == "" {
			max = int(math.Max(float64(max), float64(b.Count)))
		}
	}
	rows := [][]string{}
	for i, b := range h.Bins {
		bar, count := "", "*"
		if b.Suppressed == "" {
			count = strconv.Itoa(b.Count)
			if max > 0 {
				bar = strings.Repeat("█", b.Count*40/max)
			}
		}
		rows = append(rows, []string{fmt.Sprintf("[%g, %g)", h.Breaks[i], h.Breaks[i+1]), count, bar})
	}
	_ = printTable(w, []string{"BIN", "N", ""}, rows)
}

func printFit(w io.Writer, f stats.Fit) {
	rows := [][]string{}
	for _, c := range f.Coefficients {
		rows = append(rows, []string{c.Name, num(c.Estimate), num(c.StdError), num(c.Statistic), pval(c.PValue),
			"[" + num(c.Lower) + ", " + num(c.Upper) + "]"})
	}
	_ = printTable(w, []string{"TERM", "ESTIMATE", "STD ERROR", strings.ToUpper(f.Statistic), "P", "95% CI"}, rows)
	fmt.Fprintf(w, "%s family, n = %d, deviance %s on %d df, AIC %s, %d iterations\n",
		f.Family, f.N, num(f.Deviance), f.DF, num(f.AIC), f.Iterations)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "NA"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func pval(p float64) string {
	if p < 1e-4 {
		return "<0.0001"
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

func newAnalysisCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analysis",
		Short: "List, show and verify federated analyses",
		Args:  usageArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "The analyses you ran (all of them for operators and auditors)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var all []analysis.Status
			if err := c.get(cmd.Context(), "/v1/analyses", &all); err != nil {
				return err
			}
			if g.json {
				return printJSON(g.out, all)
			}
			rows := [][]string{}
			for _, st := range all {
				rows = append(rows, []string{st.ID, string(st.Spec.Kind), string(st.State), strings.Join(st.Spec.Datasets, " "), st.Researcher})
			}
			return printTable(g.out, []string{"ID", "KIND", "STATE", "DATASETS", "RESEARCHER"}, rows)
		},
	}
	list.Flags().BoolVar(&g.json, "json", false, "print JSON")
	var out string
	show := &cobra.Command{
		Use:     "show ID",
		Short:   "An analysis: each region's part and the result",
		Example: "  xborder analysis show 20261207T101500Z-3f9a1c2b4d5e --out fit.json",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var st analysis.Status
			if err := c.get(cmd.Context(), "/v1/analyses/"+url.PathEscape(args[0]), &st); err != nil {
				return err
			}
			if out != "" && st.Result != nil {
				if err := writeResultFile(out, *st.Result); err != nil {
					return err
				}
			}
			if g.json {
				return printJSON(g.out, st)
			}
			newProgress(g.out).show(st)
			if st.Result != nil {
				printResult(g.out, *st.Result)
			}
			return analysisOutcome(st)
		},
	}
	show.Flags().BoolVar(&g.json, "json", false, "print JSON")
	show.Flags().StringVar(&out, "out", "", "write the signed result to this file")
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check every owner's signature in a result and recompute its combination",
		Long: `verify checks each contribution of a saved result against its owner's key,
that each owner is the member the federation's registry lists under that
name, and that the combination (for a GLM, every iteration) follows from
the signed contributions alone. Exit code 4 when it does not verify.`,
		Example: "  xborder analysis verify fit.json",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var res analysis.Result
			if err := json.Unmarshal(raw, &res); err != nil {
				return usageErr(fmt.Errorf("%s is not an analysis result: %w", args[0], err))
			}
			c, err := g.newClient()
			if err != nil {
				return err
			}
			var ans api.VerifyAnswer
			if err := c.post(cmd.Context(), "/v1/analyses/verify", res, &ans); err != nil {
				return err
			}
			if g.json {
				if err := printJSON(g.out, ans); err != nil {
					return err
				}
			}
			if !ans.Valid {
				return &exitErr{code: exitIntegrity, err: errors.New(ans.Problem)}
			}
			if !g.json {
				fmt.Fprintf(g.out, "%s verifies: %d owners' signatures, each a member of the federation, and the combination follows from them\n", args[0], len(res.Parts))
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&g.json, "json", false, "print JSON")
	cmd.AddCommand(list, show, verify)
	return cmd
}
