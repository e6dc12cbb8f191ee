package stats

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"
)

// splits cuts n rows into uneven parts at the given fractions.
func splits(n int, fractions ...float64) []int {
	bounds := []int{0}
	for _, f := range fractions {
		bounds = append(bounds, int(f*float64(n)))
	}
	return append(bounds, n)
}

func wantDisclosure(t *testing.T, err error, rule string) {
	t.Helper()
	var de *DisclosureError
	if !errors.As(err, &de) || de.Rule != rule {
		t.Fatalf("want a %s refusal, got %v", rule, err)
	}
	if !strings.Contains(de.Error(), "disclosure rules") {
		t.Fatalf("the refusal should read as one: %q", de.Error())
	}
}

func wantInputError(t *testing.T, err error, field string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("want an input error on %s, got %v", field, err)
	}
}

func TestSummariseQuantiles(t *testing.T) {
	// On evenly spaced values a centred window's mean is the value at its
	// centre, so every unclamped quantile equals R's type 7 quantile.
	values := make([]float64, 100)
	for i := range values {
		values[99-i] = float64(i + 1) // unsorted on purpose
	}
	s, err := Summarise(values, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 100 || s.Mean != 50.5 || !near(s.SD, math.Sqrt(100*101/12.0), 1e-12) {
		t.Fatalf("moments: %+v", s)
	}
	for _, q := range s.Quantiles {
		if want := 1 + 99*q.Prob; !near(q.Value, want, 1e-12) {
			t.Errorf("quantile %g = %v, want %v", q.Prob, q.Value, want)
		}
	}
	// On five values every quantile is their mean: no single value leaks.
	s, err = Summarise([]float64{10, 1, 7, 3, 4}, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range s.Quantiles {
		if q.Value != 5 {
			t.Errorf("quantile %g = %v, want 5", q.Prob, q.Value)
		}
	}
}

func TestSummariseRefusals(t *testing.T) {
	_, err := Summarise([]float64{1, 2, 3, 4}, DefaultRules)
	wantDisclosure(t, err, RuleMinSubsetRows)
	rules := DefaultRules
	rules.MinCellCount = 10
	_, err = Summarise([]float64{1, 2, 3, 4, 5, 6, 7}, rules)
	wantDisclosure(t, err, RuleMinCellCount)
	_, err = Summarise([]float64{1, 2, 3, math.Inf(1), 5, 6}, DefaultRules)
	wantInputError(t, err, "values")
}

func TestCombineSummariesEqualsPooled(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]float64, 5000)
	for i := range values {
		values[i] = 1e6 + rng.NormFloat64() // a large mean tests the stable combination
	}
	pooled, err := Summarise(values, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	bounds := splits(len(values), 0.07, 0.4, 0.55)
	var parts []Summary
	for i := 0; i+1 < len(bounds); i++ {
		s, err := Summarise(values[bounds[i]:bounds[i+1]], DefaultRules)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s)
	}
	got, err := CombineSummaries(parts)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != pooled.N || !near(got.Mean, pooled.Mean, 1e-10) || !near(got.SD, pooled.SD, 1e-10) || !near(got.M2, pooled.M2, 1e-10) {
		t.Fatalf("combined %+v\npooled %+v", got, pooled)
	}
	if !got.QuantilesApproximate {
		t.Error("several parts' quantiles are approximate")
	}
	for j, q := range got.Quantiles {
		var want float64
		for _, p := range parts {
			want += float64(p.N) * p.Quantiles[j].Value
		}
		want /= float64(got.N)
		if !near(q.Value, want, 1e-12) || math.Abs(q.Value-pooled.Quantiles[j].Value) > 0.1 {
			t.Errorf("quantile %g: combined %v, weighted %v, pooled %v", q.Prob, q.Value, want, pooled.Quantiles[j].Value)
		}
	}
	one, err := CombineSummaries(parts[:1])
	if err != nil || one.QuantilesApproximate || one.N != parts[0].N || one.Mean != parts[0].Mean || one.SD != parts[0].SD {
		t.Errorf("a single part combines to itself: %+v, %v", one, err)
	}
	for j, q := range one.Quantiles {
		if !near(q.Value, parts[0].Quantiles[j].Value, 1e-15) {
			t.Errorf("a single part's quantile %g: %v, want %v", q.Prob, q.Value, parts[0].Quantiles[j].Value)
		}
	}
	bad := parts[1]
	bad.Quantiles = bad.Quantiles[:3]
	_, err = CombineSummaries([]Summary{parts[0], bad})
	wantInputError(t, err, "summaries")
}

