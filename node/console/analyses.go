package console

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/evaluation"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/consensus"
	"github.com/xborder/xborder/exchange"
)

// glmFamilies are the families a GLM may be fitted with (analysis.Spec).
var glmFamilies = []string{"gaussian", "binomial", "poisson"}

// analysisForm is what the researcher typed, kept to show the form again
// with its problems.
type analysisForm struct {
	Kind, Formula, Family, Filter, Breaks, By, Purpose, Project string
	Datasets, Variables                                         []string
}

// ownerDatasets are one owner's analysable datasets, for the form's
// checkboxes.
type ownerDatasets struct {
	Owner    string
	Datasets []exchange.Listing
}

// dictColumn is a column of the listed datasets' dictionaries, with the
// datasets that have it: the form's variables and its column reference.
type dictColumn struct {
	tabular.Column
	Datasets []string
}

// Factor reports whether a table may count by the column.
func (d dictColumn) Factor() bool {
	return d.Type == tabular.TypeCategorical || d.Type == tabular.TypeBoolean
}

type analysisFormData struct {
	F        analysisForm
	Kinds    []analysis.Kind
	Families []string
	Owners   []ownerDatasets
	Columns  []dictColumn
	Purposes []string
	Projects []consensus.Project // active ones
	ShowProj bool
	Problems []string
	Error    string
}

func (c *Console) analyses(x *rc) {
	list, err := c.svc.Analyses.Analyses(x.ctx(), x.user().AnalysisCaller())
	if err != nil {
		c.failErr(x, err, Prefix)
		return
	}
	c.render(x, http.StatusOK, "analyses.html", &page{Title: "analyses.title", Active: "nav.analyses", Data: list})
}

func (c *Console) analysisForm(x *rc) {
	d := c.analysisFormData(x, analysisForm{Kind: string(analysis.KindSummary), Family: glmFamilies[0]})
	c.render(x, http.StatusOK, "analysis_new.html", &page{Title: "analysis.new", Active: "nav.analyses", Data: d})
}

// analysisFormData fills the form's choices: the analysable datasets of
// the catalogue (those with a data dictionary), their columns, the
// purposes and the active projects.
func (c *Console) analysisFormData(x *rc, f analysisForm) analysisFormData {
	d := analysisFormData{F: f, Kinds: analysis.Kinds, Families: glmFamilies, Purposes: c.purposes(x)}
	if x.may("GET", "/v1/catalogue") {
		d.Owners, d.Columns = analysable(c.svc.Catalogue.Search(x.ctx(), exchange.Filter{Kind: exchange.KindDataset}))
	}
	if d.ShowProj = x.may("GET", "/v1/projects"); d.ShowProj {
		ps, _, _ := c.svc.Registry.Projects(x.ctx())
		for _, p := range ps {
			if p.Status == "active" {
				d.Projects = append(d.Projects, p)
			}
		}
	}
	return d
}

// analysable groups the listed datasets that have a data dictionary by
// owner, and merges their columns in the order first seen. Identifier
// columns are never analysed, so they are not offered.
func analysable(ls []exchange.Listing) ([]ownerDatasets, []dictColumn) {
	var owners []ownerDatasets
	var cols []dictColumn
	index := map[string]int{}
	for _, l := range ls {
		if l.Kind != exchange.KindDataset || l.Dictionary == nil {
			continue
		}
		i := slices.IndexFunc(owners, func(o ownerDatasets) bool { return o.Owner == l.Owner })
		if i < 0 {
			owners = append(owners, ownerDatasets{Owner: l.Owner})
			i = len(owners) - 1
		}
		owners[i].Datasets = append(owners[i].Datasets, l)
		for _, col := range l.Dictionary.Columns {
			if col.Identifier {
				continue
			}
			j, ok := index[col.Name]
			if !ok {
				index[col.Name] = len(cols)
				col.Levels = slices.Clone(col.Levels)
				cols = append(cols, dictColumn{Column: col})
				j = len(cols) - 1
			}
			have := &cols[j]
			have.Datasets = append(have.Datasets, l.Ref())
			for _, lv := range col.Levels {
				if !slices.Contains(have.Levels, lv) {
					have.Levels = append(have.Levels, lv)
				}
			}
		}
	}
	slices.SortFunc(owners, func(a, b ownerDatasets) int { return strings.Compare(a.Owner, b.Owner) })
	return owners, cols
}

