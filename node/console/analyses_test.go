package console

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/node/api"
	"github.com/xborder/xborder/policy"
)

// fakeAnalyses is the analysis service as the console sees it: Start
// checks the spec as the service does before it asks anyone (Validate),
// and the analyses are the canned ones a test put in, with the service's
// visibility rule (operators and auditors see all, a researcher hers).
type fakeAnalyses struct {
	mu      sync.Mutex
	byID    map[string]analysis.Status
	started []analysis.Spec
}

func (f *fakeAnalyses) Start(_ context.Context, c analysis.Caller, spec analysis.Spec) (analysis.Status, error) {
	if err := spec.Validate(); err != nil {
		return analysis.Status{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, spec)
	st := analysis.Status{ID: fmt.Sprintf("20260102T030405Z-%06d", len(f.started)), Spec: spec, Researcher: c.Subject,
		State: analysis.StateRunning, Started: time.Now().UTC()}
	for _, d := range spec.Datasets {
		owner, _, _ := strings.Cut(d, "/")
		st.Regions = append(st.Regions, analysis.RegionOutcome{Dataset: d, Owner: owner, State: analysis.StatePending})
	}
	f.byID[st.ID] = st
	return st, nil
}

func visible(c analysis.Caller, st analysis.Status) bool {
	return c.Role == api.RoleOperator || c.Role == api.RoleAuditor || st.Researcher == c.Subject
}

func (f *fakeAnalyses) Analysis(_ context.Context, c analysis.Caller, id string) (analysis.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.byID[id]
	if !ok || !visible(c, st) {
		return analysis.Status{}, fmt.Errorf("analysis %q: %w", id, analysis.ErrNotFound)
	}
	return st, nil
}

func (f *fakeAnalyses) Analyses(_ context.Context, c analysis.Caller) ([]analysis.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []analysis.Status{}
	for _, st := range f.byID {
		if visible(c, st) {
			st.Result = nil
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b analysis.Status) int { return strings.Compare(b.ID, a.ID) })
	return out, nil
}

// The canned analyses, by ID. Their results are computed by package
// stats from generated rows, under the shipped disclosure rules, so that
// the pages show what an owner would really release (suppressed cells
// included).
const (
	fixtureGLM     = "20260101T000000Z-glm"
	fixtureHist    = "20260101T000001Z-hist"
	fixtureTable   = "20260101T000002Z-table"
	fixtureSummary = "20260101T000003Z-summary"
	fixtureCor     = "20260101T000004Z-cor"
	fixtureMeans   = "20260101T000005Z-means"
	fixtureRunning = "20260101T000006Z-running"
	fixtureDenied  = "20260101T000007Z-denied"
)

var cohorts = []string{"de-bw/cohort", "fr-grandest/cohort"}

func newFakeAnalyses(t *testing.T) *fakeAnalyses {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 400
	age, bmi := make([]float64, n), make([]float64, n)
	sex := make([]int32, n)
	smoker := make([]int32, n)
	var x, y []float64
	for i := range n {
		age[i] = float64(30 + rng.IntN(56))
		bmi[i] = 26 + 4*rng.NormFloat64()
		sex[i] = int32(rng.IntN(2))
		smoker[i] = 0
		if rng.Float64() < 0.25 {
			smoker[i] = 1
		}
		eta := -9 + 0.06*age[i] + 0.15*bmi[i] + 0.3*float64(sex[i])
		diabetes := 0.0
		if rng.Float64() < 1/(1+math.Exp(-eta)) {
			diabetes = 1
		}
		x = append(x, 1, age[i], bmi[i], float64(sex[i]))
		y = append(y, diabetes)
	}
	rules := stats.DefaultRules
	fit, err := stats.FitPooled(context.Background(), stats.Binomial, []string{"(Intercept)", "age", "bmi", "sex:M"}, x, y, 4, rules, stats.Options{})
	must(err)
	// Ages beyond the cohort's, so that some bins hold a few people.
	ages := append(slices.Clone(age), 91, 92, 95)
	hist, err := stats.Histogram(ages, []float64{30, 40, 50, 60, 70, 80, 90, 100}, rules)
	must(err)
	ageBand := make([]int32, n)
	for i, a := range age {
		ageBand[i] = int32(min(int(a-30)/10, 5))
	}
	// A few smokers in the oldest band make a small cell.
	for i := range smoker {
		if ageBand[i] == 5 {
			smoker[i] = 0
		}
	}
	smoker[slices.Index(ageBand, 5)] = 1
	tab, err := stats.CrossTab(ageBand, []string{"30-39", "40-49", "50-59", "60-69", "70-79", "80-85"}, smoker, []string{"false", "true"}, rules)
	must(err)
	sum, err := stats.Summarise(bmi, rules)
	must(err)
	parts, err := stats.Correlation([][]float64{age, bmi}, []string{"age", "bmi"}, rules)
	must(err)
	cor, err := stats.CombineCorrelation([]stats.CorParts{parts})
	must(err)
	means, err := stats.MeansBy(bmi, sex, []string{"F", "M"}, rules)
	must(err)

	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	allowed := &policy.Decision{Allow: true, Reasons: []string{"Research on restricted data is allowed."}, Rules: []string{"restricted_research"}}
	done := func(id string, spec analysis.Spec, c analysis.Combined) analysis.Status {
		spec.Datasets, spec.Purpose = cohorts, "research"
		st := analysis.Status{ID: id, Spec: spec, Researcher: "researcher@example.org", State: analysis.StateDone,
			Started: started, Finished: started.Add(3 * time.Second), Version: 9}
		res := &analysis.Result{Analysis: id, Requester: "fr-grandest", Researcher: st.Researcher, Spec: spec, Combined: c, Created: st.Finished}
		for _, d := range cohorts {
			owner, _, _ := strings.Cut(d, "/")
			st.Regions = append(st.Regions, analysis.RegionOutcome{Dataset: d, Owner: owner, State: analysis.StateDone, Decision: allowed, Rows: n / 2})
			res.Parts = append(res.Parts, analysis.Part{Dataset: d, Owner: owner, PeerID: "12D3KooW" + owner, Contributions: []string{"eyJ.signed." + owner}})
		}
		st.Result = res
		return st
	}
	f := &fakeAnalyses{byID: map[string]analysis.Status{}}
	for _, st := range []analysis.Status{
		done(fixtureGLM, analysis.Spec{Kind: analysis.KindGLM, Formula: "diabetes ~ age + bmi + sex", Family: "binomial"}, analysis.Combined{Rows: n, GLM: &fit}),
		done(fixtureHist, analysis.Spec{Kind: analysis.KindHistogram, Variables: []string{"age"}, Breaks: hist.Breaks}, analysis.Combined{Rows: n + 3, Histogram: &hist}),
		done(fixtureTable, analysis.Spec{Kind: analysis.KindTable, Variables: []string{"age_band", "smoker"}}, analysis.Combined{Rows: n, Table: &tab}),
		done(fixtureSummary, analysis.Spec{Kind: analysis.KindSummary, Variables: []string{"bmi"}}, analysis.Combined{Rows: n, Summary: &sum}),
		done(fixtureCor, analysis.Spec{Kind: analysis.KindCorrelation, Variables: []string{"age", "bmi"}}, analysis.Combined{Rows: n, Correlation: &cor}),
		done(fixtureMeans, analysis.Spec{Kind: analysis.KindTable, Variables: []string{"bmi"}, By: "sex"}, analysis.Combined{Rows: n, Means: &means}),
		{ID: fixtureRunning, Spec: analysis.Spec{Kind: analysis.KindGLM, Datasets: cohorts, Formula: "sbp ~ age", Family: "gaussian", Purpose: "research"},
			Researcher: "researcher@example.org", State: analysis.StateRunning, Iteration: 2, Started: started,
			Regions: []analysis.RegionOutcome{{Dataset: cohorts[0], Owner: "de-bw", State: analysis.StateRunning, Iteration: 2, Decision: allowed},
				{Dataset: cohorts[1], Owner: "fr-grandest", State: analysis.StateRunning, Iteration: 2, Decision: allowed}}},
		{ID: fixtureDenied, Spec: analysis.Spec{Kind: analysis.KindSummary, Datasets: cohorts, Variables: []string{"age"}, Filter: "age > 84", Purpose: "education"},
			Researcher: "other@example.org", State: analysis.StateFailed, Started: started, Finished: started.Add(time.Second),
			Error: "the analysis is incomplete, so no result is given",
			Regions: []analysis.RegionOutcome{
				{Dataset: cohorts[0], Owner: "de-bw", State: analysis.StateDenied, Decision: &policy.Decision{
					Reasons: []string{"Education is not a <research> purpose."}, Rules: []string{"research_purpose_required"}}},
				{Dataset: cohorts[1], Owner: "fr-grandest", State: analysis.StateRefused, Code: analysis.RefusalDisclosure,
					Reason: "3 rows after the filter, fewer than 5", Decision: allowed}}},
	} {
		f.byID[st.ID] = st
	}
	return f
}

// cohortListings are the two regions' cohorts, published with their data
// dictionary, as the catalogue lists them.
func cohortListings() []exchange.Listing {
	dict := cohort.Dictionary()
	return []exchange.Listing{
		{Entry: exchange.Entry{ID: "cohort", Owner: "de-bw", Country: "DE", Kind: "dataset", Theme: "health", Classification: "restricted",
			Title: "Diabetes cohort BW", Dictionary: &dict}},
		{Entry: exchange.Entry{ID: "cohort", Owner: "fr-grandest", Country: "FR", Kind: "dataset", Theme: "health", Classification: "restricted",
			Title: "Diabetes cohort GE", Dictionary: &dict}, Local: true},
	}
}

// optionValues are the values of a select's options, in order.
func optionValues(t *testing.T, body, selectID string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<select name="[a-z]+" id="` + selectID + `"[^>]*>(.*?)</select>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no select #%s:\n%s", selectID, body)
	}
	var out []string
	for _, o := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, o[1])
	}
	return out
}

