package node

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/audit"
	"github.com/xborder/xborder/exchange"
	"github.com/xborder/xborder/internal/testkit"
)

// Five real nodes: three regions publish synthetic cohorts with their data
// dictionary (one as Parquet, two as CSV), a fourth fits a model across them with the shipped policies,
// and a fifth verifies the result from its signatures.
func TestAFederatedModelAcrossThreeRegionsOfFiveNodes(t *testing.T) {
	f := newTestFed(t, "grand-est-ai", fiveCountries, nil)
	nodes := f.startAll()
	testkit.Eventually(t, 30*time.Second, "mesh", fullMesh(nodes))
	ctx := context.Background()
	dict := cohort.Dictionary()
	owners := nodes[:3]
	for i, n := range owners {
		// de-bw keeps its cohort in Parquet, whose media type comes from
		// the file's name.
		name, content := "cohort.csv", cohort.Generate(n.cfg.Name, 400+100*i, 11)
		if n.cfg.Name == "de-bw" {
			name, content = "cohort.parquet", cohort.GenerateParquet(n.cfg.Name, 400+100*i, 11)
		}
		e, err := n.catalogue.Publish(ctx, exchange.Publication{ID: "cohort", Title: "Diabetes cohort", Theme: "health",
			Classification: "restricted", FileName: name, Dictionary: &dict}, bytes.NewReader(content))
		must(t, err)
		if n.cfg.Name == "de-bw" && e.MediaType != "application/vnd.apache.parquet" {
			t.Fatalf("de-bw's cohort has media type %q", e.MediaType)
		}
	}
	lu := nodes[4]
	for _, n := range owners {
		testkit.Eventually(t, 30*time.Second, "lu-luxembourg lists "+n.cfg.Name+"/cohort with its dictionary", func() bool {
			l, err := lu.catalogue.Get(n.cfg.Name, "cohort")
			return err == nil && l.Dictionary != nil
		})
	}
	alice := analysis.Caller{Subject: "alice@uni.lu", Org: "Université du Luxembourg", Role: "researcher"}
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := lu.analyses.Run(runCtx, alice, analysis.Spec{Kind: analysis.KindGLM,
		Datasets: []string{"fr-grandest/cohort", "de-bw/cohort", "ch-basel/cohort"},
		Formula:  "diabetes ~ age + bmi + sex", Family: "binomial", Purpose: "research"})
	must(t, err)
	if st.State != analysis.StateDone {
		t.Fatalf("the fit did not complete: %s %+v", st.Error, st.Regions)
	}
	if st.Result.Combined.GLM.N != 400+500+600 || len(st.Result.Combined.GLM.Coefficients) != 4 {
		t.Fatalf("fit: %+v", st.Result.Combined.GLM)
	}
	if err := analysis.Verify(ctx, *st.Result); err != nil {
		t.Fatal(err)
	}
	// The finished fit is stored, with its result.
	got, err := lu.analyses.Analysis(ctx, alice, st.ID)
	if err != nil || got.Result == nil {
		t.Fatalf("stored analysis: %v", err)
	}
	// Each owner's trail holds its decision and its releases.
	for _, n := range owners {
		recs, _, err := n.audit.AuditRecords(ctx, audit.Filter{Type: analysis.RecordReleased})
		must(t, err)
		if len(recs) < 2 {
			t.Fatalf("%s recorded %d releases", n.cfg.Name, len(recs))
		}
	}
}