// cellCounts flattens a table's counts and reasons.
func cellCounts(t Table) ([]int, []Suppression) {
	var counts []int
	var why []Suppression
	for _, row := range t.Cells {
		for _, c := range row {
			counts = append(counts, c.Count)
			why = append(why, c.Suppressed)
		}
	}
	return counts, why
}

// codesFor builds factor codes whose cross-tabulation is counts.
func codesFor(counts [][]int) (a, b []int32) {
	for r, row := range counts {
		for c, n := range row {
			for range n {
				a = append(a, int32(r))
				b = append(b, int32(c))
			}
		}
	}
	return a, b
}

func TestCrossTabSuppression(t *testing.T) {
	a, b := codesFor([][]int{{3, 10, 12}, {4, 20, 25}, {30, 40, 50}})
	// Missing codes are left out.
	a, b = append(a, -1, 2), append(b, 1, -1)
	tab, err := CrossTab(a, []string{"A", "B", "C"}, b, []string{"x", "y", "z"}, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	counts, why := cellCounts(tab)
	wantCounts := []int{0, 0, 12, 0, 0, 25, 30, 40, 50}
	wantWhy := []Suppression{SuppressedSmall, SuppressedSecondary, "", SuppressedSmall, SuppressedSecondary, "", "", "", ""}
	if !slices.Equal(counts, wantCounts) || !slices.Equal(why, wantWhy) {
		t.Fatalf("counts %v, suppressed %v", counts, why)
	}
	// One-way: the small count and the smallest other non-zero one.
	a, _ = codesFor([][]int{{2}, {50}, {0}, {7}, {30}})
	tab, err = CrossTab(a, []string{"a", "b", "c", "d", "e"}, nil, nil, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	counts, why = cellCounts(tab)
	if !slices.Equal(counts, []int{0, 50, 0, 0, 30}) || !slices.Equal(why, []Suppression{SuppressedSmall, "", "", SuppressedSecondary, ""}) {
		t.Fatalf("one-way: counts %v, suppressed %v", counts, why)
	}
}

// TestSuppressionInvariant checks, over random tables, that every small
// count is withheld and that no row or column holds exactly one withheld
// count while a released non-zero one could join it.
func TestSuppressionInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		rows, cols := 2+rng.IntN(5), 2+rng.IntN(5)
		counts := make([][]int, rows)
		for r := range counts {
			counts[r] = make([]int, cols)
			for c := range counts[r] {
				counts[r][c] = []int{0, 1, 3, 5, 8, 20}[rng.IntN(6)]
			}
		}
		a, b := codesFor(counts)
		tab, err := CrossTab(a, make([]string, rows), b, make([]string, cols), DefaultRules)
		if errors.As(err, new(*DisclosureError)) {
			continue // fewer than MinSubsetRows rows
		}
		if err != nil {
			t.Fatal(err)
		}
		line := func(cells []Cell, truth []int) {
			withheld, releasedNonZero := 0, 0
			for i, c := range cells {
				if small(truth[i], DefaultRules) && c.Suppressed != SuppressedSmall {
					t.Fatalf("trial %d: a count of %d is released", trial, truth[i])
				}
				if c.Suppressed != "" {
					withheld++
				} else if c.Count != truth[i] {
					t.Fatalf("trial %d: released %d for %d", trial, c.Count, truth[i])
				} else if truth[i] > 0 {
					releasedNonZero++
				}
			}
			if withheld == 1 && releasedNonZero > 0 {
				t.Fatalf("trial %d: a line holds a single withheld count: %v", trial, tab.Cells)
			}
		}
		for r := range rows {
			line(tab.Cells[r], counts[r])
		}
		for c := range cols {
			var cells []Cell
			var truth []int
			for r := range rows {
				cells, truth = append(cells, tab.Cells[r][c]), append(truth, counts[r][c])
			}
			line(cells, truth)
		}
	}
}