func TestAnalysisFormOffersTheDictionariesAndStartsTheAnalysis(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	body := tc.get(b, Prefix+"analyses").body
	if !strings.Contains(body, `href="/console/analyses/new" id="new-analysis"`) {
		t.Fatalf("the list does not offer a new analysis:\n%s", body)
	}
	resp := tc.get(b, Prefix+"analyses/new")
	if resp.code != http.StatusOK {
		t.Fatalf("form: %d %s", resp.code, resp.body)
	}
	body = resp.body
	// Only datasets with a dictionary, grouped by owner.
	for _, want := range []string{`<div class="owner-datasets" data-owner="de-bw">`, `value="de-bw/cohort" id="ds-de-bw-cohort"`,
		`<div class="owner-datasets" data-owner="fr-grandest">`, `value="fr-grandest/cohort" id="ds-fr-grandest-cohort"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if strings.Contains(body, `value="de-bw/icu"`) || strings.Contains(body, `value="fr-grandest/own"`) {
		t.Error("the form offers a dataset without a data dictionary")
	}
	// Variables from the dictionary, the identifier left out; factors for "by".
	if got, want := optionValues(t, body, "a-variables"), []string{"age", "sex", "bmi", "smoker", "sbp", "diabetes", "visits"}; !slices.Equal(got, want) {
		t.Errorf("variables %v, want %v", got, want)
	}
	if got, want := optionValues(t, body, "a-by"), []string{"", "sex", "smoker", "diabetes"}; !slices.Equal(got, want) {
		t.Errorf("by %v, want %v", got, want)
	}
	if got := optionValues(t, body, "a-purpose"); !slices.Contains(got, "research") || !slices.Contains(got, "public-health") {
		t.Errorf("purposes %v are not the federation's vocabulary", got)
	}
	if got := optionValues(t, body, "a-project"); !slices.Equal(got, []string{"", "fr-de"}) {
		t.Errorf("projects %v", got)
	}
	if !strings.Contains(body, `<tr data-column="bmi"><td><code>bmi</code></td><td>number</td><td>kg/m2</td>`) {
		t.Error("the dictionary reference lacks bmi")
	}

	// A GLM: only the GLM's fields are taken, whatever else the form sends.
	token := tc.csrf(b)
	form := url.Values{"csrf": {token}, "kind": {"glm"}, "datasets": cohorts, "variables": {"age"}, "by": {"sex"}, "breaks": {"1, 2"},
		"formula": {"diabetes ~ age + bmi + sex"}, "family": {"binomial"}, "filter": {"age >= 40"}, "purpose": {"research"}, "project": {"fr-de"}}
	resp = tc.post(b, Prefix+"analyses", form)
	if resp.code != http.StatusSeeOther || !strings.HasPrefix(resp.header.Get("Location"), Prefix+"analyses/20260102T030405Z-") {
		t.Fatalf("start: %d %v %s", resp.code, resp.header, resp.body)
	}
	want := analysis.Spec{Kind: analysis.KindGLM, Datasets: cohorts, Formula: "diabetes ~ age + bmi + sex", Family: "binomial",
		Filter: "age >= 40", Purpose: "research", Project: "fr-de"}
	if got := tc.analyses.started[0]; !jsonEqual(got, want) {
		t.Fatalf("started %+v, want %+v", got, want)
	}
	// Its page refreshes while it runs.
	if body := tc.get(b, resp.header.Get("Location")).body; !strings.Contains(body, `<meta http-equiv="refresh" content="2">`) ||
		!strings.Contains(body, `id="refresh-note"`) {
		t.Fatalf("a running analysis' page does not refresh:\n%s", body)
	}

	// A histogram's breaks are read as numbers.
	form = url.Values{"csrf": {token}, "kind": {"histogram"}, "datasets": cohorts[:1], "variables": {"age"}, "family": {"gaussian"},
		"breaks": {"30, 40,50"}, "purpose": {"research"}}
	if resp := tc.post(b, Prefix+"analyses", form); resp.code != http.StatusSeeOther {
		t.Fatalf("histogram: %d %s", resp.code, resp.body)
	}
	if got := tc.analyses.started[1]; !slices.Equal(got.Breaks, []float64{30, 40, 50}) || got.Family != "" || !slices.Equal(got.Variables, []string{"age"}) {
		t.Fatalf("histogram started as %+v", got)
	}
	form.Set("breaks", "30, forty")
	resp = tc.post(b, Prefix+"analyses", form)
	if resp.code != http.StatusBadRequest || !strings.Contains(resp.body, "breaks: &#34;forty&#34; is not a number") {
		t.Fatalf("a bad break: %d %s", resp.code, resp.body)
	}
	// A spec the service refuses shows the form again with every problem,
	// and what was chosen.
	form = url.Values{"csrf": {token}, "kind": {"summary"}, "datasets": cohorts[1:], "variables": {"age", "bmi"}, "purpose": {"research"}}
	resp = tc.post(b, Prefix+"analyses", form)
	if resp.code != http.StatusBadRequest || !strings.Contains(resp.body, `id="problems"`) ||
		!strings.Contains(resp.body, "a summary is of exactly one numeric variable, 2 named") ||
		!strings.Contains(resp.body, `value="fr-grandest/cohort" id="ds-fr-grandest-cohort" checked`) ||
		!strings.Contains(resp.body, `<option value="bmi" selected>`) {
		t.Fatalf("a refused spec: %d %s", resp.code, resp.body)
	}
	if len(tc.analyses.started) != 2 {
		t.Fatalf("%d analyses started, want 2", len(tc.analyses.started))
	}
}

func jsonEqual(a, b any) bool {
	ra, _ := json.Marshal(a)
	rb, _ := json.Marshal(b)
	return string(ra) == string(rb)
}

func TestAnalysisPageShowsAGLMWithItsForestPlot(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	resp := tc.get(b, Prefix+"analyses/"+fixtureGLM)
	if resp.code != http.StatusOK {
		t.Fatalf("GLM page: %d %s", resp.code, resp.body)
	}
	body := resp.body
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("a finished analysis' page refreshes")
	}
	fit := tc.analyses.byID[fixtureGLM].Result.Combined.GLM
	for _, co := range fit.Coefficients {
		row := regexp.MustCompile(`<tr data-term="` + regexp.QuoteMeta(co.Name) + `"><th><code>[^<]+</code></th><td>([^<]+)</td><td>[^<]+</td><td>[^<]+</td><td>([^<]+)</td><td>\[([^,]+), ([^\]]+)\]</td><td>([^<]+)</td></tr>`).FindStringSubmatch(body)
		if row == nil {
			t.Fatalf("no coefficient row for %s:\n%s", co.Name, body)
		}
		if row[1] != num(co.Estimate) || row[2] != htmlText(pvalue(co.PValue)) || row[3] != num(co.Lower) || row[4] != num(co.Upper) {
			t.Errorf("%s: row %q for %+v", co.Name, row[1:], co)
		}
		if co.Name == "(Intercept)" {
			if row[5] != "—" {
				t.Errorf("the intercept has an odds ratio %q", row[5])
			}
		} else if !strings.HasPrefix(row[5], num(math.Exp(co.Estimate))+" [") {
			t.Errorf("%s: odds ratio %q, want exp(%g)", co.Name, row[5], co.Estimate)
		}
	}
	// The forest plot: every term but the intercept, each with its interval
	// and estimate, and a line at zero.
	svg := regexp.MustCompile(`(?s)<svg [^>]*id="forest-plot">.*?</svg>`).FindString(body)
	if svg == "" {
		t.Fatalf("no forest plot:\n%s", body)
	}
	terms := regexp.MustCompile(`<g class="term( clear)?" data-term="([^"]+)">`).FindAllStringSubmatch(svg, -1)
	var names []string
	for _, m := range terms {
		names = append(names, m[2])
	}
	if !slices.Equal(names, []string{"age", "bmi", "sex:M"}) {
		t.Errorf("forest plot terms %v", names)
	}
	if strings.Count(svg, `<line class="ci"`) != 3 || strings.Count(svg, `<circle class="estimate"`) != 3 || !strings.Contains(svg, `id="zero-line"`) {
		t.Errorf("forest plot elements:\n%s", svg)
	}
	if !strings.Contains(body, `id="intercept-note"`) || !strings.Contains(body, num(fit.Coefficients[0].Estimate)) {
		t.Error("the intercept, left out of the plot, is not stated")
	}
	// The geometry: the zero line between the axis' ends, each estimate
	// within its interval.
	zero := regexp.MustCompile(`<line class="zero" x1="([0-9.]+)"`).FindStringSubmatch(svg)
	if zero == nil {
		t.Fatal("no zero line position")
	}
	for _, m := range regexp.MustCompile(`<line class="ci" x1="([0-9.]+)" x2="([0-9.]+)"[^>]*/>\s*<circle class="estimate" cx="([0-9.]+)"`).FindAllStringSubmatch(svg, -1) {
		var lo, hi, x float64
		fmt.Sscan(m[1], &lo)
		fmt.Sscan(m[2], &hi)
		fmt.Sscan(m[3], &x)
		if !(lo <= x && x <= hi && lo >= 170 && hi <= chartWidth) {
			t.Errorf("interval [%g, %g], estimate at %g", lo, hi, x)
		}
	}
	if !strings.Contains(body, `href="/console/analyses/`+fixtureGLM+`/result.json" id="download-result"`) {
		t.Error("no link to the signed result")
	}

	// The result as a file, to verify elsewhere.
	resp = tc.get(b, Prefix+"analyses/"+fixtureGLM+"/result.json")
	if resp.code != http.StatusOK || resp.header.Get("Content-Type") != "application/json" ||
		resp.header.Get("Content-Disposition") != `attachment; filename="analysis-`+fixtureGLM+`.json"` {
		t.Fatalf("result download: %d %v", resp.code, resp.header)
	}
	var res analysis.Result
	if err := json.Unmarshal([]byte(resp.body), &res); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(res, tc.analyses.byID[fixtureGLM].Result) {
		t.Fatal("the downloaded result is not the analysis' result")
	}
	// An analysis without a result has nothing to download.
	if resp := tc.get(b, Prefix+"analyses/"+fixtureRunning+"/result.json"); resp.code != http.StatusNotFound {
		t.Fatalf("download without a result: %d", resp.code)
	}
}

