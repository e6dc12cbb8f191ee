package tabular

import (
	"bytes"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
)

// wideDictionary is the benchmarks' and the round trip's dictionary: an
// identifier and 11 columns of every type.
func wideDictionary() Dictionary {
	return Dictionary{Columns: []Column{
		{Name: "pid", Type: TypeText, Identifier: true},
		{Name: "age", Type: TypeInteger},
		{Name: "bmi", Type: TypeNumber},
		{Name: "sbp", Type: TypeNumber},
		{Name: "dbp", Type: TypeNumber},
		{Name: "chol", Type: TypeNumber},
		{Name: "glucose", Type: TypeNumber},
		{Name: "sex", Type: TypeCategorical, Levels: []string{"F", "M"}},
		{Name: "region", Type: TypeCategorical, Levels: []string{"FR", "DE", "CH", "BE", "LU"}},
		{Name: "education", Type: TypeCategorical, Levels: []string{"primary", "secondary", "tertiary", "doctorate"}},
		{Name: "smoker", Type: TypeBoolean},
		{Name: "diabetic", Type: TypeBoolean},
	}}
}

// wideCSV writes n random rows of wideDictionary, about 2% of cells
// missing, and returns the values it wrote (NaN or -1 when missing).
func wideCSV(n int, seed uint64) ([]byte, map[string][]float64, map[string][]int32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := wideDictionary()
	nums := map[string][]float64{}
	codes := map[string][]int32{}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		header[i] = c.Name
	}
	_ = w.Write(header)
	rec := make([]string, len(d.Columns))
	for r := range n {
		for i, c := range d.Columns {
			missing := rng.IntN(50) == 0
			switch c.Type {
			case TypeText:
				rec[i] = "P" + strconv.Itoa(r)
				continue
			case TypeCategorical:
				code := int32(rng.IntN(len(c.Levels)))
				if missing {
					code, rec[i] = -1, ""
				} else {
					rec[i] = c.Levels[code]
				}
				codes[c.Name] = append(codes[c.Name], code)
				continue
			}
			var v float64
			switch c.Type {
			case TypeInteger:
				v = float64(18 + rng.IntN(80))
				rec[i] = strconv.Itoa(int(v))
			case TypeBoolean:
				v = float64(rng.IntN(2))
				rec[i] = strconv.FormatBool(v == 1)
			default:
				v = math.Round(rng.NormFloat64()*1000) / 100
				rec[i] = strconv.FormatFloat(v, 'f', -1, 64)
			}
			if missing {
				v, rec[i] = math.NaN(), "NA"
			}
			nums[c.Name] = append(nums[c.Name], v)
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.Bytes(), nums, codes
}

// What is written comes back, and a filter, a formula and a design built
// on it agree with the values.
func TestRoundTrip(t *testing.T) {
	const n = 5000
	raw, nums, codes := wideCSV(n, 7)
	d := wideDictionary()
	tb, err := ReadCSV(bytes.NewReader(raw), d)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Rows() != n {
		t.Fatalf("Rows() = %d", tb.Rows())
	}
	for name, want := range nums {
		if got, err := tb.Numbers(name); err != nil || !sameFloats(got, want) {
			t.Errorf("Numbers(%q) differs: %v", name, err)
		}
	}
	for name, want := range codes {
		if got, _, err := tb.Codes(name); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Codes(%q) differs: %v", name, err)
		}
	}

	f, err := ParseFilter(`age >= 40 and region in ("FR", "LU") and not smoker == true`, d)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.Select(tb)
	if err != nil {
		t.Fatal(err)
	}
	for r := range n {
		want := nums["age"][r] >= 40 && (codes["region"][r] == 0 || codes["region"][r] == 4) && nums["smoker"][r] == 0
		if rows.Contains(uint32(r)) != want {
			t.Fatalf("row %d: selected %v, want %v", r, !want, want)
		}
	}

	fm, err := ParseFormula("sbp ~ age + bmi + education + diabetic", d)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := NewDesign(fm, d)
	if err != nil {
		t.Fatal(err)
	}
	x, y, used, err := ds.Matrix(tb, rows)
	if err != nil {
		t.Fatal(err)
	}
	p := ds.P()
	if p != 7 || len(x) != len(y)*p || uint64(len(y)) != used.GetCardinality() {
		t.Fatalf("p %d, %d cells, %d responses, %d rows used", p, len(x), len(y), used.GetCardinality())
	}
	i := 0
	for r := range n {
		complete := !math.IsNaN(nums["sbp"][r]) && !math.IsNaN(nums["age"][r]) && !math.IsNaN(nums["bmi"][r]) &&
			codes["education"][r] >= 0 && !math.IsNaN(nums["diabetic"][r])
		if !rows.Contains(uint32(r)) || !complete {
			if used.Contains(uint32(r)) {
				t.Fatalf("row %d used", r)
			}
			continue
		}
		edu := codes["education"][r]
		ind := func(level int32) float64 {
			if edu == level {
				return 1
			}
			return 0
		}
		want := []float64{1, nums["age"][r], nums["bmi"][r], ind(1), ind(2), ind(3), nums["diabetic"][r]}
		if !reflect.DeepEqual(x[i*p:(i+1)*p], want) || y[i] != nums["sbp"][r] {
			t.Fatalf("row %d: x %v y %v, want %v %v", r, x[i*p:(i+1)*p], y[i], want, nums["sbp"][r])
		}
		i++
	}
	if i != len(y) {
		t.Errorf("%d complete rows, the matrix has %d", i, len(y))
	}
}
