package stats

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func FuzzParseFamily(f *testing.F) {
	for _, s := range []string{"gaussian", " Binomial", "POISSON\n", "gamma", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fam, err := ParseFamily(s)
		var ie *InputError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("ParseFamily(%q): untyped error %v", s, err)
		}
		if err == nil && fam.check() != nil {
			t.Fatalf("ParseFamily(%q) = %q, not a family", s, fam)
		}
	})
}

// FuzzCombiners feeds the combiners what a partner's node could send: any
// JSON. They must answer with a typed error or a result, never panic.
func FuzzCombiners(f *testing.F) {
	tab, _ := CrossTab([]int32{0, 1, 0, 1, 0, 1, 1, 0, 0, 0}, []string{"a", "b"}, []int32{0, 0, 1, 1, 0, 0, 1, 1, 0, 0}, []string{"x", "y"}, DefaultRules)
	hist, _ := Histogram([]float64{1, 2, 3, 4, 5, 6}, []float64{0, 3, 9}, DefaultRules)
	sum, _ := Summarise([]float64{1, 2, 3, 4, 5, 6}, DefaultRules)
	gm, _ := MeansBy([]float64{1, 2, 3, 4, 5, 6}, []int32{0, 0, 0, 1, 1, 1}, []string{"a", "b"}, DefaultRules)
	cor, _ := Correlation([][]float64{{1, 2, 3, 4, 5, 6}, {2, 1, 4, 3, 6, 5}}, []string{"x", "y"}, DefaultRules)
	part, _ := IRLSPartial(Gaussian, []float64{1, 1, 1, 2, 1, 3, 1, 4, 1, 5, 1, 6, 1, 7}, []float64{1, 3, 2, 5, 4, 6, 8}, 2, nil, DefaultRules)
	for _, v := range []any{[]Table{tab, tab}, []Hist{hist}, []Summary{sum, sum}, []GroupMeans{gm}, []CorParts{cor, cor}, []Partial{part, part}} {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte(`[{"rows":["a"],"cols":["x","y"],"cells":[[{"count":1}]]}]`))
	f.Add([]byte(`[{"names":["x","y"],"pairs":[{"i":5,"j":0,"n":3}]}]`))
	f.Add([]byte(`[{"n":3,"p":2,"xtwx":[1,0,0,1],"xtwz":[1,1],"deviance":1e400}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(err error) {
			var ie *InputError
			var se *SingularError
			var ce *ConvergenceError
			if err != nil && !errors.As(err, &ie) && !errors.As(err, &se) && !errors.As(err, &ce) {
				t.Fatalf("untyped error %v", err)
			}
		}
		var tables []Table
		if json.Unmarshal(b, &tables) == nil {
			_, err := CombineTables(tables)
			check(err)
		}
		var hists []Hist
		if json.Unmarshal(b, &hists) == nil {
			_, err := CombineHists(hists)
			check(err)
		}
		var sums []Summary
		if json.Unmarshal(b, &sums) == nil {
			_, err := CombineSummaries(sums)
			check(err)
		}
		var groups []GroupMeans
		if json.Unmarshal(b, &groups) == nil {
			_, err := CombineGroupMeans(groups)
			check(err)
		}
		var cors []CorParts
		if json.Unmarshal(b, &cors) == nil {
			_, err := CombineCorrelation(cors)
			check(err)
		}
		var partials []Partial
		if json.Unmarshal(b, &partials) == nil {
			total, err := Sum(partials)
			check(err)
			if err == nil && total.P > 0 && total.P < 50 {
				names := make([]string, total.P)
				_, err = Run(context.Background(), Gaussian, names, func(context.Context, int, []float64) (Partial, error) { return total, nil }, Options{MaxIterations: 3})
				check(err)
			}
		}
	})
}

// FuzzIRLSPartial drives the owner-side GLM with arbitrary rows: it must
// refuse with a typed error or return a partial of the right shape.
func FuzzIRLSPartial(f *testing.F) {
	f.Add(uint8(0), uint8(2), []byte{}, false)
	f.Add(uint8(1), uint8(3), make([]byte, 8*4*30), true)
	f.Add(uint8(2), uint8(1), []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), false)
	f.Fuzz(func(t *testing.T, famIndex, p uint8, data []byte, withBeta bool) {
		fam := []Family{Gaussian, Binomial, Poisson}[famIndex%3]
		cols := int(p%6) + 1
		values := make([]float64, len(data)/8)
		for i := range values {
			values[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
			if i%3 == 0 { // keep some rows plausible, so that the computation is reached
				values[i] = float64(data[i*8] % 3)
			}
		}
		n := len(values) / (cols + 1)
		x, y := values[:n*cols], values[n*cols:n*cols+n]
		var beta []float64
		if withBeta {
			beta = make([]float64, cols)
		}
		pt, err := IRLSPartial(fam, x, y, cols, beta, DefaultRules)
		var ie *InputError
		var de *DisclosureError
		switch {
		case err != nil && !errors.As(err, &ie) && !errors.As(err, &de):
			t.Fatalf("untyped error %v", err)
		case err == nil && (pt.N != n || len(pt.XtWX) != cols*cols || len(pt.XtWz) != cols):
			t.Fatalf("partial of the wrong shape: %+v", pt)
		}
	})
}
