package tabular

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

func cohortDesign(t testing.TB, formula string) Design {
	t.Helper()
	f, err := ParseFormula(formula, cohort())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := NewDesign(f, cohort())
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestNewDesign(t *testing.T) {
	ds := cohortDesign(t, "sbp ~ age + region + smoker")
	want := Design{
		Response: "sbp",
		Columns: []DesignColumn{
			{Name: "(Intercept)"},
			{Name: "age", Term: "age"},
			{Name: "region:DE", Term: "region", Level: "DE"},
			{Name: "region:CH", Term: "region", Level: "CH"},
			{Name: "region:LU", Term: "region", Level: "LU"},
			{Name: "smoker", Term: "smoker"},
		},
		Factors: map[string][]string{"region": {"FR", "DE", "CH", "LU"}},
	}
	if !reflect.DeepEqual(ds, want) {
		t.Errorf("NewDesign =\n%+v\nwant\n%+v", ds, want)
	}
	if ds.P() != 6 {
		t.Errorf("P() = %d", ds.P())
	}
	// The design travels as JSON and comes back the same.
	raw, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	var back Design
	if err := json.Unmarshal(raw, &back); err != nil || !reflect.DeepEqual(back, ds) {
		t.Errorf("JSON round trip: %+v, %v", back, err)
	}
	if !strings.Contains(string(raw), `{"name":"region:DE","term":"region","level":"DE"}`) {
		t.Errorf("JSON %s", raw)
	}
}

func TestMatrix(t *testing.T) {
	tb := readCohort(t)
	ds := cohortDesign(t, "sbp ~ age + sex + smoker")
	// Rows: 0 F 34 no 120; 1 M 51 yes 135.5; 2 age NA; 3 sex NA; 4 M 62 yes 142;
	// 5 smoker NA.
	x, y, used, err := ds.Matrix(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantX := []float64{
		1, 34, 0, 0,
		1, 51, 1, 1,
		1, 62, 1, 1,
	}
	if !reflect.DeepEqual(x, wantX) || !reflect.DeepEqual(y, []float64{120, 135.5, 142}) || !reflect.DeepEqual(used.ToArray(), []uint32{0, 1, 4}) {
		t.Errorf("Matrix = %v, %v, %v", x, y, used.ToArray())
	}

	// A filter's rows: only those, still complete cases only.
	f, _ := ParseFilter(`sex != "F" or bmi < 23`, cohort())
	rows, _ := f.Select(tb)
	x, y, used, err = ds.Matrix(tb, rows)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(used.ToArray(), []uint32{0, 1, 4}) || len(x) != 12 || len(y) != 3 {
		t.Errorf("Matrix(filtered) = %v, %v, %v", x, y, used.ToArray())
	}
	_, _, used, _ = ds.Matrix(tb, roaring.BitmapOf(1, 2, 3))
	if !reflect.DeepEqual(used.ToArray(), []uint32{1}) {
		t.Errorf("used %v, want [1]", used.ToArray())
	}
	x, _, used, err = ds.Matrix(tb, roaring.New())
	if err != nil || len(x) != 0 || !used.IsEmpty() {
		t.Errorf("no rows: %v, %v, %v", x, used, err)
	}
	if _, _, _, err := ds.Matrix(tb, roaring.BitmapOf(6)); !errors.As(err, new(*DesignError)) {
		t.Errorf("a row beyond the table: %v", err)
	}
}

// An owner whose dictionary orders a factor's levels otherwise, and lacks
// one, builds the requester's columns.
func TestMatrixOwnerLevels(t *testing.T) {
	ds := cohortDesign(t, "sbp ~ region")
	owner := Dictionary{Columns: []Column{
		{Name: "sbp", Type: TypeInteger},
		{Name: "region", Type: TypeCategorical, Levels: []string{"LU", "FR"}},
	}}
	tb, err := ReadCSV(strings.NewReader("sbp,region\n120,FR\n130,LU\n140,\n"), owner)
	if err != nil {
		t.Fatal(err)
	}
	x, y, _, err := ds.Matrix(tb, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Columns: intercept, region:DE, region:CH, region:LU.
	if want := []float64{1, 0, 0, 0, 1, 0, 0, 1}; !reflect.DeepEqual(x, want) || !reflect.DeepEqual(y, []float64{120, 130}) {
		t.Errorf("Matrix = %v %v", x, y)
	}
}

// A factor of one level has no column but drops the rows where it is
// missing.
func TestMatrixOneLevelFactor(t *testing.T) {
	d := Dictionary{Columns: []Column{
		{Name: "y", Type: TypeNumber},
		{Name: "site", Type: TypeCategorical, Levels: []string{"A"}},
	}}
	f, _ := ParseFormula("y ~ site", d)
	ds, err := NewDesign(f, d)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := ReadCSV(strings.NewReader("y,site\n1,A\n2,\n"), d)
	x, y, _, err := ds.Matrix(tb, nil)
	if err != nil || !reflect.DeepEqual(x, []float64{1}) || !reflect.DeepEqual(y, []float64{1}) {
		t.Errorf("Matrix = %v %v %v", x, y, err)
	}
}

func TestDesignValidateErrors(t *testing.T) {
	base := func() Design { return cohortDesign(t, "sbp ~ age + sex + region") }
	tests := []struct {
		name   string
		edit   func(ds *Design)
		dict   func(d *Dictionary)
		column string
		want   string
		err    error
	}{
		{"no response", func(ds *Design) { ds.Response = "" }, nil, "", "no response", nil},
		{"no intercept", func(ds *Design) { ds.Columns = ds.Columns[1:] }, nil, "", "the first column must be (Intercept)", nil},
		{"too many columns", func(ds *Design) {
			for range MaxDesignColumns {
				ds.Columns = append(ds.Columns, DesignColumn{Name: "x", Term: "x"})
			}
		}, nil, "", "limit 1024", nil},
		{"column twice", func(ds *Design) { ds.Columns = append(ds.Columns, ds.Columns[1]) }, nil, "age", "appears twice", nil},
		{"column without term", func(ds *Design) { ds.Columns[1].Term = "" }, nil, "age", "a column must have a term", nil},
		{"response as term", func(ds *Design) { ds.Columns[1] = DesignColumn{Name: "sbp", Term: "sbp"} }, nil, "sbp", "other than the response", nil},
		{"numeric misnamed", func(ds *Design) { ds.Columns[1].Name = "Age" }, nil, "Age", "named after the term", nil},
		{"numeric with level", func(ds *Design) { ds.Columns[1].Level = "x" }, nil, "age", "has no level", nil},
		{"factor column missing", func(ds *Design) { ds.Columns = ds.Columns[:len(ds.Columns)-1] }, nil, "region", "non-reference levels", nil},
		{"reference level column", func(ds *Design) {
			ds.Columns[2] = DesignColumn{Name: "sex:F", Term: "sex", Level: "F"}
		}, nil, "sex:F", "non-reference levels", nil},
		{"factor misnamed", func(ds *Design) { ds.Columns[2].Name = "sexM" }, nil, "sexM", "named term:level", nil},
		{"factor out of order", func(ds *Design) { ds.Columns[3], ds.Columns[4] = ds.Columns[4], ds.Columns[3] }, nil, "region:CH", "in order", nil},
		{"term split", func(ds *Design) { ds.Columns[2], ds.Columns[3] = ds.Columns[3], ds.Columns[2] }, nil, "region:CH", "adjacent", nil},
		{"factor without levels", func(ds *Design) { ds.Factors["sex"] = nil }, nil, "sex", "1 to 1000 levels", nil},
		{"factor level twice", func(ds *Design) { ds.Factors["sex"] = []string{"F", "M", "M"} }, nil, "sex", "appears twice", nil},
		{"response a factor", func(ds *Design) { ds.Factors["sbp"] = []string{"x"} }, nil, "sbp", "the response cannot be a factor", nil},
		{"unknown response", func(ds *Design) { ds.Response = "weight" }, nil, "weight", "no such column", nil},
		{"identifier response", func(ds *Design) { ds.Response = "pid" }, nil, "pid", "identifier column", ErrIdentifier},
		{"identifier term", func(ds *Design) { ds.Columns[1] = DesignColumn{Name: "pid", Term: "pid"} }, nil, "pid", "identifier column", ErrIdentifier},
		{"categorical response", func(ds *Design) { ds.Response = "sex"; ds.Factors = map[string][]string{}; ds.Columns = ds.Columns[:2] }, nil, "sex", "the design has it numeric, the dictionary categorical", nil},
		{"numeric term is categorical here", nil, func(d *Dictionary) {
			d.Columns[1] = Column{Name: "age", Type: TypeCategorical, Levels: []string{"young", "old"}}
		}, "age", "numeric, the dictionary categorical", nil},
		{"factor is numeric here", nil, func(d *Dictionary) { d.Columns[3] = Column{Name: "sex", Type: TypeBoolean} }, "sex", "categorical, the dictionary boolean", nil},
		{"owner level unknown to the design", nil, func(d *Dictionary) {
			d.Columns[4].Levels = []string{"FR", "DE", "CH", "LU", "BE"}
		}, "region", `the dictionary has level "BE", which the design does not know`, nil},
		{"term missing here", nil, func(d *Dictionary) { d.Columns = append(d.Columns[:4:4], d.Columns[5:]...) }, "region", "no such column", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, d := base(), cohort()
			if tt.edit != nil {
				tt.edit(&ds)
			}
			if tt.dict != nil {
				tt.dict(&d)
			}
			err := ds.Validate(d)
			var de *DesignError
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v, want a *DesignError", err)
			}
			if de.Column != tt.column || !strings.Contains(de.Problem, tt.want) {
				t.Errorf("error %+v, want column %q and %q", de, tt.column, tt.want)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
			// Matrix checks the design first.
			if tt.dict != nil {
				return
			}
			if _, _, _, err := ds.Matrix(readCohort(t), nil); !errors.As(err, new(*DesignError)) {
				t.Errorf("Matrix = %v, want a *DesignError", err)
			}
		})
	}
}