func TestCrossTabRefusals(t *testing.T) {
	many := make([]string, 41)
	_, err := CrossTab([]int32{0, 1, 2, 3, 4, 5}, many, nil, nil, DefaultRules)
	wantDisclosure(t, err, RuleMaxFactorLevels)
	_, err = CrossTab([]int32{0, 1, 0, 1, 0, 1}, []string{"a", "b"}, []int32{0, 0, 0, 0, 0, 0}, many, DefaultRules)
	wantDisclosure(t, err, RuleMaxFactorLevels)
	_, err = CrossTab([]int32{0, 1, 0, -1, -1, -1}, []string{"a", "b"}, nil, nil, DefaultRules)
	wantDisclosure(t, err, RuleMinSubsetRows)
	_, err = CrossTab([]int32{0, 1, 2, 0, 0, 0}, []string{"a", "b"}, nil, nil, DefaultRules)
	wantInputError(t, err, "a")
	_, err = CrossTab([]int32{0, 1, 1, 0, 0, 0}, []string{"a", "b"}, []int32{0}, []string{"x"}, DefaultRules)
	wantInputError(t, err, "b")
	_, err = CrossTab([]int32{0, 1, 1, 0, 0, 0}, nil, nil, nil, DefaultRules)
	wantInputError(t, err, "a")
}

// TestCombineTablesEqualsPooled: a combined count an owner did not withhold
// is the pooled count exactly; one any owner withheld stays withheld.
func TestCombineTablesEqualsPooled(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 3000
	a, b := make([]int32, n), make([]int32, n)
	for i := range n {
		a[i], b[i] = int32(rng.IntN(4))-int32(b2f(rng.IntN(50) == 0)), int32(rng.IntN(3))
		if rng.IntN(40) == 0 {
			a[i], b[i] = 4, 2 // a rare combination, small in some parts
		}
	}
	aLevels, bLevels := []string{"a", "b", "c", "d", "rare"}, []string{"x", "y", "z"}
	pooled, err := CrossTab(a, aLevels, b, bLevels, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	bounds := splits(n, 0.02, 0.3, 0.75)
	var parts []Table
	for i := 0; i+1 < len(bounds); i++ {
		tab, err := CrossTab(a[bounds[i]:bounds[i+1]], aLevels, b[bounds[i]:bounds[i+1]], bLevels, DefaultRules)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, tab)
	}
	got, err := CombineTables(parts)
	if err != nil {
		t.Fatal(err)
	}
	sawWithheld := false
	for r := range got.Cells {
		for c, cell := range got.Cells[r] {
			anyPart := false
			for _, p := range parts {
				anyPart = anyPart || p.Cells[r][c].Suppressed != ""
			}
			switch {
			case anyPart:
				sawWithheld = true
				if cell.Suppressed != SuppressedInPart {
					t.Errorf("cell %d,%d: withheld in a part but released combined", r, c)
				}
			case pooled.Cells[r][c].Suppressed != "":
				t.Errorf("cell %d,%d: withheld pooled but in no part", r, c)
			case cell.Count != pooled.Cells[r][c].Count:
				t.Errorf("cell %d,%d: combined %d, pooled %d", r, c, cell.Count, pooled.Cells[r][c].Count)
			}
		}
	}
	if !sawWithheld {
		t.Error("the test data should make some part withhold a cell")
	}
	other := parts[1]
	other.Cols = []string{"x", "y", "w"}
	_, err = CombineTables([]Table{parts[0], other})
	wantInputError(t, err, "tables")
}

