package tour

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/exchange"
)

// cohorts are the five regions' synthetic patient cohorts, and how many
// patients each: enough for a fit worth reading, few enough for the demo
// to stay quick. The fit runs across the first three.
var cohorts = []struct {
	owner  string
	rows   int
	fitted bool
}{{"fr-grandest", 4000, true}, {"de-bw", 3000, true}, {"ch-basel", 2000, true}, {"be-wallonie", 2500, false}, {"lu-luxembourg", 1500, false}}

const (
	cohortID   = "diabetes-cohort"
	cohortSeed = 2026
	// analysisWait bounds one analysis: a fit on loopback takes well under
	// a second; the node holds each read of it for at most 30 s.
	analysisWait = 2 * time.Minute
	// oldest is a filter that leaves few patients per region (ages run
	// from 30 to 85), so some cells of a table of them are small.
	oldest = "age >= 85"
)

// cohortRefs are the cohorts the fit runs across, as owner/id.
func cohortRefs() []string {
	var ds []string
	for _, c := range cohorts {
		if c.fitted {
			ds = append(ds, c.owner+"/"+cohortID)
		}
	}
	return ds
}

// analyses: the five regions publish synthetic cohorts with their data
// dictionaries; a researcher in Luxembourg fits a logistic regression
// across three of them without any row leaving its owner, asks for a table whose
// small cells the owners withhold, tries to isolate three patients by
// differencing and is refused, and Wallonie verifies the fit from its
// signatures alone.
func (t *tour) analyses(ctx context.Context) error {
	lu := t.byName["lu-luxembourg"]
	t.p.Printf("\nFederated analysis (alice@uni.lu, researcher at lu-luxembourg):\n")
	data := map[string][]byte{}
	dict := cohort.Dictionary()
	for _, c := range cohorts {
		st := t.p.Start("analysis.publish", c.owner)
		data[c.owner] = cohort.Generate(c.owner, c.rows, cohortSeed)
		path := filepath.Join(t.dir, c.owner+"-"+cohortID+".csv")
		if err := os.WriteFile(path, data[c.owner], 0o644); err != nil {
			return st.Fail(err)
		}
		// Restricted and not personal data: the shipped analysis policy
		// lets any member analyse it for a purpose of the vocabulary,
		// without a project.
		pub := exchange.Publication{ID: cohortID, Title: "Type 2 diabetes cohort",
			Description: "Patients followed by GPs: age, sex, BMI, smoking, blood pressure, diabetes (synthetic).",
			Theme:       "health", Classification: "restricted", License: "research-only",
			Keywords: []string{"diabetes", "cohort"}, FileName: cohortID + ".csv", Dictionary: &dict}
		var e exchange.Entry
		if err := t.byName[c.owner].Admin.Upload(ctx, "/v1/datasets", pub, path, &e); err != nil {
			return st.Fail(fmt.Errorf("%s publishes its cohort: %w", c.owner, err))
		}
		st.OK(Figures{ID: e.Ref(), Bytes: e.Size, Count: c.rows})
		t.p.Printf("  %s published %s: %d synthetic patients, %d columns in its data dictionary (%s)\n",
			c.owner, e.Ref(), c.rows, len(dict.Columns), e.Classification)
	}
	if err := t.cohortsListed(ctx, lu); err != nil {
		return err
	}
	alice, err := lu.Researcher("alice@uni.lu", "Université du Luxembourg")
	if err != nil {
		return err
	}
	fit, err := t.glm(ctx, lu, alice)
	if err != nil {
		return err
	}
	if err := t.suppressed(ctx, lu, alice); err != nil {
		return err
	}
	if err := t.differencing(ctx, lu, alice, "ch-basel", data["ch-basel"]); err != nil {
		return err
	}
	return t.verify(ctx, t.byName["be-wallonie"], *fit.Result)
}

// cohortsListed waits until lu lists every cohort with its dictionary,
// from which its node agrees the model's columns with the owners.
func (t *tour) cohortsListed(ctx context.Context, lu Node) error {
	st := t.p.Start("catalogue.sync", lu.Name)
	for _, c := range cohorts {
		var lastErr error
		// As for the other datasets: no read blocks until a partner's sync.
		err := Retry(ctx, replicaWait, DefaultBackoff, func() (bool, error) {
			var l exchange.Listing
			lastErr = lu.Admin.Get(ctx, "/v1/catalogue/"+c.owner+"/"+cohortID, &l)
			if lastErr == nil && l.Dictionary == nil {
				lastErr = fmt.Errorf("%s/%s is listed without its data dictionary", c.owner, cohortID)
			}
			return lastErr == nil, nil
		})
		if errors.Is(err, ErrGaveUp) {
			err = fmt.Errorf("%s does not list %s/%s after %v: %w", lu.Name, c.owner, cohortID, replicaWait, lastErr)
		}
		if err != nil {
			return st.Fail(err)
		}
	}
	st.OK(Figures{Count: len(cohorts)})
	t.p.Printf("  %s lists the %d cohorts with their data dictionaries, from which its node lays out the model's columns\n", lu.Name, len(cohorts))
	return nil
}