func htmlText(s string) string { return strings.ReplaceAll(s, "<", "&lt;") }

func TestAnalysisPagesShowSuppressedCountsAndExplainThem(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleResearcher)
	legend := func(body string) string {
		return regexp.MustCompile(`(?s)<dl class="legend" id="suppression-legend">.*?</dl>`).FindString(body)
	}

	// The histogram: a bar per bin, the withheld ones hatched and full
	// height, with a legend; the table marks them too.
	h := tc.analyses.byID[fixtureHist].Result.Combined.Histogram
	withheld := 0
	for _, bin := range h.Bins {
		if bin.Suppressed != "" {
			withheld++
		}
	}
	if withheld == 0 || withheld == len(h.Bins) {
		t.Fatalf("the fixture withholds %d of %d bins", withheld, len(h.Bins))
	}
	body := tc.get(b, Prefix+"analyses/"+fixtureHist).body
	svg := regexp.MustCompile(`(?s)<svg [^>]*id="histogram-chart">.*?</svg>`).FindString(body)
	if svg == "" {
		t.Fatalf("no histogram chart:\n%s", body)
	}
	if got := strings.Count(svg, `<rect class="bar suppressed" fill="url(#hatch)"`); got != withheld {
		t.Errorf("%d hatched bars, want %d", got, withheld)
	}
	if got := strings.Count(svg, `<rect class="bar" `); got != len(h.Bins)-withheld {
		t.Errorf("%d released bars, want %d", got, len(h.Bins)-withheld)
	}
	if !strings.Contains(svg, `<pattern id="hatch"`) || !strings.Contains(body, `<span class="key-box withheld"></span> withheld count`) {
		t.Error("the hatching is not defined or not explained")
	}
	if !strings.Contains(legend(body), "fewer people than the owner&#39;s minimum cell count") {
		t.Errorf("the legend does not explain a small count:\n%s", legend(body))
	}
	if got := strings.Count(body, `<td class="suppressed" data-suppressed=`); got != withheld+boolInt(h.Above.Suppressed != "") {
		t.Errorf("%d withheld cells in the histogram's table", got)
	}

	// The cross-table: withheld cells marked by reason, and explained.
	tab := tc.analyses.byID[fixtureTable].Result.Combined.Table
	var reasons []stats.Suppression
	for _, row := range tab.Cells {
		for _, c := range row {
			if c.Suppressed != "" && !slices.Contains(reasons, c.Suppressed) {
				reasons = append(reasons, c.Suppressed)
			}
		}
	}
	if !slices.Contains(reasons, stats.SuppressedSmall) || !slices.Contains(reasons, stats.SuppressedSecondary) {
		t.Fatalf("the fixture's table withholds for %v", reasons)
	}
	body = tc.get(b, Prefix+"analyses/"+fixtureTable).body
	if !strings.Contains(body, `<td class="suppressed" data-suppressed="small_count">— <sup>a</sup></td>`) ||
		!strings.Contains(body, `<td class="suppressed" data-suppressed="secondary">— <sup>b</sup></td>`) {
		t.Errorf("the cross-table does not mark its withheld cells:\n%s", body)
	}
	if l := legend(body); !strings.Contains(l, "<sup>a</sup>") || !strings.Contains(l, "<sup>b</sup>") || !strings.Contains(l, "from a known total") {
		t.Errorf("legend:\n%s", l)
	}
	if !strings.Contains(body, "<th>age_band \\ smoker</th><th>false</th><th>true</th>") {
		t.Error("the cross-table's header")
	}

	// Summary, correlation and means by group.
	sum := tc.analyses.byID[fixtureSummary].Result.Combined.Summary
	if body := tc.get(b, Prefix+"analyses/"+fixtureSummary).body; !strings.Contains(body, fmt.Sprintf("<tr><th>N</th><td>%d</td></tr>", sum.N)) ||
		!strings.Contains(body, "<td>"+num(sum.Mean)+"</td>") {
		t.Errorf("summary:\n%s", body)
	}
	cor := tc.analyses.byID[fixtureCor].Result.Combined.Correlation
	if body := tc.get(b, Prefix+"analyses/"+fixtureCor).body; !strings.Contains(body, `id="correlation"`) || !strings.Contains(body, ">"+num(cor.R[0][1])+"</td>") {
		t.Errorf("correlation:\n%s", body)
	}
	means := tc.analyses.byID[fixtureMeans].Result.Combined.Means
	if body := tc.get(b, Prefix+"analyses/"+fixtureMeans).body; !strings.Contains(body, `<table class="stats" id="means">`) ||
		!strings.Contains(body, fmt.Sprintf("<tr><th>F</th><td>%d</td><td>%s</td>", means.Groups[0].N, num(means.Groups[0].Mean))) {
		t.Errorf("means:\n%s", body)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestAnalysisPageShowsEachRegionsDecisionOrRefusal(t *testing.T) {
	tc := newTestConsole(t)
	b := tc.signIn(api.RoleOperator)
	body := tc.get(b, Prefix+"analyses/"+fixtureDenied).body
	denied := regexp.MustCompile(`(?s)<tr data-region="de-bw/cohort" data-state="denied">.*?</tr>`).FindString(body)
	if !strings.Contains(denied, "Education is not a &lt;research&gt; purpose.") || !strings.Contains(denied, "<code>research_purpose_required</code>") {
		t.Errorf("the denial's reasons and rules:\n%s", denied)
	}
	refused := regexp.MustCompile(`(?s)<tr data-region="fr-grandest/cohort" data-state="refused">.*?</tr>`).FindString(body)
	if !strings.Contains(refused, `<code class="refusal-code">disclosure</code> Releasing the result would break a disclosure rule.`) ||
		!strings.Contains(refused, "3 rows after the filter, fewer than 5") {
		t.Errorf("the refusal's code and reason:\n%s", refused)
	}
	if !strings.Contains(body, `id="analysis-error"`) || strings.Contains(body, `id="result"`) || strings.Contains(body, `http-equiv="refresh"`) {
		t.Errorf("a failed analysis:\n%s", body)
	}
	// A running fit shows its iteration and refreshes; a finished one neither.
	if body := tc.get(b, Prefix+"analyses/"+fixtureRunning).body; !strings.Contains(body, `<span class="muted" id="iteration">iteration 2</span>`) ||
		!strings.Contains(body, `<meta http-equiv="refresh" content="2">`) || strings.Contains(body, `id="result"`) {
		t.Errorf("a running fit:\n%s", body)
	}
	if body := tc.get(b, Prefix+"analyses/"+fixtureGLM).body; strings.Contains(body, `id="iteration"`) {
		t.Error("a finished fit shows an iteration in progress")
	}
	// In French too.
	if body := tc.get(b, Prefix+"analyses/"+fixtureDenied+"?lang=fr").body; !strings.Contains(body, "refusé par la politique") {
		t.Error("the states are not translated")
	}
}

func TestAnalysesFollowTheAPIPolicyAndTheirResearcher(t *testing.T) {
	tc := newTestConsole(t)
	// A researcher lists hers only; another's is not found.
	r := tc.signIn(api.RoleResearcher)
	body := tc.get(r, Prefix+"analyses").body
	if !strings.Contains(body, `href="/console/analyses"`) || !strings.Contains(body, `data-analysis="`+fixtureGLM+`"`) || strings.Contains(body, fixtureDenied) {
		t.Errorf("a researcher's list:\n%s", body)
	}
	if resp := tc.get(r, Prefix+"analyses/"+fixtureDenied); resp.code != http.StatusNotFound {
		t.Errorf("another researcher's analysis: %d", resp.code)
	}
	if resp := tc.get(r, Prefix+"analyses/"+fixtureDenied+"/result.json"); resp.code != http.StatusNotFound {
		t.Errorf("another researcher's result: %d", resp.code)
	}
	// The auditor reads every analysis but starts none.
	a := tc.signIn(api.RoleAuditor)
	body = tc.get(a, Prefix+"analyses").body
	if !strings.Contains(body, `<a href="/console/analyses" class="active" aria-current="page">`) || !strings.Contains(body, fixtureDenied) ||
		strings.Contains(body, `id="new-analysis"`) {
		t.Errorf("an auditor's list:\n%s", body)
	}
	if resp := tc.get(a, Prefix+"analyses/"+fixtureGLM); resp.code != http.StatusOK {
		t.Errorf("auditor reads an analysis: %d", resp.code)
	}
	if resp := tc.get(a, Prefix+"analyses/new"); resp.code != http.StatusForbidden || !strings.Contains(resp.body, "/v1/analyses") {
		t.Errorf("auditor opens the form: %d", resp.code)
	}
	if resp := tc.post(a, Prefix+"analyses", url.Values{"csrf": {tc.csrf(a)}, "kind": {"summary"}}); resp.code != http.StatusForbidden {
		t.Errorf("auditor starts an analysis: %d", resp.code)
	}
	// Legal neither sees nor reads them.
	l := tc.signIn(api.RoleLegal)
	if body := tc.get(l, Prefix).body; strings.Contains(body, `href="/console/analyses"`) {
		t.Error("legal's navigation shows the analyses")
	}
	if resp := tc.get(l, Prefix+"analyses"); resp.code != http.StatusForbidden {
		t.Errorf("legal lists analyses: %d", resp.code)
	}
	if len(tc.analyses.started) != 0 {
		t.Fatalf("a refused form started an analysis: %v", tc.analyses.started)
	}
}

func TestChartScales(t *testing.T) {
	for _, c := range []struct {
		lo, hi   float64
		n        int
		from, to float64
	}{
		{0, 97, 5, 0, 100}, {0, 1, 5, 0, 1}, {-0.31, 0.17, 6, -0.4, 0.2}, {0, 3, 5, 0, 3}, {-2.5, 0, 6, -2.5, 0},
	} {
		ticks, from, to := niceTicks(c.lo, c.hi, c.n)
		if math.Abs(from-c.from) > 1e-9 || math.Abs(to-c.to) > 1e-9 || ticks[0] != from || math.Abs(ticks[len(ticks)-1]-to) > 1e-9 {
			t.Errorf("niceTicks(%g, %g, %d) = %v over [%g, %g], want [%g, %g]", c.lo, c.hi, c.n, ticks, from, to, c.from, c.to)
		}
		if len(ticks) < 2 || len(ticks) > 2*c.n+1 {
			t.Errorf("niceTicks(%g, %g, %d): %d ticks", c.lo, c.hi, c.n, len(ticks))
		}
	}
	// A histogram of one empty bin or one withheld bin still draws.
	if c := newHistChart(stats.Hist{Breaks: []float64{0, 1}, Bins: []stats.Cell{{Suppressed: stats.SuppressedSmall}}}); c == nil || !c.Withheld || c.Bars[0].H <= 0 {
		t.Errorf("one withheld bin: %+v", c)
	}
	if newHistChart(stats.Hist{Breaks: []float64{0}, Bins: nil}) != nil {
		t.Error("a histogram without bins is drawn")
	}
	// A forest plot leaves out what has no place on the axis.
	c := newForestChart([]stats.Coefficient{{Name: "a", Estimate: 1, Lower: 0.5, Upper: 1.5}, {Name: "b", Estimate: math.NaN(), Lower: math.Inf(-1), Upper: 1}})
	if c == nil || len(c.Rows) != 1 || c.ZeroX != c.Left || !c.Rows[0].Clear {
		t.Errorf("forest: %+v", c)
	}
	if newForestChart(nil) != nil {
		t.Error("an empty forest plot is drawn")
	}
}
