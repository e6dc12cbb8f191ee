package analysis

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/analysis/tabular"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/policy"
)

// cohortFederation is three regions, each with a restricted synthetic
// cohort of its own size, and a fourth member that holds none.
func cohortFederation(t testing.TB) (*federation, map[string][]byte) {
	f := newFederation(t, "fr-grandest", "de-bw", "ch-basel", "lu-luxembourg")
	sizes := map[string]int{"fr-grandest": 900, "de-bw": 700, "ch-basel": 500}
	data := map[string][]byte{}
	for owner, n := range sizes {
		data[owner] = cohort.Generate(owner, n, 7)
		f.publish(owner, Dataset{ID: "cohort", Classification: "restricted", Dictionary: dictionaryOf(cohort.Dictionary())}, data[owner])
	}
	return f, data
}

var cohorts = []string{"fr-grandest/cohort", "de-bw/cohort", "ch-basel/cohort"}

// pooledFit fits the same design to the concatenated rows of every owner,
// with the same code, on one machine.
func pooledFit(t *testing.T, res *Result, data map[string][]byte) stats.Fit {
	t.Helper()
	design := *res.Parts[0].Query.Design
	var x, y []float64
	for _, p := range res.Parts {
		tab, err := tabular.ReadCSV(bytes.NewReader(data[p.Owner]), cohort.Dictionary())
		if err != nil {
			t.Fatal(err)
		}
		all := roaring.New()
		all.AddRange(0, uint64(tab.Rows()))
		px, py, _, err := design.Matrix(tab, all)
		if err != nil {
			t.Fatal(err)
		}
		x, y = append(x, px...), append(y, py...)
	}
	fam, _ := stats.ParseFamily(res.Spec.Family)
	fit, err := stats.FitPooled(context.Background(), fam, designNames(design), x, y, design.P(), stats.DefaultRules, stats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fit
}

func near(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-8*math.Max(math.Abs(a), math.Abs(b))
}

func TestAFederatedGLMEqualsTheFitOnThePooledRows(t *testing.T) {
	f, data := cohortFederation(t)
	for _, tc := range []struct{ family, formula string }{
		{"binomial", "diabetes ~ age + bmi + sex + smoker"},
		{"gaussian", "sbp ~ age + bmi + smoker"},
		{"poisson", "visits ~ age + diabetes"},
	} {
		t.Run(tc.family, func(t *testing.T) {
			st := f.run("lu-luxembourg", Spec{Kind: KindGLM, Datasets: cohorts, Formula: tc.formula, Family: tc.family, Purpose: "research"})
			if st.State != StateDone {
				t.Fatalf("state %s: %s %+v", st.State, st.Error, st.Regions)
			}
			got, want := *st.Result.Combined.GLM, pooledFit(t, st.Result, data)
			if got.Iterations != want.Iterations || got.N != want.N || got.N != 2100 {
				t.Fatalf("iterations %d/%d, n %d/%d", got.Iterations, want.Iterations, got.N, want.N)
			}
			for i, c := range got.Coefficients {
				w := want.Coefficients[i]
				for _, pair := range [][2]float64{{c.Estimate, w.Estimate}, {c.StdError, w.StdError}, {c.Statistic, w.Statistic},
					{c.PValue, w.PValue}, {c.Lower, w.Lower}, {c.Upper, w.Upper}} {
					if !near(pair[0], pair[1]) {
						t.Fatalf("%s: federated %+v, pooled %+v", c.Name, c, w)
					}
				}
			}
			if !near(got.Deviance, want.Deviance) || !near(got.AIC, want.AIC) {
				t.Fatalf("deviance %g/%g, AIC %g/%g", got.Deviance, want.Deviance, got.AIC, want.AIC)
			}
			if err := Verify(context.Background(), *st.Result); err != nil {
				t.Fatalf("the result does not verify: %v", err)
			}
		})
	}
	// The binomial fit lands near the model the cohorts were drawn from.
	st := f.run("fr-grandest", Spec{Kind: KindGLM, Datasets: cohorts, Formula: "diabetes ~ age + bmi + sex + smoker", Family: "binomial", Purpose: "research"})
	fit := st.Result.Combined.GLM
	for _, c := range fit.Coefficients {
		want := map[string]float64{"age": cohort.Diabetes.Age, "bmi": cohort.Diabetes.BMI}[c.Name]
		if want != 0 && (want < c.Lower || want > c.Upper) {
			t.Errorf("%s: the generating %g is outside the interval [%g, %g]", c.Name, want, c.Lower, c.Upper)
		}
	}
}

func TestAResultVerifiesOnlyAsSigned(t *testing.T) {
	f, _ := cohortFederation(t)
	st := f.run("lu-luxembourg", Spec{Kind: KindGLM, Datasets: cohorts[:2], Formula: "sbp ~ age + sex", Family: "gaussian", Purpose: "research"})
	res := *st.Result
	if err := Verify(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	ve := func(r Result) {
		t.Helper()
		var v *VerifyError
		if err := Verify(context.Background(), r); !errors.As(err, &v) {
			t.Fatalf("a changed result verified: %v", err)
		}
	}
	changed, _ := jsonRoundTrip(res)
	changed.Combined.GLM.Coefficients[1].Estimate *= 1.01
	ve(changed)
	// A contribution presented as another owner's.
	swapped, _ := jsonRoundTrip(res)
	swapped.Parts[0].Contributions, swapped.Parts[1].Contributions = swapped.Parts[1].Contributions, swapped.Parts[0].Contributions
	ve(swapped)
	// A contribution signed by another key than the owner's.
	forged, _ := jsonRoundTrip(res)
	forged.Parts[0].PeerID = forged.Parts[1].PeerID
	ve(forged)
	// An iteration dropped.
	short, _ := jsonRoundTrip(res)
	short.Parts[1].Contributions = short.Parts[1].Contributions[:len(short.Parts[1].Contributions)-1]
	ve(short)
}

func TestDescriptiveAnalysesCombineAndSuppressSmallCells(t *testing.T) {
	f, data := cohortFederation(t)
	st := f.run("de-bw", Spec{Kind: KindSummary, Datasets: cohorts, Variables: []string{"bmi"}, Purpose: "research"})
	if st.State != StateDone {
		t.Fatalf("%s %+v", st.Error, st.Regions)
	}
	s := st.Result.Combined.Summary
	var all []float64
	for _, owner := range []string{"fr-grandest", "de-bw", "ch-basel"} {
		tab, _ := tabular.ReadCSV(bytes.NewReader(data[owner]), cohort.Dictionary())
		bmi, _ := tab.Numbers("bmi")
		all = append(all, bmi...)
	}
	mean := 0.0
	for _, v := range all {
		mean += v
	}
	mean /= float64(len(all))
	if s.N != len(all) || math.Abs(s.Mean-mean) > 1e-9*mean || !s.QuantilesApproximate {
		t.Fatalf("summary %+v, want n %d mean %g", s, len(all), mean)
	}
	// The oldest patients are few: their table has cells under five.
	st = f.run("de-bw", Spec{Kind: KindTable, Datasets: cohorts, Variables: []string{"sex", "smoker"}, Filter: "age >= 82", Purpose: "research"})
	if st.State != StateDone {
		t.Fatalf("%s %+v", st.Error, st.Regions)
	}
	suppressed := 0
	for _, row := range st.Result.Combined.Table.Cells {
		for _, c := range row {
			if c.Suppressed != "" {
				suppressed++
				if c.Count != 0 {
					t.Fatalf("a suppressed cell carries its count: %+v", c)
				}
			}
		}
	}
	if suppressed == 0 {
		t.Fatalf("no cell suppressed in %+v", st.Result.Combined.Table)
	}
	st = f.run("de-bw", Spec{Kind: KindHistogram, Datasets: cohorts, Variables: []string{"age"}, Breaks: []float64{30, 45, 60, 75, 90}, Purpose: "research"})
	if st.State != StateDone {
		t.Fatalf("%s %+v", st.Error, st.Regions)
	}
	total := 0
	for _, b := range st.Result.Combined.Histogram.Bins {
		total += b.Count
	}
	if total != 2100 {
		t.Fatalf("histogram counts %d rows, want 2100", total)
	}
	st = f.run("de-bw", Spec{Kind: KindCorrelation, Datasets: cohorts, Variables: []string{"age", "sbp"}, Purpose: "research"})
	if st.State != StateDone || st.Result.Combined.Correlation.R[0][1] < 0.3 {
		t.Fatalf("correlation of age and sbp: %s %+v", st.Error, st.Result)
	}
	st = f.run("de-bw", Spec{Kind: KindTable, Datasets: cohorts, Variables: []string{"sbp"}, By: "sex", Purpose: "research"})
	if st.State != StateDone || len(st.Result.Combined.Means.Groups) != 2 {
		t.Fatalf("means by sex: %s %+v", st.Error, st.Result)
	}
	for _, res := range []Status{st} {
		if err := Verify(context.Background(), *res.Result); err != nil {
			t.Fatal(err)
		}
	}
}

// The "n and n−1" attack: two results whose rows differ by one person
// give that person's value by subtraction. The owner refuses the second.
func TestAResultDifferingFromAnEarlierOneByAFewRowsIsRefused(t *testing.T) {
	f, data := cohortFederation(t)
	tab, _ := tabular.ReadCSV(bytes.NewReader(data["ch-basel"]), cohort.Dictionary())
	bmi, _ := tab.Numbers("bmi")
	sorted := slices.Clone(bmi)
	sort.Float64s(sorted)
	// A threshold that leaves out the heaviest patients, fewer than five.
	var cut float64
	for k := 1; k < 5; k++ {
		if sorted[len(sorted)-k-1] < sorted[len(sorted)-k] {
			cut = sorted[len(sorted)-k]
			break
		}
	}
	if cut == 0 {
		t.Fatal("no threshold leaves out fewer than five rows")
	}
	spec := Spec{Kind: KindSummary, Datasets: []string{"ch-basel/cohort"}, Variables: []string{"bmi"}, Purpose: "research"}
	if st := f.run("fr-grandest", spec); st.State != StateDone {
		t.Fatalf("%s %+v", st.Error, st.Regions)
	}
	// The same rows again are no new disclosure.
	if st := f.run("fr-grandest", spec); st.State != StateDone {
		t.Fatalf("the same analysis again: %s", st.Error)
	}
	spec.Filter = "bmi < " + strconv.FormatFloat(cut, 'f', -1, 64)
	st := f.run("fr-grandest", spec)
	if st.State != StateFailed || st.Regions[0].Code != RefusalDifferencing {
		t.Fatalf("the differencing attempt: %+v", st.Regions)
	}
	for _, n := range []string{"1", "2", "3", "4"} {
		if strings.Contains(st.Regions[0].Reason, " "+n+" ") {
			t.Fatalf("the refusal states how many rows differ: %q", st.Regions[0].Reason)
		}
	}
	// Another member, which received nothing yet, may ask the same.
	if st := f.run("de-bw", spec); st.State != StateDone {
		t.Fatalf("another member: %s %+v", st.Error, st.Regions)
	}
	// Through a model's rows, too.
	glm := Spec{Kind: KindGLM, Datasets: []string{"ch-basel/cohort"}, Formula: "sbp ~ age", Family: "gaussian", Purpose: "research", Filter: spec.Filter}
	if st := f.run("fr-grandest", glm); st.State != StateFailed || st.Regions[0].Code != RefusalDifferencing {
		t.Fatalf("a model on the differing rows: %+v", st.Regions)
	}
}

func TestOwnersDecideWithTheirPolicyAndSayWhy(t *testing.T) {
	f, _ := cohortFederation(t)
	f.publish("fr-grandest", Dataset{ID: "icu", Classification: "sensitive", PersonalData: true, Dictionary: dictionaryOf(cohort.Dictionary())},
		cohort.Generate("fr-grandest", 300, 3))
	st := f.run("de-bw", Spec{Kind: KindSummary, Datasets: []string{"fr-grandest/icu", "de-bw/cohort"}, Variables: []string{"age"}, Purpose: "research"})
	if st.State != StateFailed || st.Result != nil {
		t.Fatalf("a denied analysis gave a result: %+v", st)
	}
	r := st.Regions[0]
	if r.State != StateDenied || r.Decision == nil || len(r.Decision.Rules) == 0 || len(r.Decision.Reasons) == 0 {
		t.Fatalf("the denial carries no reasons: %+v", r)
	}
	if st.Regions[1].State != StateDone {
		t.Fatalf("the other region: %+v", st.Regions[1])
	}
	// With the project that covers it, the same analysis is allowed.
	f.reg.mu.Lock()
	f.reg.projects["upper-rhine-diabetes"] = policy.Project{ID: "upper-rhine-diabetes", Title: "Diabetes", Themes: []string{"health"},
		Lead: "fr-grandest", Partners: []string{"fr-grandest", "de-bw"}, Datasets: []string{"fr-grandest/icu"},
		EthicsRef: "CPP-EST-2026-201", Status: "active"}
	f.reg.mu.Unlock()
	st = f.run("de-bw", Spec{Kind: KindSummary, Datasets: []string{"fr-grandest/icu"}, Variables: []string{"age"}, Purpose: "research", Project: "upper-rhine-diabetes"})
	if st.State != StateDone {
		t.Fatalf("with the project: %s %+v", st.Error, st.Regions)
	}
	// A partner outside the project is not.
	st = f.run("ch-basel", Spec{Kind: KindSummary, Datasets: []string{"fr-grandest/icu"}, Variables: []string{"age"}, Purpose: "research", Project: "upper-rhine-diabetes"})
	if st.Regions[0].State != StateDenied {
		t.Fatalf("a member outside the project: %+v", st.Regions)
	}
	if n := f.nodes["fr-grandest"].rec.count(RecordDecision); n < 3 {
		t.Fatalf("the owner recorded %d decisions, want every one", n)
	}
}

func TestBadSpecsAreRefusedBeforeAnyOwnerIsAsked(t *testing.T) {
	f, _ := cohortFederation(t)
	f.publish("de-bw", Dataset{ID: "plain", Classification: "open"}, []byte("a,b\n1,2\n"))
	svc := f.nodes["lu-luxembourg"].svc
	for name, spec := range map[string]Spec{
		"unknown column":         {Kind: KindSummary, Datasets: cohorts, Variables: []string{"weight"}, Purpose: "research"},
		"wrong type":             {Kind: KindSummary, Datasets: cohorts, Variables: []string{"sex"}, Purpose: "research"},
		"identifier":             {Kind: KindSummary, Datasets: cohorts, Variables: []string{"patient_id"}, Purpose: "research"},
		"filter on identifier":   {Kind: KindSummary, Datasets: cohorts, Variables: []string{"age"}, Filter: "patient_id < 10", Purpose: "research"},
		"formula does not parse": {Kind: KindGLM, Datasets: cohorts, Formula: "diabetes ~ ~ age", Family: "binomial", Purpose: "research"},
		"unknown dataset":        {Kind: KindSummary, Datasets: []string{"fr-grandest/nothing"}, Variables: []string{"age"}, Purpose: "research"},
		"no dictionary":          {Kind: KindSummary, Datasets: []string{"de-bw/plain"}, Variables: []string{"a"}, Purpose: "research"},
		"no purpose":             {Kind: KindSummary, Datasets: cohorts, Variables: []string{"age"}},
		"unsorted breaks":        {Kind: KindHistogram, Datasets: cohorts, Variables: []string{"age"}, Breaks: []float64{50, 40}, Purpose: "research"},
	} {
		_, err := svc.Start(context.Background(), researcher, spec)
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("%s: %v, want a SpecError", name, err)
		}
	}
	for _, n := range f.nodes {
		if c := n.rec.count(RecordDecision); c != 0 {
			t.Fatalf("%s decided %d times on bad specs", n.m.Name, c)
		}
	}
}

// A member that wants more than it is granted crafts the rounds itself.
func TestCraftedRoundsAreRefused(t *testing.T) {
	f, data := cohortFederation(t)
	lu, fr := f.nodes["lu-luxembourg"], f.nodes["fr-grandest"]
	ctx := context.Background()
	q := Query{Analysis: "x", Dataset: "cohort", Kind: KindSummary, Variables: []string{"age"}, Purpose: "research"}
	sign := func(n *testNode, q Query, jti string) string {
		now := time.Now()
		tok, err := nodejws.Sign(n.key, n.m.PeerID, queryTokenType, queryClaims{Issuer: n.m.PeerID.String(), Audience: fr.m.PeerID.String(),
			ID: jti, IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(), Researcher: researcher.researcher(), Query: q})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := sign(lu, q, "once")
	if ans, err := lu.svc.roundTrip(ctx, fr.m.PeerID, request{Token: tok}); err != nil || ans.Contribution == "" {
		t.Fatalf("a proper query: %+v %v", ans, err)
	}
	if ans, _ := lu.svc.roundTrip(ctx, fr.m.PeerID, request{Token: tok}); ans.Code != RefusalReplay {
		t.Fatalf("a replayed query: %+v", ans)
	}
	// A query signed by another member's key, sent by lu.
	de := f.nodes["de-bw"]
	if ans, _ := lu.svc.roundTrip(ctx, fr.m.PeerID, request{Token: sign(de, q, "other")}); ans.Code != RefusalBadToken {
		t.Fatalf("a query signed by another member: %+v", ans)
	}
	// A GLM session is the opener's alone, and its iterations come in order.
	gq := Query{Analysis: "y", Dataset: "cohort", Kind: KindGLM, Family: "binomial", Formula: "diabetes ~ age + bmi", Purpose: "research"}
	d, _ := tabular.ParseFormula(gq.Formula, cohort.Dictionary())
	design, _ := tabular.NewDesign(d, cohort.Dictionary())
	gq.Design = &design
	ans, err := lu.svc.roundTrip(ctx, fr.m.PeerID, request{Token: sign(lu, gq, "glm")})
	if err != nil || ans.Session == "" {
		t.Fatalf("open a fit: %+v %v", ans, err)
	}
	if a, _ := de.svc.roundTrip(ctx, fr.m.PeerID, request{Session: ans.Session, Iteration: 1, Beta: []float64{-5, 0.05, 0.1}}); a.Code != RefusalSession {
		t.Fatalf("another member's session: %+v", a)
	}
	if a, _ := lu.svc.roundTrip(ctx, fr.m.PeerID, request{Session: ans.Session, Iteration: 3, Beta: []float64{-5, 0.05, 0.1}}); a.Code != RefusalSession {
		t.Fatalf("an iteration out of order: %+v", a)
	}
	// Coefficients chosen so that every row but the heaviest patient's
	// weighs nothing would make X'WX and X'Wz that person's record: refused.
	tab, _ := tabular.ReadCSV(bytes.NewReader(data["fr-grandest"]), cohort.Dictionary())
	bmi, _ := tab.Numbers("bmi")
	heaviest := slices.Max(bmi)
	a, _ := lu.svc.roundTrip(ctx, fr.m.PeerID, request{Session: ans.Session, Iteration: 1, Beta: []float64{-60 * heaviest, 0, 60}})
	if a.Code != RefusalDisclosure {
		t.Fatalf("crafted coefficients: %+v", a)
	}
}

func TestAStrangerIsRefused(t *testing.T) {
	f := newFederation(t, "fr-grandest", "us-stranger")
	f.publish("fr-grandest", Dataset{ID: "cohort", Classification: "open", Dictionary: dictionaryOf(cohort.Dictionary())}, cohort.Generate("fr-grandest", 200, 1))
	st := f.run("us-stranger", Spec{Kind: KindSummary, Datasets: []string{"fr-grandest/cohort"}, Variables: []string{"age"}, Purpose: "research"})
	if st.State != StateFailed || st.Regions[0].Code != RefusalNotMember {
		t.Fatalf("%+v", st.Regions)
	}
}

func TestAnOwnerWhoseAuditTrailFailsReleasesNothing(t *testing.T) {
	f, _ := cohortFederation(t)
	f.nodes["de-bw"].rec.setFail(true)
	st := f.run("fr-grandest", Spec{Kind: KindSummary, Datasets: cohorts, Variables: []string{"age"}, Purpose: "research"})
	if st.State != StateFailed || st.Regions[1].Code != RefusalAudit {
		t.Fatalf("%+v", st.Regions)
	}
	f.nodes["de-bw"].rec.setFail(false)
	st = f.run("fr-grandest", Spec{Kind: KindSummary, Datasets: cohorts, Variables: []string{"age"}, Purpose: "research"})
	if st.State != StateDone {
		t.Fatalf("after the trail recovered: %+v", st.Regions)
	}
}

func TestAnOwnerThatStopsMidFitFailsTheAnalysisNamingIt(t *testing.T) {
	f, _ := cohortFederation(t)
	ch := f.nodes["ch-basel"]
	reached := make(chan struct{})
	release := make(chan struct{})
	ch.svc.hooks.iterate = func(iteration int) {
		if iteration == 2 {
			close(reached)
			<-release
		}
	}
	lu := f.nodes["lu-luxembourg"].svc
	st, err := lu.Start(context.Background(), researcher, Spec{Kind: KindGLM, Datasets: cohorts, Formula: "diabetes ~ age + bmi", Family: "binomial", Purpose: "research"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatal("iteration 2 never reached ch-basel")
	}
	close(release)
	_ = ch.svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for !st.Done() {
		if st, err = lu.Wait(ctx, researcher, st.ID, st.Version); err != nil || ctx.Err() != nil {
			t.Fatalf("wait: %v", err)
		}
	}
	if st.State != StateFailed || st.Result != nil || !strings.Contains(st.Error, "ch-basel") {
		t.Fatalf("an owner stopped mid-fit: %+v", st)
	}
	// It runs again once the owner is back.
	f.start(ch)
	if st := f.run("lu-luxembourg", Spec{Kind: KindGLM, Datasets: cohorts, Formula: "diabetes ~ age + bmi", Family: "binomial", Purpose: "research"}); st.State != StateDone {
		t.Fatalf("after the owner returned: %+v", st.Regions)
	}
}