// glm fits the model across the three regions and prints it beside the
// coefficients the cohorts were generated with.
func (t *tour) glm(ctx context.Context, lu Node, alice API) (analysis.Status, error) {
	spec := analysis.Spec{Kind: analysis.KindGLM, Datasets: cohortRefs(), Formula: "diabetes ~ age + bmi + sex + smoker",
		Family: "binomial", Purpose: "research"}
	st := t.p.Start("analysis.glm", lu.Name)
	a, err := analyse(ctx, alice, spec)
	if err != nil {
		return a, st.Fail(fmt.Errorf("the fit across %s: %w", strings.Join(spec.Datasets, ", "), err))
	}
	if a.State != analysis.StateDone || a.Result == nil || a.Result.Combined.GLM == nil {
		return a, st.Fail(fmt.Errorf("the fit across %s gave no result: %s", strings.Join(spec.Datasets, ", "), outcome(a)))
	}
	fit := *a.Result.Combined.GLM
	st.OK(Figures{ID: a.ID, Count: fit.N})
	t.p.Printf("  logistic regression %s across the three regions (rows stay with their owners):\n", spec.Formula)
	d := cohort.Diabetes
	truth := map[string]float64{tabular.InterceptColumn: d.Intercept, "age": d.Age, "bmi": d.BMI, "sex:M": d.Male, "smoker": d.Smoker}
	tw := tabwriter.NewWriter(t.p.Prose(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    TERM\tESTIMATE\tSTD ERROR\t95%% CI\tGENERATED WITH\n")
	for _, c := range fit.Coefficients {
		gen := "-"
		if v, ok := truth[c.Name]; ok {
			gen = strconv.FormatFloat(v, 'g', -1, 64)
		}
		fmt.Fprintf(tw, "    %s\t%.4f\t%.4f\t[%.3f, %.3f]\t%s\n", c.Name, c.Estimate, c.StdError, c.Lower, c.Upper, gen)
	}
	_ = tw.Flush()
	var rows []string
	for _, r := range a.Regions {
		rows = append(rows, fmt.Sprintf("%s %d", r.Owner, r.Rows))
	}
	t.p.Printf("  %d rows (%s), %d iterations; each region sent, per iteration, only X'WX, X'Wz, its deviance and its row count.\n",
		fit.N, strings.Join(rows, ", "), fit.Iterations)
	t.p.Printf("  This is the fit of the %d pooled rows, not an approximation of it: every iteration sums the regions' exact X'WX and X'Wz.\n", fit.N)
	var shifts []string
	for _, c := range cohorts {
		if c.fitted {
			shifts = append(shifts, fmt.Sprintf("%s %+g", c.owner, cohort.RegionEffect[c.owner]))
		}
	}
	t.p.Printf("  (Each region's own effect shifts its intercept, %s; the model has no region term.)\n", strings.Join(shifts, ", "))
	return a, nil
}

// suppressed asks for a table of the oldest patients, whose small cells
// the owners withhold, and prints each region's released counts beside
// the combined ones.
func (t *tour) suppressed(ctx context.Context, lu Node, alice API) error {
	spec := analysis.Spec{Kind: analysis.KindTable, Datasets: cohortRefs(), Variables: []string{"sex", "smoker"},
		Filter: oldest, Purpose: "research"}
	st := t.p.Start("analysis.suppressed", lu.Name)
	a, err := analyse(ctx, alice, spec)
	if err != nil {
		return st.Fail(fmt.Errorf("the table of sex by smoker where %s: %w", oldest, err))
	}
	if a.State != analysis.StateDone || a.Result == nil || a.Result.Combined.Table == nil {
		return st.Fail(fmt.Errorf("the table of sex by smoker where %s gave no result: %s", oldest, outcome(a)))
	}
	rows := []tableRow{}
	for _, p := range a.Result.Parts {
		c, err := released(p.Contributions[0])
		if err != nil {
			return st.Fail(fmt.Errorf("%s's contribution: %w", p.Dataset, err))
		}
		if c.Table == nil {
			return st.Fail(fmt.Errorf("%s's contribution holds no table", p.Dataset))
		}
		rows = append(rows, tableRow{label: p.Owner, table: *c.Table, min: c.Limits.MinCellCount})
	}
	rows = append(rows, tableRow{label: "combined", table: *a.Result.Combined.Table})
	withheld := 0
	for _, c := range slices.Concat(a.Result.Combined.Table.Cells...) {
		if c.Suppressed != "" {
			withheld++
		}
	}
	if withheld == 0 {
		return st.Fail(fmt.Errorf("no cell of the table where %s was withheld; the tour expects the oldest patients to make small cells", oldest))
	}
	st.OK(Figures{ID: a.ID, Count: withheld})
	t.p.Printf("  patients by sex and smoking where %s, as each region released them and combined:\n", oldest)
	printTables(t.p.Prose(), "    ", rows)
	return nil
}

// tableRow is one region's (or the combination's) released two-way table.
type tableRow struct {
	label string
	table stats.Table
	min   int // the owner's minimum cell count; 0 for the combination
}

// printTables prints two-way tables of the same levels as one line each,
// a withheld cell as *, then why each was withheld.
func printTables(w io.Writer, indent string, rows []tableRow) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	first := rows[0].table
	fmt.Fprintf(tw, "%s", indent)
	for _, r := range first.Rows {
		for _, c := range first.Cols {
			fmt.Fprintf(tw, "\t%s/%s", r, c)
		}
	}
	fmt.Fprintln(tw)
	type why struct {
		label string
		code  stats.Suppression
	}
	var whys []why
	minCount := 0
	for _, row := range rows {
		fmt.Fprintf(tw, "%s%s", indent, row.label)
		for _, c := range slices.Concat(row.table.Cells...) {
			if c.Suppressed == "" {
				fmt.Fprintf(tw, "\t%d", c.Count)
				continue
			}
			fmt.Fprintf(tw, "\t*")
			if !slices.Contains(whys, why{row.label, c.Suppressed}) {
				whys = append(whys, why{row.label, c.Suppressed})
			}
		}
		fmt.Fprintln(tw)
		minCount = max(minCount, row.min)
	}
	_ = tw.Flush()
	// The reasons in the order the owners apply them.
	order := []stats.Suppression{stats.SuppressedSmall, stats.SuppressedSecondary, stats.SuppressedInPart}
	slices.SortStableFunc(whys, func(a, b why) int { return slices.Index(order, a.code) - slices.Index(order, b.code) })
	for _, y := range whys {
		var reason string
		switch y.code {
		case stats.SuppressedSmall:
			reason = fmt.Sprintf("counts above 0 and under %d patients, which could name them", minCount)
		case stats.SuppressedSecondary:
			reason = "the smallest other count of each row and column holding one withheld count, which the line's total would give away"
		case stats.SuppressedInPart:
			reason = "every count to which a region's withheld count belongs"
		default:
			reason = "counts"
		}
		fmt.Fprintf(w, "%s* %s: withheld %s (%s)\n", indent, y.label, reason, y.code)
	}
}

// differencing: a summary of bmi over all of owner's rows, then over all
// but its few heaviest patients. The second would give away the heaviest
// patients' values by difference; the owner refuses it.
func (t *tour) differencing(ctx context.Context, lu Node, alice API, owner string, data []byte) error {
	ref := owner + "/" + cohortID
	spec := analysis.Spec{Kind: analysis.KindSummary, Datasets: []string{ref}, Variables: []string{"bmi"}, Purpose: "research"}
	st := t.p.Start("analysis.differencing", lu.Name)
	all, err := analyse(ctx, alice, spec)
	if err != nil {
		return st.Fail(fmt.Errorf("the summary of bmi over %s: %w", ref, err))
	}
	if all.State != analysis.StateDone || all.Result == nil || all.Result.Combined.Summary == nil {
		return st.Fail(fmt.Errorf("the summary of bmi over %s gave no result: %s", ref, outcome(all)))
	}
	// The owner's minimum subset, as its policy set it, is in what it
	// signed; the threshold leaves out fewer patients than that.
	c, err := released(all.Result.Parts[0].Contributions[0])
	if err != nil {
		return st.Fail(fmt.Errorf("%s's contribution: %w", ref, err))
	}
	bmi, err := column(data, "bmi")
	if err != nil {
		return st.Fail(err)
	}
	cut, left, err := heaviestLeftOut(bmi, 3, c.Limits.MinSubsetRows)
	if err != nil {
		return st.Fail(err)
	}
	sum := all.Result.Combined.Summary
	t.p.Printf("  differencing: the mean bmi of all %d patients of %s is released (%.3f);\n", sum.N, owner, sum.Mean)
	spec.Filter = "bmi < " + strconv.FormatFloat(cut, 'f', -1, 64)
	again, err := analyse(ctx, alice, spec)
	if err != nil {
		return st.Fail(fmt.Errorf("the summary of bmi over %s where %s: %w", ref, spec.Filter, err))
	}
	refusal := slices.IndexFunc(again.Regions, func(r analysis.RegionOutcome) bool {
		return r.Owner == owner && r.State == analysis.StateRefused && r.Code == analysis.RefusalDifferencing
	})
	if again.State == analysis.StateDone || again.Result != nil || refusal < 0 {
		return st.Fail(fmt.Errorf("the summary where %s leaves out %d patients of %s and should be refused as differencing: %s",
			spec.Filter, left, ref, outcome(again)))
	}
	st.OK(Figures{ID: ref, Count: left})
	t.p.Printf("  then the same where %s (all but the %d heaviest) would give their bmi away by difference:\n    %s %s\n",
		spec.Filter, left, owner, again.Regions[refusal].Message())
	return nil
}

// verify has a member that took no part check the fit from its signatures:
// each owner's contributions against its key, the keys against the
// registry, every iteration against the signed partials.
func (t *tour) verify(ctx context.Context, n Node, res analysis.Result) error {
	st := t.p.Start("analysis.verify", n.Name)
	var ans struct {
		Valid   bool            `json:"valid"`
		Problem string          `json:"problem"`
		Members map[string]bool `json:"members"`
	}
	if err := n.Admin.Post(ctx, "/v1/analyses/verify", res, &ans); err != nil {
		return st.Fail(fmt.Errorf("%s verifies the fit: %w", n.Name, err))
	}
	if !ans.Valid {
		return st.Fail(fmt.Errorf("%s finds the fit does not verify: %s", n.Name, ans.Problem))
	}
	signed := 0
	for _, p := range res.Parts {
		signed += len(p.Contributions)
	}
	st.OK(Figures{ID: res.Analysis, Count: signed})
	t.p.Printf("  %s, which took no part, verifies the fit: %d contributions signed by %d members of the federation, every iteration recomputed from them\n",
		n.Name, signed, len(ans.Members))
	return nil
}

// analyse starts an analysis and follows it to its end. The node holds
// each read until the analysis changes (?after=), so nothing is polled.
func analyse(ctx context.Context, c API, spec analysis.Spec) (analysis.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, analysisWait)
	defer cancel()
	var st analysis.Status
	if err := c.Post(ctx, "/v1/analyses?wait=30s", spec, &st); err != nil {
		return st, err
	}
	for !st.Done() {
		path := "/v1/analyses/" + url.PathEscape(st.ID) + "?after=" + strconv.FormatUint(st.Version, 10) + "&wait=30s"
		if err := c.Get(ctx, path, &st); err != nil {
			if ctx.Err() != nil {
				return st, fmt.Errorf("analysis %s still %s after %v", st.ID, st.State, analysisWait)
			}
			return st, err
		}
	}
	return st, nil
}