func TestMeansBy(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 2000
	values, codes := make([]float64, n), make([]int32, n)
	for i := range n {
		codes[i] = int32(rng.IntN(3))
		if rng.IntN(100) == 0 {
			codes[i] = 3 // rare
		}
		if rng.IntN(30) == 0 {
			codes[i] = -1
		}
		values[i] = 100 + 10*float64(codes[i]) + rng.NormFloat64()
	}
	levels := []string{"a", "b", "c", "rare", "none"}
	pooled, err := MeansBy(values, codes, levels, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	// Pooled groups equal gonum's two-pass figures.
	for l := range 3 {
		var group []float64
		for i, c := range codes {
			if int(c) == l {
				group = append(group, values[i])
			}
		}
		mean, sd := stat.MeanStdDev(group, nil)
		if g := pooled.Groups[l]; g.N != len(group) || !near(g.Mean, mean, 1e-12) || !near(g.SD, sd, 1e-10) {
			t.Errorf("group %d: %+v, want n %d mean %v sd %v", l, g, len(group), mean, sd)
		}
	}
	if g := pooled.Groups[4]; g.N != 0 || g.Suppressed != "" {
		t.Errorf("an empty level is released as empty: %+v", g)
	}
	bounds := splits(n, 0.2, 0.45, 0.6)
	var parts []GroupMeans
	for i := 0; i+1 < len(bounds); i++ {
		gm, err := MeansBy(values[bounds[i]:bounds[i+1]], codes[bounds[i]:bounds[i+1]], levels, DefaultRules)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, gm)
	}
	got, err := CombineGroupMeans(parts)
	if err != nil {
		t.Fatal(err)
	}
	for j, g := range got.Groups {
		anyPart := false
		for _, p := range parts {
			anyPart = anyPart || p.Groups[j].Suppressed != ""
		}
		want := pooled.Groups[j]
		switch {
		case anyPart:
			if g.Suppressed != SuppressedInPart {
				t.Errorf("group %s: withheld in a part but released combined", g.Level)
			}
		case g.N != want.N || !near(g.Mean, want.Mean, 1e-10) || !near(g.SD, want.SD, 1e-10):
			t.Errorf("group %s: combined %+v, pooled %+v", g.Level, g, want)
		}
	}
	// Some part holds fewer than five "rare" rows: withheld, with the
	// smallest other group withheld too.
	found := false
	for i, p := range parts {
		if p.Groups[3].Suppressed != SuppressedSmall {
			continue
		}
		found = true
		sizes := make([]int, 3)
		for _, c := range codes[bounds[i]:bounds[i+1]] {
			if c >= 0 && c < 3 {
				sizes[c]++
			}
		}
		smallest := slices.Index(sizes, slices.Min(sizes))
		for l, g := range p.Groups[:3] {
			if (l == smallest) != (g.Suppressed == SuppressedSecondary) {
				t.Errorf("want the smallest other group (%d of %v) withheld, and only it: %+v", smallest, sizes, p.Groups)
			}
		}
	}
	if !found {
		t.Fatal("the test data should make some part's rare group small")
	}
	_, err = MeansBy(values[:3], codes[:3], levels, DefaultRules)
	wantDisclosure(t, err, RuleMinSubsetRows)
	_, err = MeansBy(values, codes[:10], levels, DefaultRules)
	wantInputError(t, err, "codes")
	_, err = MeansBy(values, codes, make([]string, 41), DefaultRules)
	wantDisclosure(t, err, RuleMaxFactorLevels)
}

