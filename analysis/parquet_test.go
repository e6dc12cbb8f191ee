package analysis

import (
	"strings"
	"testing"

	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/tabular"
)

// One owner holds its cohort as Parquet, the other as CSV: the federated
// fit is the fit on their pooled rows.
func TestAGLMOverParquetAndCSVEqualsThePooledFit(t *testing.T) {
	f := newFederation(t, "fr-grandest", "de-bw", "lu-luxembourg")
	data := map[string][]byte{"fr-grandest": cohort.Generate("fr-grandest", 900, 7), "de-bw": cohort.Generate("de-bw", 700, 7)}
	// The same rows as fr-grandest's CSV, which the pooled fit reads.
	pq := cohort.GenerateParquet("fr-grandest", 900, 7)

	f.publish("fr-grandest", Dataset{ID: "cohort", Classification: "restricted", MediaType: tabular.MediaTypeParquet,
		Dictionary: dictionaryOf(cohort.Dictionary())}, pq)
	f.publish("de-bw", Dataset{ID: "cohort", Classification: "restricted", MediaType: "text/csv; charset=utf-8",
		Dictionary: dictionaryOf(cohort.Dictionary())}, data["de-bw"])
	st := f.run("lu-luxembourg", Spec{Kind: KindGLM, Datasets: []string{"fr-grandest/cohort", "de-bw/cohort"},
		Formula: "sbp ~ age + bmi + sex + smoker", Family: "gaussian", Purpose: "research"})
	if st.State != StateDone {
		t.Fatalf("state %s: %s %+v", st.State, st.Error, st.Regions)
	}
	got, want := *st.Result.Combined.GLM, pooledFit(t, st.Result, data)
	if got.N != 1600 || got.N != want.N || got.Iterations != want.Iterations {
		t.Fatalf("n %d/%d, iterations %d/%d", got.N, want.N, got.Iterations, want.Iterations)
	}
	for i, c := range got.Coefficients {
		w := want.Coefficients[i]
		if !near(c.Estimate, w.Estimate) || !near(c.StdError, w.StdError) {
			t.Errorf("%s: federated %+v, pooled %+v", c.Name, c, w)
		}
	}
	if !near(got.Deviance, want.Deviance) {
		t.Errorf("deviance %g, pooled %g", got.Deviance, want.Deviance)
	}
}

// An owner refuses a query of a dataset it cannot read as a table, or
// whose Parquet file does not match its dictionary, as a bad query.
func TestAnUnreadableDatasetIsABadQuery(t *testing.T) {
	f := newFederation(t, "fr-grandest", "lu-luxembourg")
	raw := cohort.Generate("fr-grandest", 100, 7)
	f.publish("fr-grandest", Dataset{ID: "json", Classification: "restricted", MediaType: "application/json",
		Dictionary: dictionaryOf(cohort.Dictionary())}, raw)
	f.publish("fr-grandest", Dataset{ID: "csv-named-parquet", Classification: "restricted", MediaType: tabular.MediaTypeParquet,
		Dictionary: dictionaryOf(cohort.Dictionary())}, raw)
	for ds, want := range map[string]string{"json": "is not a table", "csv-named-parquet": "not a valid Parquet file"} {
		st := f.run("lu-luxembourg", Spec{Kind: KindSummary, Datasets: []string{"fr-grandest/" + ds}, Variables: []string{"age"}, Purpose: "research"})
		if st.State != StateFailed || st.Regions[0].Code != RefusalBadQuery || !strings.Contains(st.Regions[0].Reason, want) {
			t.Errorf("%s: state %s, %+v, want a bad query saying %q", ds, st.State, st.Regions, want)
		}
	}
}
