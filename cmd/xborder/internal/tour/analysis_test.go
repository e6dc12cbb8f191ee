package tour

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xborder/xborder/analysis"
	"github.com/xborder/xborder/analysis/cohort"
	"github.com/xborder/xborder/analysis/stats"
	"github.com/xborder/xborder/internal/nodejws"
	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/policy"
)

// The tour's analysis steps rest on the generated cohorts: the oldest
// patients must make a small cell somewhere, and the heaviest of
// ch-basel must be few enough to differ by less than the shipped minimum
// subset (5). A change of sizes or seed that breaks this fails here, not
// in the demo.
func TestTheCohortsMakeTheCasesTheTourShows(t *testing.T) {
	small := 0
	for _, c := range cohorts {
		if !c.fitted {
			continue
		}
		data := cohort.Generate(c.owner, c.rows, cohortSeed)
		age, err := column(data, "age")
		if err != nil {
			t.Fatal(err)
		}
		if len(age) != c.rows {
			t.Fatalf("%s: %d ages, want %d", c.owner, len(age), c.rows)
		}
		cells := map[string]int{}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
		for i, l := range lines {
			f := strings.Split(l, ",")
			if age[i] >= 85 { // oldest
				cells[f[2]+"/"+f[4]]++
			}
		}
		for _, n := range cells {
			if n > 0 && n < 5 {
				small++
			}
		}
	}
	if small == 0 {
		t.Errorf("no region has a cell of 1 to 4 patients where %s: the suppression step would fail", oldest)
	}
	bmi, err := column(cohort.Generate("ch-basel", 2000, cohortSeed), "bmi")
	if err != nil {
		t.Fatal(err)
	}
	if _, left, err := heaviestLeftOut(bmi, 3, 5); err != nil || left != 3 {
		t.Errorf("ch-basel's 3 heaviest: %d left out, %v", left, err)
	}
}

func TestHeaviestLeftOut(t *testing.T) {
	cut, left, err := heaviestLeftOut([]float64{20, 31.5, 25, 40, 38, 22, 39}, 3, 5)
	if err != nil || cut != 38 || left != 3 {
		t.Fatalf("cut %g, %d left out, %v; want 38, 3", cut, left, err)
	}
	// Ties at the cut leave more out.
	if cut, left, err = heaviestLeftOut([]float64{20, 38, 38, 40, 38}, 3, 5); err != nil || cut != 38 || left != 4 {
		t.Fatalf("with ties: cut %g, %d left out, %v; want 38, 4", cut, left, err)
	}
	// As many as the minimum subset is no differencing attempt.
	if _, _, err = heaviestLeftOut([]float64{20, 38, 38, 38, 38, 38}, 3, 5); err == nil {
		t.Fatal("five tied values: want an error")
	}
	if _, _, err = heaviestLeftOut([]float64{1, 2}, 3, 5); err == nil {
		t.Fatal("fewer values than k: want an error")
	}
}

func TestColumnRefusesWhatItCannotRead(t *testing.T) {
	for name, data := range map[string]string{
		"no column":  "age,sex\n40,F\n",
		"not number": "bmi\n27.1\nheavy\n",
		"empty":      "",
	} {
		if _, err := column([]byte(data), "bmi"); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// released reads what an owner signed, as nodejws signs it.
func TestReleasedReadsTheSignedContribution(t *testing.T) {
	id, err := node.CreateKey(filepath.Join(t.TempDir(), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Contribution{Owner: "ch-basel", Dataset: "diabetes-cohort", Kind: analysis.KindTable, Rows: 29,
		Limits: policy.DisclosureLimits{MinCellCount: 5, MinSubsetRows: 5},
		Table:  &stats.Table{Rows: []string{"F"}, Cols: []string{"false"}, Cells: [][]stats.Cell{{{Suppressed: stats.SuppressedSmall}}}}}
	tok, err := nodejws.Sign(id.Key, id.PeerID, "xborder-analysis-contribution+jws", want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := released(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != want.Owner || got.Rows != 29 || got.Limits.MinSubsetRows != 5 || got.Table.Cells[0][0].Suppressed != stats.SuppressedSmall {
		t.Fatalf("read %+v", got)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.bm90IGpzb24.c"} {
		if _, err := released(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestPrintTablesMarksWithheldCellsAndSaysWhy(t *testing.T) {
	cell := func(n int) stats.Cell { return stats.Cell{Count: n} }
	withheld := func(why stats.Suppression) stats.Cell { return stats.Cell{Suppressed: why} }
	levels := stats.Table{Rows: []string{"F", "M"}, Cols: []string{"false", "true"}}
	fr, ch, all := levels, levels, levels
	fr.Cells = [][]stats.Cell{{cell(21), cell(8)}, {cell(35), cell(15)}}
	ch.Cells = [][]stats.Cell{{withheld(stats.SuppressedSecondary), withheld(stats.SuppressedSmall)}, {withheld(stats.SuppressedSecondary), withheld(stats.SuppressedSmall)}}
	all.Cells = [][]stats.Cell{{withheld(stats.SuppressedInPart), withheld(stats.SuppressedInPart)}, {withheld(stats.SuppressedInPart), withheld(stats.SuppressedInPart)}}
	var b bytes.Buffer
	printTables(&b, "  ", []tableRow{{"fr-grandest", fr, 5}, {"ch-basel", ch, 5}, {"combined", all, 0}})
	got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	want := []string{
		"               F/false  F/true  M/false  M/true",
		"  fr-grandest  21       8       35       15",
		"  ch-basel     *        *       *        *",
		"  combined     *        *       *        *",
		"  * ch-basel: withheld counts above 0 and under 5 patients, which could name them (small_count)",
		"  * ch-basel: withheld the smallest other count of each row and column holding one withheld count, which the line's total would give away (secondary)",
		"  * combined: withheld every count to which a region's withheld count belongs (suppressed_in_a_part)",
	}
	if len(got) != len(want) {
		t.Fatalf("got\n%s", b.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, got[i], want[i])
		}
	}
}

func TestOutcomeNamesEveryRegion(t *testing.T) {
	st := analysis.Status{State: analysis.StateFailed, Regions: []analysis.RegionOutcome{
		{Dataset: "fr-grandest/c", State: analysis.StateDone, Rows: 10},
		{Dataset: "ch-basel/c", State: analysis.StateRefused, Code: analysis.RefusalDifferencing, Reason: "3 rows"},
	}, Error: "incomplete"}
	got := outcome(st)
	for _, w := range []string{"failed", "fr-grandest/c: contributed 10 rows", "ch-basel/c: refused (differencing): 3 rows", "incomplete"} {
		if !strings.Contains(got, w) {
			t.Errorf("%q lacks %q", got, w)
		}
	}
}