// readAnalysisForm reads the posted form.
func readAnalysisForm(r *http.Request) analysisForm {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	nonEmpty := func(vs []string) []string {
		var out []string
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	return analysisForm{Kind: f("kind"), Formula: f("formula"), Family: f("family"), Filter: f("filter"),
		Breaks: f("breaks"), By: f("by"), Purpose: f("purpose"), Project: f("project"),
		Datasets: nonEmpty(r.PostForm["datasets"]), Variables: nonEmpty(r.PostForm["variables"])}
}

// spec builds the analysis the form asks for. Every field of the form is
// sent whatever the kind, so only the fields of the chosen kind are
// taken: the family select always has a value, for instance, and a
// summary with a family is not well specified.
func (f analysisForm) spec(x *rc) (analysis.Spec, []string) {
	s := analysis.Spec{Kind: analysis.Kind(f.Kind), Datasets: f.Datasets, Filter: f.Filter, Purpose: f.Purpose, Project: f.Project}
	var probs []string
	switch s.Kind {
	case analysis.KindGLM:
		s.Formula, s.Family = f.Formula, f.Family
	case analysis.KindTable:
		s.Variables, s.By = f.Variables, f.By
	case analysis.KindHistogram:
		s.Variables = f.Variables
		for _, b := range formList(f.Breaks) {
			v, err := strconv.ParseFloat(b, 64)
			if err != nil {
				probs = append(probs, x.t("analysis.bad_break", b))
				continue
			}
			s.Breaks = append(s.Breaks, v)
		}
	default:
		s.Variables = f.Variables
	}
	return s, probs
}

// startAnalysis starts the analysis the form asks for and shows its page;
// a spec that cannot be answered shows the form again with every problem.
func (c *Console) startAnalysis(x *rc) {
	f := readAnalysisForm(x.r)
	spec, probs := f.spec(x)
	code := http.StatusBadRequest
	var failure string
	if len(probs) == 0 {
		st, err := c.svc.Analyses.Start(x.ctx(), x.user().AnalysisCaller(), spec)
		if err == nil {
			c.redirect(x, Prefix+"analyses/"+st.ID)
			return
		}
		var bad *analysis.SpecError
		if errors.As(err, &bad) {
			probs = bad.Problems
		} else {
			code, _, _ = classify(err)
			failure = err.Error()
		}
	}
	d := c.analysisFormData(x, f)
	d.Problems, d.Error = probs, failure
	c.render(x, code, "analysis_new.html", &page{Title: "analysis.new", Active: "nav.analyses", Data: d})
}

// analysisView is an analysis as its page shows it: the status, and the
// result's pictures.
type analysisView struct {
	analysis.Status
	Hist     *histChart
	HistRows []histRow
	Forest   *forestChart
	// Intercept is the GLM's intercept, which the forest plot leaves out:
	// on the scale of the outcome, it would flatten the other terms.
	Intercept *stats.Coefficient
	// Suppressions are the reasons counts of the result are withheld, for
	// the legend.
	Suppressions []stats.Suppression
	// Ratio is the message key of exp(estimate)'s name when the family's
	// link is a logarithm or a logit; empty otherwise.
	Ratio string
}

func (c *Console) analysisPage(x *rc) {
	st, err := c.svc.Analyses.Analysis(x.ctx(), x.user().AnalysisCaller(), x.r.PathValue("id"))
	if err != nil {
		c.failErr(x, err, Prefix+"analyses")
		return
	}
	c.render(x, http.StatusOK, "analysis.html", &page{Title: "analysis.title", Active: "nav.analyses", Data: viewAnalysis(st)})
}

func viewAnalysis(st analysis.Status) analysisView {
	v := analysisView{Status: st}
	if st.Result == nil {
		return v
	}
	comb := st.Result.Combined
	var why []stats.Suppression
	note := func(s stats.Suppression) {
		if s != "" && !slices.Contains(why, s) {
			why = append(why, s)
		}
	}
	if t := comb.Table; t != nil {
		for _, row := range t.Cells {
			for _, cell := range row {
				note(cell.Suppressed)
			}
		}
	}
	if m := comb.Means; m != nil {
		for _, g := range m.Groups {
			note(g.Suppressed)
		}
	}
	if h := comb.Histogram; h != nil {
		for _, b := range h.Bins {
			note(b.Suppressed)
		}
		note(h.Below.Suppressed)
		note(h.Above.Suppressed)
		v.Hist, v.HistRows = newHistChart(*h), histRows(*h)
	}
	v.Suppressions = why
	if fit := comb.GLM; fit != nil {
		var terms []stats.Coefficient
		for i, co := range fit.Coefficients {
			if co.Name == tabular.InterceptColumn {
				v.Intercept = &fit.Coefficients[i]
				continue
			}
			terms = append(terms, co)
		}
		v.Forest = newForestChart(terms)
		switch fit.Family {
		case "binomial":
			v.Ratio = "analysis.odds_ratio"
		case "poisson":
			v.Ratio = "analysis.rate_ratio"
		}
	}
	return v
}

// histRow is a line of a histogram's table: a bin, or the values below
// the first break or at or above the last.
type histRow struct {
	Label      string
	Count      int
	Suppressed stats.Suppression
}

// histRows lists the bins, and the values outside the breaks when there
// are any (or their count is withheld).
func histRows(h stats.Hist) []histRow {
	var out []histRow
	n := len(h.Breaks)
	if n < 2 || len(h.Bins) != n-1 {
		return nil
	}
	if h.Below.Count > 0 || h.Below.Suppressed != "" {
		out = append(out, histRow{Label: "< " + label(h.Breaks[0]), Count: h.Below.Count, Suppressed: h.Below.Suppressed})
	}
	for i, b := range h.Bins {
		out = append(out, histRow{Label: "[" + label(h.Breaks[i]) + ", " + label(h.Breaks[i+1]) + ")", Count: b.Count, Suppressed: b.Suppressed})
	}
	if h.Above.Count > 0 || h.Above.Suppressed != "" {
		out = append(out, histRow{Label: "≥ " + label(h.Breaks[n-1]), Count: h.Above.Count, Suppressed: h.Above.Suppressed})
	}
	return out
}

// analysisResult serves the signed result as a file, for `xborder
// analysis verify` or anyone else who checks it without this node.
func (c *Console) analysisResult(x *rc) {
	st, err := c.svc.Analyses.Analysis(x.ctx(), x.user().AnalysisCaller(), x.r.PathValue("id"))
	if err != nil {
		c.failErr(x, err, Prefix+"analyses")
		return
	}
	if st.Result == nil {
		c.fail(x, http.StatusNotFound, x.t("analysis.no_result"))
		return
	}
	raw, err := json.MarshalIndent(st.Result, "", "  ")
	if err != nil {
		c.failErr(x, err, Prefix+"analyses/"+st.ID)
		return
	}
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="analysis-`+safeFileName(st.ID)+`.json"`)
	h.Set("Content-Length", strconv.Itoa(len(raw)+1))
	x.w.WriteHeader(http.StatusOK)
	_, _ = x.w.Write(append(raw, '\n'))
}

// Template helpers for results.

// num shows an estimate with four significant digits; an undefined value
// (a constant variable's correlation) as a dash.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// pvalue shows a p-value as statistics tables do: to four places, and the
// smallest ones as below 0.0001.
func pvalue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p < 0.0001:
		return "< 0.0001"
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

// suppressionMark is the footnote mark of a withheld count's reason.
func suppressionMark(s stats.Suppression) string {
	switch s {
	case stats.SuppressedSmall:
		return "a"
	case stats.SuppressedSecondary:
		return "b"
	case stats.SuppressedInPart:
		return "c"
	case evaluation.SuppressedThresholdInCell:
		return "d"
	}
	return "?"
}
