//go:build testnet

package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/internal/testkit"
)

// cohortRows is each region's cohort in scenario 10. The fit must still
// be running when Basel's container is stopped after the first iteration
// is seen, so the cohorts are big rather than Basel stopped right after
// the start: with 200 000 rows a region's iteration takes tens of
// milliseconds and the stop landed at iteration 3 of a 5-iteration fit,
// too close to its end; with 1 000 000 rows the fit takes about 2 s on
// the testnet and the stop lands in iteration 1.
const cohortRows = 1_000_000

// Scenario 10: three regions publish synthetic cohorts; Luxembourg fits a
// logistic regression across them; Basel's container is stopped as soon
// as the fit is past its first iteration: the analysis fails naming
// Basel, with no result; once Basel is back and ready the same fit
// completes (and a member that took no part verifies it).
func TestScenario10AnalysisFailsWhenAnOwnerStopsMidFit(t *testing.T) {
	healthy(t, settle)
	t.Cleanup(func() { restore(t) })
	ctx := context.Background()
	fr, de, ch, be, lu := byName(t, "fr-grandest"), byName(t, "de-bw"), byName(t, "ch-basel"), byName(t, "be-wallonie"), byName(t, "lu-luxembourg")
	id := "s10-cohort-" + runID()
	dict := cohort.Dictionary()
	var refs []string
	for i, o := range []*tnode{fr, de, ch} {
		// Restricted, not personal data: the shipped analysis policy
		// allows it for research without a project.
		p := publication{ID: id, Title: "Type 2 diabetes cohort", Description: "Scenario 10 synthetic cohort",
			Theme: "health", Classification: "restricted", License: "research-only", Dictionary: &dict}
		if _, err := o.publish(ctx, p, bytes.NewReader(cohort.Generate(o.Name, cohortRows, uint64(10+i)))); err != nil {
			t.Fatalf("%s publishes its cohort: %v", o.Name, err)
		}
		refs = append(refs, o.Name+"/"+id)
	}
	for _, ref := range refs {
		testkit.EventuallyNil(t, converge, "lu-luxembourg lists "+ref+" with its dictionary", func() error {
			var l struct {
				Dictionary json.RawMessage `json:"dictionary"`
			}
			if err := lu.get(ctx, "/v1/catalogue/"+ref, &l); err != nil {
				return err
			}
			if len(l.Dictionary) == 0 || string(l.Dictionary) == "null" {
				return errors.New("listed without its data dictionary")
			}
			return nil
		})
	}
	alice := lu.as(researcherToken(t, lu.Name, "alice@uni.lu", "Université du Luxembourg"))
	spec := analysis.Spec{Kind: analysis.KindGLM, Datasets: refs, Formula: "diabetes ~ age + bmi + sex + smoker",
		Family: "binomial", Purpose: "research"}

	var st analysis.Status
	if err := alice.post(ctx, "/v1/analyses", spec, &st); err != nil {
		t.Fatal(err)
	}
	st = alice.followAnalysis(t, st, 3*time.Minute, "the fit past its first iteration", func(s analysis.Status) bool {
		return s.Iteration >= 1 || s.Done()
	})
	if st.Done() {
		t.Fatalf("the fit ended (%s, %d iterations) before ch-basel could be stopped; the scenario needs bigger cohorts", st.State, st.Iteration)
	}
	stoppedAt := st.Iteration
	docker(t, "stop", ch.Name)
	st = alice.followAnalysis(t, st, 3*time.Minute, "the analysis ends", analysis.Status.Done)
	if st.State != analysis.StateFailed || st.Result != nil || !strings.Contains(st.Error, ch.Name) {
		t.Fatalf("ch-basel stopped at iteration %d: the analysis is %s (result %v), error %q; want failed, no result, naming ch-basel",
			stoppedAt, st.State, st.Result != nil, st.Error)
	}
	for _, r := range st.Regions {
		if r.Owner == ch.Name && r.State == analysis.StateDone {
			t.Errorf("ch-basel's part is done after it stopped: %+v", r)
		}
	}
	t.Logf("ch-basel stopped at iteration %d: %s", stoppedAt, st.Error)

	docker(t, "start", ch.Name)
	healthy(t, settle)
	if err := alice.post(ctx, "/v1/analyses", spec, &st); err != nil {
		t.Fatal(err)
	}
	st = alice.followAnalysis(t, st, 3*time.Minute, "the fit after ch-basel returned ends", analysis.Status.Done)
	if st.State != analysis.StateDone || st.Result == nil || st.Result.Combined.GLM == nil {
		t.Fatalf("after ch-basel returned: %s, %q, %+v", st.State, st.Error, st.Regions)
	}
	fit := st.Result.Combined.GLM
	if fit.N != 3*cohortRows || len(fit.Coefficients) != 5 {
		t.Fatalf("the fit: %d rows, %d coefficients; want %d and 5", fit.N, len(fit.Coefficients), 3*cohortRows)
	}
	var v struct {
		Valid   bool   `json:"valid"`
		Problem string `json:"problem"`
	}
	if err := be.post(ctx, "/v1/analyses/verify", st.Result, &v); err != nil || !v.Valid {
		t.Fatalf("be-wallonie verifies the fit: %v %s", err, v.Problem)
	}
	t.Logf("after ch-basel returned: %d rows, %d iterations in %v, verified by be-wallonie",
		fit.N, fit.Iterations, st.Finished.Sub(st.Started).Round(time.Millisecond))
}

// followAnalysis reads the analysis as it changes — each read is held by
// the node until the analysis' version passes the last one seen — until
// cond holds, failing t after within.
func (n *tnode) followAnalysis(t testing.TB, st analysis.Status, within time.Duration, what string, cond func(analysis.Status) bool) analysis.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for !cond(st) {
		// Held for 10 s at most, within the client's 15 s timeout.
		path := fmt.Sprintf("/v1/analyses/%s?after=%s&wait=10s", url.PathEscape(st.ID), strconv.FormatUint(st.Version, 10))
		if err := n.get(ctx, path, &st); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("not within %v: %s: the analysis is %s at iteration %d", within, what, st.State, st.Iteration)
			}
			t.Fatalf("%s: %v", what, err)
		}
	}
	return st
}