func TestHistogram(t *testing.T) {
	values := []float64{-5, 0, 0.5, 1, 1, 1.5, 1.9, 2, 2, 2, 2, 2.5, 3, 9, 10}
	rules := DefaultRules
	rules.MinCellCount = 1 // see the plain counts first
	h, err := Histogram(values, []float64{0, 1, 2, 3}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{h.Below.Count, h.Bins[0].Count, h.Bins[1].Count, h.Bins[2].Count, h.Above.Count}; !slices.Equal(got, []int{1, 2, 4, 5, 3}) {
		t.Fatalf("below, bins, above = %v", got)
	}
	h, err = Histogram(values, []float64{0, 1, 2, 3}, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	// Below (1), bin 0 (2), bin 1 (4), above (3) are small; bin 2 (5) is then
	// the line's only released count and stays.
	if h.Below.Suppressed != SuppressedSmall || h.Above.Suppressed != SuppressedSmall || h.Bins[1].Suppressed != SuppressedSmall || h.Bins[2].Count != 5 {
		t.Fatalf("%+v", h)
	}
	for _, breaks := range [][]float64{{1}, {0, 1, 1}, {0, math.NaN()}, seqFloat(202)} {
		_, err = Histogram(values, breaks, DefaultRules)
		wantInputError(t, err, "breaks")
	}
	_, err = Histogram(values[:4], []float64{0, 1}, DefaultRules)
	wantDisclosure(t, err, RuleMinSubsetRows)

	rng := rand.New(rand.NewPCG(9, 10))
	many := make([]float64, 4000)
	for i := range many {
		many[i] = rng.ExpFloat64()
	}
	breaks := []float64{0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5}
	pooled, err := Histogram(many, breaks, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	bounds := splits(len(many), 0.1, 0.5)
	var parts []Hist
	for i := 0; i+1 < len(bounds); i++ {
		p, err := Histogram(many[bounds[i]:bounds[i+1]], breaks, DefaultRules)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	got, err := CombineHists(parts)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, pooled Cell, part func(Hist) Cell) {
		anyPart := false
		for _, p := range parts {
			anyPart = anyPart || part(p).Suppressed != ""
		}
		if anyPart && got.Suppressed != SuppressedInPart || !anyPart && got.Count != pooled.Count {
			t.Errorf("%s: combined %+v, pooled %+v", name, got, pooled)
		}
	}
	for j := range got.Bins {
		check("bin", got.Bins[j], pooled.Bins[j], func(h Hist) Cell { return h.Bins[j] })
	}
	check("above", got.Above, pooled.Above, func(h Hist) Cell { return h.Above })
	check("below", got.Below, pooled.Below, func(h Hist) Cell { return h.Below })
	other := parts[1]
	other.Breaks = slices.Clone(other.Breaks)
	other.Breaks[1] = 0.3
	_, err = CombineHists([]Hist{parts[0], other})
	wantInputError(t, err, "histograms")
}

func seqFloat(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(i)
	}
	return s
}

// correlated draws k correlated columns with about one value in ten missing.
func correlated(n int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 11))
	cols := make([][]float64, 4)
	for i := range cols {
		cols[i] = make([]float64, n)
	}
	for i := range n {
		u := rng.NormFloat64()
		cols[0][i] = 5e5 + u
		cols[1][i] = 0.6*u + 0.8*rng.NormFloat64()
		cols[2][i] = -0.3*u + rng.NormFloat64()
		cols[3][i] = rng.NormFloat64()
		for c := range cols {
			if rng.IntN(10) == 0 {
				cols[c][i] = math.NaN()
			}
		}
	}
	return cols
}