// outcome says in a line why an analysis gave no result.
func outcome(st analysis.Status) string {
	var parts []string
	for _, r := range st.Regions {
		parts = append(parts, r.Dataset+": "+r.Message())
	}
	if st.Error != "" {
		parts = append(parts, st.Error)
	}
	return string(st.State) + "; " + strings.Join(parts, "; ")
}

// released reads the contribution an owner signed, as the result lists
// it. It does not check the signature: a member does that with
// POST /v1/analyses/verify, as the tour's last analysis step shows.
func released(token string) (analysis.Contribution, error) {
	var c analysis.Contribution
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, fmt.Errorf("the payload of a contribution: %w", err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("the payload of a contribution: %w", err)
	}
	return c, nil
}

// column reads a numeric column of a generated cohort.
func column(csvData []byte, name string) ([]float64, error) {
	recs, err := csv.NewReader(bytes.NewReader(csvData)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("the cohort has no header")
	}
	at := slices.Index(recs[0], name)
	if at < 0 {
		return nil, fmt.Errorf("the cohort has no column %q", name)
	}
	out := make([]float64, 0, len(recs)-1)
	for i, r := range recs[1:] {
		v, err := strconv.ParseFloat(r[at], 64)
		if err != nil {
			return nil, fmt.Errorf("row %d, %s: %w", i+2, name, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// heaviestLeftOut returns the value of the k-th largest of values, and how
// many values are at least that (k, or more with ties): the filter
// "< cut" leaves those out. It fails when ties make that minSubset or more,
// which a differencing attempt would not be.
func heaviestLeftOut(values []float64, k, minSubset int) (cut float64, left int, err error) {
	if k < 1 || k > len(values) {
		return 0, 0, fmt.Errorf("cannot leave out the %d largest of %d values", k, len(values))
	}
	sorted := slices.Sorted(slices.Values(values))
	cut = sorted[len(sorted)-k]
	for _, v := range values {
		if v >= cut {
			left++
		}
	}
	if left >= minSubset {
		return 0, 0, fmt.Errorf("%d values tie at or above the %d-th largest (%g): leaving them out is no differencing under a minimum subset of %d", left, k, cut, minSubset)
	}
	return cut, left, nil
}