func TestCorrelationEqualsPooled(t *testing.T) {
	names := []string{"w", "x", "y", "z"}
	cols := correlated(4000, 1)
	pooledParts, err := Correlation(cols, names, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	pooled, err := CombineCorrelation([]CorParts{pooledParts})
	if err != nil {
		t.Fatal(err)
	}
	// The pooled matrix is gonum's Pearson r over each pair's complete rows.
	for i := range names {
		for j := range names {
			var xs, ys []float64
			for r := range cols[i] {
				if !math.IsNaN(cols[i][r]) && !math.IsNaN(cols[j][r]) {
					xs, ys = append(xs, cols[i][r]), append(ys, cols[j][r])
				}
			}
			if want := stat.Correlation(xs, ys, nil); !near(pooled.R[i][j], want, 1e-10) || pooled.N[i][j] != len(xs) {
				t.Errorf("r[%d][%d] = %v over %d, want %v over %d", i, j, pooled.R[i][j], pooled.N[i][j], want, len(xs))
			}
		}
	}
	bounds := splits(4000, 0.05, 0.35, 0.8)
	var parts []CorParts
	for i := 0; i+1 < len(bounds); i++ {
		part := make([][]float64, len(cols))
		for c := range cols {
			part[c] = cols[c][bounds[i]:bounds[i+1]]
		}
		cp, err := Correlation(part, names, DefaultRules)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, cp)
	}
	got, err := CombineCorrelation(parts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		for j := range names {
			if got.N[i][j] != pooled.N[i][j] || !near(got.R[i][j], pooled.R[i][j], 1e-10) {
				t.Errorf("r[%d][%d]: combined %v over %d, pooled %v over %d", i, j, got.R[i][j], got.N[i][j], pooled.R[i][j], pooled.N[i][j])
			}
		}
	}
	if math.Abs(got.R[0][1]-0.6) > 0.05 || math.Abs(got.R[0][3]) > 0.05 {
		t.Errorf("r(w, x) %v should be near 0.6, r(w, z) %v near 0", got.R[0][1], got.R[0][3])
	}
}

func TestCorrelationRefusals(t *testing.T) {
	n := 200
	x, y, z := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x[i], y[i], z[i] = float64(i), float64(i*i%17), float64(i%5)
	}
	// z is missing in two rows where x and y are present: Σx over (x, y)
	// less Σx over (x, z) would be those two people's x.
	z[10], z[11] = math.NaN(), math.NaN()
	_, err := Correlation([][]float64{x, y, z}, []string{"x", "y", "z"}, DefaultRules)
	wantDisclosure(t, err, RulePairwiseDifference)
	// Missing in five rows passes.
	z[12], z[13], z[14] = math.NaN(), math.NaN(), math.NaN()
	if _, err := Correlation([][]float64{x, y, z}, []string{"x", "y", "z"}, DefaultRules); err != nil {
		t.Fatal(err)
	}
	// Two variables present together in four rows.
	a, b := slices.Repeat([]float64{math.NaN()}, 12), slices.Repeat([]float64{math.NaN()}, 12)
	for i := range 4 {
		a[i], b[i] = float64(i), float64(i*i)
	}
	_, err = Correlation([][]float64{a, b}, []string{"a", "b"}, DefaultRules)
	wantDisclosure(t, err, RuleMinSubsetRows)
	_, err = Correlation([][]float64{x, y[:10]}, []string{"x", "y"}, DefaultRules)
	wantInputError(t, err, "cols")
	_, err = Correlation([][]float64{x}, []string{"x"}, DefaultRules)
	wantInputError(t, err, "cols")
}

func TestCorMatrixJSON(t *testing.T) {
	c := []float64{1, 1, 1, 1, 1, 1}
	d := []float64{1, 2, 3, 4, 5, 7}
	parts, err := Correlation([][]float64{c, d}, []string{"c", "d"}, DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	m, err := CombineCorrelation([]CorParts{parts})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(m.R[0][1]) || m.R[1][1] != 1 {
		t.Fatalf("a constant variable's r is undefined: %v", m.R)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"names":["c","d"],"r":[[null,null],[null,1]],"n":[[6,6],[6,6]]}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}
